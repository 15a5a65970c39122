//! Jinja environment configured as Orquesta and StackStorm configure Jinja2 (placeholder).
use crate::{ContextProvider, Error};
use serde_json::Value;

/// Orquesta Jinja: variables only through `ctx()`.
pub fn evaluate_orquesta(
    text: &str,
    ctx: &Value,
    provider: &dyn ContextProvider,
) -> Result<Value, Error> {
    let _ = (ctx, provider);
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(Value::String(text.to_string()));
    }
    Err(Error::Unsupported(
        "Jinja evaluation is not implemented yet".into(),
    ))
}

/// StackStorm `render_values` for one value: top-level template variables.
pub fn render_st2(text: &str, ctx: &Value, provider: &dyn ContextProvider) -> Result<Value, Error> {
    evaluate_orquesta(text, ctx, provider)
}
