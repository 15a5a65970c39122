//! Runners: the code that actually runs an action, one module per StackStorm `runner_type`
//! (`local-shell-cmd`, `local-shell-script`, `noop`, `http-request`, ...), behind the [`Runner`]
//! trait and looked up in a [`Registry`] keyed by the runner_type string.
//!
//! Runners never touch storage: they get final, already-rendered parameters, stream output
//! through an [`OutputSink`], watch a cancellation token, and return a status and a result in
//! StackStorm's result shape. The engine owns persistence and status bookkeeping.
//!
//! Key choice: StackStorm's observable behaviour is reproduced byte for byte where content can
//! see it (runner definitions, shell argument quoting, result shapes, error texts), while process
//! handling is stricter than StackStorm's: commands run in their own session, and the whole
//! session is killed on timeout, on cancellation (StackStorm leaves it running) and when the
//! run's future is dropped. Module map: [`process`] spawns and streams, [`local`] holds what the
//! two local runners share, [`args`] and [`pyfmt`] reproduce StackStorm's command-line text.

pub mod args;
pub mod http_request;
pub mod local;
pub mod local_shell_cmd;
pub mod local_shell_script;
pub mod noop;
pub mod params;
pub mod process;
pub mod pyfmt;
mod runner_defs;
#[cfg(test)]
mod testutil;
pub mod worktree;

pub use http_request::HttpRequestRunner;
pub use local_shell_cmd::LocalShellCmdRunner;
pub use local_shell_script::LocalShellScriptRunner;
pub use noop::NoopRunner;

use async_trait::async_trait;
use gale_model::{Action, ExecStatus, RunnerType};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
pub use tokio_util::sync::CancellationToken;

/// Which stream a chunk of output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

impl OutputStream {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        }
    }
}

/// Receives output lines (each including its newline) while an action runs.
pub trait OutputSink: Send + Sync {
    fn emit(&self, stream: OutputStream, data: String);
}

/// A sink that drops everything.
pub struct NullSink;
impl OutputSink for NullSink {
    fn emit(&self, _: OutputStream, _: String) {}
}

/// Everything a runner needs to run one execution.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub execution_id: String,
    /// The action (ref, pack, entry_point, parameter definitions for argument building).
    pub action: Action,
    /// Final runner parameters (names defined by the runner's schema).
    pub runner_parameters: Map<String, Value>,
    /// Final action parameters (names defined only by the action), missing ones as null.
    pub action_parameters: Map<String, Value>,
    /// Absolute pack directory, for resolving `entry_point` (relative to `<pack>/actions/`).
    pub pack_path: Option<PathBuf>,
    /// Extra environment set by the engine (`ST2_ACTION_PACK_NAME`, `ST2_ACTION_EXECUTION_ID`,
    /// `ST2_ACTION_API_URL`, `ST2_ACTION_AUTH_TOKEN`, ...).
    pub env: BTreeMap<String, String>,
    /// The user the execution runs for (`context.user`).
    pub user: String,
}

/// Per-run facilities owned by the engine.
#[derive(Clone)]
pub struct RunContext {
    /// Cancelled when the execution is canceled; the runner stops its work (killing processes)
    /// and returns `ExecStatus::Canceled`.
    pub cancel: CancellationToken,
    pub output: Arc<dyn OutputSink>,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    pub status: ExecStatus,
    pub result: Value,
}

impl RunOutcome {
    /// A run that failed before or instead of doing its work: status `failed`, result
    /// `{"error": <message>, "traceback": ""}` (StackStorm's shape for runner exceptions; Gale
    /// has no Python traceback to show).
    pub fn failure(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::warn!(error = %message, "runner failed");
        RunOutcome {
            status: ExecStatus::Failed,
            result: serde_json::json!({"error": message, "traceback": ""}),
        }
    }
}

#[async_trait]
pub trait Runner: Send + Sync {
    /// The runner type record (name, runner_parameters with StackStorm's exact defaults,
    /// output_key, ...) as `GET /api/v1/runnertypes` shows it.
    fn runner_type(&self) -> RunnerType;
    /// Run to completion, timeout or cancellation. Never panics on bad parameters: a failure
    /// is `ExecStatus::Failed` with `{"error": ...}` in the result.
    async fn run(&self, req: RunRequest, ctx: RunContext) -> RunOutcome;
}

/// Runners by runner_type name.
#[derive(Clone, Default)]
pub struct Registry {
    runners: BTreeMap<String, Arc<dyn Runner>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn register(&mut self, runner: Arc<dyn Runner>) {
        self.runners.insert(runner.runner_type().name, runner);
    }
    pub fn get(&self, name: &str) -> Option<Arc<dyn Runner>> {
        self.runners.get(name).cloned()
    }
    /// A registry with every runner this crate provides: `local-shell-cmd`,
    /// `local-shell-script`, `http-request`, `noop`.
    pub fn with_builtin() -> Self {
        let mut r = Self::new();
        r.register(Arc::new(LocalShellCmdRunner));
        r.register(Arc::new(LocalShellScriptRunner));
        r.register(Arc::new(HttpRequestRunner::default()));
        r.register(Arc::new(NoopRunner));
        r
    }
    pub fn names(&self) -> Vec<String> {
        self.runners.keys().cloned().collect()
    }
    pub fn runner_types(&self) -> Vec<RunnerType> {
        self.runners.values().map(|r| r.runner_type()).collect()
    }
}
