//! YAML read with the meaning PyYAML's `safe_load` gives it (YAML 1.1), which is what StackStorm
//! uses for every pack file.
//!
//! serde_yaml and yaml-rust2's loaders resolve plain scalars with YAML 1.2 rules, where `yes`,
//! `on`, `0777` and `1:30` are strings. We therefore take yaml-rust2's event stream, which
//! still tells quoted from plain scalars, and resolve plain scalars ourselves with PyYAML's
//! implicit resolvers:
//! - bool: `yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF`
//!   (PyYAML does *not* treat `y`/`n` as booleans, unlike the YAML 1.1 spec text);
//! - null: `~`, `null|Null|NULL`, empty;
//! - int: decimal, `0b`, `0x`, leading-zero octal, sexagesimal (`1:30` = 90), `_` separators;
//! - float: needs a dot (`1e5` is a string, `1.0e+5` a float), `.inf`, `.nan`, sexagesimal;
//! - merge keys `<<` (mapping or list of mappings; explicit keys win).
//!
//! Timestamps stay strings (PyYAML would produce date objects that StackStorm then stringifies
//! differently per place); non-finite floats become strings because JSON cannot hold them.

use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML document could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(pub String);

/// Parse the first document of `text` (an empty stream gives `null`, like `safe_load`).
pub fn from_str(text: &str) -> Result<Value, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, true)
        .map_err(|e| YamlError(e.to_string()))?;
    if builder.documents > 1 {
        // PyYAML's safe_load refuses multi-document streams.
        return Err(YamlError(
            "expected a single document in the stream; but found another document".into(),
        ));
    }
    if let Some(err) = builder.error {
        return Err(YamlError(err));
    }
    Ok(builder.doc.unwrap_or(Value::Null))
}

enum Frame {
    Seq(usize, Vec<Value>),
    // Keys are kept as JSON strings; `pending` holds a key waiting for its value.
    Map {
        anchor: usize,
        entries: Map<String, Value>,
        merges: Vec<Value>,
        pending: Option<KeyOrMerge>,
    },
}

enum KeyOrMerge {
    Key(String),
    Merge,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    doc: Option<Value>,
    documents: usize,
    error: Option<String>,
}

impl Builder {
    fn push_value(&mut self, v: Value, is_merge_key: bool) {
        match self.stack.last_mut() {
            None => {
                if self.doc.is_none() {
                    self.doc = Some(v);
                }
            }
            Some(Frame::Seq(_, items)) => items.push(v),
            Some(Frame::Map {
                entries,
                merges,
                pending,
                ..
            }) => match pending.take() {
                None => {
                    *pending = Some(if is_merge_key {
                        KeyOrMerge::Merge
                    } else {
                        KeyOrMerge::Key(key_string(&v))
                    });
                }
                Some(KeyOrMerge::Key(k)) => {
                    entries.insert(k, v);
                }
                Some(KeyOrMerge::Merge) => merges.push(v),
            },
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { pending: None, .. }))
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => self.documents += 1,
            Event::DocumentEnd => {}
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(v) => self.push_value(v, false),
                None => self.error = Some(format!("found undefined alias (anchor id {id})")),
            },
            Event::Scalar(text, style, anchor, tag) => {
                let is_merge = self.expecting_key()
                    && style == TScalarStyle::Plain
                    && tag.is_none()
                    && text == "<<";
                let v = match resolve_scalar(&text, style, tag.as_ref()) {
                    Ok(v) => v,
                    Err(e) => {
                        self.error = Some(e);
                        return;
                    }
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.push_value(v, is_merge);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(anchor, Vec::new())),
            Event::SequenceEnd => {
                if let Some(Frame::Seq(anchor, items)) = self.stack.pop() {
                    let v = Value::Array(items);
                    if anchor > 0 {
                        self.anchors.insert(anchor, v.clone());
                    }
                    self.push_value(v, false);
                }
            }
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                anchor,
                entries: Map::new(),
                merges: Vec::new(),
                pending: None,
            }),
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    anchor,
                    entries,
                    merges,
                    ..
                }) = self.stack.pop()
                {
                    let v = match apply_merges(entries, merges) {
                        Ok(v) => v,
                        Err(e) => {
                            self.error = Some(e);
                            return;
                        }
                    };
                    if anchor > 0 {
                        self.anchors.insert(anchor, v.clone());
                    }
                    self.push_value(v, false);
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
    }
}

/// `<<: *a` / `<<: [*a, *b]`: earlier sources win over later ones, explicit keys over all.
fn apply_merges(entries: Map<String, Value>, merges: Vec<Value>) -> Result<Value, String> {
    if merges.is_empty() {
        return Ok(Value::Object(entries));
    }
    let mut sources = Vec::new();
    for m in merges {
        match m {
            Value::Object(o) => sources.push(o),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(o) => sources.push(o),
                        _ => return Err("expected a mapping for merging".into()),
                    }
                }
            }
            _ => return Err("expected a mapping or list of mappings for merging".into()),
        }
    }
    let mut out = Map::new();
    for src in sources {
        for (k, v) in src {
            out.entry(k).or_insert(v);
        }
    }
    for (k, v) in entries {
        out.insert(k, v);
    }
    Ok(Value::Object(out))
}

/// Mapping keys become JSON object keys; non-string keys are written as Python would print them.
fn key_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

fn resolve_scalar(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        let core = tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!";
        if core {
            return match tag.suffix.as_str() {
                "str" => Ok(Value::String(text.to_string())),
                "null" => Ok(Value::Null),
                "bool" => parse_bool(text)
                    .map(Value::Bool)
                    .ok_or_else(|| format!("invalid boolean {text:?}")),
                "int" => parse_int(text).ok_or_else(|| format!("invalid integer {text:?}")),
                "float" => parse_float(text).ok_or_else(|| format!("invalid float {text:?}")),
                _ => Ok(Value::String(text.to_string())),
            };
        }
        // Non-core tags (`!foo`) are rejected by safe_load; keep the text rather than fail.
        return Ok(Value::String(text.to_string()));
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    Ok(resolve_plain(text))
}

/// PyYAML's implicit resolution of a plain (unquoted) scalar.
pub fn resolve_plain(text: &str) -> Value {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = parse_bool(text) {
        return Value::Bool(b);
    }
    if let Some(v) = parse_int(text) {
        return v;
    }
    if let Some(v) = parse_float(text) {
        return v;
    }
    Value::String(text.to_string())
}

fn parse_bool(t: &str) -> Option<bool> {
    match t {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn split_sign(t: &str) -> (bool, &str) {
    if let Some(r) = t.strip_prefix('-') {
        (true, r)
    } else if let Some(r) = t.strip_prefix('+') {
        (false, r)
    } else {
        (false, t)
    }
}

fn all_in(s: &str, ok: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(ok)
}

fn int_value(neg: bool, magnitude: i128) -> Value {
    let v = if neg { -magnitude } else { magnitude };
    match i64::try_from(v) {
        Ok(i) => Value::Number(i.into()),
        Err(_) => match u64::try_from(v) {
            Ok(u) => Value::Number(u.into()),
            // Beyond 64 bits JSON numbers lose precision; keep the digits.
            Err(_) => Value::String(v.to_string()),
        },
    }
}

fn parse_int(t: &str) -> Option<Value> {
    let (neg, body) = split_sign(t);
    let digits = |s: &str, radix: u32| -> Option<i128> {
        let cleaned: String = s.chars().filter(|c| *c != '_').collect();
        if cleaned.is_empty() {
            return None;
        }
        i128::from_str_radix(&cleaned, radix).ok()
    };
    if let Some(b) = body.strip_prefix("0b") {
        if all_in(b, |c| c == '0' || c == '1' || c == '_') {
            return digits(b, 2).map(|m| int_value(neg, m));
        }
        return None;
    }
    if let Some(h) = body.strip_prefix("0x") {
        if all_in(h, |c| c.is_ascii_hexdigit() || c == '_') {
            return digits(h, 16).map(|m| int_value(neg, m));
        }
        return None;
    }
    if body == "0" {
        return Some(int_value(neg, 0));
    }
    if let Some(o) = body.strip_prefix('0') {
        if all_in(o, |c| ('0'..='7').contains(&c) || c == '_') {
            return digits(o, 8).map(|m| int_value(neg, m));
        }
        return None;
    }
    if body.contains(':') {
        return sexagesimal(body).and_then(|parts| {
            let mut acc: i128 = 0;
            for p in parts {
                acc = acc.checked_mul(60)?.checked_add(digits(p, 10)?)?;
            }
            Some(int_value(neg, acc))
        });
    }
    if body.starts_with(|c: char| c.is_ascii_digit())
        && all_in(body, |c| c.is_ascii_digit() || c == '_')
    {
        return digits(body, 10).map(|m| int_value(neg, m));
    }
    None
}

/// `[1-9][0-9_]*(:[0-5]?[0-9])+` split into its parts (the first part may be any digits for
/// floats, checked by callers).
fn sexagesimal(body: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = body.split(':').collect();
    let first = parts.first()?;
    if !first.starts_with(|c: char| ('1'..='9').contains(&c))
        || !all_in(first, |c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    for p in &parts[1..] {
        let ok = match p.len() {
            1 => p.chars().all(|c| c.is_ascii_digit()),
            2 => {
                let b = p.as_bytes();
                (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit()
            }
            _ => false,
        };
        if !ok {
            return None;
        }
    }
    Some(parts)
}

fn parse_float(t: &str) -> Option<Value> {
    let (neg, body) = split_sign(t);
    let sign = if neg { -1.0 } else { 1.0 };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(Value::String(t.to_string()));
    }
    if matches!(t, ".nan" | ".NaN" | ".NAN") {
        return Some(Value::String(t.to_string()));
    }
    // Sexagesimal float: `190:20:30.15`.
    if body.contains(':') {
        let (int_part, frac) = body.rsplit_once('.')?;
        let parts = sexagesimal(int_part)?;
        if !frac.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return None;
        }
        let mut acc = 0f64;
        for p in parts {
            acc = acc * 60.0 + p.replace('_', "").parse::<f64>().ok()?;
        }
        let frac: String = frac.chars().filter(|c| *c != '_').collect();
        let f = if frac.is_empty() {
            0.0
        } else {
            format!("0.{frac}").parse::<f64>().ok()?
        };
        return Number::from_f64(sign * (acc + f)).map(Value::Number);
    }
    // `[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?` or `\.[0-9][0-9_]*([eE][-+][0-9]+)?`
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (ip, fp) = mantissa.split_once('.')?;
    let int_ok = if ip.is_empty() {
        // `.5` form: the fraction must start with a digit, and no sign allowed in PyYAML's regex.
        fp.starts_with(|c: char| c.is_ascii_digit()) && !t.starts_with(['+', '-'])
    } else {
        ip.starts_with(|c: char| c.is_ascii_digit())
            && ip.chars().all(|c| c.is_ascii_digit() || c == '_')
    };
    if !int_ok || !fp.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    if let Some(e) = exp {
        let digits = e.strip_prefix(['+', '-'])?;
        if !all_in(digits, |c| c.is_ascii_digit()) {
            return None;
        }
    }
    let cleaned: String = mantissa.chars().filter(|c| *c != '_').collect();
    let cleaned = if cleaned.ends_with('.') {
        format!("{cleaned}0")
    } else {
        cleaned
    };
    let text = match exp {
        Some(e) => format!("{cleaned}e{e}"),
        None => cleaned,
    };
    let f: f64 = text.parse().ok()?;
    Number::from_f64(sign * f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml11_booleans_in_every_spelling() {
        for t in [
            "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
        ] {
            assert_eq!(
                from_str(&format!("a: {t}")).unwrap(),
                json!({"a": true}),
                "{t}"
            );
        }
        for f in [
            "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
        ] {
            assert_eq!(
                from_str(&format!("a: {f}")).unwrap(),
                json!({"a": false}),
                "{f}"
            );
        }
    }

    #[test]
    fn pyyaml_keeps_y_n_and_odd_cases_as_strings() {
        for s in ["y", "n", "Y", "N", "yEs", "tRUE", "oN"] {
            assert_eq!(
                from_str(&format!("a: {s}")).unwrap(),
                json!({"a": s}),
                "{s}"
            );
        }
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let v = from_str("a: 'yes'\nb: \"on\"\nc: '1'\nd: !!str true\ne: \"~\"").unwrap();
        assert_eq!(
            v,
            json!({"a": "yes", "b": "on", "c": "1", "d": "true", "e": "~"})
        );
    }

    #[test]
    fn nulls() {
        let v = from_str("a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nULL").unwrap();
        assert_eq!(
            v,
            json!({"a": null, "b": null, "c": null, "d": null, "e": null, "f": "nULL"})
        );
        assert_eq!(from_str("").unwrap(), Value::Null);
        assert_eq!(from_str("---\n").unwrap(), Value::Null);
    }

    #[test]
    fn yaml11_numbers() {
        let v = from_str(
            "dec: 42\nneg: -7\noct: 0777\nhex: 0x1F\nbin: 0b101\nsex: 1:30\nund: 1_000\n\
             f: 1.5\nexp: 1.0e+3\nnoexp: 1e5\nbad_exp: 1.0e5\ndot: 3.\nlead: .5\nzero: 0\n\
             sexf: 1:30.5\nver: 1.0.1\ninf: .inf",
        )
        .unwrap();
        assert_eq!(v["dec"], json!(42));
        assert_eq!(v["neg"], json!(-7));
        assert_eq!(v["oct"], json!(511));
        assert_eq!(v["hex"], json!(31));
        assert_eq!(v["bin"], json!(5));
        assert_eq!(v["sex"], json!(90));
        assert_eq!(v["und"], json!(1000));
        assert_eq!(v["f"], json!(1.5));
        assert_eq!(v["exp"], json!(1000.0));
        assert_eq!(v["noexp"], json!("1e5"));
        assert_eq!(v["bad_exp"], json!("1.0e5"));
        assert_eq!(v["dot"], json!(3.0));
        assert_eq!(v["lead"], json!(0.5));
        assert_eq!(v["zero"], json!(0));
        assert_eq!(v["sexf"], json!(90.5));
        assert_eq!(v["ver"], json!("1.0.1"));
        assert_eq!(v["inf"], json!(".inf"));
    }

    #[test]
    fn version_number_is_a_float_like_pyyaml() {
        assert_eq!(from_str("version: 0.1").unwrap(), json!({"version": 0.1}));
    }

    #[test]
    fn nested_structures_keep_order_and_anchors_and_merge_keys() {
        let v =
            from_str("base: &b\n  x: 1\n  y: on\nother:\n  <<: *b\n  y: 2\nlist: [*b, off]\nz: 1")
                .unwrap();
        assert_eq!(v["other"], json!({"x": 1, "y": 2}));
        assert_eq!(v["list"], json!([{"x": 1, "y": true}, false]));
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["base", "other", "list", "z"]);
    }

    #[test]
    fn non_string_keys_use_python_spelling() {
        assert_eq!(
            from_str("1: a\ntrue: b\n").unwrap(),
            json!({"1": "a", "True": "b"})
        );
    }

    #[test]
    fn block_scalars_are_strings() {
        let v = from_str("a: |\n  yes\nb: >\n  on\n").unwrap();
        assert_eq!(v, json!({"a": "yes\n", "b": "on\n"}));
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(from_str("a: [1, 2").is_err());
        assert!(from_str("a: *nope").is_err());
    }

    #[test]
    fn multiple_documents_are_rejected_like_safe_load() {
        assert!(from_str("---\na: 1\n---\nb: 2\n").is_err());
        assert_eq!(from_str("---\na: 1\n...\n").unwrap(), json!({"a": 1}));
    }
}
