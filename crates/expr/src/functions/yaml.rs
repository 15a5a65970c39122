//! YAML as PyYAML's `safe_load` / `safe_dump(default_flow_style=False)` see it.
//!
//! Loading resolves plain scalars with the YAML 1.1 rules PyYAML uses (`yes` is `true`, `0x10`
//! is 16, `0o17` stays a string), which no YAML 1.2 crate does, so we drive the event parser
//! ourselves. Dumping sorts keys and picks plain or quoted scalars the way PyYAML does.

use serde_json::{Map, Number, Value};
use std::fmt::Write;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Errors carry the Python exception class name the reference raises.
pub type YamlResult<T> = Result<T, String>;

// ---------------------------------------------------------------- load

struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Value>,
    docs: Vec<Value>,
    error: Option<String>,
}

enum Frame {
    Seq(Vec<Value>, usize),
    Map(Map<String, Value>, Option<String>, usize),
}

impl Builder {
    fn push_value(&mut self, v: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, v.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(v),
            Some(Frame::Seq(items, _)) => items.push(v),
            Some(Frame::Map(map, key, _)) => match key.take() {
                None => match v {
                    Value::String(s) => *key = Some(s),
                    Value::Null => *key = Some("None".into()),
                    Value::Bool(b) => *key = Some(if b { "True" } else { "False" }.into()),
                    Value::Number(n) => *key = Some(n.to_string()),
                    _ => {
                        self.error
                            .get_or_insert_with(|| "ConstructorError: unhashable key".into());
                        *key = Some(String::new());
                    }
                },
                Some(k) => {
                    map.insert(k, v);
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let v = resolve_scalar(&text, style, tag.as_ref());
                match v {
                    Ok(v) => self.push_value(v, anchor),
                    Err(e) => {
                        self.error.get_or_insert(e);
                        self.push_value(Value::Null, anchor);
                    }
                }
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(Vec::new(), anchor)),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map(Map::new(), None, anchor)),
            Event::SequenceEnd | Event::MappingEnd => {
                let (v, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(items, a)) => (Value::Array(items), a),
                    Some(Frame::Map(map, _, a)) => (Value::Object(map), a),
                    None => return,
                };
                self.push_value(v, anchor);
            }
            Event::Alias(id) => {
                let v = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                self.push_value(v, 0);
            }
            _ => {}
        }
    }
}

fn resolve_scalar(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> YamlResult<Value> {
    if let Some(tag) = tag {
        let full = format!("{}{}", tag.handle, tag.suffix);
        let suffix = full.rsplit(':').next().unwrap_or("");
        match suffix {
            "str" => return Ok(Value::String(text.into())),
            "int" => {
                return resolve_int(text)
                    .ok_or_else(|| format!("ConstructorError: invalid int '{text}'"))
            }
            "float" => {
                return resolve_float(text)
                    .ok_or_else(|| format!("ConstructorError: invalid float '{text}'"))
            }
            "bool" => {
                return resolve_bool(text)
                    .map(Value::Bool)
                    .ok_or_else(|| format!("ConstructorError: invalid bool '{text}'"))
            }
            "null" => return Ok(Value::Null),
            _ => {}
        }
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text.into()));
    }
    Ok(resolve_plain(text))
}

/// YAML 1.1 implicit resolution as PyYAML's SafeLoader does it.
pub fn resolve_plain(text: &str) -> Value {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = resolve_bool(text) {
        return Value::Bool(b);
    }
    if let Some(v) = resolve_int(text) {
        return v;
    }
    if let Some(v) = resolve_float(text) {
        return v;
    }
    Value::String(text.into())
}

fn resolve_bool(t: &str) -> Option<bool> {
    match t {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn resolve_int(t: &str) -> Option<Value> {
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if body.is_empty() {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let parsed: Option<i128> = if let Some(b) = clean.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()
    } else if let Some(h) = clean.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()
    } else if clean.len() > 1 && clean.starts_with('0') {
        if clean.chars().all(|c| c.is_ascii_digit()) {
            i128::from_str_radix(&clean[1..], 8).ok()
        } else {
            None
        }
    } else if clean.contains(':') {
        // sexagesimal 1:30 == 90
        let mut acc: i128 = 0;
        for part in clean.split(':') {
            if part.is_empty() || !part.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            acc = acc
                .checked_mul(60)?
                .checked_add(part.parse::<i128>().ok()?)?;
        }
        Some(acc)
    } else if clean.chars().all(|c| c.is_ascii_digit()) && !clean.is_empty() {
        clean.parse::<i128>().ok()
    } else {
        None
    };
    let n = parsed?;
    let n = if neg { -n } else { n };
    if let Ok(i) = i64::try_from(n) {
        Some(Value::from(i))
    } else if let Ok(u) = u64::try_from(n) {
        Some(Value::from(u))
    } else {
        Number::from_f64(n as f64).map(Value::Number)
    }
}

fn resolve_float(t: &str) -> Option<Value> {
    let lower = t.to_ascii_lowercase();
    match lower.trim_start_matches(['+', '-']) {
        ".inf" | ".nan" => return None, // JSON cannot hold them; the caller sees a string
        _ => {}
    }
    // PyYAML 1.1 float: [-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits_start = i;
    while i < b.len() && (b[i].is_ascii_digit() || (b[i] == b'_' && i > digits_start)) {
        i += 1;
    }
    if i >= b.len() || b[i] != b'.' {
        return None;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() {
        if b[i] != b'e' && b[i] != b'E' {
            return None;
        }
        i += 1;
        if i >= b.len() || (b[i] != b'-' && b[i] != b'+') {
            return None;
        }
        i += 1;
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start || i != b.len() {
            return None;
        }
    }
    if t.trim_start_matches(['+', '-']) == "." {
        return None;
    }
    let clean: String = t.chars().filter(|c| *c != '_').collect();
    clean
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// `yaml.safe_load(text)`: the first document, `None` for an empty stream.
pub fn load(text: &str) -> YamlResult<Value> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: Default::default(),
        docs: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut b, true)
        .map_err(|e| format!("ScannerError: {e}"))?;
    if let Some(e) = b.error {
        return Err(e);
    }
    if b.docs.len() > 1 {
        return Err("ComposerError: expected a single document in the stream".into());
    }
    Ok(b.docs.into_iter().next().unwrap_or(Value::Null))
}

// ---------------------------------------------------------------- dump

/// `yaml.safe_dump(value, default_flow_style=False, allow_unicode=True)` (sorted keys).
pub fn dump(v: &Value, indent: usize) -> String {
    let indent = indent.clamp(2, 9);
    let mut out = String::new();
    match v {
        Value::Array(a) if !a.is_empty() => emit_seq(&mut out, a, 0, indent),
        Value::Object(m) if !m.is_empty() => emit_map(&mut out, m, 0, indent),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
            if !matches!(other, Value::Array(_) | Value::Object(_)) {
                out.push_str("...\n");
            }
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn emit_seq(out: &mut String, items: &[Value], col: usize, indent: usize) {
    for item in items {
        pad(out, col);
        out.push_str("- ");
        emit_inline_child(out, item, col + 2, indent);
    }
}

/// After "- " (the block starts on the same line at column `col`).
fn emit_inline_child(out: &mut String, item: &Value, col: usize, indent: usize) {
    match item {
        Value::Array(a) if !a.is_empty() => {
            // first item on the same line
            let mut first = true;
            for x in a {
                if !first {
                    pad(out, col);
                }
                first = false;
                out.push_str("- ");
                emit_inline_child(out, x, col + 2, indent);
            }
        }
        Value::Object(m) if !m.is_empty() => {
            let mut first = true;
            for (k, x) in sorted(m) {
                if !first {
                    pad(out, col);
                }
                first = false;
                emit_key_value(out, k, x, col, indent);
            }
        }
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn sorted(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

fn emit_map(out: &mut String, m: &Map<String, Value>, col: usize, indent: usize) {
    for (k, v) in sorted(m) {
        pad(out, col);
        emit_key_value(out, k, v, col, indent);
    }
}

fn emit_key_value(out: &mut String, k: &str, v: &Value, col: usize, indent: usize) {
    out.push_str(&scalar_str(k));
    out.push(':');
    match v {
        // PyYAML puts a block sequence under a mapping key at the key's own column.
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_seq(out, a, col, indent);
        }
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(out, m, col + indent, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Number(n) => {
            if n.is_f64() {
                let f = n.as_f64().unwrap_or(0.0);
                let r = super::python::float_repr(f);
                // PyYAML writes 1e+16 as 1.0e+16
                if r.contains('e') && !r.contains('.') {
                    r.replacen('e', ".0e", 1)
                } else {
                    r
                }
            } else {
                n.to_string()
            }
        }
        Value::String(s) => scalar_str(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn scalar_str(s: &str) -> String {
    if plain_ok(s) {
        return s.to_string();
    }
    if s.chars().any(|c| c.is_control() && c != '\n') || s.contains('\n') {
        return double_quoted(s);
    }
    format!("'{}'", s.replace('\'', "''"))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    // Would it read back as something other than this string?
    if !matches!(resolve_plain(s), Value::String(_)) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // "-x" / "?x" / ":x" are fine in PyYAML when followed by a non-space
        let second = s.chars().nth(1);
        let ok_indicator =
            matches!(first, '-' | '?' | ':') && second.is_some_and(|c| !c.is_whitespace());
        if !ok_indicator {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s.chars().any(|c| c.is_control() || c == '\u{feff}') {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn load_yaml11() {
        assert_eq!(
            load("- yes\n- 0o17\n- 1.5\n- 0x10\n- no\n- ~\n- '1'\n- 017\n- 1_000\n- 1:30").unwrap(),
            json!([true, "0o17", 1.5, 16, false, null, "1", 15, 1000, 90])
        );
        assert_eq!(
            load("a: 1\nb: [x, y]\n").unwrap(),
            json!({"a": 1, "b": ["x", "y"]})
        );
        assert_eq!(load("plain").unwrap(), json!("plain"));
        assert_eq!(load("").unwrap(), json!(null));
        assert_eq!(load("1e3").unwrap(), json!("1e3"));
        assert_eq!(load("1.0e+3").unwrap(), json!(1000.0));
        assert!(load("a: [1").is_err());
    }

    #[test]
    fn dump_like_pyyaml() {
        assert_eq!(dump(&json!({"b": 2, "a": 1}), 2), "a: 1\nb: 2\n");
        assert_eq!(
            dump(&json!({"a": [1, 2], "b": {"c": "é"}}), 2),
            "a:\n- 1\n- 2\nb:\n  c: é\n"
        );
        assert_eq!(dump(&json!([1, "x"]), 2), "- 1\n- x\n");
        assert_eq!(
            dump(&json!([{"a": 1, "b": [true]}, [1, 2]]), 2),
            "- a: 1\n  b:\n  - true\n- - 1\n  - 2\n"
        );
        assert_eq!(dump(&json!("x"), 2), "x\n...\n");
        assert_eq!(
            dump(&json!(["yes", "1", "", "a: b", null, 1.5]), 2),
            "- 'yes'\n- '1'\n- ''\n- 'a: b'\n- null\n- 1.5\n"
        );
        assert_eq!(dump(&json!({}), 2), "{}\n");
    }
}
