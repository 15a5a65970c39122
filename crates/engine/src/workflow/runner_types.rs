//! The runner types of the workflow runners. They are not in the runner registry (nothing
//! "runs" a workflow: the engine steps it), so the engine registers them itself.

use gale_model::RunnerType;
use serde_json::{json, Value};

fn build(def: Value) -> Option<RunnerType> {
    match serde_json::from_value(def) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "invalid built-in workflow runner definition");
            None
        }
    }
}

/// StackStorm's `orquesta_runner/runner.yaml` and `action_chain_runner/runner.yaml`.
pub(crate) fn runner_types() -> Vec<RunnerType> {
    [
        json!({
            "name": "orquesta",
            "uid": RunnerType::uid_for("orquesta"),
            "description": "A runner for executing orquesta workflow.",
            "enabled": true,
            "runner_package": "orquesta_runner",
            "runner_module": "orquesta_runner",
            "output_key": "output",
            "output_schema": {},
            "runner_parameters": {
                "notify": {
                    "type": "array",
                    "default": [],
                    "description": "List of tasks to trigger notifications for.",
                    "uniqueItems": true,
                    "items": {"type": "string", "pattern": "^\\w+$"}
                }
            }
        }),
        json!({
            "name": "action-chain",
            "uid": RunnerType::uid_for("action-chain"),
            "description": "A runner for launching linear action chains.",
            "enabled": true,
            "runner_package": "action_chain_runner",
            "runner_module": "action_chain_runner",
            "output_key": "published",
            "output_schema": {},
            "runner_parameters": {
                "display_published": {
                    "default": true,
                    "description": "Intermediate published variables will be stored and displayed.",
                    "type": "boolean"
                },
                "skip_notify": {
                    "default": [],
                    "description": "List of tasks to skip notifications for.",
                    "type": "array"
                }
            }
        }),
    ]
    .into_iter()
    .filter_map(build)
    .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_definitions_parse() {
        let names: Vec<String> = super::runner_types().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["orquesta", "action-chain"]);
    }
}
