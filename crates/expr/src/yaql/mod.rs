//! YAQL lexer, parser and evaluator (owned by the YAQL work; placeholder until it lands).
use crate::{ContextProvider, Error};
use serde_json::Value;

/// Evaluate a string that may contain `<% %>` expressions.
pub fn evaluate(text: &str, ctx: &Value, provider: &dyn ContextProvider) -> Result<Value, Error> {
    let _ = (ctx, provider);
    if !text.contains("<%") {
        return Ok(Value::String(text.to_string()));
    }
    Err(Error::Unsupported(
        "YAQL evaluation is not implemented yet".into(),
    ))
}
