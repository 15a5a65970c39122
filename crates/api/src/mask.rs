//! Secret masking of API output (actions.md §2.6), delegated to the engine's parameter module:
//! the execution's `parameters` and `liveaction.parameters` by the secret parameter
//! definitions, and `result[<runner output_key>]` by the action's `output_schema`. Values are
//! stored unmasked; masking happens only on the way out, unless `show_secrets=true`.

use gale_engine::params;
use gale_model::Execution;
use serde_json::Value;

/// Mask an execution (already serialized to `value`) in place.
pub fn mask_execution(exec: &Execution, value: &mut Value) {
    let (runner, action) = (&exec.runner, &exec.action);
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "parameters".into(),
            Value::Object(params::mask_parameters(runner, action, &exec.parameters)),
        );
        if let Some(Value::Object(live)) = obj.get_mut("liveaction") {
            let masked = params::mask_parameters(runner, action, &exec.liveaction.parameters);
            live.insert("parameters".into(), Value::Object(masked));
        }
        if obj.contains_key("result") {
            obj.insert(
                "result".into(),
                params::mask_result(runner, action, &exec.result),
            );
        }
    }
}

/// The masked result of `exec` (for `/result`).
pub fn masked_result(exec: &Execution) -> Value {
    params::mask_result(&exec.runner, &exec.action, &exec.result)
}

/// Whether a params error is one StackStorm answers with 500 rather than 400.
pub fn params_error_is_internal(e: &params::Error) -> bool {
    e.http_status() >= 500
}
