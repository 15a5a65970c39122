//! gale-params owns the action parameter pipeline of actions.md §2, as pure functions over a
//! runner type, an action, the given parameters and the context. It must not touch storage or do
//! I/O (the engine requests executions with it, the rules engine renders rule action parameters
//! with it, with `trigger` as an extra template variable):
//!
//! 1. [`render_live_params`] at request time (Jinja in given values and in defaults, dependency
//!    graph, casting),
//! 2. [`validate_params`] against the merged schema, then [`check_immutable`],
//! 3. [`render_final_params`] just before the runner runs, split into runner and action
//!    parameters,
//! 4. [`mask_parameters`] / [`mask_result`] for anything shown to users.
//!
//! Jinja is gale-expr's StackStorm environment; `st2kv.system.*` / `st2kv.user.*` go through
//! the caller's [`gale_expr::ContextProvider`] (which knows the execution's user: `api_user`,
//! else `user`, else the system user). Action-definition rules (registration) live in
//! `gale_packs::action`; the runner-override rule is re-checked here as StackStorm does.
//!
//! HTTP mapping (see [`Error::http_status`]): render, validation, immutable and cast errors
//! are 400; a cast that fails the way Python's literal parser fails with `SyntaxError`
//! (e.g. `"a b"` for an object) or with a `TypeError` is 500, as is an action definition that
//! breaks the runner-override rule at execution time.

mod cast;
mod config;
mod mask;
mod output;
mod render;
mod validate;

pub use cast::{cast, literal_eval, NONE_MAGIC_VALUE};
pub use config::resolve_config;
pub use gale_packs::schema::{allow_default_none, assign_defaults};
pub use mask::{
    mask_by_schema, mask_inquiry_response, mask_parameters, mask_result, secret_parameters, Secret,
};
pub use output::{validate_output, OutputError};
pub use render::{
    is_jinja_expression, render_final_params, render_live_params, render_live_params_with,
    FinalParams,
};
pub use validate::{check_immutable, merged_parameters, parameters_schema, validate_params};

use gale_model::{Action, RunnerType};
use serde_json::{Map, Value};

/// Inputs of live and final rendering.
pub struct RenderInput<'a> {
    pub runner: &'a RunnerType,
    pub action: &'a Action,
    /// Live rendering: the caller's parameters. Final rendering: the live parameters.
    pub params: &'a Map<String, Value>,
    /// The execution context (`action_context` in templates).
    pub context: &'a Value,
    /// The pack config for the context user (`config_context`); `{}` when none.
    pub config: &'a Value,
    /// Datastore lookups behind `st2kv` and `decrypt_kv`.
    pub kv: &'a dyn gale_expr::ContextProvider,
}

/// Parameter pipeline errors. Every message is StackStorm's text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Live/final rendering (`Dependency unsatisfied ...`, `Cyclic dependency ...`,
    /// `Failed to render parameter ...`). Over the API: 400, and the execution is still
    /// created and marked failed with `{"error": msg, "traceback": ...}`.
    #[error("{0}")]
    Render(String),
    /// Schema validation (`'cmd' is a required property`). 400, no execution.
    #[error("{0}")]
    Validation(String),
    /// `Override of immutable parameter(s) ['x'] is unsupported.` 400, no execution.
    #[error("{0}")]
    Immutable(String),
    /// A Python `ValueError` from casting (`invalid literal for int() with base 10: '1.5'`).
    /// 400, no execution.
    #[error("{0}")]
    Cast(String),
    /// A cast failing with Python's `SyntaxError`/`TypeError` (literal parser, `int([1])`).
    /// StackStorm answers 500.
    #[error("{0}")]
    CastInternal(String),
    /// The action definition breaks a rule at execution time (runner override, unusable
    /// schema). 500.
    #[error("{0}")]
    Definition(String),
    /// The pack config could not be resolved (dynamic value render or decrypt failure).
    /// Live rendering treats this as "no config" (`{}`), as StackStorm does; elsewhere 500.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The HTTP status StackStorm's API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Render(_) | Error::Validation(_) | Error::Immutable(_) | Error::Cast(_) => 400,
            Error::CastInternal(_) | Error::Definition(_) | Error::Config(_) => 500,
        }
    }

    /// Whether StackStorm still creates the execution (marked failed) for this error.
    pub fn creates_failed_execution(&self) -> bool {
        matches!(self, Error::Render(_))
    }
}

/// Whose `st2kv.user.*` scope templates read: `api_user` if the context has that key, else
/// `user`, and the system user when that is empty. gale-expr asks the provider for
/// `user.<key>`; the provider should resolve it in this user's scope.
pub fn datastore_user(context: &Value, system_user: &str) -> String {
    let user = match context.get("api_user") {
        Some(v) => Some(v),
        None => context.get("user"),
    };
    match user {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => system_user.to_string(),
    }
}

/// Request-time pipeline in StackStorm's order (§2.1 steps 3–5): live rendering, validation
/// against the merged schema, immutable check. Returns the live parameters to persist (without
/// plain defaults: StackStorm validates a copy with defaults but stores the live parameters).
/// On [`Error::Render`] the caller still creates the execution and marks it failed.
pub fn request_params(input: &RenderInput<'_>) -> Result<Map<String, Value>, Error> {
    let live = render_live_params(input)?;
    validate_params(input.runner, input.action, &live)?;
    check_immutable(input.runner, input.action, &live)?;
    Ok(live)
}

#[cfg(test)]
mod tests;
