//! The `orquesta` runner: one step of a workflow execution around the pure
//! [`gale_orquesta::Conductor`] (actions.md §4.8).

use super::{set_status, StepResult, MAX_ROUNDS};
use crate::request::{self, Prepared};
use crate::{Error, ExecutionRequest, Inner};
use gale_model::{ExecStatus, Execution};
use gale_orquesta::{inspect, Conductor, NextTask, Runtime, Status, TaskEvent, WorkflowSpec};
use gale_store::WorkflowRecord;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The stored state of an orquesta workflow execution.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Doc {
    pub conductor: Conductor,
    /// Child executions in dispatch order.
    pub tasks: Vec<TaskExec>,
    /// Latest result per `task__r<route>` (what `task()`/`result()` read).
    #[serde(default)]
    pub results: HashMap<String, Value>,
    /// With-items: per-item `{status, result}` per `task__r<route>`.
    #[serde(default)]
    pub items: HashMap<String, Vec<Value>>,
    /// Current task execution id per `task__r<route>` (context.orquesta.task_execution_id).
    #[serde(default)]
    pub task_exec_ids: HashMap<String, String>,
}

/// One child execution of a task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct TaskExec {
    pub task_id: String,
    pub route: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<usize>,
    pub execution_id: String,
    /// The last status reported to the conductor.
    pub reported: ExecStatus,
    /// Completed and reported: never looked at again.
    pub done: bool,
}

fn key(task: &str, route: usize) -> String {
    format!("{task}__r{route}")
}

/// `task()` results and the datastore for expressions.
struct Rt<'a> {
    results: &'a HashMap<String, Value>,
    items: &'a HashMap<String, Vec<Value>>,
    kv: &'a dyn gale_expr::ContextProvider,
}

impl Runtime for Rt<'_> {
    fn st2kv(&self, key: &str, decrypt: bool) -> Result<Option<Value>, String> {
        self.kv.st2kv(key, decrypt)
    }

    fn task_result(&self, task_id: &str, route: u64) -> Option<Value> {
        let k = format!("{task_id}__r{route}");
        if let Some(items) = self.items.get(&k) {
            return Some(json!({ "items": items }));
        }
        self.results.get(&k).cloned()
    }
}

fn to_task_status(s: ExecStatus) -> Status {
    match s {
        ExecStatus::Requested => Status::Requested,
        ExecStatus::Scheduled => Status::Scheduled,
        ExecStatus::Delayed => Status::Delayed,
        ExecStatus::Running => Status::Running,
        ExecStatus::Pending => Status::Pending,
        ExecStatus::Pausing => Status::Pausing,
        ExecStatus::Paused => Status::Paused,
        ExecStatus::Resuming => Status::Resuming,
        ExecStatus::Canceling => Status::Canceling,
        ExecStatus::Succeeded => Status::Succeeded,
        ExecStatus::Failed => Status::Failed,
        ExecStatus::Timeout => Status::Expired,
        ExecStatus::Canceled => Status::Canceled,
        ExecStatus::Abandoned => Status::Abandoned,
    }
}

fn to_exec_status(s: Status, current: ExecStatus) -> ExecStatus {
    match s {
        Status::Pausing => ExecStatus::Pausing,
        Status::Paused => ExecStatus::Paused,
        Status::Canceling => ExecStatus::Canceling,
        Status::Canceled => ExecStatus::Canceled,
        Status::Succeeded => ExecStatus::Succeeded,
        Status::Failed => ExecStatus::Failed,
        Status::Expired => ExecStatus::Timeout,
        Status::Abandoned => ExecStatus::Abandoned,
        Status::Running | Status::Resuming => ExecStatus::Running,
        _ => current,
    }
}

/// The st2 context the workflow sees as `ctx().st2` and its parent context.
fn workflow_context(inner: &Inner, exec: &Execution) -> Map<String, Value> {
    let mut st2 = Map::new();
    st2.insert("action_execution_id".into(), json!(exec.id));
    st2.insert("api_url".into(), json!(inner.opts.api_url));
    st2.insert("user".into(), json!(exec.user().unwrap_or("stanley")));
    st2.insert("pack".into(), json!(exec.action.pack));
    st2.insert("action".into(), json!(exec.action.action_ref));
    st2.insert("runner".into(), json!(exec.runner.name));
    for k in ["api_user", "source_channel"] {
        if let Some(v) = exec.context.get(k) {
            st2.insert(k.into(), v.clone());
        }
    }
    let mut ctx = Map::new();
    ctx.insert("st2".into(), Value::Object(st2));
    ctx.insert("parent".into(), Value::Object(exec.context.clone()));
    ctx
}

/// Read the workflow definition (the action's `entry_point` under `<pack>/actions/`).
pub(crate) async fn load_definition(inner: &Inner, exec: &Execution) -> Result<String, String> {
    let entry = &exec.action.entry_point;
    if entry.is_empty() {
        return Err(format!(
            "Action \"{}\" has no entry_point.",
            exec.action.action_ref
        ));
    }
    let path = if std::path::Path::new(entry).is_absolute() {
        std::path::PathBuf::from(entry)
    } else {
        let pack_path = match request::resolve(inner, &exec.action.action_ref).await {
            Ok(r) => r.pack_path.clone(),
            Err(_) => None,
        };
        match pack_path {
            Some(p) => p.join("actions").join(entry),
            None => {
                return Err(format!(
                    "The pack \"{}\" has no directory to read \"{entry}\" from.",
                    exec.action.pack
                ))
            }
        }
    };
    tokio::fs::read_to_string(&path).await.map_err(|e| {
        format!(
            "Unable to read the workflow definition {}: {e}",
            path.display()
        )
    })
}

/// Flatten an inspection into st2's error list: each entry's category becomes its `type`
/// (an expression language that Orquesta put in `type` moves to `language`), sorted by type
/// and schema path, as st2's workflow service does.
fn inspection_errors(ins: &gale_orquesta::Inspection, contents: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for (kind, list) in [
        ("context", &ins.context),
        ("expression", &ins.expressions),
        ("semantic", &ins.semantics),
        ("syntax", &ins.syntax),
    ] {
        for issue in list {
            let mut v = serde_json::to_value(issue).unwrap_or(Value::Null);
            if let Some(m) = v.as_object_mut() {
                if let Some(lang) = m.remove("type") {
                    m.insert("language".into(), lang);
                }
                m.insert("type".into(), json!(kind));
            }
            out.push(v);
        }
    }
    out.extend(contents);
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    out.sort_by_key(|v| (field(v, "type"), field(v, "schema_path")));
    out
}

const TASK_SCHEMA: &str = r"properties.tasks.patternProperties.^\w+$";

/// st2's task content checks: every literal action exists and gets the inputs it declares.
async fn inspect_contents(inner: &Inner, spec: &WorkflowSpec) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for (name, task) in &spec.tasks {
        let Some(action) = task.action_text() else {
            continue;
        };
        if action.contains("<%") || action.contains("{{") || action.contains("{%") {
            continue;
        }
        let entry = |message: String, what: &str| {
            json!({
                "type": "content",
                "message": message,
                "spec_path": format!("tasks.{name}.{what}"),
                "schema_path": format!("{TASK_SCHEMA}.properties.{what}"),
            })
        };
        let well_formed = action
            .split_once('.')
            .is_some_and(|(p, n)| !p.is_empty() && !n.is_empty());
        if !well_formed {
            out.push(entry(
                format!("The action reference \"{action}\" is not formatted correctly."),
                "action",
            ));
            continue;
        }
        let resolved = match request::resolve(inner, action).await {
            Ok(r) => r,
            Err(Error::ActionNotFound(_)) => {
                out.push(entry(
                    format!("The action \"{action}\" is not registered in the database."),
                    "action",
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        let inputs = match &task.input {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => continue,
        };
        let schema = gale_model::params::merge_schemas(
            &resolved.runner.runner_parameters,
            &resolved.action.parameters,
        );
        let mut requires: Vec<&String> = schema
            .iter()
            .filter(|(k, p)| p.required() && !p.has_default() && !inputs.contains_key(*k))
            .map(|(k, _)| k)
            .collect();
        requires.sort();
        for p in requires {
            out.push(entry(
                format!("Action \"{action}\" is missing required input \"{p}\"."),
                "input",
            ));
        }
        if !schema.is_empty() {
            let mut unexpected: Vec<&String> =
                inputs.keys().filter(|k| !schema.contains_key(*k)).collect();
            unexpected.sort();
            for p in unexpected {
                out.push(entry(
                    format!("Action \"{action}\" has unexpected input \"{p}\"."),
                    "input",
                ));
            }
        }
    }
    Ok(out)
}

fn failed_start(exec: &Execution, now: gale_model::Timestamp, errors: Vec<Value>) -> StepResult {
    let mut upd = exec.clone();
    set_status(&mut upd, ExecStatus::Failed, now);
    upd.set_result(json!({"errors": errors, "output": null}));
    StepResult {
        doc: "{}".into(),
        exec: upd,
        children: Vec::new(),
        cancel: Vec::new(),
        pause: Vec::new(),
        resume: Vec::new(),
    }
}

async fn initialize(inner: &Inner, exec: &Execution) -> Result<Result<Doc, Vec<Value>>, Error> {
    let text = match load_definition(inner, exec).await {
        Ok(t) => t,
        Err(m) => return Ok(Err(vec![json!({"message": m})])),
    };
    let spec = match WorkflowSpec::from_yaml(&text) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(vec![json!({
                "type": "syntax", "message": e.to_string(), "spec_path": null, "schema_path": null
            })]))
        }
    };
    let ctx = workflow_context(inner, exec);
    let ins = inspect::inspect(&spec, Some(&ctx));
    let contents = inspect_contents(inner, &spec).await?;
    if !ins.is_empty() || !contents.is_empty() {
        return Ok(Err(inspection_errors(&ins, contents)));
    }
    let kv = inner.datastore_for(exec.user().unwrap_or("stanley"));
    Ok(start(exec, spec, ctx, kv.as_ref()))
}

fn start(
    exec: &Execution,
    spec: WorkflowSpec,
    ctx: Map<String, Value>,
    kv: &dyn gale_expr::ContextProvider,
) -> Result<Doc, Vec<Value>> {
    // The workflow input is the action parameters with their defaults, runner ones excluded.
    let input = match crate::stage::final_params(
        &exec.action,
        &exec.runner,
        &exec.parameters,
        &exec.context,
        kv,
    ) {
        Ok(p) => p.action,
        Err(e) => return Err(vec![json!({"message": e.to_string()})]),
    };
    let results = HashMap::new();
    let items = HashMap::new();
    let rt = Rt {
        results: &results,
        items: &items,
        kv,
    };
    let mut conductor = Conductor::new(spec, input, ctx, &rt);
    if conductor.get_workflow_status() != Status::Failed {
        conductor
            .request_workflow_status(Status::Running)
            .map_err(|e| vec![json!({"message": e.to_string()})])?;
    }
    Ok(Doc {
        conductor,
        tasks: Vec::new(),
        results,
        items,
        task_exec_ids: HashMap::new(),
    })
}

pub(crate) async fn step(
    inner: &Inner,
    exec: &Execution,
    rec: Option<WorkflowRecord>,
) -> Result<StepResult, Error> {
    let now = inner.now();
    let mut doc: Doc = match &rec {
        Some(r) => serde_json::from_str(&r.doc)
            .map_err(|e| Error::Invalid(format!("stored workflow state is unreadable: {e}")))?,
        None => match initialize(inner, exec).await? {
            Ok(d) => d,
            Err(errors) => return Ok(failed_start(exec, now, errors)),
        },
    };
    let mut out = StepResult {
        doc: String::new(),
        exec: exec.clone(),
        children: Vec::new(),
        cancel: Vec::new(),
        pause: Vec::new(),
        resume: Vec::new(),
    };

    let kv_box = inner.datastore_for(exec.user().unwrap_or("stanley"));
    let kv = kv_box.as_ref();
    // 1. Requests recorded on the execution (API pause/resume/cancel).
    let wf = doc.conductor.get_workflow_status();
    let request = match exec.status {
        ExecStatus::Pausing if matches!(wf, Status::Running | Status::Resuming) => {
            Some(Status::Pausing)
        }
        ExecStatus::Resuming if matches!(wf, Status::Paused | Status::Pausing) => {
            Some(Status::Resuming)
        }
        ExecStatus::Canceling
            if !matches!(wf, Status::Canceling | Status::Canceled) && !wf.is_completed() =>
        {
            Some(Status::Canceling)
        }
        _ => None,
    };
    if let Some(s) = request {
        if let Err(e) = doc.conductor.request_workflow_status(s) {
            tracing::warn!(execution_id = %exec.id, error = %e, "workflow status request refused");
        }
    }

    // 2. Children that changed since the last step.
    let mut active = Vec::new();
    for i in 0..doc.tasks.len() {
        if doc.tasks[i].done {
            continue;
        }
        let t = doc.tasks[i].clone();
        let Some(child) = inner.store.get_execution(&t.execution_id).await? else {
            continue;
        };
        let reportable = child.status.is_completed()
            || matches!(
                child.status,
                ExecStatus::Running | ExecStatus::Paused | ExecStatus::Pending
            );
        if reportable && child.status != t.reported {
            report(&mut doc, i, &child, kv)?;
        }
        if !doc.tasks[i].done {
            active.push(child);
        }
    }

    // 3. Dispatch what is ready (the conductor decides: running, resuming, and remediation
    // tasks of a failed workflow).
    dispatch(inner, exec, &mut doc, &mut out, kv).await?;

    // 4. Cascades.
    match exec.status {
        ExecStatus::Canceling => {
            for c in &active {
                if super::is_workflow(c)
                    || matches!(
                        c.status,
                        ExecStatus::Requested | ExecStatus::Scheduled | ExecStatus::Delayed
                    )
                {
                    out.cancel.push(c.id.clone());
                }
            }
        }
        ExecStatus::Pausing => {
            for c in &active {
                if super::is_workflow(c) && c.status == ExecStatus::Running {
                    out.pause.push(c.id.clone());
                }
            }
        }
        ExecStatus::Resuming => {
            for c in &active {
                if super::is_workflow(c) && c.status == ExecStatus::Paused {
                    out.resume.push(c.id.clone());
                }
            }
        }
        _ => {}
    }

    // 5. The workflow execution follows the conductor.
    let wf = doc.conductor.get_workflow_status();
    let target = to_exec_status(wf, exec.status);
    if target.is_completed() {
        let rt = Rt {
            results: &doc.results,
            items: &doc.items,
            kv,
        };
        doc.conductor.render_workflow_output(&rt);
        let output = doc
            .conductor
            .get_workflow_output()
            .map(|o| Value::Object(o.clone()));
        let errors = doc.conductor.errors().to_vec();
        let abended = wf.is_abended() || (wf == Status::Canceled && !errors.is_empty());
        out.exec
            .set_result(super::orquesta_result(output, abended.then_some(errors)));
    }
    set_status(&mut out.exec, target, now);
    out.doc = serde_json::to_string(&doc)
        .map_err(|e| Error::Invalid(format!("workflow state cannot be encoded: {e}")))?;
    Ok(out)
}

/// Report a child's status to the conductor (once per status).
fn report(
    doc: &mut Doc,
    i: usize,
    child: &Execution,
    kv: &dyn gale_expr::ContextProvider,
) -> Result<(), Error> {
    let t = doc.tasks[i].clone();
    let k = key(&t.task_id, t.route);
    let status = to_task_status(child.status);
    let completed = child.status.is_completed();
    let result = if completed {
        child.result.clone()
    } else {
        Value::Null
    };
    let ev = match t.item_id {
        None => {
            if completed {
                doc.results.insert(k, result.clone());
            }
            TaskEvent::action(status, result)
        }
        Some(item_id) => {
            let accumulated = if completed {
                let items = doc.items.entry(k).or_default();
                if items.len() <= item_id {
                    items.resize(item_id + 1, Value::Null);
                }
                items[item_id] = json!({"status": status, "result": result});
                Some(Value::Array(
                    items
                        .iter()
                        .map(|i| i.get("result").cloned().unwrap_or(Value::Null))
                        .collect(),
                ))
            } else {
                None
            };
            TaskEvent::Item {
                item_id,
                status,
                result,
                accumulated,
            }
        }
    };
    let rt = Rt {
        results: &doc.results,
        items: &doc.items,
        kv,
    };
    if let Err(e) = doc
        .conductor
        .update_task_state(&t.task_id, t.route, ev, &rt)
    {
        // A conductor refusal is logged in the workflow, not retried forever.
        tracing::warn!(task = %t.task_id, error = %e, "task event refused by the conductor");
    }
    doc.tasks[i].reported = child.status;
    doc.tasks[i].done = completed;
    Ok(())
}

fn delay_ms(v: &Option<Value>) -> Option<u64> {
    let secs = match v.as_ref()? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (secs > 0.0).then(|| (secs * 1000.0).round() as u64)
}

async fn dispatch(
    inner: &Inner,
    exec: &Execution,
    doc: &mut Doc,
    out: &mut StepResult,
    kv: &dyn gale_expr::ContextProvider,
) -> Result<(), Error> {
    for _ in 0..MAX_ROUNDS {
        let next = {
            let rt = Rt {
                results: &doc.results,
                items: &doc.items,
                kv,
            };
            doc.conductor.get_next_tasks(&rt)
        };
        if next.is_empty() {
            return Ok(());
        }
        for task in next {
            dispatch_task(inner, exec, doc, out, &task, kv).await?;
        }
    }
    Ok(())
}

fn update(
    doc: &mut Doc,
    task: &str,
    route: usize,
    ev: TaskEvent,
    kv: &dyn gale_expr::ContextProvider,
) {
    let rt = Rt {
        results: &doc.results,
        items: &doc.items,
        kv,
    };
    if let Err(e) = doc.conductor.update_task_state(task, route, ev, &rt) {
        tracing::warn!(task, error = %e, "task event refused by the conductor");
    }
}

async fn dispatch_task(
    inner: &Inner,
    exec: &Execution,
    doc: &mut Doc,
    out: &mut StepResult,
    task: &NextTask,
    kv: &dyn gale_expr::ContextProvider,
) -> Result<(), Error> {
    let (tid, route) = (task.id.as_str(), task.route);
    let k = key(tid, route);
    if task.has_items && task.items_count == Some(0) {
        update(
            doc,
            tid,
            route,
            TaskEvent::action(Status::Running, Value::Null),
            kv,
        );
        doc.items.insert(k, Vec::new());
        update(
            doc,
            tid,
            route,
            TaskEvent::action(Status::Succeeded, Value::Null),
            kv,
        );
        return Ok(());
    }
    // A new execution of the task (first run, loop, retry) gets a fresh task execution id
    // and, for with-items, a fresh per-item record; later rounds of the same one extend it.
    let fresh = match doc.conductor.get_task_state_entry(tid, route) {
        None => true,
        Some(e) => e
            .status
            .is_some_and(|s| s.is_completed() || s == Status::Retrying),
    };
    if fresh {
        doc.task_exec_ids.insert(k.clone(), gale_model::new_id());
        if task.has_items {
            doc.items
                .insert(k.clone(), vec![Value::Null; task.items_count.unwrap_or(0)]);
        }
    }
    let task_exec_id = doc.task_exec_ids.get(&k).cloned().unwrap_or_default();
    for a in &task.actions {
        let running = match a.item_id {
            Some(item_id) => TaskEvent::Item {
                item_id,
                status: Status::Running,
                result: Value::Null,
                accumulated: None,
            },
            None => TaskEvent::action(Status::Running, Value::Null),
        };
        let action_ref = match &a.action {
            Value::Null => {
                // Action-less task: succeeds at once.
                update(doc, tid, route, running, kv);
                update(
                    doc,
                    tid,
                    route,
                    TaskEvent::action(Status::Succeeded, Value::Null),
                    kv,
                );
                continue;
            }
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut orq = Map::new();
        orq.insert("workflow_execution_id".into(), json!(exec.id));
        orq.insert("task_execution_id".into(), json!(task_exec_id));
        orq.insert("task_name".into(), json!(tid));
        orq.insert("task_id".into(), json!(tid));
        orq.insert("task_route".into(), json!(route));
        if let Some(i) = a.item_id {
            orq.insert("item_id".into(), json!(i));
        }
        let mut parent_ctx = Map::new();
        parent_ctx.insert("execution_id".into(), json!(exec.id));
        for k in ["user", "pack", "api_user", "source_channel"] {
            if let Some(v) = exec.context.get(k) {
                parent_ctx.insert(k.into(), v.clone());
            }
        }
        let mut context = Map::new();
        context.insert("parent".into(), Value::Object(parent_ctx));
        context.insert("orquesta".into(), Value::Object(orq));
        for k in ["api_user", "source_channel"] {
            if let Some(v) = exec.context.get(k) {
                context.insert(k.into(), v.clone());
            }
        }
        let req = ExecutionRequest {
            action_ref: action_ref.clone(),
            parameters: a.input.as_object().cloned().unwrap_or_default(),
            user: exec.user().unwrap_or("stanley").to_string(),
            context,
            delay_ms: delay_ms(&task.delay),
            parent: Some(exec.id.clone()),
        };
        let prepared = match request::prepare(inner, &req, Some(exec), true).await {
            Ok(p) => p,
            Err(Error::Store(e)) => return Err(Error::Store(e)),
            Err(e) => {
                // Unknown or disabled action: the task fails with the reason, as in st2.
                update(doc, tid, route, running, kv);
                let result = json!({"error": e.to_string(), "traceback": ""});
                let failed = match a.item_id {
                    Some(item_id) => TaskEvent::Item {
                        item_id,
                        status: Status::Failed,
                        result: result.clone(),
                        accumulated: None,
                    },
                    None => TaskEvent::action(Status::Failed, result),
                };
                update(doc, tid, route, failed, kv);
                continue;
            }
        };
        let Prepared {
            exec: child, item, ..
        } = prepared;
        update(doc, tid, route, running, kv);
        doc.tasks.push(TaskExec {
            task_id: tid.to_string(),
            route,
            item_id: a.item_id,
            execution_id: child.id.clone(),
            reported: ExecStatus::Running,
            done: false,
        });
        let idx = doc.tasks.len() - 1;
        if child.status.is_completed() {
            // Parameters failed: report the failed record right away.
            report(doc, idx, &child, kv)?;
        }
        out.children.push((child, item));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gale_orquesta::{Inspection, Issue};

    fn issue(msg: &str, schema: &str, lang: Option<&str>) -> Issue {
        Issue {
            message: msg.into(),
            spec_path: Some("tasks.a".into()),
            schema_path: Some(schema.into()),
            kind: lang.map(|l| Some(l.to_string())),
            expression: None,
        }
    }

    #[test]
    fn inspection_errors_are_flattened_like_st2() {
        let ins = Inspection {
            syntax: vec![issue("s", "b", None)],
            semantics: vec![],
            expressions: vec![issue("e", "a", Some("yaql"))],
            context: vec![issue("c", "z", Some("jinja"))],
        };
        let content =
            json!({"type": "content", "message": "x", "spec_path": "p", "schema_path": "q"});
        let out = inspection_errors(&ins, vec![content.clone()]);
        let kinds: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["content", "context", "expression", "syntax"]);
        assert_eq!(out[1]["language"], json!("jinja"));
        assert_eq!(out[2]["language"], json!("yaql"));
        assert!(out[3].get("language").is_none());
        assert_eq!(out[0], content);
    }

    #[test]
    fn delays_are_seconds() {
        assert_eq!(delay_ms(&Some(json!(2))), Some(2000));
        assert_eq!(delay_ms(&Some(json!(0.25))), Some(250));
        assert_eq!(delay_ms(&Some(json!("3"))), Some(3000));
        assert_eq!(delay_ms(&Some(json!(0))), None);
        assert_eq!(delay_ms(&None), None);
    }

    #[test]
    fn workflow_statuses_map_to_execution_statuses() {
        use ExecStatus as E;
        assert_eq!(to_exec_status(Status::Resuming, E::Resuming), E::Running);
        assert_eq!(to_exec_status(Status::Expired, E::Running), E::Timeout);
        assert_eq!(to_exec_status(Status::Unset, E::Pausing), E::Pausing);
        assert_eq!(to_task_status(E::Timeout), Status::Expired);
        assert_eq!(to_task_status(E::Abandoned), Status::Abandoned);
    }
}
