//! The request pipeline (actions.md §2.1): resolve the action, build the context, render and
//! validate live parameters, persist the execution with its queue item in one store call, publish.

use crate::cache::Resolved;
use crate::{stage, EngineEvent, Error, ExecutionRequest, Inner};
use gale_model::{ExecStatus, Execution, LiveAction, LogEntry, RunnerType};
use gale_store::QueueItem;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use tracing::Instrument;

/// Runner types whose actions are workflows (`liveaction.action_is_workflow`).
pub(crate) const WORKFLOW_RUNNERS: [&str; 2] = ["orquesta", "action-chain"];

/// The action, its runner type and its pack directory, from the cache or the store.
pub(crate) async fn resolve(inner: &Inner, action_ref: &str) -> Result<Arc<Resolved>, Error> {
    if let Some(r) = inner.cache.get(action_ref) {
        return Ok(r);
    }
    let action = inner
        .store
        .get_action(action_ref)
        .await?
        .ok_or_else(|| Error::ActionNotFound(action_ref.to_string()))?;
    let runner = match inner.store.get_runner_type(&action.runner_type).await? {
        Some(r) => r,
        // Not registered in the store: use the registry's definition, or a bare record so the
        // execution is created and then fails in the worker with the unknown-runner message.
        None => match inner.runners.get(&action.runner_type) {
            Some(r) => r.runner_type(),
            None => RunnerType {
                id: String::new(),
                name: action.runner_type.clone(),
                description: String::new(),
                enabled: true,
                runner_package: String::new(),
                runner_module: String::new(),
                runner_parameters: Default::default(),
                output_key: None,
                output_schema: Value::Null,
                uid: RunnerType::uid_for(&action.runner_type),
            },
        },
    };
    let pack_path = inner
        .store
        .get_pack(&action.pack)
        .await?
        .map(|p| p.path)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let resolved = Arc::new(Resolved {
        action,
        runner,
        pack_path,
    });
    inner.cache.put(action_ref, resolved.clone());
    Ok(resolved)
}

pub(crate) async fn request_execution(
    inner: &Inner,
    req: ExecutionRequest,
) -> Result<Execution, Error> {
    let span = tracing::info_span!("request", action = %req.action_ref, execution_id = tracing::field::Empty);
    request_inner(inner, req).instrument(span).await
}

async fn request_inner(inner: &Inner, req: ExecutionRequest) -> Result<Execution, Error> {
    let parent_id = match &req.parent {
        Some(p) => Some(p.clone()),
        None => req
            .context
            .get("parent")
            .and_then(|p| p.get("execution_id"))
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let parent = match &parent_id {
        Some(pid) => Some(inner.store.get_execution(pid).await?.ok_or_else(|| {
            Error::Invalid(format!("Parent execution \"{pid}\" cannot be found."))
        })?),
        None => None,
    };
    let mut prepared = prepare(inner, &req, parent.as_ref(), false).await?;
    snapshot_rule_fields(inner, &mut prepared.exec).await?;
    tracing::Span::current().record("execution_id", tracing::field::display(&prepared.exec.id));
    inner
        .store
        .create_execution(&prepared.exec, prepared.item.clone())
        .await?;
    link_child(inner, parent.as_ref(), &prepared.exec.id).await?;
    if prepared.item.is_some() {
        inner.wake.notify_one();
    }
    tracing::debug!(execution_id = %prepared.exec.id, "execution requested");
    inner.publish(EngineEvent::ExecutionCreated(prepared.exec.clone()));
    match prepared.error {
        Some(e) => Err(Error::Params(e)),
        None => Ok(prepared.exec),
    }
}

/// StackStorm's `create_execution_object`: an execution requested with `context.trigger_instance`
/// / `context.rule` (the rules engine's enforcement) carries snapshots of the trigger instance,
/// its trigger and trigger type, and the rule, so `?trigger_instance=` / `?rule=` filter on them.
/// A reference that no longer resolves leaves its field unset (logged) rather than refusing the
/// execution: the rule already decided to run it.
async fn snapshot_rule_fields(inner: &Inner, exec: &mut Execution) -> Result<(), Error> {
    let ctx_id = |key: &str| {
        exec.context
            .get(key)
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (ti_id, rule_id) = (ctx_id("trigger_instance"), ctx_id("rule"));
    // The trigger chain and the rule are independent reads: overlap them (request latency).
    let trigger_side = async {
        let Some(ti_id) = &ti_id else {
            return Ok::<_, Error>(None);
        };
        let Some(ti) = inner.store.get_trigger_instance(ti_id).await? else {
            tracing::warn!(trigger_instance = %ti_id, "trigger instance of the context not found");
            return Ok(None);
        };
        let trigger = inner.store.get_trigger(&ti.trigger).await?;
        let tt = match &trigger {
            Some(t) => inner.store.get_trigger_type(&t.trigger_type).await?,
            None => None,
        };
        Ok(Some((ti, trigger, tt)))
    };
    let rule_side = async {
        match &rule_id {
            Some(id) => inner.store.get_rule(id).await.map_err(Error::from),
            None => Ok(None),
        }
    };
    let (trigger_side, rule) = tokio::try_join!(trigger_side, rule_side)?;
    if let Some((ti, trigger, tt)) = trigger_side {
        exec.trigger_instance = serde_json::to_value(&ti).ok();
        exec.trigger = trigger
            .and_then(|t| serde_json::to_value(&t).ok())
            .map(|mut v| {
                // Bookkeeping of ours, not a field of StackStorm's trigger document.
                if let Some(o) = v.as_object_mut() {
                    o.remove("ref_count");
                }
                v
            });
        exec.trigger_type = tt.and_then(|t| serde_json::to_value(&t).ok());
    }
    match (rule, &rule_id) {
        (Some(rule), _) => exec.rule = Some(rule),
        (None, Some(id)) => tracing::warn!(rule = %id, "rule of the context not found"),
        (None, None) => {}
    }
    Ok(())
}

/// A new execution record, ready to be stored: with its queue item, or failed (no item) with
/// the parameter error that failed it.
pub(crate) struct Prepared {
    pub exec: Execution,
    pub item: Option<QueueItem>,
    pub error: Option<crate::params::Error>,
}

/// Steps 1–5 of the request pipeline without any store write, so a workflow can store its
/// children together with its own state. `record_all_failures` makes every parameter error a
/// failed record (workflow tasks must fail visibly); API requests only keep render failures.
pub(crate) async fn prepare(
    inner: &Inner,
    req: &ExecutionRequest,
    parent: Option<&Execution>,
    record_all_failures: bool,
) -> Result<Prepared, Error> {
    // 1. Resolve.
    let resolved = resolve(inner, &req.action_ref).await?;
    let action = &resolved.action;
    if !action.enabled {
        return Err(Error::ActionDisabled(action.action_ref.clone()));
    }

    // 2. Context.
    let context = request_context(req, parent, &action.pack);

    let now = inner.now();
    let id = gale_model::new_id();
    let mut exec = new_execution(
        inner,
        &resolved,
        &id,
        now,
        req,
        context,
        parent.map(|p| p.id.clone()),
    );

    // 3.-5. Live parameters: render, cast, validate, immutable check.
    let kv = inner.datastore_for(exec.user().unwrap_or(&req.user));
    let live = stage::live_params(
        &resolved.action,
        &resolved.runner,
        &req.parameters,
        &exec.context,
        kv.as_ref(),
    );
    match live {
        Ok(p) => {
            exec.liveaction.parameters = p.clone();
            exec.parameters = p;
        }
        Err(e) if record_all_failures || stage::creates_failed_record(&e) => {
            // A render failure still leaves a failed execution behind (§2.1 step 3).
            mark_failed(&mut exec, &req.parameters, &e.to_string(), now);
            return Ok(Prepared {
                exec,
                item: None,
                error: Some(e),
            });
        }
        Err(e) => return Err(Error::Params(e)),
    }

    // 6. The queue item that will run it.
    let item = QueueItem {
        id: gale_model::new_id(),
        execution_id: id.clone(),
        available_at: now,
        attempts: 0,
    };
    Ok(Prepared {
        exec,
        item: Some(item),
        error: None,
    })
}

/// The execution context: user, then the caller's context, the parent's user, then the
/// action's pack if absent.
fn request_context(
    req: &ExecutionRequest,
    parent: Option<&Execution>,
    pack: &str,
) -> Map<String, Value> {
    let mut context = Map::new();
    context.insert("user".into(), json!(req.user));
    for (k, v) in &req.context {
        context.insert(k.clone(), v.clone());
    }
    if let Some(p) = parent {
        if !context.get("parent").is_some_and(Value::is_object) {
            let mut pc = Map::new();
            pc.insert("execution_id".into(), json!(p.id));
            for (k, v) in &p.context {
                pc.entry(k.clone()).or_insert_with(|| v.clone());
            }
            context.insert("parent".into(), Value::Object(pc));
        }
        let parent_user = context
            .get("parent")
            .and_then(|pc| pc.get("user"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| p.user().map(str::to_string));
        if let Some(u) = parent_user {
            context.insert("user".into(), json!(u));
        }
    }
    context.entry("pack").or_insert_with(|| json!(pack));
    context
}

/// A new record that failed before it ran: `parameters` as given, result
/// `{"error": message, "traceback": ""}`.
fn mark_failed(
    exec: &mut Execution,
    parameters: &Map<String, Value>,
    message: &str,
    now: gale_model::Timestamp,
) {
    exec.parameters = parameters.clone();
    exec.liveaction.parameters = parameters.clone();
    exec.set_result(json!({"error": message, "traceback": ""}));
    // requested → failed is not a transition a runner may make, so it is set directly.
    exec.status = ExecStatus::Failed;
    exec.log.push(LogEntry {
        timestamp: now,
        status: ExecStatus::Failed,
    });
    exec.end_timestamp = Some(now);
    exec.elapsed_seconds = Some(0.0);
}

impl crate::Engine {
    /// What StackStorm's rules engine does when a rule's action parameters fail to render
    /// (events.md §5.9 step 5): the execution is requested with the *unrendered* parameters —
    /// validated against the action's schema, not rendered — and stored `failed` at once with
    /// `{"error": <error>, "traceback": ""}`. A validation error (or a missing or disabled
    /// action) is returned instead and nothing is stored.
    pub async fn request_failed_execution(
        &self,
        req: ExecutionRequest,
        error: &str,
    ) -> Result<Execution, Error> {
        let inner: &Inner = &self.inner;
        let resolved = resolve(inner, &req.action_ref).await?;
        if !resolved.action.enabled {
            return Err(Error::ActionDisabled(resolved.action.action_ref.clone()));
        }
        crate::params::validate_params(&resolved.runner, &resolved.action, &req.parameters)?;
        let context = request_context(&req, None, &resolved.action.pack);
        let now = inner.now();
        let id = gale_model::new_id();
        let mut exec = new_execution(inner, &resolved, &id, now, &req, context, None);
        mark_failed(&mut exec, &req.parameters, error, now);
        snapshot_rule_fields(inner, &mut exec).await?;
        inner.store.create_execution(&exec, None).await?;
        tracing::debug!(execution_id = %exec.id, "failed execution recorded");
        inner.publish(EngineEvent::ExecutionCreated(exec.clone()));
        Ok(exec)
    }
}

fn new_execution(
    inner: &Inner,
    resolved: &Resolved,
    id: &str,
    now: gale_model::Timestamp,
    req: &ExecutionRequest,
    context: Map<String, Value>,
    parent: Option<String>,
) -> Execution {
    let action = resolved.action.clone();
    Execution {
        id: id.to_string(),
        liveaction: LiveAction {
            id: gale_model::new_id(),
            action: action.action_ref.clone(),
            action_is_workflow: WORKFLOW_RUNNERS.contains(&resolved.runner.name.as_str()),
            parameters: Map::new(),
            callback: Map::new(),
            runner_info: Map::new(),
            notify: action.notify.clone(),
        },
        runner: resolved.runner.clone(),
        status: ExecStatus::Requested,
        start_timestamp: now,
        end_timestamp: None,
        elapsed_seconds: None,
        parameters: Map::new(),
        result: json!({}),
        result_size: 2,
        context,
        parent,
        children: Vec::new(),
        log: vec![LogEntry {
            timestamp: now,
            status: ExecStatus::Requested,
        }],
        web_url: Some(crate::env::web_url(&inner.opts.api_url, id)),
        delay: req.delay_ms.filter(|d| *d > 0),
        trigger: None,
        trigger_type: None,
        trigger_instance: None,
        rule: None,
        action,
    }
}

/// Push the child id onto the parent's `children` (compare-and-set, retried on a race).
async fn link_child(inner: &Inner, parent: Option<&Execution>, child: &str) -> Result<(), Error> {
    let Some(p) = parent else { return Ok(()) };
    let mut cur = p.clone();
    for _ in 0..20 {
        if cur.children.iter().any(|c| c == child) {
            return Ok(());
        }
        let mut upd = cur.clone();
        upd.children.push(child.to_string());
        if inner.store.update_execution(&upd, cur.status).await? {
            inner.publish(EngineEvent::ExecutionUpdated(upd));
            return Ok(());
        }
        match inner.store.get_execution(&p.id).await? {
            Some(e) => cur = e,
            None => return Ok(()),
        }
    }
    Err(Error::Conflict(format!(
        "execution \"{}\" kept changing while adding a child",
        p.id
    )))
}
