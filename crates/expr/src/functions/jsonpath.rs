//! The part of jsonpath-rw 1.4 that StackStorm's `jsonpath_query` exposes: `$`, `@`, `.field`,
//! `'quoted field'`, `*`, `..`, `[n]`, `[n,m]`, `[a:b]`, `[*]`, `a.b|c` is not supported.
//! Filter expressions (`[?(...)]`) are not part of jsonpath-rw's grammar either: its lexer
//! rejects `?`, and so do we.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Root,
    Field(Vec<String>), // "*" means every value
    Index(Vec<i64>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    AllIndexes,
    Descendants,
}

/// Parses and runs `query` over `value`; `Ok(None)` when nothing matched.
pub fn query(value: &Value, query: &str) -> Result<Option<Vec<Value>>, String> {
    let steps = parse(query)?;
    let mut current: Vec<Value> = vec![value.clone()];
    let mut i = 0;
    while i < steps.len() {
        match &steps[i] {
            Step::Root => current = vec![value.clone()],
            Step::Descendants => {
                // `a..b`: b searched at every depth below a
                let next = steps.get(i + 1).cloned();
                let mut out = Vec::new();
                for v in &current {
                    let mut all = Vec::new();
                    collect_descendants(v, &mut all);
                    for d in all {
                        if let Some(step) = &next {
                            apply(step, &d, &mut out);
                        } else {
                            out.push(d);
                        }
                    }
                }
                current = out;
                i += 2;
                continue;
            }
            step => {
                let mut out = Vec::new();
                for v in &current {
                    apply(step, v, &mut out);
                }
                current = out;
            }
        }
        i += 1;
    }
    if current.is_empty() {
        Ok(None)
    } else {
        Ok(Some(current))
    }
}

fn collect_descendants(v: &Value, out: &mut Vec<Value>) {
    out.push(v.clone());
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect_descendants(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_descendants(x, out)),
        _ => {}
    }
}

fn apply(step: &Step, v: &Value, out: &mut Vec<Value>) {
    match step {
        Step::Root | Step::Descendants => out.push(v.clone()),
        Step::Field(names) => {
            if let Value::Object(m) = v {
                for name in names {
                    if name == "*" {
                        out.extend(m.values().cloned());
                    } else if let Some(x) = m.get(name) {
                        out.push(x.clone());
                    }
                }
            }
        }
        Step::Index(idx) => {
            if let Value::Array(a) = v {
                for &i in idx {
                    let i = if i < 0 { a.len() as i64 + i } else { i };
                    if i >= 0 {
                        if let Some(x) = a.get(i as usize) {
                            out.push(x.clone());
                        }
                    }
                }
            }
        }
        Step::AllIndexes => match v {
            Value::Array(a) => out.extend(a.iter().cloned()),
            other => out.push(other.clone()),
        },
        Step::Slice(start, end, step) => {
            if let Value::Array(a) = v {
                let items = super::py_slice(a, *start, *end, *step);
                out.extend(items);
            }
        }
    }
}

fn lex_err(q: &str, c: char) -> String {
    format!("JsonPathLexerError: Error on line 1, col 0: Unexpected character: {c} in {q}")
}

fn parse(q: &str) -> Result<Vec<Step>, String> {
    let chars: Vec<char> = q.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    let mut expect_name = true; // at the start or after a '.'
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '$' | '@' => {
                steps.push(Step::Root);
                i += 1;
                expect_name = false;
            }
            '.' => {
                if chars.get(i + 1) == Some(&'.') {
                    steps.push(Step::Descendants);
                    i += 2;
                } else {
                    i += 1;
                }
                expect_name = true;
            }
            '*' => {
                steps.push(Step::Field(vec!["*".into()]));
                i += 1;
                expect_name = false;
            }
            '[' => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .map(|p| p + i)
                    .ok_or_else(|| {
                        "JsonPathParserError: Parse error near the end of string!".to_string()
                    })?;
                let inner: String = chars[i + 1..end].iter().collect();
                let inner = inner.trim();
                if let Some(bad) = inner
                    .chars()
                    .find(|c| matches!(c, '?' | '(' | ')' | '@' | '<' | '>' | '=' | '!'))
                {
                    return Err(lex_err(q, bad));
                }
                if inner == "*" {
                    steps.push(Step::AllIndexes);
                } else if inner.contains(':') {
                    let parts: Vec<&str> = inner.split(':').collect();
                    let p = |s: Option<&&str>| -> Result<Option<i64>, String> {
                        match s.map(|s| s.trim()) {
                            None | Some("") => Ok(None),
                            Some(s) => s
                                .parse::<i64>()
                                .map(Some)
                                .map_err(|_| format!("JsonPathParserError: bad slice '{inner}'")),
                        }
                    };
                    steps.push(Step::Slice(
                        p(parts.first())?,
                        p(parts.get(1))?,
                        p(parts.get(2))?,
                    ));
                } else if inner.starts_with('\'') || inner.starts_with('"') {
                    let names = inner
                        .split(',')
                        .map(|s| s.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
                        .collect();
                    steps.push(Step::Field(names));
                } else {
                    let mut idx = Vec::new();
                    for part in inner.split(',') {
                        idx.push(part.trim().parse::<i64>().map_err(|_| {
                            format!("JsonPathParserError: Parse error at 1:{i} near token {inner}")
                        })?);
                    }
                    steps.push(Step::Index(idx));
                }
                i = end + 1;
                expect_name = false;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == c)
                    .map(|p| p + i + 1)
                    .ok_or_else(|| lex_err(q, c))?;
                steps.push(Step::Field(vec![chars[i + 1..end].iter().collect()]));
                i = end + 1;
                expect_name = false;
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' => {
                if !expect_name && !steps.is_empty() {
                    return Err(format!(
                        "JsonPathParserError: Parse error at 1:{i} near token {c}"
                    ));
                }
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-')
                {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                steps.push(Step::Field(vec![name]));
                expect_name = false;
            }
            other => return Err(lex_err(q, other)),
        }
    }
    if steps.is_empty() {
        return Err("JsonPathParserError: Parse error near the end of string!".into());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let people = json!([{"name": "ann", "age": 31}, {"name": "bob", "age": 25}]);
        assert_eq!(
            query(&people, "$[*].name").unwrap(),
            Some(vec![json!("ann"), json!("bob")])
        );
        let deep = json!({"a": {"b": {"c": [10, 20, {"d": "deep"}]}}});
        assert_eq!(query(&deep, "a.b.c[0]").unwrap(), Some(vec![json!(10)]));
        assert_eq!(
            query(&deep, "a.b.c[-1].d").unwrap(),
            Some(vec![json!("deep")])
        );
        assert_eq!(query(&deep, "nope").unwrap(), None);
        assert_eq!(query(&deep, "$..d").unwrap(), Some(vec![json!("deep")]));
        assert_eq!(
            query(&deep, "a.b.c[0:2]").unwrap(),
            Some(vec![json!(10), json!(20)])
        );
        assert_eq!(
            query(&json!({"x": 1, "y": 2}), "*").unwrap(),
            Some(vec![json!(1), json!(2)])
        );
        assert_eq!(
            query(&json!({"a b": 1}), "'a b'").unwrap(),
            Some(vec![json!(1)])
        );
    }

    #[test]
    fn filters_rejected() {
        let err = query(&json!([]), "$[?(@.age > 30)].name").unwrap_err();
        assert!(err.starts_with("JsonPathLexerError"), "{err}");
        assert!(query(&json!([]), "$[").is_err());
    }
}
