//! Criteria key lookup (events.md §5.5): the part of the jsonpath-rw 1.4 grammar StackStorm
//! rule keys use, evaluated against `{"trigger": payload}` (or `{"item": element}` inside
//! `search`). The first match wins and a JSON null counts as missing.
//!
//! Own parser rather than `gale_expr`'s `jsonpath_query` because rule keys need jsonpath-rw's
//! exact *rejections* (`trigger.0`, `trigger.where`, `trigger.-a`, `trigger.a b`), which become
//! "Failed transforming criteria key" records.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    AnyField,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Descend,
}

/// A lookup-key error (jsonpath-rw lexer/parser error or an out-of-range negative index).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

/// The criteria key with any `#tag` suffix removed.
pub fn strip_tag(key: &str) -> &str {
    key.split_once('#').map_or(key, |(k, _)| k)
}

/// Resolves `key` (already `#`-stripped) in `ctx`. `Ok(Value::Null)` when nothing matched.
pub fn lookup(key: &str, ctx: &Value) -> Result<Value, KeyError> {
    let steps = parse(key)?;
    let mut current: Vec<&Value> = vec![ctx];
    for step in &steps {
        let mut next = Vec::new();
        for v in current {
            apply(step, v, &mut next)?;
        }
        current = next;
    }
    Ok(current.first().map_or(Value::Null, |v| (*v).clone()))
}

fn apply<'a>(step: &Step, v: &'a Value, out: &mut Vec<&'a Value>) -> Result<(), KeyError> {
    match step {
        Step::Field(name) => {
            if let Some(x) = v.as_object().and_then(|m| m.get(name)) {
                out.push(x);
            }
        }
        Step::AnyField => {
            if let Some(m) = v.as_object() {
                out.extend(m.values());
            }
        }
        Step::Index(i) => {
            if let Value::Array(a) = v {
                let len = a.len() as i64;
                let idx = if *i < 0 { len + i } else { *i };
                if idx < 0 {
                    // Python `list[-n]` beyond the start raises IndexError.
                    return Err(KeyError("IndexError: list index out of range".into()));
                }
                if let Some(x) = a.get(idx as usize) {
                    out.push(x);
                }
            }
        }
        Step::Slice(start, end) => {
            // jsonpath-rw wraps a non-list into a one-element list before slicing.
            let items: &[Value] = match v {
                Value::Array(a) => a,
                other => std::slice::from_ref(other),
            };
            let len = items.len() as i64;
            let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
            let s = start.map_or(0, norm);
            let e = end.map_or(len, norm);
            if s < e {
                out.extend(&items[s as usize..e as usize]);
            }
        }
        Step::Descend => descend(v, out),
    }
    Ok(())
}

fn descend<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(v);
    match v {
        Value::Array(a) => a.iter().for_each(|x| descend(x, out)),
        Value::Object(m) => m.values().for_each(|x| descend(x, out)),
        _ => {}
    }
}

fn err(key: &str, near: &str) -> KeyError {
    KeyError(format!(
        "JsonPathParserError: Parse error at {near} in \"{key}\""
    ))
}

fn is_id_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '@'
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '-')
}

fn parse(key: &str) -> Result<Vec<Step>, KeyError> {
    let chars: Vec<char> = key.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    // A name is expected at the start and after `.`/`..`; elsewhere only `.`/`..`/`[` may follow.
    let mut expect_name = true;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && matches!(chars[*i], ' ' | '\t') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        let c = chars[i];
        if expect_name {
            if is_id_start(c) {
                let start = i;
                while i < chars.len() && is_id_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if name == "where" {
                    return Err(err(key, "'where'"));
                }
                steps.push(Step::Field(name));
            } else if c == '\'' || c == '"' {
                let (name, end) = quoted(&chars, i).ok_or_else(|| err(key, "end of string"))?;
                steps.push(Step::Field(name));
                i = end;
            } else if c == '*' {
                steps.push(Step::AnyField);
                i += 1;
            } else if c == '$' && steps.is_empty() {
                i += 1;
            } else {
                return Err(err(key, &format!("'{c}'")));
            }
            expect_name = false;
            continue;
        }
        match c {
            '.' => {
                if chars.get(i + 1) == Some(&'.') {
                    steps.push(Step::Descend);
                    i += 2;
                } else {
                    i += 1;
                }
                expect_name = true;
            }
            '[' => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .map(|p| p + i)
                    .ok_or_else(|| err(key, "end of string"))?;
                let inner: String = chars[i + 1..close].iter().collect();
                steps.push(bracket(key, inner.trim())?);
                i = close + 1;
            }
            other => return Err(err(key, &format!("'{other}'"))),
        }
    }
    if expect_name {
        return Err(err(key, "end of string"));
    }
    Ok(steps)
}

fn quoted(chars: &[char], start: usize) -> Option<(String, usize)> {
    let q = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(chars[i + 1]);
                i += 2;
            }
            c if c == q => return Some((out, i + 1)),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

fn bracket(key: &str, inner: &str) -> Result<Step, KeyError> {
    if inner == "*" {
        return Ok(Step::Slice(None, None));
    }
    if inner.starts_with('\'') || inner.starts_with('"') {
        let chars: Vec<char> = inner.chars().collect();
        let (name, end) = quoted(&chars, 0).ok_or_else(|| err(key, "end of string"))?;
        if end != chars.len() {
            return Err(err(key, "']'"));
        }
        return Ok(Step::Field(name));
    }
    let int = |s: &str| -> Result<Option<i64>, KeyError> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<i64>()
            .map(Some)
            .map_err(|_| err(key, &format!("'{s}'")))
    };
    if let Some((a, b)) = inner.split_once(':') {
        return Ok(Step::Slice(int(a)?, int(b)?));
    }
    match int(inner)? {
        Some(n) => Ok(Step::Index(n)),
        None => Err(err(key, "']'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({"trigger": {
            "a": {"b": 1},
            "list": [{"name": "x"}, {"name": "y"}],
            "headers": {"X-Custom-Header": "h"},
            "dot.key": 2,
            "x y": 3,
            "foo-bar": 4,
            "nul": null
        }})
    }

    #[test]
    fn resolves_the_documented_forms() {
        let c = ctx();
        let cases = [
            ("trigger.a.b", json!(1)),
            ("trigger.list[0].name", json!("x")),
            ("trigger.list[-1].name", json!("y")),
            ("trigger.list[*].name", json!("x")),
            ("trigger..name", json!("x")),
            ("trigger.list[1:].name", json!("y")),
            ("trigger.a[*].b", json!(1)),
            ("trigger.a[0:-1].b", json!(null)),
            ("trigger.list[:-1].name", json!("x")),
            ("trigger.headers['X-Custom-Header']", json!("h")),
            ("trigger.\"dot.key\"", json!(2)),
            ("trigger.'x y'", json!(3)),
            ("trigger.foo-bar", json!(4)),
            ("trigger.list.name", json!(null)),
            ("trigger.nul", json!(null)),
            ("trigger.missing.deeper", json!(null)),
            ("system.x", json!(null)),
        ];
        for (k, want) in cases {
            assert_eq!(lookup(k, &c).unwrap(), want, "{k}");
        }
    }

    #[test]
    fn rejects_what_jsonpath_rw_rejects() {
        for k in [
            "trigger.0",
            "trigger.where",
            "trigger.-a",
            "trigger.a b",
            "trigger.",
            "trigger.a[",
        ] {
            assert!(lookup(k, &ctx()).is_err(), "{k}");
        }
        assert_eq!(strip_tag("trigger.level#low"), "trigger.level");
    }
}
