//! `local-shell-cmd`: runs the `cmd` runner parameter with `/bin/sh -c` in its own session
//! (actions.md §4.1). Other action parameters are not appended; content interpolates them into
//! `cmd` with Jinja before the runner sees it.

use crate::local::{run_local, LocalOptions};
use crate::params::Params;
use crate::runner_defs::runner_type_from_json;
use crate::{RunContext, RunOutcome, RunRequest, Runner};
use async_trait::async_trait;
use gale_model::RunnerType;
use serde_json::json;

pub const NAME: &str = "local-shell-cmd";

#[derive(Clone, Copy, Debug, Default)]
pub struct LocalShellCmdRunner;

/// StackStorm's `local-shell-cmd` definition (`local_runner/runner.yaml`).
pub fn runner_type() -> RunnerType {
    runner_type_from_json(json!({
        "name": NAME,
        "description": "A runner to execute local actions as a fixed user.",
        "enabled": true,
        "runner_package": "local_runner",
        "runner_module": "local_shell_command_runner",
        "runner_parameters": {
            "cmd": {"description": "Arbitrary Linux command to be executed on the host.", "type": "string"},
            "cwd": {"description": "Working directory where the command will be executed in", "type": "string"},
            "env": {"description": "Environment variables which will be available to the command(e.g. key1=val1,key2=val2)", "type": "object"},
            "kwarg_op": {"default": "--", "description": "Operator to use in front of keyword args i.e. \"--\" or \"-\".", "type": "string"},
            "sudo": {"default": false, "description": "The command will be executed with sudo.", "type": "boolean"},
            "sudo_password": {"default": null, "description": "Sudo password. To be used when passwordless sudo is not allowed.", "type": "string", "secret": true, "required": false},
            "timeout": {"default": 60, "description": "Action timeout in seconds. Action will get killed if it doesn't finish in timeout seconds.", "type": "integer"}
        }
    }))
}

#[async_trait]
impl Runner for LocalShellCmdRunner {
    fn runner_type(&self) -> RunnerType {
        runner_type()
    }

    async fn run(&self, req: RunRequest, ctx: RunContext) -> RunOutcome {
        if !req.action.entry_point.is_empty() {
            return RunOutcome::failure("entry_point is only valid for local-shell-script runner");
        }
        let opts = match LocalOptions::from_request(&req) {
            Ok(o) => o,
            Err(e) => return RunOutcome::failure(e.to_string()),
        };
        let cmd = match Params(&req.runner_parameters).string("cmd") {
            Ok(Some(c)) => c.to_string(),
            Ok(None) => {
                return RunOutcome::failure(
                    "Missing \"cmd\" runner parameter: local-shell-cmd needs a command to run",
                )
            }
            Err(e) => return RunOutcome::failure(e.to_string()),
        };
        tracing::info!(execution_id = %req.execution_id, action = %req.action.action_ref, sudo = opts.sudo, "running local-shell-cmd");
        run_local(cmd, &req, &opts, &ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{action, ctx, ctx_with, request, Collect};
    use crate::OutputStream;
    use gale_model::ExecStatus;
    use std::sync::Arc;

    async fn run(runner_params: serde_json::Value) -> RunOutcome {
        let req = request(action(NAME, "", json!({})), runner_params, json!({}));
        LocalShellCmdRunner.run(req, ctx()).await
    }

    #[test]
    fn definition_matches_stackstorm() {
        let rt = runner_type();
        assert_eq!(rt.uid, "runner_type:local-shell-cmd");
        assert_eq!(rt.runner_module, "local_shell_command_runner");
        assert_eq!(rt.runner_package, "local_runner");
        assert_eq!(rt.output_key, None);
        let names: Vec<&str> = rt.runner_parameters.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "cmd",
                "cwd",
                "env",
                "kwarg_op",
                "sudo",
                "sudo_password",
                "timeout"
            ]
        );
        let p = &rt.runner_parameters;
        assert_eq!(p["timeout"].type_name(), Some("integer"));
        assert_eq!(p["timeout"].default_value(), Some(&json!(60)));
        assert_eq!(p["kwarg_op"].default_value(), Some(&json!("--")));
        assert_eq!(p["sudo"].default_value(), Some(&json!(false)));
        assert_eq!(p["sudo_password"].default_value(), Some(&json!(null)));
        assert!(p["sudo_password"].secret());
        assert!(!p["cmd"].has_default());
        assert_eq!(p["env"].type_name(), Some("object"));
    }

    #[tokio::test]
    async fn stdout_is_stripped_and_json_decoded() {
        for (cmd, expected) in [
            ("echo 42", json!(42)),
            ("echo '{\"a\": 1}'", json!({"a": 1})),
            ("echo true", json!(true)),
            ("echo '\"x\"'", json!("x")),
            ("echo hi", json!("hi")),
            ("printf 'two\\n\\n'", json!("two\n")),
            ("printf 'crlf\\r\\n'", json!("crlf")),
            ("true", json!("")),
        ] {
            let out = run(json!({"cmd": cmd})).await;
            assert_eq!(out.status, ExecStatus::Succeeded, "{cmd}");
            assert_eq!(out.result["stdout"], expected, "{cmd}");
        }
    }

    #[tokio::test]
    async fn result_shape_and_exit_codes() {
        let out = run(json!({"cmd": "echo out; echo '[1,2]' >&2"})).await;
        assert_eq!(
            out.result,
            json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": "out", "stderr": [1, 2]})
        );
        let out = run(json!({"cmd": "echo nope >&2; exit 2"})).await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result,
            json!({"failed": true, "succeeded": false, "return_code": 2, "stdout": "", "stderr": "nope"})
        );
        let out = run(json!({"cmd": "no-such-command-gale"})).await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(out.result["return_code"], json!(127));
        // A command killed by SIGTERM from outside reports -15, which StackStorm maps to abandoned.
        let out = run(json!({"cmd": "kill -TERM $$"})).await;
        assert_eq!(out.result["return_code"], json!(-15));
        assert_eq!(out.status, ExecStatus::Abandoned);
    }

    #[tokio::test]
    async fn timeout_reports_minus_nine_and_message() {
        let out = run(json!({"cmd": "echo started; sleep 20", "timeout": 1})).await;
        assert_eq!(out.status, ExecStatus::Timeout);
        assert_eq!(out.result["return_code"], json!(-9));
        assert_eq!(
            out.result["error"],
            json!("Action failed to complete in 1 seconds")
        );
        assert_eq!(out.result["stdout"], json!("started"));
        assert_eq!(out.result["failed"], json!(true));
    }

    #[tokio::test]
    async fn environment_cwd_and_st2_variables() {
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(
            action(NAME, "", json!({})),
            json!({"cmd": "echo \"$FOO|$ST2_ACTION_PACK_NAME|$ST2_ACTION_EXECUTION_ID|$ST2_ACTION_API_URL|$ST2_ACTION_DEBUG|$(pwd)\"",
                   "env": {"FOO": "bar baz", "ST2_ACTION_API_URL": "user-set"}, "cwd": dir.path().to_str().unwrap()}),
            json!({}),
        );
        req.env.insert(
            "ST2_ACTION_API_URL".into(),
            "http://127.0.0.1:9101/v1".into(),
        );
        let out = LocalShellCmdRunner.run(req, ctx()).await;
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(
            out.result["stdout"],
            json!(format!(
                "bar baz|tests|e1|http://127.0.0.1:9101/v1|False|{}",
                cwd.display()
            ))
        );
    }

    #[tokio::test]
    async fn non_string_env_values_fail_clearly() {
        let out = run(json!({"cmd": "true", "env": {"A": "ok", "B": 2}})).await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result["error"],
            json!("Environment variable \"B\" in parameter \"env\" must be a string, got integer")
        );
    }

    #[tokio::test]
    async fn entry_point_is_rejected() {
        let req = request(
            action(NAME, "script.sh", json!({})),
            json!({"cmd": "true"}),
            json!({}),
        );
        let out = LocalShellCmdRunner.run(req, ctx()).await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result["error"],
            json!("entry_point is only valid for local-shell-script runner")
        );
    }

    #[tokio::test]
    async fn missing_cmd_fails() {
        let out = run(json!({})).await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert!(out.result["error"].as_str().unwrap().contains("cmd"));
    }

    #[tokio::test]
    async fn sudo_as_root_runs_directly() {
        if unsafe { libc::geteuid() } != 0 {
            return; // Covered by local::tests::sudo_wrapping when not root.
        }
        // Runs under bash, as `sudo -- bash -c` would.
        let out = run(json!({"cmd": "id -u; echo \"${BASH_VERSION:+bash}\"", "sudo": true})).await;
        assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
        assert_eq!(out.result["stdout"], json!("0\nbash"));
    }

    #[tokio::test]
    async fn sudo_password_goes_to_stdin_like_stackstorm() {
        let out = run(json!({"cmd": "read x; echo \"got $x\"", "sudo_password": "pw"})).await;
        assert_eq!(out.result["stdout"], json!("got pw"));
        if unsafe { libc::geteuid() } == 0 {
            // Running directly as root: the password is not handed to the command.
            let out =
                run(json!({"cmd": "read x; echo \"got $x\"", "sudo_password": "pw", "sudo": true}))
                    .await;
            assert_eq!(out.result["stdout"], json!("got "));
        }
    }

    #[tokio::test]
    async fn large_output_on_both_streams_does_not_deadlock() {
        let cmd = "head -c 2000000 /dev/zero | tr '\\0' a; echo; head -c 1500000 /dev/zero | tr '\\0' b >&2; echo x";
        let out = run(json!({"cmd": cmd, "timeout": 30})).await;
        assert_eq!(
            out.status,
            ExecStatus::Succeeded,
            "{}",
            out.result["stderr"].as_str().map(|s| s.len()).unwrap_or(0)
        );
        let stdout = out.result["stdout"].as_str().unwrap();
        assert_eq!(stdout.len(), 2_000_000 + 2);
        assert!(stdout.ends_with("a\nx"));
        assert_eq!(out.result["stderr"].as_str().unwrap().len(), 1_500_000);
    }

    #[tokio::test]
    async fn output_is_streamed_line_by_line() {
        let sink = Arc::new(Collect::default());
        let req = request(
            action(NAME, "", json!({})),
            json!({"cmd": "for i in 1 2 3; do echo line$i; done; echo e >&2; printf tail"}),
            json!({}),
        );
        let out = LocalShellCmdRunner.run(req, ctx_with(sink.clone())).await;
        assert_eq!(out.result["stdout"], json!("line1\nline2\nline3\ntail"));
        let got = sink.0.lock().unwrap();
        let stdout: Vec<&str> = got
            .iter()
            .filter(|(s, _)| *s == OutputStream::Stdout)
            .map(|(_, d)| d.as_str())
            .collect();
        assert_eq!(stdout, ["line1\n", "line2\n", "line3\n", "tail"]);
        assert!(got.contains(&(OutputStream::Stderr, "e\n".to_string())));
    }
}
