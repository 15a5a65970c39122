//! Criteria pattern rendering (events.md §5.6). The algorithm decides the pattern's *type*:
//! a string holding `{{ ... }}` is first rendered with `| to_complex` and JSON-parsed, so
//! `"{{ trigger.count }}"` becomes the number in the payload.

use gale_expr::{ContextProvider, Lang};
use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;

fn expr_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // Python: `({{)\s*(.*)\s*(}})`, greedy, `.` does not cross newlines.
    RE.get_or_init(|| Regex::new(r"(\{\{)\s*(.*)\s*(\}\})").expect("static regex"))
}

/// Renders `pattern` with `ctx` (`{"trigger": payload}` or `{"item": element}`).
/// Non-strings pass through. The error text is the template engine's message.
pub fn render_pattern(
    pattern: &Value,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<Value, String> {
    let Value::String(text) = pattern else {
        return Ok(pattern.clone());
    };
    if expr_re().is_match(text) {
        let complex = expr_re().replace_all(text, "{{$2 | to_complex}}");
        match render(&complex, ctx, provider) {
            Ok(out) => {
                if let Ok(v) = serde_json::from_str::<Value>(&out) {
                    return Ok(v);
                }
            }
            // Python ValueError falls through to the plain rendering; anything else fails.
            Err(e) if e.contains("ValueError") => {}
            Err(e) => return Err(e),
        }
    }
    render(text, ctx, provider).map(Value::String)
}

fn render(text: &str, ctx: &Value, provider: &dyn ContextProvider) -> Result<String, String> {
    match gale_expr::evaluate_with(Lang::JinjaSt2, text, ctx, provider) {
        Ok(Value::String(s)) => Ok(s),
        Ok(other) => Ok(crate::pyval::py_str(&other)),
        Err(e) => Err(strip_class(&e)),
    }
}

/// `gale_expr` prefixes messages with the exception class of its own API; StackStorm's
/// failure texts carry only the Jinja message.
fn strip_class(e: &gale_expr::Error) -> String {
    match e {
        gale_expr::Error::Jinja(m)
        | gale_expr::Error::Evaluation(m)
        | gale_expr::Error::Yaql(m)
        | gale_expr::Error::Budget(m)
        | gale_expr::Error::Unsupported(m) => m.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gale_expr::NoProvider;
    use serde_json::json;

    fn r(p: Value, payload: Value) -> Result<Value, String> {
        render_pattern(&p, &json!({ "trigger": payload }), &NoProvider)
    }

    #[test]
    fn types_follow_the_payload() {
        assert_eq!(
            r(json!("{{ trigger.count }}"), json!({"count": 5})).unwrap(),
            json!(5)
        );
        assert_eq!(
            r(json!("{{ trigger.s }}"), json!({"s": "abc"})).unwrap(),
            json!("abc")
        );
        assert_eq!(
            r(json!("{{ trigger.l }}"), json!({"l": [1, "a"]})).unwrap(),
            json!([1, "a"])
        );
        assert_eq!(
            r(json!("pre{{ trigger.x }}post"), json!({"x": "abc"})).unwrap(),
            json!("preabcpost")
        );
        assert_eq!(
            r(
                json!("{{ trigger.a }}{{ trigger.b }}"),
                json!({"a": 1, "b": 2})
            )
            .unwrap(),
            json!(12)
        );
        assert_eq!(r(json!("5"), json!({})).unwrap(), json!("5"));
        assert_eq!(r(json!(5), json!({})).unwrap(), json!(5));
    }

    #[test]
    fn missing_key_is_an_error() {
        assert!(r(json!("{{ trigger.missing }}"), json!({"a": 1})).is_err());
    }
}
