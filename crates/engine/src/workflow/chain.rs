//! The `action-chain` runner (actions.md §4.9) as steps of the same durable workflow loop: the
//! chain's progress (vars, task results, the running node) is the stored workflow state.

use super::{set_status, StepResult};
use crate::request::{self, Prepared};
use crate::{Error, ExecutionRequest, Inner};
use gale_expr::{ContextProvider, Lang};
use gale_model::{ExecStatus, Execution};
use gale_store::WorkflowRecord;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Doc {
    /// The parsed chain file.
    pub chain: Value,
    pub vars: Map<String, Value>,
    pub published: Map<String, Value>,
    /// Results by task name (`{{ c1.stdout }}`).
    pub results: Map<String, Value>,
    /// `result.tasks` entries.
    pub tasks: Vec<Value>,
    /// The node whose child is running: (name, execution id).
    pub current: Option<(String, String)>,
    /// The next node to run when nothing is running.
    pub next: Option<String>,
    /// Status assigned by the last executed node.
    pub last: Option<ExecStatus>,
    /// A top-level error (ends the chain `failed`).
    pub error: Option<String>,
}

fn nodes(chain: &Value) -> Vec<Value> {
    chain
        .get("chain")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn node<'a>(chain: &'a Value, name: &str) -> Option<&'a Value> {
    chain
        .get("chain")
        .and_then(Value::as_array)?
        .iter()
        .find(|n| n.get("name").and_then(Value::as_str) == Some(name))
}

fn edge(n: &Value, key: &str) -> Option<String> {
    n.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Pre-run validation: every literal edge names an existing node.
fn validate(chain: &Value) -> Result<(), String> {
    let list = chain
        .get("chain")
        .and_then(Value::as_array)
        .ok_or("The chain file has no \"chain\" list.")?;
    for n in list {
        let name = n.get("name").and_then(Value::as_str).unwrap_or("");
        if n.get("ref").and_then(Value::as_str).is_none() {
            return Err(format!("Node \"{name}\" has no \"ref\"."));
        }
        for key in ["on-success", "on-failure"] {
            if let Some(target) = edge(n, key) {
                if !target.contains("{{") && node(chain, &target).is_none() {
                    return Err(format!(
                        "Unable to find node with name \"{target}\" referenced in \"{key}\" in task \"{name}\"."
                    ));
                }
            }
        }
    }
    if let Some(d) = chain.get("default").and_then(Value::as_str) {
        if !d.contains("{{") && node(chain, d).is_none() {
            return Err(format!(
                "Unable to find node with name \"{d}\" referenced in \"default\"."
            ));
        }
    }
    Ok(())
}

/// `default`, else the first node no edge points to, else the first node.
fn start_node(chain: &Value) -> Option<String> {
    if let Some(d) = chain.get("default").and_then(Value::as_str) {
        return Some(d.to_string());
    }
    let list = nodes(chain);
    let referenced: Vec<String> = list
        .iter()
        .flat_map(|n| [edge(n, "on-success"), edge(n, "on-failure")])
        .flatten()
        .collect();
    list.iter()
        .filter_map(|n| n.get("name").and_then(Value::as_str))
        .find(|n| !referenced.iter().any(|r| r == n))
        .or_else(|| {
            list.first()
                .and_then(|n| n.get("name"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
}

/// StackStorm's `render_values`: strings rendered; lists/dicts rendered as JSON text and
/// decoded; scalars via `str()`; an unchanged rendering keeps the typed original.
fn render_value(v: &Value, ctx: &Value, kv: &dyn ContextProvider) -> Result<Value, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => return Ok(Value::Null),
        Value::Array(_) | Value::Object(_) => v.to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Number(n) => n.to_string(),
    };
    if !text.contains("{{") && !text.contains("{%") {
        return Ok(v.clone());
    }
    let out =
        gale_expr::evaluate_with(Lang::JinjaSt2, &text, ctx, kv).map_err(|e| e.to_string())?;
    let rendered = match &out {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if rendered == text {
        return Ok(v.clone());
    }
    match v {
        Value::Array(_) | Value::Object(_) => {
            serde_json::from_str(&rendered).map_err(|e| e.to_string())
        }
        _ => Ok(Value::String(rendered)),
    }
}

fn render_ctx(exec: &Execution, doc: &Doc, params: &Map<String, Value>) -> Value {
    let mut ctx = params.clone();
    for (k, v) in &doc.results {
        ctx.insert(k.clone(), v.clone());
    }
    for (k, v) in &doc.vars {
        ctx.insert(k.clone(), v.clone());
    }
    ctx.insert("__results".into(), Value::Object(doc.results.clone()));
    let mut parent = Map::new();
    parent.insert("execution_id".into(), json!(exec.id));
    for (k, v) in &exec.context {
        parent.entry(k.clone()).or_insert_with(|| v.clone());
    }
    ctx.insert("action_context".into(), json!({ "parent": parent }));
    Value::Object(ctx)
}

fn action_params(exec: &Execution, kv: &dyn ContextProvider) -> Map<String, Value> {
    crate::stage::final_params(
        &exec.action,
        &exec.runner,
        &exec.parameters,
        &exec.context,
        kv,
    )
    .map(|p| p.action)
    .unwrap_or_else(|_| exec.parameters.clone())
}

fn display_published(exec: &Execution) -> bool {
    exec.parameters
        .get("display_published")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

fn result_of(exec: &Execution, doc: &Doc) -> Value {
    let mut m = Map::new();
    m.insert("tasks".into(), Value::Array(doc.tasks.clone()));
    if display_published(exec) {
        m.insert("published".into(), Value::Object(doc.published.clone()));
    }
    if let Some(e) = &doc.error {
        m.insert("error".into(), json!(e));
        m.insert("traceback".into(), json!(""));
    }
    Value::Object(m)
}

async fn initialize(inner: &Inner, exec: &Execution) -> Doc {
    let mut doc = Doc::default();
    let text = match super::orquesta::load_definition(inner, exec).await {
        Ok(t) => t,
        Err(e) => {
            doc.error = Some(e);
            return doc;
        }
    };
    doc.chain = match gale_packs::yaml::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            doc.error = Some(format!("Failed to parse the chain definition. {e}"));
            return doc;
        }
    };
    if let Err(e) = validate(&doc.chain) {
        doc.error = Some(e);
        return doc;
    }
    let kv = inner.datastore_for(exec.user().unwrap_or("stanley"));
    let params = action_params(exec, kv.as_ref());
    if let Some(vars) = doc.chain.get("vars").and_then(Value::as_object).cloned() {
        let ctx = Value::Object(params.clone());
        for (k, v) in vars {
            match render_value(&v, &ctx, kv.as_ref()) {
                Ok(r) => {
                    doc.vars.insert(k, r);
                }
                Err(e) => {
                    doc.error = Some(format!("Failed initializing ``vars`` in chain.. {e}"));
                    return doc;
                }
            }
        }
    }
    doc.next = start_node(&doc.chain);
    doc
}

pub(crate) async fn step(
    inner: &Inner,
    exec: &Execution,
    rec: Option<WorkflowRecord>,
) -> Result<StepResult, Error> {
    let now = inner.now();
    let mut doc: Doc = match &rec {
        Some(r) => serde_json::from_str(&r.doc)
            .map_err(|e| Error::Invalid(format!("stored chain state is unreadable: {e}")))?,
        None => initialize(inner, exec).await,
    };
    let mut out = StepResult {
        doc: String::new(),
        exec: exec.clone(),
        children: Vec::new(),
        cancel: Vec::new(),
        pause: Vec::new(),
        resume: Vec::new(),
    };
    let kv = inner.datastore_for(exec.user().unwrap_or("stanley"));
    let params = action_params(exec, kv.as_ref());
    let mut child_paused = false;

    // 1. The running node's child.
    if let Some((name, child_id)) = doc.current.clone() {
        if let Some(child) = inner.store.get_execution(&child_id).await? {
            if child.status.is_completed() {
                finish_node(exec, &mut doc, &name, &child, &params, kv.as_ref());
                doc.current = None;
            } else if matches!(child.status, ExecStatus::Paused | ExecStatus::Pending) {
                child_paused = true;
            }
            match exec.status {
                ExecStatus::Canceling if super::is_workflow(&child) => {
                    out.cancel.push(child.id.clone())
                }
                ExecStatus::Pausing
                    if super::is_workflow(&child) && child.status == ExecStatus::Running =>
                {
                    out.pause.push(child.id.clone())
                }
                ExecStatus::Resuming
                    if super::is_workflow(&child) && child.status == ExecStatus::Paused =>
                {
                    out.resume.push(child.id.clone())
                }
                _ => {}
            }
        } else {
            doc.current = None;
        }
    }

    // 2. What the chain does next.
    let idle = doc.current.is_none();
    let target = if doc.error.is_some() {
        Some(ExecStatus::Failed)
    } else if doc.last == Some(ExecStatus::Canceled) {
        Some(ExecStatus::Canceled)
    } else if idle && doc.next.is_none() {
        Some(doc.last.unwrap_or(ExecStatus::Succeeded))
    } else {
        match exec.status {
            ExecStatus::Canceling if idle => Some(ExecStatus::Canceled),
            ExecStatus::Pausing if idle => Some(ExecStatus::Paused),
            ExecStatus::Running if child_paused => Some(ExecStatus::Paused),
            ExecStatus::Resuming => Some(ExecStatus::Running),
            _ => None,
        }
    };
    if let Some(t) = target {
        set_status(&mut out.exec, t, now);
    }
    if out.exec.status == ExecStatus::Running && idle && doc.next.is_some() {
        start_next(inner, exec, &mut doc, &params, kv.as_ref(), &mut out).await?;
        if doc.error.is_some() {
            set_status(&mut out.exec, ExecStatus::Failed, now);
        } else if doc.current.is_none() && doc.next.is_none() {
            set_status(
                &mut out.exec,
                doc.last.unwrap_or(ExecStatus::Succeeded),
                now,
            );
        }
    }
    // The chain's context keeps its vars while paused (st2's `context.vars`).
    if out.exec.status == ExecStatus::Paused {
        out.exec
            .context
            .insert("vars".into(), Value::Object(doc.vars.clone()));
    }
    out.exec.set_result(result_of(exec, &doc));
    out.doc = serde_json::to_string(&doc)
        .map_err(|e| Error::Invalid(format!("chain state cannot be encoded: {e}")))?;
    Ok(out)
}

fn finish_node(
    exec: &Execution,
    doc: &mut Doc,
    name: &str,
    child: &Execution,
    params: &Map<String, Value>,
    kv: &dyn ContextProvider,
) {
    doc.results.insert(name.to_string(), child.result.clone());
    let ts = |t: &gale_model::Timestamp| t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string();
    doc.tasks.push(json!({
        "id": name,
        "name": name,
        "execution_id": child.id,
        "liveaction_id": child.liveaction.id,
        "workflow": null,
        "created_at": ts(&child.start_timestamp),
        "updated_at": ts(&child.end_timestamp.unwrap_or(child.start_timestamp)),
        "state": child.status,
        "result": child.result,
    }));
    let Some(n) = node(&doc.chain, name).cloned() else {
        doc.next = None;
        return;
    };
    // st2 publishes after every completed node, whatever its status.
    {
        if let Some(publish) = n.get("publish").and_then(Value::as_object) {
            let mut ctx = match render_ctx(exec, doc, params) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            ctx.insert(name.to_string(), child.result.clone());
            let ctx = Value::Object(ctx);
            for (k, v) in publish {
                match render_value(v, &ctx, kv) {
                    Ok(r) => {
                        doc.vars.insert(k.clone(), r.clone());
                        doc.published.insert(k.clone(), r);
                    }
                    Err(e) => {
                        doc.error = Some(format!(
                            "Failed rendering value for publish parameter \"{k}\" in task \"{name}\" (template string={v}): {e}"
                        ));
                        doc.last = Some(ExecStatus::Failed);
                        doc.next = None;
                        return;
                    }
                }
            }
        }
    }
    // The chain's status is the last node's: timeout and canceled kept, other failures
    // `failed`.
    doc.last = Some(match child.status {
        ExecStatus::Succeeded => ExecStatus::Succeeded,
        ExecStatus::Timeout => ExecStatus::Timeout,
        ExecStatus::Canceled => ExecStatus::Canceled,
        _ => ExecStatus::Failed,
    });
    doc.next = match child.status {
        ExecStatus::Succeeded => edge(&n, "on-success"),
        s if s.is_failure() => edge(&n, "on-failure"),
        _ => None,
    };
    if doc
        .next
        .as_deref()
        .is_some_and(|t| node(&doc.chain, t).is_none())
    {
        doc.error = Some(format!(
            "Failed to get next node \"{}\".. Unable to find node with name \"{}\".",
            doc.next.clone().unwrap_or_default(),
            doc.next.clone().unwrap_or_default()
        ));
        doc.next = None;
    }
}

async fn start_next(
    inner: &Inner,
    exec: &Execution,
    doc: &mut Doc,
    params: &Map<String, Value>,
    kv: &dyn ContextProvider,
    out: &mut StepResult,
) -> Result<(), Error> {
    let Some(name) = doc.next.take() else {
        return Ok(());
    };
    let Some(n) = node(&doc.chain, &name).cloned() else {
        doc.error = Some(format!("Unable to find node with name \"{name}\"."));
        return Ok(());
    };
    let action_ref = n
        .get("ref")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let raw = n
        .get("parameters")
        .or_else(|| n.get("params"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let ctx = render_ctx(exec, doc, params);
    let mut rendered = Map::new();
    for (k, v) in &raw {
        match render_value(v, &ctx, kv) {
            Ok(r) => {
                rendered.insert(k.clone(), r);
            }
            Err(e) => {
                doc.error = Some(format!(
                    "Failed to run task \"{name}\". Parameter rendering failed.. Failed rendering value for action parameter \"{k}\" in task \"{name}\" (template string={v}): {e}"
                ));
                return Ok(());
            }
        }
    }
    let mut chain_ctx = Map::new();
    for k in [
        "name",
        "ref",
        "parameters",
        "on-success",
        "on-failure",
        "publish",
        "notify",
        "params",
    ] {
        if let Some(v) = n.get(k) {
            chain_ctx.insert(k.into(), v.clone());
        }
    }
    let mut context = Map::new();
    context.insert("chain".into(), Value::Object(chain_ctx));
    let req = ExecutionRequest {
        action_ref: action_ref.clone(),
        parameters: rendered,
        user: exec.user().unwrap_or("stanley").to_string(),
        context,
        delay_ms: None,
        parent: Some(exec.id.clone()),
    };
    match request::prepare(inner, &req, Some(exec), true).await {
        Ok(Prepared {
            exec: child, item, ..
        }) => {
            if child.status.is_completed() {
                // Parameters failed: the node failed without running.
                finish_node(exec, doc, &name, &child, params, kv);
            } else {
                doc.current = Some((name, child.id.clone()));
            }
            out.children.push((child, item));
        }
        Err(Error::Store(e)) => return Err(Error::Store(e)),
        Err(Error::ActionNotFound(_)) => {
            doc.error = Some(format!(
                "Failed to run task \"{name}\". Action with reference \"{action_ref}\" doesn't exist.. Task :: {name} - Action with ref {action_ref} not registered."
            ));
        }
        Err(e) => {
            doc.error = Some(format!("Failed to run task \"{name}\".. {e}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_node_prefers_default_then_unreferenced() {
        let c = json!({"chain": [
            {"name": "a", "ref": "x", "on-success": "b"},
            {"name": "b", "ref": "x"}
        ]});
        assert_eq!(start_node(&c).as_deref(), Some("a"));
        let c = json!({"chain": [
            {"name": "a", "ref": "x", "on-success": "b"},
            {"name": "b", "ref": "x", "on-success": "a"}
        ], "default": "b"});
        assert_eq!(start_node(&c).as_deref(), Some("b"));
        let c = json!({"chain": [
            {"name": "a", "ref": "x", "on-success": "b"},
            {"name": "b", "ref": "x", "on-failure": "a"}
        ]});
        assert_eq!(
            start_node(&c).as_deref(),
            Some("a"),
            "all referenced: the first"
        );
    }

    #[test]
    fn validation_names_the_missing_node() {
        let c = json!({"chain": [{"name": "y", "ref": "x", "on-success": "x"}]});
        assert_eq!(
            validate(&c).unwrap_err(),
            "Unable to find node with name \"x\" referenced in \"on-success\" in task \"y\"."
        );
        let c = json!({"chain": [{"name": "y", "ref": "x", "on-success": "{{ nxt }}"}]});
        assert!(validate(&c).is_ok(), "Jinja edges are not validated");
    }

    struct NoKv;
    impl ContextProvider for NoKv {}

    #[test]
    fn render_values_keeps_unchanged_typed_values() {
        let ctx = json!({"a": 5, "s": "hi"});
        assert_eq!(render_value(&json!(5), &ctx, &NoKv).unwrap(), json!(5));
        assert_eq!(
            render_value(&json!("{{ a }}"), &ctx, &NoKv).unwrap(),
            json!("5")
        );
        assert_eq!(
            render_value(&json!({"k": "{{ s }}"}), &ctx, &NoKv).unwrap(),
            json!({"k": "hi"})
        );
        assert!(render_value(&json!("{{ missing.x }}"), &ctx, &NoKv).is_err());
    }
}
