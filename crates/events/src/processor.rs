//! The rules engine service (events.md §5.4, §5.9, §9): claim pending instances, evaluate the
//! rule index, plan and request executions, record enforcements and trace components, and
//! write the final status — one store write per batch claim and one per finished instance.

use crate::{Inner, Result};
use futures::StreamExt;
use gale_engine::ExecutionRequest;
use gale_model::events::{
    EnforcementStatus, RuleEnforcement, TraceComponent, TriggerInstance, TriggerInstanceStatus,
};
use gale_rules::{
    action_missing_reason, plan_enforcement, PlanError, PlanInput, Rule, TriggerInstanceView,
};
use gale_store::{ExecutionFilter, InstanceCompletion};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// How long the processor sleeps when idle before looking again (instances committed by
/// another process are only seen by polling).
const IDLE_POLL: Duration = Duration::from_millis(500);

pub(crate) async fn run(inner: Arc<Inner>) {
    loop {
        if inner.stop.is_cancelled() {
            return;
        }
        match process_batch(&inner, false).await {
            Ok(0) => {
                tokio::select! {
                    _ = inner.wake.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = inner.stop.cancelled() => return,
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "rules engine: claiming trigger instances failed");
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
    }
}

/// Process pending instances until none is left; returns how many.
pub(crate) async fn drain(inner: &Arc<Inner>) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = process_batch(inner, false).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// Instances left `processing` by a crash are processed again, without duplicating the
/// executions they already caused.
pub(crate) async fn recover(inner: &Arc<Inner>) -> Result<()> {
    let stuck = inner
        .store
        .trigger_instances_with_status(TriggerInstanceStatus::Processing)
        .await?;
    if !stuck.is_empty() {
        tracing::warn!(
            count = stuck.len(),
            "re-processing trigger instances interrupted by a stop"
        );
    }
    for ti in stuck {
        process_instance(inner, ti, true).await;
    }
    Ok(())
}

async fn process_batch(inner: &Arc<Inner>, recovered: bool) -> Result<usize> {
    let batch = inner
        .store
        .claim_trigger_instances(inner.opts.batch)
        .await?;
    let n = batch.len();
    futures::stream::iter(batch)
        .for_each_concurrent(inner.opts.concurrency, |ti| async move {
            process_instance(inner, ti, recovered).await;
        })
        .await;
    Ok(n)
}

/// Evaluate and enforce one instance, then write its outcome. Never fails: every error ends
/// in a failed enforcement or `processing_failed`, and the engine keeps going.
async fn process_instance(inner: &Arc<Inner>, ti: TriggerInstance, recovered: bool) {
    let span =
        tracing::info_span!("trigger_instance", trigger_instance = %ti.id, trigger = %ti.trigger);
    async move {
        let done = match evaluate_and_enforce(inner, &ti, recovered).await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "trigger instance processing failed");
                InstanceCompletion {
                    instance_id: ti.id.clone(),
                    status: TriggerInstanceStatus::ProcessingFailed,
                    enforcements: Vec::new(),
                    trace_id: None,
                    rules: Vec::new(),
                    executions: Vec::new(),
                }
            }
        };
        if let Err(e) = inner.store.complete_trigger_instance(done).await {
            // Stays `processing`; start-up recovery will finish it.
            tracing::error!(error = %e, "cannot record the trigger instance outcome");
        }
    }
    .instrument(span)
    .await
}

fn enforcement(
    inner: &Inner,
    ti: &TriggerInstance,
    rule: &Rule,
    execution_id: Option<String>,
    failure: Option<String>,
) -> RuleEnforcement {
    RuleEnforcement {
        id: gale_model::new_id(),
        trigger_instance_id: ti.id.clone(),
        rule: rule.enforcement_ref(),
        status: if failure.is_some() {
            EnforcementStatus::Failed
        } else {
            EnforcementStatus::Succeeded
        },
        execution_id,
        failure_reason: failure,
        enforced_at: inner.engine.clock().now(),
    }
}

async fn evaluate_and_enforce(
    inner: &Arc<Inner>,
    ti: &TriggerInstance,
    recovered: bool,
) -> Result<InstanceCompletion> {
    let provider = match inner.provider.read() {
        Ok(p) => p.clone(),
        Err(_) => {
            return Err(crate::Error::Invalid(
                "context provider lock poisoned".into(),
            ))
        }
    };
    let outcome = {
        let index = match inner.index.read() {
            Ok(i) => i,
            Err(_) => return Err(crate::Error::Invalid("rule index lock poisoned".into())),
        };
        index.evaluate(
            TriggerInstanceView {
                id: &ti.id,
                trigger: &ti.trigger,
                payload: &ti.payload,
            },
            provider.as_ref(),
        )
    };
    let mut done = InstanceCompletion {
        instance_id: ti.id.clone(),
        status: TriggerInstanceStatus::Processed,
        enforcements: Vec::new(),
        trace_id: None,
        rules: Vec::new(),
        executions: Vec::new(),
    };
    for (rule, reason) in &outcome.failures {
        done.enforcements
            .push(enforcement(inner, ti, rule, None, Some(reason.clone())));
    }
    if let Some(abort) = &outcome.aborted {
        tracing::error!(error = %abort, "rule evaluation aborted");
        done.status = TriggerInstanceStatus::ProcessingFailed;
        return Ok(done);
    }
    if outcome.matched.is_empty() {
        return Ok(done);
    }
    let trace = inner.store.trace_of_trigger_instance(&ti.id).await?;
    let trace_context = match &trace {
        Some(t) => json!({"id_": t.id, "trace_tag": t.trace_tag}),
        None => Value::Null,
    };
    done.trace_id = trace.map(|t| t.id);
    let now = inner.engine.clock().now();
    for rule in &outcome.matched {
        done.rules.push(TraceComponent {
            object_id: rule.id.clone(),
            component_ref: rule.r#ref.clone(),
            updated_at: now,
            caused_by: json!({"type": "trigger_instance", "id": ti.id}),
        });
        if recovered {
            if let Some(exec) = existing_execution(inner, rule, ti).await? {
                // A record failed before it ran (parameters that did not render) stands for
                // a failed enforcement without an execution id, as when it was requested.
                let never_ran = exec.status == gale_model::ExecStatus::Failed
                    && exec.log.iter().all(|l| {
                        matches!(
                            l.status,
                            gale_model::ExecStatus::Requested | gale_model::ExecStatus::Failed
                        )
                    });
                let e = if never_ran {
                    let reason = exec.result["error"]
                        .as_str()
                        .unwrap_or("the action parameters failed to render")
                        .to_string();
                    enforcement(inner, ti, rule, None, Some(reason))
                } else {
                    enforcement(inner, ti, rule, Some(exec.id), None)
                };
                done.enforcements.push(e);
                continue;
            }
        }
        let (exec, failure) = enforce(inner, ti, rule, &trace_context, provider.as_ref()).await?;
        if let Some(id) = &exec {
            done.executions.push(TraceComponent {
                object_id: id.clone(),
                component_ref: rule.action.r#ref.clone(),
                updated_at: now,
                caused_by: json!({"type": "rule", "id": format!("{}:{}", rule.id, ti.id)}),
            });
        }
        done.enforcements
            .push(enforcement(inner, ti, rule, exec, failure));
    }
    Ok(done)
}

/// The execution a rule already requested for this instance (crash recovery). The engine
/// does not index executions by rule context yet, so this scans the action's executions
/// since the instance occurred and matches their `context.rule.id` / `trigger_instance.id`.
async fn existing_execution(
    inner: &Inner,
    rule: &Rule,
    ti: &TriggerInstance,
) -> Result<Option<gale_model::Execution>> {
    let (found, _) = inner
        .store
        .list_executions(&ExecutionFilter {
            action: Some(rule.action.r#ref.clone()),
            timestamp_gt: Some(ti.occurrence_time - chrono::Duration::seconds(1)),
            sort_asc: true,
            ..Default::default()
        })
        .await?;
    let field = |e: &gale_model::Execution, outer: &str| {
        e.context
            .get(outer)
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(found.into_iter().find(|e| {
        field(e, "rule").as_deref() == Some(rule.id.as_str())
            && field(e, "trigger_instance").as_deref() == Some(ti.id.as_str())
    }))
}

/// Plan and request one execution: `(execution id, failure reason)`.
async fn enforce(
    inner: &Inner,
    ti: &TriggerInstance,
    rule: &Rule,
    trace_context: &Value,
    provider: &dyn gale_expr::ContextProvider,
) -> Result<(Option<String>, Option<String>)> {
    let Some(action) = inner.store.get_action(&rule.action.r#ref).await? else {
        return Ok((None, Some(action_missing_reason(&rule.action.r#ref))));
    };
    let runner_params = inner
        .store
        .get_runner_type(&action.runner_type)
        .await?
        .map(|r| r.runner_parameters)
        .unwrap_or_default();
    // The action's pack config, as the engine gives it to the execution (a config that fails
    // its schema fails the enforcement with that reason).
    let config_context = match inner
        .engine
        .pack_config(&action.pack, &inner.opts.system_user)
    {
        Ok(c) => c,
        Err(e) => return Ok((None, Some(e.to_string()))),
    };
    let plan = plan_enforcement(&PlanInput {
        rule,
        trigger_instance_id: &ti.id,
        payload: &ti.payload,
        action_pack: &action.pack,
        runner_parameters: &runner_params,
        action_parameters: &action.parameters,
        trace_context: trace_context.clone(),
        system_user: &inner.opts.system_user,
        config_context,
        provider,
    });
    let plan = match plan {
        Ok(p) => p,
        Err(PlanError::Render {
            reason,
            raw_parameters,
            context,
        }) => {
            // StackStorm still requests the execution with the unrendered parameters and
            // fails it at once; the enforcement carries the reason and no execution id
            // (events.md §5.9 step 5). If the raw parameters fail the action's schema, that
            // error is the reason and no execution exists.
            let req = ExecutionRequest {
                action_ref: rule.action.r#ref.clone(),
                parameters: raw_parameters,
                user: inner.opts.system_user.clone(),
                context: request_context(inner, &context),
                delay_ms: None,
                parent: None,
            };
            return match inner.engine.request_failed_execution(req, &reason).await {
                Ok(_) => Ok((None, Some(reason))),
                Err(gale_engine::Error::Store(e)) => Err(e.into()),
                Err(e) => Ok((None, Some(e.to_string()))),
            };
        }
        Err(PlanError::Cast(reason)) => return Ok((None, Some(reason))),
    };
    let context = request_context(inner, &plan.context);
    let req = ExecutionRequest {
        action_ref: plan.action_ref.clone(),
        parameters: plan.parameters,
        user: inner.opts.system_user.clone(),
        context,
        delay_ms: None,
        parent: None,
    };
    match inner.engine.request_execution(req).await {
        Ok(exec) => Ok((Some(exec.id), None)),
        Err(gale_engine::Error::Store(e)) => Err(e.into()),
        Err(e) => Ok((None, Some(e.to_string()))),
    }
}

/// The execution context of an enforcement (the system user, not the rule's creator).
fn request_context(inner: &Inner, context: &gale_rules::EnforcementContext) -> Map<String, Value> {
    let mut context = match serde_json::to_value(context) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    context.insert("user".into(), json!(inner.opts.system_user));
    context
}
