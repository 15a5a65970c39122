//! Enforcement planning (events.md §5.9): the execution context for a matched rule and its
//! action parameters rendered with `trigger`, `st2kv`, `action_context`, `config_context` and
//! each other, then cast by the action's parameter types.
//!
//! Rendering is gale-params' `render_live_params` with StackStorm's `additional_contexts =
//! {"trigger": payload}` — the same pipeline the engine runs for API requests, so a rule and
//! `st2 run` render a parameter identically.

use crate::rule::Rule;
use gale_expr::ContextProvider;
use gale_model::{Action, ParameterSchema, RunnerType};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Everything needed to plan one enforcement besides the rule.
pub struct PlanInput<'a> {
    pub rule: &'a Rule,
    pub trigger_instance_id: &'a str,
    pub payload: &'a Value,
    /// Pack of the action (execution context `pack`).
    pub action_pack: &'a str,
    /// Runner and action parameter definitions (runner wins on a type clash); empty when
    /// unknown.
    pub runner_parameters: &'a ParameterSchema,
    pub action_parameters: &'a ParameterSchema,
    /// `{"id_": <trace id>, "trace_tag": <tag>}` from the trace update.
    pub trace_context: Value,
    /// `system_user.user` (StackStorm default `stanley`).
    pub system_user: &'a str,
    /// Resolved pack config of the action's pack (`config_context`); `{}` when none.
    pub config_context: Value,
    pub provider: &'a dyn ContextProvider,
}

/// The execution context StackStorm attaches to a rule-triggered execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcementContext {
    pub trigger_instance: Value,
    pub rule: Value,
    pub user: String,
    pub pack: String,
    pub trace_context: Value,
}

/// What the engine should request: the action with these parameters and context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnforcementPlan {
    /// `{ref, id, uid}` for the enforcement record.
    pub rule: Value,
    pub action_ref: String,
    pub parameters: Map<String, Value>,
    pub context: EnforcementContext,
}

/// Why a plan could not be made. Both end in a failed enforcement with `reason`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A rendering error: StackStorm still requests an execution with `raw_parameters` and
    /// `context`, marks it failed with `{"error": reason, ...}`; the enforcement has no
    /// execution id.
    #[error("{reason}")]
    Render {
        reason: String,
        raw_parameters: Map<String, Value>,
        context: Box<EnforcementContext>,
    },
    /// A cast error: failed enforcement, no execution.
    #[error("{0}")]
    Cast(String),
}

/// `Action "<ref>" doesn't exist` — the failure reason when the rule's action is missing.
pub fn action_missing_reason(action_ref: &str) -> String {
    format!("Action \"{action_ref}\" doesn't exist")
}

/// Builds the context and renders the parameters for a matched rule.
pub fn plan_enforcement(input: &PlanInput<'_>) -> Result<EnforcementPlan, PlanError> {
    let rule = input.rule;
    let context = EnforcementContext {
        trigger_instance: json!({"id": input.trigger_instance_id, "name": null}),
        rule: json!({"id": rule.id, "name": rule.name}),
        user: input.system_user.to_string(),
        pack: input.action_pack.to_string(),
        trace_context: input.trace_context.clone(),
    };
    let context_json = serde_json::to_value(&context).unwrap_or(Value::Null);
    let runner = RunnerType {
        id: String::new(),
        name: String::new(),
        description: String::new(),
        enabled: true,
        runner_package: String::new(),
        runner_module: String::new(),
        runner_parameters: input.runner_parameters.clone(),
        output_key: None,
        output_schema: Value::Null,
        uid: String::new(),
    };
    let (pack, name) = rule
        .action
        .r#ref
        .split_once('.')
        .unwrap_or(("", rule.action.r#ref.as_str()));
    let action = Action {
        id: String::new(),
        name: name.to_string(),
        pack: pack.to_string(),
        action_ref: rule.action.r#ref.clone(),
        uid: Action::uid_for(pack, name),
        runner_type: String::new(),
        entry_point: String::new(),
        description: None,
        enabled: true,
        parameters: input.action_parameters.clone(),
        output_schema: Value::Null,
        notify: None,
        tags: Vec::new(),
        metadata_file: String::new(),
    };
    let render = gale_params::RenderInput {
        runner: &runner,
        action: &action,
        params: &rule.action.parameters,
        context: &context_json,
        config: &input.config_context,
        kv: input.provider,
    };
    let mut extra = Map::new();
    extra.insert("trigger".into(), input.payload.clone());
    let parameters = match gale_params::render_live_params_with(&render, &extra) {
        Ok(p) => p,
        Err(gale_params::Error::Render(reason)) => {
            return Err(PlanError::Render {
                reason,
                raw_parameters: rule.action.parameters.clone(),
                context: Box::new(context),
            })
        }
        Err(other) => return Err(PlanError::Cast(other.to_string())),
    };
    Ok(EnforcementPlan {
        rule: rule.enforcement_ref(),
        action_ref: rule.action.r#ref.clone(),
        parameters,
        context,
    })
}
