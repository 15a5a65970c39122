//! `local-shell-script`: runs the action's `entry_point` file directly (its shebang picks the
//! interpreter) with arguments built from the action parameters (actions.md §2.7, §4.2).

use crate::args::{format_script_arguments, script_args, script_command};
use crate::local::{run_local, LocalOptions};
use crate::params::Params;
use crate::runner_defs::runner_type_from_json;
use crate::worktree::GitWorktree;
use crate::{RunContext, RunOutcome, RunRequest, Runner};
use async_trait::async_trait;
use gale_model::RunnerType;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const NAME: &str = "local-shell-script";

#[derive(Clone, Copy, Debug, Default)]
pub struct LocalShellScriptRunner;

/// StackStorm's `local-shell-script` definition (`local_runner/runner.yaml`).
pub fn runner_type() -> RunnerType {
    runner_type_from_json(json!({
        "name": NAME,
        "description": "A runner to execute local actions as a fixed user.",
        "enabled": true,
        "runner_package": "local_runner",
        "runner_module": "local_shell_script_runner",
        "runner_parameters": {
            "debug": {"description": "Enable runner debug mode.", "type": "boolean", "required": false, "default": false},
            "content_version": {"description": "Git revision of the pack content to use for this action execution (git commit sha / tag / branch). Only applies to packs which are git repositories.", "type": "string", "required": false},
            "cwd": {"description": "Working directory where the script will be executed in", "type": "string"},
            "env": {"description": "Environment variables which will be available to the script(e.g. key1=val1,key2=val2)", "type": "object"},
            "kwarg_op": {"default": "--", "description": "Operator to use in front of keyword args i.e. \"--\" or \"-\".", "type": "string"},
            "sudo": {"default": false, "description": "The command will be executed with sudo.", "type": "boolean"},
            "sudo_password": {"default": null, "description": "Sudo password. To be used when passwordless sudo is not allowed.", "type": "string", "required": false, "secret": true},
            "timeout": {"default": 60, "description": "Action timeout in seconds. Action will get killed if it doesn't finish in timeout seconds.", "type": "integer"}
        }
    }))
}

/// Resolves `entry_point`: absolute paths as-is, otherwise relative to `<pack>/actions/`.
pub fn resolve_entry_point(entry_point: &str, pack_path: Option<&Path>) -> Result<PathBuf, String> {
    if entry_point.is_empty() {
        return Err("Missing entry_point action metadata attribute".to_string());
    }
    let ep = Path::new(entry_point);
    if ep.is_absolute() {
        return Ok(ep.to_path_buf());
    }
    match pack_path {
        Some(pack) => Ok(pack.join("actions").join(ep)),
        None => Err(format!(
            "Unable to resolve entry_point \"{entry_point}\": the pack directory is unknown"
        )),
    }
}

/// `chmod +x`, as StackStorm does before every run; a read-only file system or a file we do
/// not own is left alone (the run then fails or succeeds on the file's own mode).
fn make_executable(path: &Path) {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode();
            if mode & 0o111 != 0o111 {
                let perms = std::fs::Permissions::from_mode(mode | 0o111);
                if let Err(e) = std::fs::set_permissions(path, perms) {
                    tracing::warn!(path = %path.display(), error = %e, "chmod +x failed");
                }
            }
        }
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "stat of script failed"),
    }
}

#[async_trait]
impl Runner for LocalShellScriptRunner {
    fn runner_type(&self) -> RunnerType {
        runner_type()
    }

    async fn run(&self, req: RunRequest, ctx: RunContext) -> RunOutcome {
        let script = match resolve_entry_point(&req.action.entry_point, req.pack_path.as_deref()) {
            Ok(p) => p,
            Err(e) => return RunOutcome::failure(e),
        };
        let opts = match LocalOptions::from_request(&req) {
            Ok(o) => o,
            Err(e) => return RunOutcome::failure(e.to_string()),
        };
        let content_version = match Params(&req.runner_parameters).string("content_version") {
            Ok(v) => v.filter(|v| !v.is_empty()).map(str::to_string),
            Err(e) => return RunOutcome::failure(e.to_string()),
        };
        let Some(rev) = content_version else {
            return run_script(script, &req, &opts, &ctx).await;
        };
        let Some(pack_dir) = req.pack_path.as_deref() else {
            return RunOutcome::failure(format!(
                "Failed to create git worktree for pack \"{}\": the pack directory is unknown",
                req.action.pack
            ));
        };
        let tree = match GitWorktree::create(&req.action.pack, pack_dir, &rev).await {
            Ok(t) => t,
            Err(e) => return RunOutcome::failure(e.to_string()),
        };
        let outcome = match tree.entry_point(&script) {
            Ok(in_tree) => run_script(in_tree, &req, &opts, &ctx).await,
            Err(e) => RunOutcome::failure(e.to_string()),
        };
        if opts.debug {
            tracing::info!(path = %tree.path.display(), "debug: keeping git worktree");
        } else {
            tree.remove().await;
        }
        outcome
    }
}

/// Runs an existing script file with the action parameters as arguments.
async fn run_script(
    script: PathBuf,
    req: &RunRequest,
    opts: &LocalOptions,
    ctx: &RunContext,
) -> RunOutcome {
    if !script.is_file() {
        return RunOutcome::failure(format!(
            "[Errno 2] No such file or directory: '{}'",
            script.display()
        ));
    }
    make_executable(&script);
    let args = script_args(&req.action.parameters, &req.action_parameters);
    let arguments = format_script_arguments(&args, &opts.kwarg_op);
    let command = script_command(&script.to_string_lossy(), &arguments);
    tracing::info!(execution_id = %req.execution_id, action = %req.action.action_ref, sudo = opts.sudo, "running local-shell-script");
    run_local(command, req, opts, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{action, ctx, ctx_with, request, Collect};
    use crate::OutputStream;
    use gale_model::ExecStatus;
    use serde_json::Value;
    use std::sync::Arc;

    const ECHO_ARGS: &str = "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n";

    fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    async fn run_script(
        path: &Path,
        schema: Value,
        runner_params: Value,
        params: Value,
    ) -> RunOutcome {
        let req = request(
            action(NAME, &path.to_string_lossy(), schema),
            runner_params,
            params,
        );
        LocalShellScriptRunner.run(req, ctx()).await
    }

    #[test]
    fn definition_matches_stackstorm() {
        let rt = runner_type();
        assert_eq!(rt.uid, "runner_type:local-shell-script");
        assert_eq!(rt.runner_module, "local_shell_script_runner");
        let names: Vec<&str> = rt.runner_parameters.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "debug",
                "content_version",
                "cwd",
                "env",
                "kwarg_op",
                "sudo",
                "sudo_password",
                "timeout"
            ]
        );
        assert!(!rt.runner_parameters.contains_key("cmd"));
        assert_eq!(
            rt.runner_parameters["debug"].default_value(),
            Some(&json!(false))
        );
        assert_eq!(
            rt.runner_parameters["timeout"].default_value(),
            Some(&json!(60))
        );
    }

    #[tokio::test]
    async fn arguments_reach_the_script_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(dir.path(), "args.sh", ECHO_ARGS, 0o755);
        let schema = json!({
            "a": {"type": "string", "position": 0},
            "zero": {"type": "integer", "position": 1},
            "flag": {"type": "boolean", "position": 2},
            "list": {"type": "array", "position": 3},
            "obj": {"type": "object", "position": 4},
            "named": {"type": "string"},
            "verbose": {"type": "boolean"},
            "quiet": {"type": "boolean"},
            "skipped": {"type": "string"}
        });
        let params = json!({"a": "it's a test", "zero": 0, "flag": false, "list": ["x", 2], "obj": {"k": "v"},
                            "named": "$HOME; rm -rf /", "verbose": true, "quiet": false, "skipped": ""});
        let out = run_script(&path, schema, json!({}), params).await;
        assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
        assert_eq!(
            out.result["stdout"],
            json!("[--named=$HOME; rm -rf /]\n[--verbose]\n[it's a test]\n[]\n[0]\n[x,2]\n[{\"k\":\"v\"}]")
        );
    }

    #[tokio::test]
    async fn parameter_serialization_with_position_gaps_and_streaming() {
        // Mirrors StackStorm's test_script_with_parameters_parameter_serialization: positions
        // 0,1,3,4,5,6 (a gap), legacy type names `float` and `list`.
        let dir = tempfile::tempdir().unwrap();
        let body = "#!/usr/bin/env bash\necho \"S=$1\"\necho \"I=$2\"\necho \"F=$3\"\necho \"B=$4\"\necho \"L=$5\"\necho \"O=$6\"\n";
        let path = script(dir.path(), "p.sh", body, 0o755);
        let schema = json!({
            "param_string": {"type": "string", "position": 0},
            "param_integer": {"type": "integer", "position": 1},
            "param_float": {"type": "float", "position": 3},
            "param_boolean": {"type": "boolean", "position": 4},
            "param_list": {"type": "list", "position": 5},
            "param_object": {"type": "object", "position": 6}
        });
        let full = json!({"param_string": "test string", "param_integer": 1, "param_float": 2.55,
                          "param_boolean": true, "param_list": ["a", "b", "c"], "param_object": {"foo": "bar"}});
        let sink = Arc::new(Collect::default());
        let req = request(
            action(NAME, &path.to_string_lossy(), schema.clone()),
            json!({}),
            full,
        );
        let out = LocalShellScriptRunner
            .run(req, ctx_with(sink.clone()))
            .await;
        assert_eq!(out.status, ExecStatus::Succeeded);
        assert_eq!(
            out.result["stdout"],
            json!("S=test string\nI=1\nF=2.55\nB=1\nL=a,b,c\nO={\"foo\":\"bar\"}")
        );
        let lines = sink.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 6);
        assert_eq!(
            lines[0],
            (OutputStream::Stdout, "S=test string\n".to_string())
        );
        assert_eq!(
            lines[5],
            (OutputStream::Stdout, "O={\"foo\":\"bar\"}\n".to_string())
        );

        let out = run_script(
            &path,
            schema.clone(),
            json!({}),
            json!({"param_boolean": false}),
        )
        .await;
        assert!(out.result["stdout"].as_str().unwrap().contains("B=0\n"));
        let out = run_script(
            &path,
            schema,
            json!({}),
            json!({"param_string": "", "param_integer": null, "param_float": null}),
        )
        .await;
        assert_eq!(out.result["stdout"], json!("S=\nI=\nF=\nB=\nL=\nO="));
    }

    #[tokio::test]
    async fn kwarg_op_and_relative_entry_point() {
        let pack = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(pack.path().join("actions/lib")).unwrap();
        script(&pack.path().join("actions/lib"), "s.sh", ECHO_ARGS, 0o755);
        let mut req = request(
            action(NAME, "lib/s.sh", json!({"name": {"type": "string"}})),
            json!({"kwarg_op": "-"}),
            json!({"name": "v"}),
        );
        req.pack_path = Some(pack.path().to_path_buf());
        let out = LocalShellScriptRunner.run(req, ctx()).await;
        assert_eq!(out.result["stdout"], json!("[-name=v]"));
    }

    #[tokio::test]
    async fn script_is_made_executable() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(
            dir.path(),
            "plain.sh",
            "#!/bin/sh\necho '{\"ok\": true}'\n",
            0o644,
        );
        let out = run_script(&path, json!({}), json!({}), json!({})).await;
        assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
        assert_eq!(out.result["stdout"], json!({"ok": true}));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111);
    }

    #[tokio::test]
    async fn exit_code_and_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(
            dir.path(),
            "fail.sh",
            "#!/bin/sh\necho bad >&2\nexit 3\n",
            0o755,
        );
        let out = run_script(&path, json!({}), json!({}), json!({})).await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result,
            json!({"failed": true, "succeeded": false, "return_code": 3, "stdout": "", "stderr": "bad"})
        );
        let path = script(dir.path(), "slow.sh", "#!/bin/sh\nsleep 20\n", 0o755);
        let out = run_script(&path, json!({}), json!({"timeout": 1}), json!({})).await;
        assert_eq!(out.status, ExecStatus::Timeout);
        assert_eq!(out.result["return_code"], json!(-9));
        assert_eq!(
            out.result["error"],
            json!("Action failed to complete in 1 seconds")
        );
    }

    #[tokio::test]
    async fn entry_point_errors() {
        let out = LocalShellScriptRunner
            .run(
                request(action(NAME, "", json!({})), json!({}), json!({})),
                ctx(),
            )
            .await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result["error"],
            json!("Missing entry_point action metadata attribute")
        );
        let out = run_script(
            Path::new("/nonexistent/gale.sh"),
            json!({}),
            json!({}),
            json!({}),
        )
        .await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result["error"],
            json!("[Errno 2] No such file or directory: '/nonexistent/gale.sh'")
        );
        assert_eq!(
            resolve_entry_point("a/b.sh", Some(Path::new("/packs/p"))).unwrap(),
            PathBuf::from("/packs/p/actions/a/b.sh")
        );
        assert_eq!(
            resolve_entry_point("/abs/x", None).unwrap(),
            PathBuf::from("/abs/x")
        );
        assert!(resolve_entry_point("rel", None).is_err());
    }

    #[tokio::test]
    async fn debug_flag_is_exported() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(
            dir.path(),
            "d.sh",
            "#!/bin/sh\necho $ST2_ACTION_DEBUG\n",
            0o755,
        );
        let out = run_script(&path, json!({}), json!({"debug": true}), json!({})).await;
        assert_eq!(out.result["stdout"], json!("True"));
    }
}

#[cfg(test)]
mod content_version_tests {
    use super::*;
    use crate::testutil::{action, ctx, request};
    use gale_model::ExecStatus;

    fn git(dir: &Path, args: &[&str]) {
        let st = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    }

    fn worktrees(dir: &Path) -> usize {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["worktree", "list"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    /// A pack repository whose script prints "v1" at tag v1 and "v2" in the working tree.
    fn pack_repo() -> tempfile::TempDir {
        let pack = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(pack.path().join("actions")).unwrap();
        let script = pack.path().join("actions/s.sh");
        std::fs::write(&script, "#!/bin/sh\necho v1 \"$@\"\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        git(pack.path(), &["init", "-q"]);
        git(pack.path(), &["add", "."]);
        git(pack.path(), &["commit", "-q", "-m", "v1"]);
        git(pack.path(), &["tag", "v1"]);
        std::fs::write(&script, "#!/bin/sh\necho v2\n").unwrap();
        pack
    }

    fn req_for(pack: &Path, runner_params: serde_json::Value) -> RunRequest {
        let mut req = request(
            action(
                NAME,
                "s.sh",
                json!({"x": {"type": "string", "position": 0}}),
            ),
            runner_params,
            json!({"x": "arg"}),
        );
        req.pack_path = Some(pack.to_path_buf());
        req
    }

    #[tokio::test]
    async fn runs_the_requested_revision_and_cleans_up() {
        let pack = pack_repo();
        let out = LocalShellScriptRunner
            .run(req_for(pack.path(), json!({})), ctx())
            .await;
        assert_eq!(out.result["stdout"], json!("v2"));
        let out = LocalShellScriptRunner
            .run(
                req_for(pack.path(), json!({"content_version": "v1"})),
                ctx(),
            )
            .await;
        assert_eq!(out.status, ExecStatus::Succeeded, "{}", out.result);
        assert_eq!(out.result["stdout"], json!("v1 arg"));
        assert_eq!(
            worktrees(pack.path()),
            1,
            "the temporary worktree is removed"
        );
    }

    #[tokio::test]
    async fn git_errors_are_reported_like_stackstorm() {
        let pack = pack_repo();
        let out = LocalShellScriptRunner
            .run(
                req_for(pack.path(), json!({"content_version": "nope"})),
                ctx(),
            )
            .await;
        assert_eq!(out.status, ExecStatus::Failed);
        assert_eq!(
            out.result["error"],
            json!("Failed to create git worktree for pack \"tests\": Invalid content_version \"nope\" provided. Make sure that git repository is up to date and contains that revision.")
        );
        let plain = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(plain.path().join("actions")).unwrap();
        let out = LocalShellScriptRunner
            .run(
                req_for(plain.path(), json!({"content_version": "v1"})),
                ctx(),
            )
            .await;
        assert_eq!(out.status, ExecStatus::Failed);
        let err = out.result["error"].as_str().unwrap();
        assert!(err.contains("is not a git repository"), "{err}");
        let out = LocalShellScriptRunner
            .run(
                req_for(
                    Path::new("/nonexistent/gale-pack"),
                    json!({"content_version": "v1"}),
                ),
                ctx(),
            )
            .await;
        assert_eq!(
            out.result["error"],
            json!("Failed to create git worktree for pack \"tests\". Pack directory \"/nonexistent/gale-pack\" doesn't exist.")
        );
    }
}
