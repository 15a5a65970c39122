//! `noop`: does nothing and succeeds (actions.md §4.6).

use crate::runner_defs::runner_type_from_json;
use crate::{RunContext, RunOutcome, RunRequest, Runner};
use async_trait::async_trait;
use gale_model::{ExecStatus, RunnerType};
use serde_json::json;

pub const NAME: &str = "noop";

#[derive(Clone, Copy, Debug, Default)]
pub struct NoopRunner;

/// StackStorm's `noop` definition (`noop_runner/runner.yaml`).
pub fn runner_type() -> RunnerType {
    runner_type_from_json(json!({
        "name": NAME,
        "description": "A runner that returns a static response regardless of input parameters",
        "enabled": true,
        "runner_package": "noop_runner",
        "runner_module": "noop_runner",
        "runner_parameters": {}
    }))
}

#[async_trait]
impl Runner for NoopRunner {
    fn runner_type(&self) -> RunnerType {
        runner_type()
    }

    async fn run(&self, req: RunRequest, ctx: RunContext) -> RunOutcome {
        // Nothing runs, so there is nothing to stop: a cancel that arrived first still wins.
        if ctx.cancel.is_cancelled() {
            return RunOutcome {
                status: ExecStatus::Canceled,
                result: json!({}),
            };
        }
        tracing::info!(execution_id = %req.execution_id, action = %req.action.action_ref, "noop");
        RunOutcome {
            status: ExecStatus::Succeeded,
            result: json!({"failed": false, "succeeded": true, "return_code": 0}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_matches_stackstorm() {
        let rt = runner_type();
        assert_eq!(rt.name, "noop");
        assert_eq!(rt.uid, "runner_type:noop");
        assert_eq!(rt.runner_module, "noop_runner");
        assert!(rt.runner_parameters.is_empty());
        assert!(rt.enabled);
        assert_eq!(rt.output_key, None);
        assert_eq!(rt.output_schema, json!({}));
    }
}
