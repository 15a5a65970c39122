//! `inside`/`in`, `ninside`/`nin`: `v in p` with Python membership.

use super::OpResult;
use crate::pyval::py_in;
use serde_json::Value;

pub fn inside(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    py_in(v, p)
}

pub fn ninside(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    Ok(!py_in(v, p)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_pattern_checks_keys() {
        assert!(inside(&json!("b"), &json!({"a": 1, "b": 2})).unwrap());
        assert!(ninside(&json!("c"), &json!({"a": 1})).unwrap());
        assert!(inside(&json!(1), &json!("123")).is_err());
    }
}
