//! `lessthan`/`lt`, `greaterthan`/`gt` with Python ordering (mismatched types raise).

use super::OpResult;
use crate::pyval::py_cmp;
use serde_json::Value;
use std::cmp::Ordering;

pub fn lessthan(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    Ok(py_cmp(v, p, "<")? == Ordering::Less)
}

pub fn greaterthan(v: &Value, p: &Value) -> OpResult {
    if p.is_null() {
        return Ok(false);
    }
    Ok(py_cmp(v, p, ">")? == Ordering::Greater)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_value_raises() {
        assert!(lessthan(&json!(null), &json!(5)).is_err());
        assert!(greaterthan(&json!(6.5), &json!(6)).unwrap());
        assert!(!greaterthan(&json!(6), &json!(6.0)).unwrap());
    }
}
