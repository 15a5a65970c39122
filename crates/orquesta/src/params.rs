//! Orquesta's inline parameters: `action: pack.act a=1 b="x"` and `publish: k=<% ... %>`.
//!
//! Only JSON-like or quoted values, numbers, booleans, `null` and whole expressions are
//! recognised; anything else (`message=hello`) is silently not a parameter, as in Orquesta.
use indexmap::IndexMap;
use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;

fn inline_regex() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        // Alternation order matters (leftmost-first, as in Python): floats before integers.
        let variants = [
            r"\[.*\]\s*",
            r#""[^"]*"\s*"#,
            r"'[^']*'\s*",
            r"[-]?\d*\.\d+",
            r"[-]?\d+",
            r"(?i:true)",
            r"(?i:false)",
            r"null",
            r"<%.*?%>",
            r"\{\{.*?\}\}",
        ];
        Regex::new(&format!(r"(\w+)=({})", variants.join("|"))).expect("static regex")
    })
}

fn quoted_regexes() -> &'static (Regex, Regex) {
    static R: OnceLock<(Regex, Regex)> = OnceLock::new();
    R.get_or_init(|| {
        (
            Regex::new(r#""[^"]*"\s*"#).expect("static regex"),
            Regex::new(r"'[^']*'\s*").expect("static regex"),
        )
    })
}

fn convert(raw: &str) -> Value {
    let v = raw.trim();
    let (dq, sq) = quoted_regexes();
    let quotes_in_param = dq.is_match(v) || sq.is_match(v);
    let v = v.strip_prefix('"').unwrap_or(v);
    let v = v.strip_suffix('"').unwrap_or(v);
    let v = v.strip_prefix('\'').unwrap_or(v);
    let v = v.strip_suffix('\'').unwrap_or(v);
    let mut quotes_in_string = false;
    if !v.is_empty() {
        let curly = v.starts_with('{') && v.ends_with('}');
        quotes_in_string = quotes_in_param && !curly;
    }
    if quotes_in_string {
        return Value::String(v.to_string());
    }
    let lowered;
    let text = if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        lowered = v.to_ascii_lowercase();
        lowered.as_str()
    } else {
        v
    };
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(v.to_string()))
}

/// Parse inline parameters in order (the `publish` form: a list of one-key entries).
pub fn parse_inline_list(s: &str) -> Vec<(String, Value)> {
    inline_regex()
        .captures_iter(s)
        .map(|c| (c[1].to_string(), convert(&c[2])))
        .collect()
}

/// Parse inline parameters into a map (the `action` form; a repeated key keeps its first
/// position and its last value, like a Python dict).
pub fn parse_inline_map(s: &str) -> IndexMap<String, Value> {
    let mut m = IndexMap::new();
    for (k, v) in parse_inline_list(s) {
        m.insert(k, v);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_values() {
        let p = parse_inline_map(r#"a=1 b="x y" c=true d=[1, 2] e=-1.5 f=null g='q' h=TRUE"#);
        assert_eq!(p["a"], json!(1));
        assert_eq!(p["b"], json!("x y"));
        assert_eq!(p["c"], json!(true));
        assert_eq!(p["d"], json!([1, 2]));
        assert_eq!(p["e"], json!(-1.5));
        assert_eq!(p["f"], Value::Null);
        assert_eq!(p["g"], json!("q"));
        assert_eq!(p["h"], json!(true));
    }

    #[test]
    fn expressions_and_bare_words() {
        let p = parse_inline_list("x=<% ctx(a) %> y={{ ctx('b') }} z=hello");
        assert_eq!(
            p,
            vec![
                ("x".to_string(), json!("<% ctx(a) %>")),
                ("y".to_string(), json!("{{ ctx('b') }}"))
            ]
        );
        assert!(parse_inline_map("message=hello").is_empty());
    }

    #[test]
    fn quoted_json_object_is_loaded() {
        let p = parse_inline_map(r#"data='{"k": 1}'"#);
        assert_eq!(p["data"], json!({"k": 1}));
        let p = parse_inline_map(r#"n="5""#);
        assert_eq!(p["n"], json!("5"));
    }
}
