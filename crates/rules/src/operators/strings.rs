//! String and membership operators: `contains` family, `startswith`/`endswith` families,
//! `matchwildcard`, `matchregex`, `regex`, `iregex`.
//!
//! Python `re` patterns are compiled with `fancy-regex` (look-around, back-references) after
//! translating the Python-only spellings (`\Z`, `$` before a final newline). Backtracking is
//! bounded: a catastrophic pattern raises (a failure record) instead of hanging the engine.

use super::OpResult;
use crate::pyval::{as_str_arg, as_str_receiver, py_in, PyError};
use regex::Regex;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

pub fn contains(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    py_in(p, v)
}

pub fn ncontains(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    Ok(!py_in(p, v)?)
}

/// `p.lower() in v.lower()`; arrays are not supported (AttributeError on `.lower()`).
pub fn icontains(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let p = as_str_receiver(p, "lower")?.to_lowercase();
    let v = as_str_receiver(v, "lower")?.to_lowercase();
    Ok(v.contains(&p))
}

pub fn incontains(v: &Value, p: &Value) -> OpResult {
    Ok(!p.is_null() && !icontains(v, p)?)
}

pub fn startswith(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "startswith")?;
    let p = as_str_arg(p, "startswith first arg")?;
    Ok(v.starts_with(p))
}

pub fn istartswith(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "lower")?.to_lowercase();
    let p = as_str_receiver(p, "lower")?.to_lowercase();
    Ok(v.starts_with(&p))
}

pub fn endswith(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "endswith")?;
    let p = as_str_arg(p, "endswith first arg")?;
    Ok(v.ends_with(p))
}

pub fn iendswith(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "lower")?.to_lowercase();
    let p = as_str_receiver(p, "lower")?.to_lowercase();
    Ok(v.ends_with(&p))
}

/// `fnmatch.fnmatch` on POSIX: whole-string, case-sensitive, `*` crosses `/`.
pub fn matchwildcard(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = str_operand(v)?;
    let p = str_operand(p)?;
    let rx = cached(&format!("(?s)\\A(?:{})\\z", fnmatch_translate(p)))?;
    Ok(rx.is_match(v))
}

/// `re.match(p, v, re.DOTALL)`: anchored at the start only.
pub fn matchregex(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let p = str_operand(p)?;
    let v = str_operand(v)?;
    py_search(&format!("(?s)\\A(?:{})", translate_python_regex(p)), v)
}

/// `re.search(p, v)`.
pub fn regex(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let p = str_operand(p)?;
    let v = str_operand(v)?;
    py_search(&translate_python_regex(p), v)
}

/// `re.search(p, v, re.IGNORECASE)`.
pub fn iregex(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let p = str_operand(p)?;
    let v = str_operand(v)?;
    py_search(&format!("(?i){}", translate_python_regex(p)), v)
}

fn str_operand(v: &Value) -> Result<&str, PyError> {
    v.as_str().ok_or_else(|| {
        PyError::type_error(format!(
            "expected string or bytes-like object, got '{}'",
            crate::pyval::type_name(v)
        ))
    })
}

/// Checks that `pattern` compiles as a Python regex would (used at registration).
pub fn validate_python_regex(pattern: &str) -> Result<(), String> {
    build_fancy(&translate_python_regex(pattern)).map(|_| ())
}

/// Python-only regex spellings rewritten for `fancy-regex`: `\Z` is the absolute end, and
/// `$` (without MULTILINE) also matches before a final newline.
pub fn translate_python_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') if !in_class => out.push_str("\\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal member.
                let rest = chars.as_str();
                for lead in ["^]", "]", "^"] {
                    if rest.starts_with(lead) {
                        out.push_str(lead);
                        for _ in 0..lead.len() {
                            chars.next();
                        }
                        break;
                    }
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class => out.push_str("(?:(?=\\n\\z)|\\z)"),
            _ => out.push(c),
        }
    }
    out
}

const BACKTRACK_LIMIT: usize = 200_000;

fn build_fancy(src: &str) -> Result<fancy_regex::Regex, String> {
    fancy_regex::RegexBuilder::new(src)
        .backtrack_limit(BACKTRACK_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

thread_local! {
    static PY_CACHE: RefCell<HashMap<String, fancy_regex::Regex>> = RefCell::new(HashMap::new());
}

/// `re.search` of a translated pattern (flags already inline).
fn py_search(pattern: &str, v: &str) -> OpResult {
    let rx = PY_CACHE.with(|c| {
        if let Some(rx) = c.borrow().get(pattern) {
            return Ok(rx.clone());
        }
        let rx = build_fancy(pattern).map_err(|message| PyError {
            class: "re.error",
            message,
        })?;
        let mut map = c.borrow_mut();
        if map.len() >= 512 {
            map.clear();
        }
        map.insert(pattern.to_string(), rx.clone());
        Ok(rx)
    })?;
    rx.is_match(v).map_err(|e| PyError {
        class: "re.error",
        message: format!("regular expression gave up: {e}"),
    })
}

/// Python's `fnmatch.translate`, producing a `regex`-crate pattern body.
pub fn fnmatch_translate(pat: &str) -> String {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                // Consecutive stars are one star.
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                } else {
                    let mut body: String = chars[i..j].iter().collect();
                    i = j + 1;
                    let negate = body.starts_with('!');
                    if negate {
                        body.remove(0);
                    }
                    let mut class = String::from("[");
                    if negate {
                        class.push('^');
                    }
                    for ch in body.chars() {
                        match ch {
                            '\\' | '[' | ']' | '&' | '~' | '^' => {
                                class.push('\\');
                                class.push(ch);
                            }
                            _ => class.push(ch),
                        }
                    }
                    class.push(']');
                    out.push_str(&class);
                }
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out
}

thread_local! {
    static CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// Compiled patterns are cached per thread: the same rule patterns are evaluated for every
/// trigger instance.
fn cached(pattern: &str) -> Result<Regex, PyError> {
    CACHE.with(|c| {
        if let Some(rx) = c.borrow().get(pattern) {
            return Ok(rx.clone());
        }
        let rx = Regex::new(pattern).map_err(|e| PyError {
            class: "re.error",
            message: e.to_string(),
        })?;
        let mut map = c.borrow_mut();
        if map.len() >= 512 {
            map.clear();
        }
        map.insert(pattern.to_string(), rx.clone());
        Ok(rx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcard_sets_and_literals() {
        assert!(matchwildcard(&json!("a/b.txt"), &json!("*.txt")).unwrap());
        assert!(matchwildcard(&json!("b1"), &json!("[abc]1")).unwrap());
        assert!(!matchwildcard(&json!("a1"), &json!("[!abc]1")).unwrap());
        assert!(matchwildcard(&json!("x[y"), &json!("x[y")).unwrap());
        assert!(matchwildcard(&json!("a.b"), &json!("a.b")).unwrap());
        assert!(!matchwildcard(&json!("axb"), &json!("a.b")).unwrap());
        assert!(matchwildcard(&json!(1), &json!("1")).is_err());
    }

    #[test]
    fn python_only_syntax() {
        assert!(regex(&json!("foobar"), &json!("foo(?=bar)")).unwrap());
        assert!(regex(&json!("abab"), &json!(r"(?P<x>ab)(?P=x)")).unwrap());
        assert!(regex(&json!("end\n"), &json!("end$")).unwrap());
        assert!(!regex(&json!("end\nx"), &json!("end$")).unwrap());
        assert!(regex(&json!("a$"), &json!("a[$]")).unwrap());
        assert!(!regex(&json!("end\n"), &json!(r"end\Z")).unwrap());
    }

    #[test]
    fn regex_flavours() {
        assert!(regex(&json!("id-42"), &json!(r"(?P<n>\d+)\Z")).unwrap());
        assert!(regex(&json!("x"), &json!("(")).is_err());
        assert!(validate_python_regex("(").is_err());
        assert!(matchregex(&json!("ab"), &json!("a|x")).unwrap());
        assert!(!matchregex(&json!("ba"), &json!("a|x")).unwrap());
    }

    #[test]
    fn case_insensitive_needs_strings() {
        assert!(icontains(&json!(["A"]), &json!("a")).is_err());
        assert!(incontains(&json!("HELLO"), &json!("xyz")).unwrap());
        assert!(startswith(&json!("abc"), &json!(["a"])).is_err());
        assert!(istartswith(&json!("FooBar"), &json!("foo")).unwrap());
    }
}
