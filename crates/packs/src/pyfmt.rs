//! Python-style text for values and JSON-schema errors.
//!
//! StackStorm's messages are Python's: values appear as `repr()` (`'x'`, `True`, `None`,
//! `{'a': 1}`) and validation errors use the wording of the Python `jsonschema` package
//! (`'cmd' is a required property`). Clients and tests compare these strings, so the
//! jsonschema crate's own messages are not shown; [`schema_error_message`] rewrites them.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::PathChunk;
use jsonschema::ValidationError;
use serde_json::Value;

// One copy of Python's text rules for the whole workspace lives in gale-model.
pub use gale_model::py::{float_repr, py_repr as repr, py_str, type_name, write_str_repr};

/// A Python list of strings as `str(list)` prints it: `['a', 'b']`.
pub fn list_repr(items: &[String]) -> String {
    repr(&Value::Array(
        items.iter().map(|s| Value::String(s.clone())).collect(),
    ))
}

/// The message the Python `jsonschema` package gives for this error. `schema` is the schema the
/// error was produced against (used to read keyword values such as the declared `type` list in
/// its original order).
pub fn schema_error_message(err: &ValidationError<'_>, schema: &Value) -> String {
    let inst = repr(&err.instance);
    let keyword_value = || schema_keyword_value(schema, err);
    match &err.kind {
        ValidationErrorKind::Required { property } => {
            format!("{} is a required property", repr(property))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let mut extras = unexpected.clone();
            extras.sort();
            format!(
                "Additional properties are not allowed ({} {} unexpected)",
                extras
                    .iter()
                    .map(|e| repr(&Value::String(e.clone())))
                    .collect::<Vec<_>>()
                    .join(", "),
                if extras.len() == 1 { "was" } else { "were" }
            )
        }
        ValidationErrorKind::Type { kind } => {
            let types = match keyword_value() {
                Some(Value::String(t)) => repr(&Value::String(t)),
                Some(Value::Array(ts)) => ts.iter().map(repr).collect::<Vec<_>>().join(", "),
                _ => match kind {
                    TypeKind::Single(t) => repr(&Value::String(t.to_string())),
                    TypeKind::Multiple(ts) => ts
                        .into_iter()
                        .map(|t| repr(&Value::String(t.to_string())))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
            };
            format!("{inst} is not of type {types}")
        }
        ValidationErrorKind::Enum { options } => format!("{inst} is not one of {}", repr(options)),
        ValidationErrorKind::Pattern { pattern } => {
            format!(
                "{inst} does not match {}",
                repr(&Value::String(pattern.clone()))
            )
        }
        ValidationErrorKind::Minimum { limit } => {
            if exclusive(schema, err, "exclusiveMinimum") {
                format!(
                    "{inst} is less than or equal to the minimum of {}",
                    repr(limit)
                )
            } else {
                format!("{inst} is less than the minimum of {}", repr(limit))
            }
        }
        ValidationErrorKind::Maximum { limit } => {
            if exclusive(schema, err, "exclusiveMaximum") {
                format!(
                    "{inst} is greater than or equal to the maximum of {}",
                    repr(limit)
                )
            } else {
                format!("{inst} is greater than the maximum of {}", repr(limit))
            }
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            format!(
                "{inst} is less than or equal to the minimum of {}",
                repr(limit)
            )
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            format!(
                "{inst} is greater than or equal to the maximum of {}",
                repr(limit)
            )
        }
        ValidationErrorKind::MinLength { .. } | ValidationErrorKind::MinItems { .. } => {
            format!("{inst} is too short")
        }
        ValidationErrorKind::MaxLength { .. } | ValidationErrorKind::MaxItems { .. } => {
            format!("{inst} is too long")
        }
        ValidationErrorKind::MinProperties { .. } => {
            format!("{inst} does not have enough properties")
        }
        ValidationErrorKind::MaxProperties { .. } => format!("{inst} has too many properties"),
        ValidationErrorKind::UniqueItems => format!("{inst} has non-unique elements"),
        ValidationErrorKind::MultipleOf { multiple_of } => {
            format!("{inst} is not a multiple of {}", float_or_int(*multiple_of))
        }
        ValidationErrorKind::AnyOf | ValidationErrorKind::OneOfNotValid => {
            format!("{inst} is not valid under any of the given schemas")
        }
        ValidationErrorKind::OneOfMultipleValid => {
            format!(
                "{inst} is valid under each of {}",
                keyword_value().map(|v| repr(&v)).unwrap_or_default()
            )
        }
        ValidationErrorKind::Not { schema } => {
            format!("{inst} should not be valid under {}", repr(schema))
        }
        ValidationErrorKind::Format { format } => {
            format!("{inst} is not a {}", repr(&Value::String(format.clone())))
        }
        ValidationErrorKind::AdditionalItems { .. } => {
            "Additional items are not allowed".to_string()
        }
        ValidationErrorKind::FalseSchema => format!("False schema does not allow {inst}"),
        ValidationErrorKind::Constant { expected_value } => {
            format!("{} was expected", repr(expected_value))
        }
        _ => err.to_string(),
    }
}

fn float_or_int(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        float_repr(f)
    }
}

/// The value of the keyword the error points at, read from `schema` via the error's schema path.
fn schema_keyword_value(schema: &Value, err: &ValidationError<'_>) -> Option<Value> {
    let mut cur = schema;
    for chunk in err.schema_path.iter() {
        cur = match chunk {
            PathChunk::Property(p) => cur.get(p.as_ref())?,
            PathChunk::Keyword(k) => cur.get(*k)?,
            PathChunk::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur.clone())
}

fn exclusive(schema: &Value, err: &ValidationError<'_>, key: &str) -> bool {
    let mut cur = schema;
    let chunks: Vec<_> = err.schema_path.iter().collect();
    for chunk in chunks.iter().take(chunks.len().saturating_sub(1)) {
        let next = match chunk {
            PathChunk::Property(p) => cur.get(p.as_ref()),
            PathChunk::Keyword(k) => cur.get(*k),
            PathChunk::Index(i) => cur.get(*i),
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    cur.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Python jsonschema's `best_match` relevance, for choosing which of several errors to report:
/// shallower instance paths first, then errors that are not `anyOf`/`oneOf`, then errors whose
/// instance does not match the failing schema's type. Lower sorts first.
pub fn relevance(err: &ValidationError<'_>, base_depth: usize) -> (usize, bool, bool) {
    let depth = base_depth + err.instance_path.iter().count();
    let weak = matches!(
        err.kind,
        ValidationErrorKind::AnyOf
            | ValidationErrorKind::OneOfNotValid
            | ValidationErrorKind::OneOfMultipleValid
    );
    let type_matches = !matches!(err.kind, ValidationErrorKind::Type { .. });
    (depth, weak, type_matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reprs() {
        assert_eq!(repr(&json!("x")), "'x'");
        assert_eq!(repr(&json!("it's")), "\"it's\"");
        assert_eq!(repr(&json!([1, true, null, 1.5])), "[1, True, None, 1.5]");
        assert_eq!(repr(&json!({"a": {"b": "c"}})), "{'a': {'b': 'c'}}");
        assert_eq!(repr(&json!(1.0)), "1.0");
        assert_eq!(repr(&json!(1e16)), "1e+16");
        assert_eq!(repr(&json!(1.5e-5)), "1.5e-05");
        assert_eq!(list_repr(&["a".into(), "b".into()]), "['a', 'b']");
        assert_eq!(type_name(&json!(5)), "int");
        assert_eq!(type_name(&json!(5.0)), "float");
    }

    fn first_message(schema: Value, instance: Value) -> String {
        let schema = crate::schema::to_draft4(&schema);
        let compiled = jsonschema::JSONSchema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .compile(&schema)
            .unwrap();
        let result = compiled.validate(&instance);
        let errors: Vec<_> = result.unwrap_err().collect();
        schema_error_message(&errors[0], &schema)
    }

    #[test]
    fn python_wording() {
        assert_eq!(
            first_message(
                json!({"type": "object", "properties": {"cmd": {"required": true}}}),
                json!({})
            ),
            "'cmd' is a required property"
        );
        assert_eq!(
            first_message(
                json!({"type": "object", "properties": {}, "additionalProperties": false}),
                json!({"foo": 1})
            ),
            "Additional properties are not allowed ('foo' was unexpected)"
        );
        assert_eq!(
            first_message(
                json!({"type": "object", "properties": {"c": {}}, "additionalProperties": false}),
                json!({"b": 1, "a": 2})
            ),
            "Additional properties are not allowed ('a', 'b' were unexpected)"
        );
        assert_eq!(
            first_message(
                json!({"type": "object", "additionalProperties": false}),
                json!({"b": 1})
            ),
            "Additional properties are not allowed ('b' was unexpected)"
        );
        assert_eq!(
            first_message(json!({"type": ["string", "null"]}), json!(5)),
            "5 is not of type 'string', 'null'"
        );
        assert_eq!(
            first_message(json!({"enum": ["a", "b"]}), json!("c")),
            "'c' is not one of ['a', 'b']"
        );
        assert_eq!(
            first_message(json!({"pattern": "^a$"}), json!("b")),
            "'b' does not match '^a$'"
        );
        assert_eq!(
            first_message(json!({"minimum": 3}), json!(1)),
            "1 is less than the minimum of 3"
        );
        assert_eq!(
            first_message(json!({"maxLength": 1}), json!("ab")),
            "'ab' is too long"
        );
    }
}
