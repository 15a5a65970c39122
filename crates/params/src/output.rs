//! Output-schema validation of a succeeded execution's result (actions.md §1.4). Runs only
//! when the `system.validate_output_schema` option is on; the caller checks that and the status.

use gale_model::{Action, RunnerType};
use gale_packs::schema::{best_error, output_schema_is_valid, to_draft4};
use serde_json::{json, Value};

/// Why the output was rejected; the execution becomes `failed` with [`OutputError::result`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutputError {
    pub error: String,
    /// Set when the failure was not a schema mismatch (e.g. the output key is missing).
    pub traceback: Option<String>,
}

impl OutputError {
    /// The replacement result StackStorm stores.
    pub fn result(&self) -> Value {
        let mut r = json!({
            "error": self.error,
            "message": "Error validating output. See error output for more details."
        });
        if let Some(tb) = &self.traceback {
            r["traceback"] = json!(tb);
        }
        r
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn check(schema: &Value, instance: &Value) -> Result<(), OutputError> {
    match best_error(&to_draft4(schema), instance) {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(OutputError {
            error: e.message,
            traceback: None,
        }),
        Err(e) => Err(OutputError {
            error: e,
            traceback: Some(String::new()),
        }),
    }
}

/// Validate the whole result against the runner's output schema, then `result[output_key]`
/// against the action's. The action schema is only consulted when the runner has one; invalid
/// or legacy (untyped) schemas are skipped.
pub fn validate_output(
    runner: &RunnerType,
    action: &Action,
    result: &Value,
) -> Result<(), OutputError> {
    if is_empty(&runner.output_schema) {
        return Ok(());
    }
    if output_schema_is_valid(&runner.output_schema) {
        check(&runner.output_schema, result)?;
    } else {
        tracing::warn!(runner = %runner.name, "ignoring invalid runner output schema");
    }
    if is_empty(&action.output_schema) {
        return Ok(());
    }
    if !output_schema_is_valid(&action.output_schema) {
        tracing::warn!(action = %action.action_ref, "ignoring invalid or legacy action output schema");
        return Ok(());
    }
    let key = runner.output_key.clone().unwrap_or_default();
    let Some(value) = result.get(&key) else {
        return Err(OutputError {
            error: format!("'{key}'"),
            traceback: Some(format!("KeyError: '{key}'")),
        });
    };
    check(&action.output_schema, value)
}
