//! Python `re` on top of `fancy-regex` (which adds look-around and back-references to the
//! `regex` crate): compiling with yaql's flags, matching, `re.sub` templates and `re.split`.
//! Backtracking is bounded, so a catastrophic pattern fails instead of hanging.

use std::cell::RefCell;
use std::rc::Rc;

use indexmap::IndexMap;

use super::YaqlError;

/// Byte ranges of the whole match (group 0) and of each group.
pub type Groups = Vec<Option<(usize, usize)>>;

#[derive(Debug)]
pub struct RegexVal {
    re: fancy_regex::Regex,
    pub pattern: String,
    /// Group names by index (`None` for unnamed groups).
    pub names: Vec<Option<String>>,
}

const BACKTRACK_LIMIT: usize = 200_000;

fn runtime(e: fancy_regex::Error, pos: usize) -> YaqlError {
    YaqlError::new(
        "Budget",
        format!("regular expression gave up: {e} at position {pos}"),
        None,
    )
}

/// Compile a Python pattern; results are cached per thread.
pub fn compile(
    pattern: &str,
    ignore_case: bool,
    multi_line: bool,
    dot_all: bool,
    pos: usize,
) -> Result<Rc<RegexVal>, YaqlError> {
    thread_local! {
        static CACHE: RefCell<IndexMap<(String, u8), Rc<RegexVal>>> = RefCell::new(IndexMap::new());
    }
    let flags = ignore_case as u8 | (multi_line as u8) << 1 | (dot_all as u8) << 2;
    let key = (pattern.to_string(), flags);
    if let Some(hit) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(hit);
    }
    let mut src = String::new();
    if flags != 0 {
        src.push_str("(?");
        if ignore_case {
            src.push('i');
        }
        if multi_line {
            src.push('m');
        }
        if dot_all {
            src.push('s');
        }
        src.push(')');
    }
    src.push_str(&translate(pattern));
    let re = fancy_regex::RegexBuilder::new(&src)
        .backtrack_limit(BACKTRACK_LIMIT)
        .delegate_size_limit(1 << 22)
        .build()
        .map_err(|e| {
            YaqlError::new(
                "error",
                format!(
                    "invalid regular expression {}: {e}",
                    super::value::str_repr(pattern)
                ),
                Some(pos),
            )
        })?;
    let names = re.capture_names().map(|n| n.map(str::to_string)).collect();
    let v = Rc::new(RegexVal {
        re,
        pattern: pattern.to_string(),
        names,
    });
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 256 {
            c.clear();
        }
        c.insert(key, v.clone());
    });
    Ok(v)
}

/// The few Python spellings the Rust engines write differently.
fn translate(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\\' {
            match chars.next() {
                // Python's \Z is an absolute end of text
                Some('Z') => out.push_str("\\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(ch);
        }
    }
    out
}

impl RegexVal {
    pub fn is_match(&self, s: &str, pos: usize) -> Result<bool, YaqlError> {
        self.re.is_match(s).map_err(|e| runtime(e, pos))
    }

    /// Up to `limit` matches (0 = all), each with its group ranges.
    pub fn matches(&self, s: &str, limit: usize, pos: usize) -> Result<Vec<Groups>, YaqlError> {
        let mut out = Vec::new();
        for caps in self.re.captures_iter(s) {
            if limit > 0 && out.len() >= limit {
                break;
            }
            let caps = caps.map_err(|e| runtime(e, pos))?;
            out.push(
                (0..caps.len())
                    .map(|i| caps.get(i).map(|m| (m.start(), m.end())))
                    .collect(),
            );
        }
        Ok(out)
    }

    /// Python `re.split` (captured groups are kept between the pieces; `None` for groups that
    /// did not take part).
    pub fn split(&self, s: &str, max: usize, pos: usize) -> Result<Vec<Option<String>>, YaqlError> {
        let mut out = Vec::new();
        let mut last = 0;
        for g in self.matches(s, max, pos)? {
            let Some((a, b)) = g[0] else { continue };
            out.push(Some(s[last..a].to_string()));
            for x in g.iter().skip(1) {
                out.push(x.map(|(p, q)| s[p..q].to_string()));
            }
            last = b;
        }
        out.push(Some(s[last..].to_string()));
        Ok(out)
    }

    /// Python `re.sub(template)` with at most `count` replacements (0 = all).
    pub fn sub(
        &self,
        s: &str,
        template: &str,
        count: usize,
        pos: usize,
    ) -> Result<String, YaqlError> {
        let parts = parse_template(template, pos)?;
        for p in &parts {
            if let Part::Group(g) = p {
                if *g >= self.names.len() {
                    return Err(YaqlError::new(
                        "error",
                        format!("invalid group reference {g}"),
                        Some(pos),
                    ));
                }
            }
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for g in self.matches(s, count, pos)? {
            let Some((a, b)) = g[0] else { continue };
            out.push_str(&s[last..a]);
            for p in &parts {
                match p {
                    Part::Lit(t) => out.push_str(t),
                    Part::Group(i) => {
                        if let Some(Some((x, y))) = g.get(*i) {
                            out.push_str(&s[*x..*y]);
                        }
                    }
                    Part::Named(n) => {
                        let idx = self.names.iter().position(|m| m.as_deref() == Some(n));
                        match idx {
                            Some(i) => {
                                if let Some(Some((x, y))) = g.get(i) {
                                    out.push_str(&s[*x..*y]);
                                }
                            }
                            None => {
                                return Err(YaqlError::new(
                                    "IndexError",
                                    format!("unknown group name '{n}'"),
                                    Some(pos),
                                ))
                            }
                        }
                    }
                }
            }
            last = b;
        }
        out.push_str(&s[last..]);
        Ok(out)
    }
}

enum Part {
    Lit(String),
    Group(usize),
    Named(String),
}

/// Parse a Python replacement template: `\1`, `\g<1>`, `\g<name>`, character escapes.
fn parse_template(t: &str, pos: usize) -> Result<Vec<Part>, YaqlError> {
    let chars: Vec<char> = t.chars().collect();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let bad = |m: String| YaqlError::new("error", m, Some(pos));
    while i < chars.len() {
        let ch = chars[i];
        if ch != '\\' {
            lit.push(ch);
            i += 1;
            continue;
        }
        let Some(&e) = chars.get(i + 1) else {
            return Err(bad("bad escape (end of pattern)".into()));
        };
        let flush = |parts: &mut Vec<Part>, lit: &mut String| {
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(lit)));
            }
        };
        if e.is_ascii_digit() && e != '0' {
            let mut j = i + 1;
            let mut n = 0usize;
            while j < chars.len() && j < i + 3 && chars[j].is_ascii_digit() {
                n = n * 10 + chars[j].to_digit(10).unwrap_or(0) as usize;
                j += 1;
            }
            flush(&mut parts, &mut lit);
            parts.push(Part::Group(n));
            i = j;
            continue;
        }
        if e == '0' {
            let mut j = i + 1;
            let mut code = 0u32;
            while j < chars.len() && j < i + 4 && ('0'..='7').contains(&chars[j]) {
                code = code * 8 + chars[j].to_digit(8).unwrap_or(0);
                j += 1;
            }
            lit.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            i = j;
            continue;
        }
        if e == 'g' {
            if chars.get(i + 2) != Some(&'<') {
                return Err(bad("missing < in group reference".into()));
            }
            let close = chars[i + 3..]
                .iter()
                .position(|c| *c == '>')
                .ok_or_else(|| bad("missing > in group reference".into()))?;
            let name: String = chars[i + 3..i + 3 + close].iter().collect();
            flush(&mut parts, &mut lit);
            match name.parse::<usize>() {
                Ok(n) => parts.push(Part::Group(n)),
                Err(_) => parts.push(Part::Named(name)),
            }
            i += 4 + close;
            continue;
        }
        let mapped = match e {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'f' => '\x0c',
            'v' => '\x0b',
            'a' => '\x07',
            'b' => '\x08',
            '\\' => '\\',
            c if c.is_ascii_alphabetic() => return Err(bad(format!("bad escape \\{c}"))),
            c => {
                lit.push('\\');
                c
            }
        };
        lit.push(mapped);
        i += 2;
    }
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_features() {
        let re = compile(r"(\w+)(?=@)", false, false, false, 0).unwrap();
        assert_eq!(re.sub("root@host", r"<\1>", 0, 0).unwrap(), "<root>@host");
        let re = compile(r"(a)\1", false, false, false, 0).unwrap();
        assert!(re.is_match("xaa", 0).unwrap());
        let re = compile(r"(?P<k>\w+)=(?P<v>\w+)", false, false, false, 0).unwrap();
        assert_eq!(re.sub("a=1 b=2", r"\g<v>:\g<k>", 1, 0).unwrap(), "1:a b=2");
        let re = compile("a$", false, false, false, 0).unwrap();
        assert!(re.is_match("xa", 0).unwrap());
        let re = compile(r"x\Z", false, false, false, 0).unwrap();
        assert!(re.is_match("ax", 0).unwrap());
        let re = compile("A", true, false, false, 0).unwrap();
        assert!(re.is_match("a", 0).unwrap());
        let re = compile("(-)", false, false, false, 0).unwrap();
        assert_eq!(
            re.split("a-b", 0, 0).unwrap(),
            vec![Some("a".into()), Some("-".into()), Some("b".into())]
        );
        assert!(compile("(", false, false, false, 0).is_err());
        let re = compile(r"\d", false, false, false, 0).unwrap();
        assert!(re.sub("1", r"\9", 0, 0).is_err());
        assert!(re.sub("1", r"\q", 0, 0).is_err());
    }

    #[test]
    fn catastrophic_backtracking_is_bounded() {
        let re = compile(r"(a+)+\1b", false, false, false, 0).unwrap();
        let text = "a".repeat(40);
        assert!(re.is_match(&text, 0).is_err());
    }
}
