//! The engine's only contact points with the parameter pipeline in [`crate::params`]: live
//! parameters at request time (render, cast, validate, immutable check) and final parameters at
//! run time (split into runner and action parameters).

use crate::params::{self, RenderInput};
use gale_model::{Action, RunnerType};
use serde_json::{Map, Value};

/// The datastore as templates see it when none is attached ([`crate::Engine::set_datastore`]):
/// every key is missing, which StackStorm renders as `""` rather than an error.
pub(crate) struct EmptyDatastore;

impl gale_expr::ContextProvider for EmptyDatastore {
    fn st2kv(&self, _key: &str, _decrypt: bool) -> Result<Option<Value>, String> {
        Ok(None)
    }
}

/// Steps 3–5 of actions.md §2.1 on the caller's parameters; the result is what the execution
/// stores as `parameters` (without plain defaults, as StackStorm stores them).
pub(crate) fn live_params(
    action: &Action,
    runner: &RunnerType,
    supplied: &Map<String, Value>,
    context: &Map<String, Value>,
    kv: &dyn gale_expr::ContextProvider,
) -> Result<Map<String, Value>, params::Error> {
    let ctx = Value::Object(context.clone());
    let config = Value::Object(Map::new());
    let input = RenderInput {
        runner,
        action,
        params: supplied,
        context: &ctx,
        config: &config,
        kv,
    };
    let live = params::render_live_params(&input)?;
    params::validate_params(runner, action, &live)?;
    params::check_immutable(runner, action, &live)?;
    Ok(live)
}

/// Whether the failure is a rendering error, which still creates a failed execution record
/// (§2.1 step 3); validation, cast and immutable errors create nothing.
pub(crate) fn creates_failed_record(e: &params::Error) -> bool {
    e.creates_failed_execution()
}

/// Final rendering (§2.5), split into runner and action parameters.
pub(crate) fn final_params(
    action: &Action,
    runner: &RunnerType,
    live: &Map<String, Value>,
    context: &Map<String, Value>,
    kv: &dyn gale_expr::ContextProvider,
) -> Result<params::FinalParams, params::Error> {
    let ctx = Value::Object(context.clone());
    let config = Value::Object(Map::new());
    let input = RenderInput {
        runner,
        action,
        params: live,
        context: &ctx,
        config: &config,
        kv,
    };
    params::render_final_params(&input)
}
