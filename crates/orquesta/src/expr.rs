//! Expressions as Orquesta sees them: which language a string uses, recursive evaluation of
//! spec values through `gale-expr`, static validation and `ctx()` variable extraction for
//! inspection.
use gale_expr::{ContextProvider, Lang};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::OnceLock;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

fn yaql_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"<%.*?%>")
}

fn jinja_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"\{\{.*?\}\}")
}

fn jinja_block_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"\{%.*?%\}")
}

fn ctx_ref_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    let r = r#"[\]\[a-zA-Z0-9_'"\.()]*"#;
    re(&R, &format!(r#"\bctx\(['"]?{r}['"]?\)\.?{r}"#))
}

/// Whether a string holds YAQL (`<% %>`).
pub fn has_yaql(text: &str) -> bool {
    yaql_re().is_match(text)
}

/// Whether a string holds Jinja (`{{ }}` or `{% %}`).
pub fn has_jinja(text: &str) -> bool {
    jinja_re().is_match(text) || jinja_block_re().is_match(text)
}

/// The language of a string, YAQL first as Orquesta registers its evaluators.
pub fn lang_of(text: &str) -> Option<Lang> {
    if has_yaql(text) {
        Some(Lang::Yaql)
    } else if has_jinja(text) {
        Some(Lang::Jinja)
    } else {
        None
    }
}

/// An expression failure, shaped like the Python exception Orquesta logs
/// (`"<ExceptionClass>: <text>"`).
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{0}")]
pub struct EvalError(pub String);

impl EvalError {
    pub fn new(class: &str, text: impl std::fmt::Display) -> Self {
        EvalError(format!("{class}: {text}"))
    }
}

impl From<gale_expr::Error> for EvalError {
    fn from(e: gale_expr::Error) -> Self {
        match e {
            gale_expr::Error::Unsupported(m) => EvalError::new("ExpressionEvaluationException", m),
            other => EvalError(other.to_string()),
        }
    }
}

/// Evaluate a spec value: strings holding expressions are evaluated, dicts (keys too) and
/// lists recursively, anything else is returned as is.
pub fn evaluate(
    value: &Value,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<Value, EvalError> {
    match value {
        Value::String(s) => evaluate_str(s, ctx, provider),
        Value::Array(items) => items
            .iter()
            .map(|v| evaluate(v, ctx, provider))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match evaluate_str(k, ctx, provider)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, evaluate(v, ctx, provider)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Evaluate one string (plain text comes back unchanged).
pub fn evaluate_str(
    text: &str,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<Value, EvalError> {
    match lang_of(text) {
        Some(lang) => Ok(gale_expr::evaluate_with(lang, text, ctx, provider)?),
        None => Ok(Value::String(text.to_string())),
    }
}

/// An expression problem found by inspection.
#[derive(Clone, Debug, PartialEq)]
pub struct ExprIssue {
    /// `yaql`, `jinja`, or `None` for a string mixing both.
    pub kind: Option<&'static str>,
    pub expression: String,
    pub message: String,
}

/// Validate every expression in a spec value (dict keys included), as Orquesta's
/// `expressions.base.validate` does.
pub fn validate(value: &Value) -> Vec<ExprIssue> {
    let mut out = Vec::new();
    validate_into(value, &mut out);
    out
}

fn validate_into(value: &Value, out: &mut Vec<ExprIssue>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                validate_str(k, out);
                validate_into(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| validate_into(v, out)),
        Value::String(s) => validate_str(s, out),
        _ => {}
    }
}

fn validate_str(text: &str, out: &mut Vec<ExprIssue>) {
    match (has_yaql(text), has_jinja(text)) {
        (true, true) => out.push(ExprIssue {
            kind: None,
            expression: text.to_string(),
            message: "Expression with multiple types is not supported.".into(),
        }),
        (true, false) => {
            for m in yaql_re().find_iter(text) {
                let inner = strip_delims(m.as_str(), "<%", "%>");
                if let Err(message) = crate::syntax::check_yaql(inner) {
                    out.push(ExprIssue {
                        kind: Some("yaql"),
                        expression: m.as_str().to_string(),
                        message,
                    });
                }
            }
        }
        (false, true) => {
            let mut seen: Vec<String> = Vec::new();
            if let Err(message) = crate::syntax::check_jinja_template(text) {
                seen.push(text.to_string());
                out.push(ExprIssue {
                    kind: Some("jinja"),
                    expression: text.to_string(),
                    message,
                });
            }
            for m in jinja_re().find_iter(text) {
                if seen.iter().any(|s| s == m.as_str()) {
                    continue;
                }
                let inner = strip_delims(m.as_str(), "{{", "}}");
                if let Err(message) = crate::syntax::check_jinja_expr(inner) {
                    seen.push(m.as_str().to_string());
                    out.push(ExprIssue {
                        kind: Some("jinja"),
                        expression: m.as_str().to_string(),
                        message,
                    });
                }
            }
        }
        (false, false) => {}
    }
}

fn strip_delims<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let s = s.strip_prefix(open).unwrap_or(s);
    let s = s.strip_suffix(close).unwrap_or(s);
    s.trim()
}

/// A `ctx()` variable reference: (language, the whole statement, variable name).
pub type VarRef = (&'static str, String, String);

/// Every `ctx()` variable a spec value references, sorted by name, without duplicates.
pub fn extract_vars(value: &Value) -> Vec<VarRef> {
    let mut out = Vec::new();
    extract_into(value, &mut out);
    out.retain(|v| !v.2.is_empty());
    let mut dedup: Vec<VarRef> = Vec::new();
    for v in out {
        if !dedup.contains(&v) {
            dedup.push(v);
        }
    }
    dedup.sort_by(|a, b| a.2.cmp(&b.2));
    dedup
}

fn extract_into(value: &Value, out: &mut Vec<VarRef>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                extract_str(k, out);
                extract_into(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| extract_into(v, out)),
        Value::String(s) => extract_str(s, out),
        _ => {}
    }
}

fn extract_str(text: &str, out: &mut Vec<VarRef>) {
    for (kind, finder, open, close) in [
        ("yaql", yaql_re(), "<%", "%>"),
        ("jinja", jinja_re(), "{{", "}}"),
    ] {
        let mut refs: Vec<String> = Vec::new();
        for m in finder.find_iter(text) {
            let inner = strip_delims(m.as_str(), open, close);
            for r in ctx_ref_re().find_iter(inner) {
                let r = r.as_str().trim().to_string();
                if !refs.contains(&r) {
                    refs.push(r);
                }
            }
        }
        refs.sort();
        for r in refs {
            for name in var_names(&r) {
                out.push((kind, text.to_string(), name));
            }
        }
    }
}

/// The four ways Orquesta pulls a name out of a `ctx` reference; each yields a name or "".
fn var_names(r: &str) -> [String; 4] {
    static PLAIN: OnceLock<Regex> = OnceLock::new();
    static SQ: OnceLock<Regex> = OnceLock::new();
    static DQ: OnceLock<Regex> = OnceLock::new();
    let grab = |re: &Regex| re.captures(r).map(|c| c[1].to_string()).unwrap_or_default();
    [
        dotted_name(r),
        grab(re(&PLAIN, r"\bctx\(([a-zA-Z0-9_-]+)\)")),
        grab(re(&SQ, r"\bctx\('([a-zA-Z0-9_-]+)'\)")),
        grab(re(&DQ, r#"\bctx\("([a-zA-Z0-9_-]+)"\)"#)),
    ]
}

/// `ctx().x` → `x`: a name right after `ctx().`, ending at a word boundary and not followed
/// by `(` (a method call), backtracking like the Python look-around regex does.
fn dotted_name(r: &str) -> String {
    static START: OnceLock<Regex> = OnceLock::new();
    let start = re(&START, r"\bctx\(\)\.");
    for m in start.find_iter(r) {
        let rest = &r[m.end()..];
        let run: Vec<char> = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        let is_word = |c: char| c.is_alphanumeric() || c == '_';
        for len in (1..=run.len()).rev() {
            let last = run[len - 1];
            let next = rest[run[..len].iter().map(|c| c.len_utf8()).sum::<usize>()..]
                .chars()
                .next();
            let boundary = match next {
                Some(n) => is_word(last) != is_word(n),
                None => is_word(last),
            };
            if boundary && next != Some('(') {
                return run[..len].iter().collect();
            }
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn languages() {
        assert_eq!(lang_of("<% 1 %>"), Some(Lang::Yaql));
        assert_eq!(lang_of("{{ 1 }}"), Some(Lang::Jinja));
        assert_eq!(lang_of("{% if x %}y{% endif %}"), Some(Lang::Jinja));
        assert_eq!(lang_of("plain"), None);
    }

    #[test]
    fn var_extraction() {
        let v = extract_vars(&json!("<% ctx().st2.user %> in <% ctx(tenant) %>"));
        let names: Vec<_> = v.iter().map(|x| x.2.as_str()).collect();
        assert_eq!(names, vec!["st2", "tenant"]);
        let v = extract_vars(&json!(
            "{{ ctx('a') }} {{ ctx(\"b\") }} {{ ctx().c.keys() }}"
        ));
        let names: Vec<_> = v.iter().map(|x| x.2.as_str()).collect();
        assert_eq!(names, vec!["a", "b", "c"]);
        assert_eq!(v[0].0, "jinja");
        // A method call on ctx() is not a variable.
        assert!(extract_vars(&json!("<% ctx().keys() %>")).is_empty());
    }

    #[test]
    fn mixed_languages_rejected() {
        let issues = validate(&json!({"k": "<% 1 %> {{ 2 }}"}));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].kind, None);
    }
}
