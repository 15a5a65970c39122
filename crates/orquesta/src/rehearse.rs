//! Rehearse mode: run a workflow against mocked action results and produce the conformance trace
//! defined by `shared/conformance/orquesta/README.md` (placeholder until the conductor lands).
use serde_json::Value;

/// Produce the trace for a workflow given as YAML text, its input, the mocks and an optional
/// parent context. The result is the JSON trace object.
pub fn rehearse(
    workflow_yaml: &str,
    input: &Value,
    mocks: &Value,
    context: Option<&Value>,
) -> Value {
    let _ = (workflow_yaml, input, mocks, context);
    serde_json::json!({"error": "not implemented"})
}
