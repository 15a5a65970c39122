//! `equals`/`eq`, `nequals`/`neq`, `iequals`/`ieq`.

use super::OpResult;
use crate::pyval::{as_str_receiver, py_eq};
use serde_json::Value;

pub fn equals(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    Ok(py_eq(v, p))
}

/// No null guard in StackStorm: a missing key `!=` a null pattern is false.
pub fn nequals(v: &Value, p: &Value) -> OpResult {
    Ok(!py_eq(v, p))
}

pub fn iequals(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    let v = as_str_receiver(v, "lower")?;
    let p = as_str_receiver(p, "lower")?;
    Ok(v.to_lowercase() == p.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_pattern_guards() {
        assert!(!equals(&json!(null), &json!(null)).unwrap());
        assert!(!nequals(&json!(null), &json!(null)).unwrap());
        assert!(nequals(&json!(1), &json!(null)).unwrap());
        assert!(!iequals(&json!(5), &json!(null)).unwrap());
        assert!(iequals(&json!(5), &json!("5")).is_err());
    }
}
