//! `exists` / `nexists`: the pattern is ignored; JSON null counts as missing.

use super::OpResult;
use serde_json::Value;

pub fn exists(v: &Value, _p: &Value) -> OpResult {
    Ok(!v.is_null())
}

pub fn nexists(v: &Value, _p: &Value) -> OpResult {
    Ok(v.is_null())
}
