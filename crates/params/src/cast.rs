//! Server-side casting of parameter values by declared type (actions.md §2.3a), with Python's
//! semantics and error texts (`int()`, `float()`, `ast.literal_eval`, JSON).

use super::Error;
use gale_packs::pyfmt;
use serde_json::{Map, Number, Value};

/// StackStorm's "this is None" marker string.
pub const NONE_MAGIC_VALUE: &str = "%*****__%NONE%__*****%";

/// Cast `value` by the parameter `type` (`None` or unknown types leave it untouched).
pub fn cast(value: &Value, type_name: Option<&str>) -> Result<Value, Error> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let v = if value.as_str() == Some(NONE_MAGIC_VALUE) {
        Value::Null
    } else {
        value.clone()
    };
    match type_name {
        Some("string") => cast_string(value),
        Some("integer") => cast_integer(&v),
        Some("number") => cast_number(&v),
        Some("boolean") => match &v {
            Value::String(s) => literal_eval(&capitalize(s)),
            other => Ok(other.clone()),
        },
        Some("array") | Some("object") => match &v {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(parsed) => Ok(parsed),
                Err(_) => literal_eval(s),
            },
            other => Ok(other.clone()),
        },
        _ => Ok(value.clone()),
    }
}

fn cast_string(value: &Value) -> Result<Value, Error> {
    match value {
        Value::String(s) if s == NONE_MAGIC_VALUE => Ok(Value::Null),
        Value::String(_) => Ok(value.clone()),
        other => Err(Error::Cast(format!(
            "Value \"{}\" must either be a string or None. Got \"{}\".",
            pyfmt::py_str(other),
            pyfmt::type_name(other)
        ))),
    }
}

fn cast_integer(v: &Value) -> Result<Value, Error> {
    match v {
        Value::Null => Err(Error::CastInternal(
            "int() argument must be a string, a bytes-like object or a real number, not 'NoneType'"
                .into(),
        )),
        Value::Bool(b) => Ok(Value::from(i64::from(*b))),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                Ok(v.clone())
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if !f.is_finite() {
                    return Err(Error::CastInternal(
                        "cannot convert float infinity to integer".into(),
                    ));
                }
                Ok(Value::from(f.trunc() as i64))
            }
        }
        Value::String(s) => parse_py_int(s).map(Value::from).ok_or_else(|| {
            Error::Cast(format!(
                "invalid literal for int() with base 10: {}",
                pyfmt::repr(v)
            ))
        }),
        other => Err(Error::CastInternal(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            pyfmt::type_name(other)
        ))),
    }
}

/// Python `int(str)`, limited to what a JSON integer holds.
fn parse_py_int(s: &str) -> Option<i64> {
    gale_model::py::parse_int(s).and_then(|n| i64::try_from(n).ok())
}

fn cast_number(v: &Value) -> Result<Value, Error> {
    let f = match v {
        Value::Null => {
            return Err(Error::CastInternal(
                "float() argument must be a string or a real number, not 'NoneType'".into(),
            ))
        }
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        Value::String(s) => parse_py_float(s).ok_or_else(|| {
            Error::Cast(format!(
                "could not convert string to float: {}",
                pyfmt::repr(v)
            ))
        })?,
        other => {
            return Err(Error::CastInternal(format!(
                "float() argument must be a string or a real number, not '{}'",
                pyfmt::type_name(other)
            )))
        }
    };
    Number::from_f64(f).map(Value::Number).ok_or_else(|| {
        Error::Cast(format!(
            "Out of range float values are not JSON compliant: {f}"
        ))
    })
}

fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if matches!(unsigned, "inf" | "infinity" | "nan") {
        return lower.parse().ok();
    }
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_'))
    {
        return None;
    }
    t.replace('_', "").parse().ok()
}

/// Python `str.capitalize()`: first character upper-case, the rest lower-case.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// `ast.literal_eval` for the literal subset that maps to JSON: strings, numbers, `True`,
/// `False`, `None`, lists, tuples and sets (as arrays), dicts. A well-formed expression that is
/// not a literal (`yes`) is Python's `ValueError` (HTTP 400); text that does not parse is its
/// `SyntaxError` (HTTP 500 in StackStorm).
pub fn literal_eval(text: &str) -> Result<Value, Error> {
    let mut p = LitParser {
        s: text.as_bytes(),
        src: text,
        i: 0,
    };
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.i < p.s.len() {
        return Err(p.syntax());
    }
    Ok(v)
}

struct LitParser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl LitParser<'_> {
    fn syntax(&self) -> Error {
        Error::CastInternal(format!("invalid syntax ({}, line 1)", "<unknown>"))
    }

    fn malformed(&self, node: &str) -> Error {
        Error::Cast(format!(
            "malformed node or string on line 1: <ast.{node} object>"
        ))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.syntax()),
            Some(b'[') => self.seq(b']'),
            Some(b'(') => self.seq(b')'),
            Some(b'{') => self.dict_or_set(),
            Some(b'\'' | b'"') => self.string().map(Value::String),
            Some(b'-' | b'+') => {
                let neg = self.peek() == Some(b'-');
                self.i += 1;
                let v = self.value()?;
                match v {
                    Value::Number(n) if neg => {
                        if let Some(i) = n.as_i64() {
                            Ok(Value::from(-i))
                        } else {
                            Ok(Number::from_f64(-n.as_f64().unwrap_or(0.0))
                                .map(Value::Number)
                                .unwrap_or(Value::Null))
                        }
                    }
                    Value::Number(_) => Ok(v),
                    _ => Err(self.malformed("UnaryOp")),
                }
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                let word = &self.src[start..self.i];
                match word {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    _ => {
                        // A bare name (possibly followed by a call or attribute) is a valid
                        // expression but not a literal; anything else after it is a syntax error.
                        self.skip_ws();
                        match self.peek() {
                            None | Some(b',' | b']' | b')' | b'}' | b':') => {
                                Err(self.malformed("Name"))
                            }
                            Some(b'(') => Err(self.malformed("Call")),
                            Some(b'.') => Err(self.malformed("Attribute")),
                            _ => Err(self.syntax()),
                        }
                    }
                }
            }
            Some(_) => Err(self.syntax()),
        }
    }

    fn seq(&mut self, close: u8) -> Result<Value, Error> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(self.syntax()),
            }
        }
    }

    fn dict_or_set(&mut self) -> Result<Value, Error> {
        self.i += 1;
        let mut map = Map::new();
        let mut set: Option<Vec<Value>> = None;
        loop {
            self.skip_ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(match set {
                    Some(items) => Value::Array(items),
                    None => Value::Object(map),
                });
            }
            let key = self.value()?;
            self.skip_ws();
            if set.is_none() && map.is_empty() && matches!(self.peek(), Some(b',' | b'}')) {
                set = Some(Vec::new());
            }
            if let Some(items) = set.as_mut() {
                items.push(key);
            } else {
                if self.peek() != Some(b':') {
                    return Err(self.syntax());
                }
                self.i += 1;
                let v = self.value()?;
                let k = match key {
                    Value::String(s) => s,
                    other => pyfmt::repr(&other),
                };
                map.insert(k, v);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(self.syntax()),
            }
        }
    }

    fn string(&mut self) -> Result<String, Error> {
        let q = self.s[self.i];
        let triple = self.s[self.i..].starts_with(&[q, q, q]);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.syntax());
            };
            if c == q {
                if !triple {
                    self.i += 1;
                    break;
                }
                if self.s[self.i..].starts_with(&[q, q, q]) {
                    self.i += 3;
                    break;
                }
            }
            if c == b'\n' && !triple {
                return Err(self.syntax());
            }
            if c == b'\\' {
                self.i += 1;
                let Some(e) = self.peek() else {
                    return Err(self.syntax());
                };
                self.i += 1;
                match e {
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'r' => out.push('\r'),
                    b'0' => out.push('\0'),
                    b'\\' => out.push('\\'),
                    b'\'' => out.push('\''),
                    b'"' => out.push('"'),
                    b'\n' => {}
                    b'x' | b'u' => {
                        let n = if e == b'x' { 2 } else { 4 };
                        let hex = self
                            .src
                            .get(self.i..self.i + n)
                            .ok_or_else(|| self.syntax())?;
                        let code = u32::from_str_radix(hex, 16).map_err(|_| self.syntax())?;
                        out.push(char::from_u32(code).ok_or_else(|| self.syntax())?);
                        self.i += n;
                    }
                    other => {
                        out.push('\\');
                        self.i -= 1;
                        let _ = other;
                        let ch = self.src[self.i..]
                            .chars()
                            .next()
                            .ok_or_else(|| self.syntax())?;
                        out.push(ch);
                        self.i += ch.len_utf8();
                    }
                }
                continue;
            }
            let ch = self.src[self.i..]
                .chars()
                .next()
                .ok_or_else(|| self.syntax())?;
            out.push(ch);
            self.i += ch.len_utf8();
        }
        // Adjacent literals concatenate ('a' 'b' == 'ab').
        self.skip_ws();
        if matches!(self.peek(), Some(b'\'' | b'"')) {
            let rest = self.string()?;
            out.push_str(&rest);
        }
        Ok(out)
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let part_of_number = c.is_ascii_alphanumeric() || c == b'.' || c == b'_';
            // A sign right after the exponent marker of a decimal literal (`1e-5`).
            let exponent_sign = (c == b'+' || c == b'-')
                && matches!(self.s.get(self.i.wrapping_sub(1)), Some(b'e' | b'E'))
                && !self.src[start..self.i].starts_with("0x");
            if part_of_number || exponent_sign {
                self.i += 1;
            } else {
                break;
            }
        }
        let text = self.src[start..self.i].replace('_', "");
        let lower = text.to_ascii_lowercase();
        let radix = |prefix: &str, r: u32| {
            lower
                .strip_prefix(prefix)
                .and_then(|d| i64::from_str_radix(d, r).ok())
        };
        let int = if let Some(v) = radix("0x", 16) {
            Some(v)
        } else if let Some(v) = radix("0o", 8) {
            Some(v)
        } else if let Some(v) = radix("0b", 2) {
            Some(v)
        } else if lower.chars().all(|c| c.is_ascii_digit()) {
            // Python 3 rejects leading zeros in decimal literals (`007`), except `0`, `00`.
            if lower.len() > 1 && lower.starts_with('0') && lower.chars().any(|c| c != '0') {
                return Err(self.syntax());
            }
            lower.parse().ok()
        } else {
            None
        };
        if let Some(i) = int {
            return Ok(Value::from(i));
        }
        match lower.parse::<f64>() {
            Ok(f) if !lower.contains("inf") && !lower.contains("nan") => Ok(Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            _ => Err(self.syntax()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Value, t: &str) -> Value {
        cast(&v, Some(t)).unwrap()
    }
    fn err(v: Value, t: &str) -> Error {
        cast(&v, Some(t)).unwrap_err()
    }

    #[test]
    fn string_cast() {
        assert_eq!(ok(json!("x"), "string"), json!("x"));
        assert_eq!(ok(json!(NONE_MAGIC_VALUE), "string"), Value::Null);
        assert_eq!(ok(Value::Null, "string"), Value::Null);
        assert_eq!(
            err(json!(5), "string").to_string(),
            "Value \"5\" must either be a string or None. Got \"int\"."
        );
        assert_eq!(
            err(json!(true), "string").to_string(),
            "Value \"True\" must either be a string or None. Got \"bool\"."
        );
        assert_eq!(
            err(json!({"a": 1}), "string").to_string(),
            "Value \"{'a': 1}\" must either be a string or None. Got \"dict\"."
        );
    }

    #[test]
    fn integer_cast() {
        assert_eq!(ok(json!("1"), "integer"), json!(1));
        assert_eq!(ok(json!(" -12 "), "integer"), json!(-12));
        assert_eq!(ok(json!("1_000"), "integer"), json!(1000));
        assert_eq!(ok(json!(1.9), "integer"), json!(1));
        assert_eq!(ok(json!(true), "integer"), json!(1));
        let e = err(json!("1.5"), "integer");
        assert_eq!(
            e.to_string(),
            "invalid literal for int() with base 10: '1.5'"
        );
        assert_eq!(e.http_status(), 400);
        assert_eq!(
            err(json!(""), "integer").to_string(),
            "invalid literal for int() with base 10: ''"
        );
        assert_eq!(err(json!([1]), "integer").http_status(), 500);
    }

    #[test]
    fn number_cast() {
        assert_eq!(ok(json!("1"), "number"), json!(1.0));
        assert_eq!(ok(json!("2.5e1"), "number"), json!(25.0));
        assert_eq!(ok(json!(3), "number"), json!(3.0));
        assert_eq!(
            err(json!("abc"), "number").to_string(),
            "could not convert string to float: 'abc'"
        );
    }

    #[test]
    fn boolean_cast() {
        for t in ["true", "True", "TRUE", "tRuE"] {
            assert_eq!(ok(json!(t), "boolean"), json!(true), "{t}");
        }
        assert_eq!(ok(json!("false"), "boolean"), json!(false));
        assert_eq!(ok(json!("1"), "boolean"), json!(1));
        assert_eq!(ok(json!("none"), "boolean"), Value::Null);
        assert_eq!(ok(json!(false), "boolean"), json!(false));
        let e = err(json!("yes"), "boolean");
        assert_eq!(e.http_status(), 400);
        assert!(
            e.to_string()
                .starts_with("malformed node or string on line 1"),
            "{e}"
        );
        assert_eq!(err(json!("on"), "boolean").http_status(), 400);
        assert_eq!(err(json!("a b"), "boolean").http_status(), 500);
    }

    #[test]
    fn object_and_array_cast() {
        assert_eq!(ok(json!("[1, 2]"), "array"), json!([1, 2]));
        assert_eq!(ok(json!("['a', 'b']"), "array"), json!(["a", "b"]));
        assert_eq!(ok(json!("('a', 1)"), "array"), json!(["a", 1]));
        assert_eq!(ok(json!("(1e-5, 'x')"), "array"), json!([1e-5, "x"]));
        assert_eq!(ok(json!("{'a': 'it''s'}"), "object"), json!({"a": "its"}));
        assert_eq!(ok(json!("{\"a\": 1}"), "object"), json!({"a": 1}));
        assert_eq!(
            ok(json!("{'a': True, 'b': None}"), "object"),
            json!({"a": true, "b": null})
        );
        assert_eq!(ok(json!("None"), "object"), Value::Null);
        assert_eq!(ok(json!("5"), "object"), json!(5));
        assert_eq!(ok(json!({"x": 1}), "object"), json!({"x": 1}));
        assert_eq!(
            ok(json!("{'a': -1.5, 'b': [0x10]}"), "object"),
            json!({"a": -1.5, "b": [16]})
        );
        let syntax = err(json!("a b"), "object");
        assert_eq!(syntax.http_status(), 500);
        let malformed = err(json!("abc"), "array");
        assert_eq!(malformed.http_status(), 400);
    }

    #[test]
    fn untyped_and_null_untouched() {
        assert_eq!(cast(&json!("5"), None).unwrap(), json!("5"));
        assert_eq!(cast(&json!("5"), Some("weird")).unwrap(), json!("5"));
        assert_eq!(cast(&Value::Null, Some("integer")).unwrap(), Value::Null);
    }
}
