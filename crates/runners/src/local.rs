//! What `local-shell-cmd` and `local-shell-script` share (StackStorm's
//! `local_runner/base.py`): reading the runner parameters, sudo wrapping, the environment,
//! running through [`crate::process`], and turning the process result into StackStorm's result
//! shape and status.

use crate::params::{seconds_to_duration, ParamError, Params};
use crate::process::{run_process, Ending, ProcessOutput, ProcessSpec};
use crate::pyfmt::{py_str, shlex_quote};
use crate::{RunContext, RunOutcome, RunRequest};
use gale_model::ExecStatus;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// StackStorm's `LOCAL_RUNNER_DEFAULT_ACTION_TIMEOUT`.
pub const DEFAULT_TIMEOUT: u64 = 60;
/// Return code StackStorm reports for a timed-out command.
pub const TIMEOUT_EXIT_CODE: i64 = -9;

/// Runner parameters common to both local runners.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    pub cwd: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub kwarg_op: String,
    pub sudo: bool,
    pub sudo_password: Option<String>,
    /// Seconds; an absent or `null` value means the default of 60 (StackStorm would wait
    /// forever on an explicit `null`, which no stock content relies on).
    pub timeout: f64,
    /// The timeout value as given, for the error text (`60`, `1.5`).
    pub timeout_text: String,
    pub debug: bool,
}

impl LocalOptions {
    pub fn from_request(req: &RunRequest) -> Result<Self, ParamError> {
        let p = Params(&req.runner_parameters);
        let (timeout, timeout_text) = match p.seconds("timeout")? {
            Some(t) => (t, p.raw("timeout").map(py_str).unwrap_or_default()),
            None => (DEFAULT_TIMEOUT as f64, DEFAULT_TIMEOUT.to_string()),
        };
        Ok(LocalOptions {
            cwd: p.string("cwd")?.map(PathBuf::from),
            env: p.env("env")?,
            kwarg_op: p.string("kwarg_op")?.unwrap_or("--").to_string(),
            sudo: p.boolean("sudo", false)?,
            sudo_password: p
                .string("sudo_password")?
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            timeout,
            timeout_text,
            debug: p.boolean("debug", false)?,
        })
    }
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `ShellCommandAction.get_full_command_string` for the sudo case: `sudo [-S] -E -- bash -c
/// <quoted>`. When we already are root, sudo adds nothing and may not even be installed, so the
/// command runs as `bash -c <quoted>` (still bash, as under sudo).
pub fn wrap_sudo(command: &str, sudo: bool, has_password: bool, is_root: bool) -> String {
    if !sudo {
        return command.to_string();
    }
    if is_root {
        return format!("bash -c {}", shlex_quote(command));
    }
    let flags = if has_password { "-S -E" } else { "-E" };
    format!("sudo {flags} -- bash -c {}", shlex_quote(command))
}

/// Service environment (inherited) + `env` parameter + common `ST2_ACTION_*` variables; the
/// engine-provided variables win over the defaults computed here.
pub fn action_env(req: &RunRequest, opts: &LocalOptions) -> BTreeMap<String, String> {
    let mut env = opts.env.clone();
    env.insert("ST2_ACTION_PACK_NAME".into(), req.action.pack.clone());
    env.insert("ST2_ACTION_EXECUTION_ID".into(), req.execution_id.clone());
    env.insert(
        "ST2_ACTION_DEBUG".into(),
        if opts.debug { "True" } else { "False" }.into(),
    );
    for (k, v) in &req.env {
        env.insert(k.clone(), v.clone());
    }
    env
}

/// Runs a fully built command line with the local runner semantics.
pub async fn run_local(
    command: String,
    req: &RunRequest,
    opts: &LocalOptions,
    ctx: &RunContext,
) -> RunOutcome {
    let command = wrap_sudo(
        &command,
        opts.sudo,
        opts.sudo_password.is_some(),
        running_as_root(),
    );
    // StackStorm pipes the password into stdin whenever one is set (for `sudo -S`); when we
    // skip sudo because we are root, the command must not receive it.
    let stdin = match &opts.sudo_password {
        Some(pw) if !(opts.sudo && running_as_root()) => Some(format!("{pw}\n").into_bytes()),
        _ => None,
    };
    let spec = ProcessSpec {
        command,
        cwd: opts.cwd.clone(),
        env: action_env(req, opts),
        stdin,
        timeout: Some(seconds_to_duration(opts.timeout)),
    };
    match run_process(spec, &ctx.cancel, ctx.output.clone()).await {
        Ok(out) => shell_outcome(&out, opts),
        Err(e) => RunOutcome::failure(e.to_string()),
    }
}

/// `strip_shell_chars`: one trailing `\n`, then one trailing `\r`.
pub fn strip_shell_chars(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

/// `jsonify.json_loads` on one key: the parsed value when the text is valid JSON.
pub fn json_or_text(s: &str) -> Value {
    serde_json::from_str::<Value>(s).unwrap_or_else(|_| Value::String(s.to_string()))
}

/// Status by exit code (`PROC_EXIT_CODE_TO_LIVEACTION_STATUS_MAP`).
pub fn status_for_code(code: i64) -> ExecStatus {
    match code {
        0 => ExecStatus::Succeeded,
        -9 => ExecStatus::Timeout,
        -15 => ExecStatus::Abandoned,
        _ => ExecStatus::Failed,
    }
}

/// Detects sudo rejecting the password; returns the user name sudo asked for.
fn invalid_sudo_password(stderr: &str) -> Option<String> {
    let rejected = stderr.match_indices("sudo: ").any(|(i, m)| {
        let rest = &stderr[i + m.len()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(" incorrect password attempts")
    });
    if !rejected {
        return None;
    }
    let user = stderr
        .split("[sudo] password for ")
        .nth(1)
        .and_then(|rest| rest.split_once(':'))
        .map(|(u, _)| u.to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    Some(user)
}

/// StackStorm's result dict and status for a finished (or killed) process.
pub fn shell_outcome(out: &ProcessOutput, opts: &LocalOptions) -> RunOutcome {
    let mut error = None;
    let mut code: i64 = match out.ending {
        Ending::Exited(c) => c as i64,
        Ending::TimedOut => {
            error = Some(format!(
                "Action failed to complete in {} seconds",
                opts.timeout_text
            ));
            TIMEOUT_EXIT_CODE
        }
        Ending::Canceled => out
            .observed_code
            .map(i64::from)
            .unwrap_or(-(libc::SIGKILL as i64)),
    };
    if opts.sudo_password.is_some() {
        if let Some(user) = invalid_sudo_password(&out.stderr) {
            error = Some(format!(
                "Invalid sudo password provided or sudo is not configured for this user ({user})"
            ));
            code = -1;
        }
    }
    let succeeded = code == 0;
    let mut result = json!({
        "failed": !succeeded,
        "succeeded": succeeded,
        "return_code": code,
        "stdout": json_or_text(strip_shell_chars(&out.stdout)),
        "stderr": json_or_text(strip_shell_chars(&out.stderr)),
    });
    if let (Some(e), Some(obj)) = (error, result.as_object_mut()) {
        obj.insert("error".into(), Value::String(e));
    }
    let status = match out.ending {
        Ending::Canceled => ExecStatus::Canceled,
        _ => status_for_code(code),
    };
    RunOutcome { status, result }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_removes_one_newline_then_one_cr() {
        assert_eq!(strip_shell_chars("a\n"), "a");
        assert_eq!(strip_shell_chars("a\r\n"), "a");
        assert_eq!(strip_shell_chars("a\n\n"), "a\n");
        assert_eq!(strip_shell_chars("a\r"), "a");
        assert_eq!(strip_shell_chars("a\n\r"), "a\n");
        assert_eq!(strip_shell_chars("a\r\r\n"), "a\r");
        assert_eq!(strip_shell_chars(""), "");
    }

    #[test]
    fn json_decoding_of_streams() {
        assert_eq!(json_or_text("42"), json!(42));
        assert_eq!(json_or_text("{\"a\":1}"), json!({"a": 1}));
        assert_eq!(json_or_text("true"), json!(true));
        assert_eq!(json_or_text("\"x\""), json!("x"));
        assert_eq!(json_or_text("hi"), json!("hi"));
        assert_eq!(json_or_text(""), json!(""));
        assert_eq!(json_or_text("[1, 2"), json!("[1, 2"));
    }

    #[test]
    fn exit_code_mapping() {
        assert_eq!(status_for_code(0), ExecStatus::Succeeded);
        assert_eq!(status_for_code(1), ExecStatus::Failed);
        assert_eq!(status_for_code(2), ExecStatus::Failed);
        assert_eq!(status_for_code(127), ExecStatus::Failed);
        assert_eq!(status_for_code(143), ExecStatus::Failed);
        assert_eq!(status_for_code(-9), ExecStatus::Timeout);
        assert_eq!(status_for_code(-15), ExecStatus::Abandoned);
        assert_eq!(status_for_code(-1), ExecStatus::Failed);
    }

    #[test]
    fn sudo_wrapping() {
        assert_eq!(wrap_sudo("echo hi", false, false, false), "echo hi");
        assert_eq!(
            wrap_sudo("echo 'hi'", true, false, false),
            "sudo -E -- bash -c 'echo '\"'\"'hi'\"'\"''"
        );
        assert_eq!(
            wrap_sudo("ls", true, true, false),
            "sudo -S -E -- bash -c ls"
        );
        assert_eq!(wrap_sudo("echo hi", true, false, true), "bash -c 'echo hi'");
    }

    #[test]
    fn sudo_password_rejection_is_detected() {
        let err =
            "[sudo] password for stanley: Sorry, try again.\nsudo: 3 incorrect password attempts\n";
        assert_eq!(invalid_sudo_password(err), Some("stanley".to_string()));
        assert_eq!(
            invalid_sudo_password("sudo: 1 incorrect password attempts"),
            Some("unknown".to_string())
        );
        assert_eq!(invalid_sudo_password("sudo: a password is required"), None);
    }

    fn opts() -> LocalOptions {
        LocalOptions {
            cwd: None,
            env: BTreeMap::new(),
            kwarg_op: "--".into(),
            sudo: false,
            sudo_password: None,
            timeout: 60.0,
            timeout_text: "60".into(),
            debug: false,
        }
    }

    #[test]
    fn outcome_shapes() {
        let out = ProcessOutput {
            ending: Ending::Exited(0),
            observed_code: Some(0),
            pid: 1,
            stdout: "{\"a\": 1}\n".into(),
            stderr: "".into(),
        };
        let o = shell_outcome(&out, &opts());
        assert_eq!(o.status, ExecStatus::Succeeded);
        assert_eq!(
            o.result,
            json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": {"a": 1}, "stderr": ""})
        );

        let out = ProcessOutput {
            ending: Ending::TimedOut,
            observed_code: Some(-15),
            pid: 1,
            stdout: "partial\n".into(),
            stderr: "".into(),
        };
        let o = shell_outcome(
            &out,
            &LocalOptions {
                timeout: 1.5,
                timeout_text: "1.5".into(),
                ..opts()
            },
        );
        assert_eq!(o.status, ExecStatus::Timeout);
        assert_eq!(o.result["return_code"], json!(-9));
        assert_eq!(
            o.result["error"],
            json!("Action failed to complete in 1.5 seconds")
        );
        assert_eq!(o.result["stdout"], json!("partial"));

        let out = ProcessOutput {
            ending: Ending::Canceled,
            observed_code: Some(-15),
            pid: 1,
            stdout: "".into(),
            stderr: "".into(),
        };
        let o = shell_outcome(&out, &opts());
        assert_eq!(o.status, ExecStatus::Canceled);
        assert_eq!(o.result["failed"], json!(true));
    }
}
