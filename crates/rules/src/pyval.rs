//! Python semantics on JSON values: `==`, ordering, `in`, `str()`, as StackStorm's operators
//! see them. A Rust `==` on `serde_json::Value` differs (`1 != 1.0`, `true != 1`), so every
//! operator goes through these helpers.

use serde_json::Value;
use std::cmp::Ordering;

/// A Python exception raised by an operator; the class name is kept for the failure text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct PyError {
    pub class: &'static str,
    pub message: String,
}

impl PyError {
    pub fn type_error(message: impl Into<String>) -> Self {
        PyError {
            class: "TypeError",
            message: message.into(),
        }
    }
    pub fn attribute_error(message: impl Into<String>) -> Self {
        PyError {
            class: "AttributeError",
            message: message.into(),
        }
    }
    pub fn value_error(message: impl Into<String>) -> Self {
        PyError {
            class: "ValueError",
            message: message.into(),
        }
    }
}

/// Python's type name of a JSON value (used in error texts).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Numeric view of a value: numbers and booleans (`True == 1` in Python).
fn as_num(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(b) => Some(Num::Int(i128::from(*b))),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(Num::Int(i128::from(i)))
            } else if let Some(u) = n.as_u64() {
                Some(Num::Int(i128::from(u)))
            } else {
                n.as_f64().map(Num::Float)
            }
        }
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

fn num_cmp(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Int(x), Num::Float(y)) => (x as f64).partial_cmp(&y),
        (Num::Float(x), Num::Int(y)) => x.partial_cmp(&(y as f64)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
    }
}

/// Python `a == b`.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return num_cmp(x, y) == Some(Ordering::Equal);
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => false,
    }
}

/// Python ordering (`a < b` etc.); `Err(TypeError)` when the types are not orderable.
pub fn py_cmp(a: &Value, b: &Value, op: &str) -> Result<Ordering, PyError> {
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        // NaN compares false both ways; Equal keeps `<` and `>` false, as in Python.
        return Ok(num_cmp(x, y).unwrap_or(Ordering::Equal));
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x.chars().cmp(y.chars())),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                if !py_eq(p, q) {
                    return py_cmp(p, q, op);
                }
            }
            Ok(x.len().cmp(&y.len()))
        }
        _ => Err(PyError::type_error(format!(
            "'{op}' not supported between instances of '{}' and '{}'",
            type_name(a),
            type_name(b)
        ))),
    }
}

/// Python `needle in haystack` on JSON values.
pub fn py_in(needle: &Value, haystack: &Value) -> Result<bool, PyError> {
    match haystack {
        Value::String(h) => match needle {
            Value::String(n) => Ok(h.contains(n.as_str())),
            other => Err(PyError::type_error(format!(
                "'in <string>' requires string as left operand, not {}",
                type_name(other)
            ))),
        },
        Value::Array(items) => Ok(items.iter().any(|i| py_eq(needle, i))),
        Value::Object(map) => match needle {
            Value::String(n) => Ok(map.contains_key(n)),
            Value::Array(_) | Value::Object(_) => Err(PyError::type_error(format!(
                "unhashable type: '{}'",
                type_name(needle)
            ))),
            // Keys of a JSON object are strings: a number, bool or None is never one.
            _ => Ok(false),
        },
        other => Err(PyError::type_error(format!(
            "argument of type '{}' is not iterable",
            type_name(other)
        ))),
    }
}

/// The string receiver of a Python `str` method (`value.lower()`, `value.startswith(...)`).
pub fn as_str_receiver<'a>(v: &'a Value, method: &str) -> Result<&'a str, PyError> {
    v.as_str().ok_or_else(|| {
        PyError::attribute_error(format!(
            "'{}' object has no attribute '{method}'",
            type_name(v)
        ))
    })
}

/// A string argument of a Python `str` method (`"x".startswith(5)` is a TypeError).
pub fn as_str_arg<'a>(v: &'a Value, what: &str) -> Result<&'a str, PyError> {
    v.as_str()
        .ok_or_else(|| PyError::type_error(format!("{what} must be str, not {}", type_name(v))))
}

/// Python `repr(v)` for JSON values (`'x'`, `[1]`).
pub fn py_repr(v: &Value) -> String {
    gale_expr::functions::python::py_repr(v)
}

/// Python `str(v)` for JSON values (`True`, `None`, `{'a': 1}`).
pub fn py_str(v: &Value) -> String {
    gale_expr::functions::python::py_str(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equality_follows_python() {
        assert!(py_eq(&json!(1), &json!(1.0)));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(py_eq(&json!(false), &json!(0.0)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(py_eq(
            &json!({"a": 1, "b": [1]}),
            &json!({"b": [1.0], "a": true})
        ));
        assert!(!py_eq(&json!([1, 2]), &json!([2, 1])));
    }

    #[test]
    fn ordering_rejects_mixed_types() {
        assert_eq!(py_cmp(&json!(3), &json!(5.5), "<").unwrap(), Ordering::Less);
        assert_eq!(
            py_cmp(&json!(true), &json!(0), ">").unwrap(),
            Ordering::Greater
        );
        assert_eq!(
            py_cmp(&json!([1, 2]), &json!([1, 3]), "<").unwrap(),
            Ordering::Less
        );
        assert!(py_cmp(&json!("10"), &json!(9), ">").is_err());
        assert!(py_cmp(&json!(null), &json!(5), "<").is_err());
        assert!(py_cmp(&json!({}), &json!({}), "<").is_err());
    }

    #[test]
    fn membership_by_container_type() {
        assert!(py_in(&json!("ell"), &json!("hello")).unwrap());
        assert!(py_in(&json!({"a": 1}), &json!([{"a": 1.0}])).unwrap());
        assert!(py_in(&json!("k"), &json!({"k": 1})).unwrap());
        assert!(!py_in(&json!(1), &json!({"1": 1})).unwrap());
        assert!(py_in(&json!(1), &json!("123")).is_err());
        assert!(py_in(&json!("x"), &json!(null)).is_err());
        assert!(py_in(&json!([1]), &json!({"a": 1})).is_err());
    }
}
