//! `local-shell-script`: runs the action's `entry_point` file directly (its shebang picks the
//! interpreter) with arguments built from the action parameters (actions.md §2.7, §4.2).

use crate::args::{format_script_arguments, script_args, script_command};
use crate::local::{run_local, LocalOptions};
use crate::params::Params;
use crate::runner_defs::runner_type_from_json;
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
        match Params(&req.runner_parameters).string("content_version") {
            Ok(None) => {}
            Ok(Some(v)) => {
                return RunOutcome::failure(format!(
                    "content_version \"{v}\" was requested, but running a git revision of pack content is not supported by Gale"
                ))
            }
            Err(e) => return RunOutcome::failure(e.to_string()),
        }
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
        run_local(command, &req, &opts, &ctx).await
    }
}
