//! Workflow executions (runner types `orquesta` and `action-chain`) driven through the same
//! request/queue/worker pipeline as every action.
//!
//! A queue item for a workflow execution means "advance this workflow": the worker loads the
//! stored workflow state, applies what happened since (status changes of its children, pause /
//! resume / cancel requests recorded on the execution), asks the workflow what to start next,
//! and commits all of it in one store transaction — the new state (compare-and-set on its
//! version), the workflow execution, the new children and their queue items. A child's final
//! status is written together with a queue item for its parent
//! ([`gale_store::WorkflowStore::update_execution_and_enqueue`]), so the handoff survives a
//! crash; advancing is idempotent (each child is reported once, marked `done` in the state), so
//! duplicate items are harmless. Steps of one workflow are serialized in-process by a lock and
//! across processes by the version compare-and-set.

mod chain;
mod orquesta;
pub(crate) mod runner_types;

use crate::{cancel, EngineEvent, Error, Inner};
use gale_model::{ExecStatus, Execution};
use gale_store::{QueueItem, WorkflowCommit, WorkflowRecord};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How often a step is retried after losing a compare-and-set to a concurrent writer.
const STEP_ATTEMPTS: usize = 20;
/// Upper bound on dispatch rounds in one step (action-less tasks complete at once and may
/// stage more); a workflow that needs more simply continues on its next item.
pub(crate) const MAX_ROUNDS: usize = 10_000;

pub(crate) fn is_workflow(exec: &Execution) -> bool {
    crate::request::WORKFLOW_RUNNERS.contains(&exec.runner.name.as_str())
}

/// Whether the execution is a task of a workflow that must hear about its status changes.
pub(crate) fn has_workflow_parent(exec: &Execution) -> bool {
    exec.parent.is_some()
        && (exec.context.contains_key("orquesta") || exec.context.contains_key("chain"))
}

/// Whether a `from → to` change of a workflow task is news for the parent workflow.
pub(crate) fn notifies_parent(from: ExecStatus, to: ExecStatus) -> bool {
    from != to
        && (to.is_completed()
            || matches!(to, ExecStatus::Paused | ExecStatus::Pending)
            || (to == ExecStatus::Running
                && matches!(
                    from,
                    ExecStatus::Paused | ExecStatus::Resuming | ExecStatus::Pausing
                )))
}

/// A work item that makes the workflow `id` advance now.
pub(crate) fn advance_item(inner: &Inner, id: &str) -> QueueItem {
    QueueItem {
        id: gale_model::new_id(),
        execution_id: id.to_string(),
        available_at: inner.now(),
        attempts: 0,
    }
}

/// The parent's work item when `upd` (a workflow task) changes status in a way it must hear.
pub(crate) fn parent_item(inner: &Inner, upd: &Execution, from: ExecStatus) -> Option<QueueItem> {
    if !has_workflow_parent(upd) || !notifies_parent(from, upd.status) {
        return None;
    }
    upd.parent.as_deref().map(|p| advance_item(inner, p))
}

/// Compare-and-set write of an execution that also enqueues its parent workflow's item when the
/// change is news for it (one transaction). Publishes the update.
pub(crate) async fn write_execution(
    inner: &Inner,
    upd: &Execution,
    expected: ExecStatus,
) -> Result<bool, gale_store::Error> {
    let ok = match parent_item(inner, upd, expected) {
        Some(item) => {
            inner
                .store
                .update_execution_and_enqueue(upd, expected, item)
                .await?
        }
        None => inner.store.update_execution(upd, expected).await?,
    };
    if ok {
        inner.publish(EngineEvent::ExecutionUpdated(upd.clone()));
        if upd.parent.is_some() {
            inner.wake.notify_one();
        }
    }
    Ok(ok)
}

/// What one step decided, before it is committed.
pub(crate) struct StepResult {
    /// The new state document (JSON text).
    pub doc: String,
    /// The workflow execution as it should be stored (status, result, children).
    pub exec: Execution,
    pub children: Vec<(Execution, Option<QueueItem>)>,
    /// Children to cancel / pause / resume after the commit (cascades).
    pub cancel: Vec<String>,
    pub pause: Vec<String>,
    pub resume: Vec<String>,
}

/// The in-process bookkeeping of one workflow: the step lock and a "something happened"
/// flag. A worker whose item finds a step running only raises the flag and acks its item; the
/// running worker steps again before letting go. Dropping such an item is safe: the store
/// keeps what happened, and start-up recovery re-queues every workflow in progress.
#[derive(Default)]
pub(crate) struct Slot {
    lock: tokio::sync::Mutex<()>,
    dirty: AtomicBool,
}

fn slot_for(inner: &Inner, id: &str) -> Arc<Slot> {
    let mut g = match inner.wf_locks.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    g.entry(id.to_string()).or_default().clone()
}

fn release_slot(inner: &Inner, id: &str) {
    let mut g = match inner.wf_locks.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    // Only the map holds it. (A worker that clones it right after is still correct: two slots
    // only mean two steps may race, and the version compare-and-set settles that.)
    if g.get(id).is_some_and(|s| Arc::strong_count(s) <= 1) {
        g.remove(id);
    }
}

/// Advance the workflow execution `id` as far as it can go now.
pub(crate) async fn advance(inner: &Inner, id: &str) -> Result<(), Error> {
    let slot = slot_for(inner, id);
    slot.dirty.store(true, Ordering::SeqCst);
    let result = loop {
        let Ok(guard) = slot.lock.try_lock() else {
            // The running step sees the flag (before or after it lets go of the lock).
            return Ok(());
        };
        let mut r = Ok(());
        while slot.dirty.swap(false, Ordering::SeqCst) {
            r = advance_locked(inner, id).await;
            if r.is_err() {
                break;
            }
        }
        drop(guard);
        if r.is_err() || !slot.dirty.load(Ordering::SeqCst) {
            break r;
        }
    };
    drop(slot);
    release_slot(inner, id);
    result
}

async fn advance_locked(inner: &Inner, id: &str) -> Result<(), Error> {
    for _ in 0..STEP_ATTEMPTS {
        let Some(exec) = inner.store.get_execution(id).await? else {
            return Ok(());
        };
        if exec.status.is_completed() || !is_workflow(&exec) {
            return Ok(());
        }
        let rec = inner.store.get_workflow(id).await?;
        let expected_version = rec.as_ref().map(|r| r.version);
        let rec_doc = rec.as_ref().map(|r| r.doc.clone());
        let step = match exec.runner.name.as_str() {
            "orquesta" => orquesta::step(inner, &exec, rec).await?,
            _ => chain::step(inner, &exec, rec).await?,
        };
        let StepResult {
            doc,
            exec: mut upd,
            children,
            cancel,
            pause,
            resume,
        } = step;
        for (c, _) in &children {
            if !upd.children.contains(&c.id) {
                upd.children.push(c.id.clone());
            }
        }
        // A duplicate item (several children finished, one step reported them all) changes
        // nothing: skip the write, keep the cascades (they are idempotent).
        let unchanged =
            children.is_empty() && upd == exec && rec_doc.as_deref() == Some(doc.as_str());
        if unchanged {
            cascade(inner, &upd, cancel, pause, resume).await;
            return Ok(());
        }
        let mut enqueue = Vec::new();
        if let Some(item) = parent_item(inner, &upd, exec.status) {
            enqueue.push(item);
        }
        let commit = WorkflowCommit {
            record: WorkflowRecord {
                execution_id: id.to_string(),
                version: expected_version.unwrap_or(0),
                doc,
            },
            expected_version,
            execution: Some((upd.clone(), exec.status)),
            children: children.clone(),
            enqueue,
        };
        if !inner.store.commit_workflow(commit).await? {
            tracing::debug!(execution_id = %id, "workflow changed during its step; retrying");
            continue;
        }
        if !children.is_empty() {
            inner.wake.notify_one();
        }
        for (c, _) in children {
            inner.publish(EngineEvent::ExecutionCreated(c));
        }
        if upd != exec {
            inner.publish(EngineEvent::ExecutionUpdated(upd.clone()));
        }
        if upd.status.is_completed() {
            tracing::info!(execution_id = %id, status = %upd.status, "workflow finished");
        }
        cascade(inner, &upd, cancel, pause, resume).await;
        return Ok(());
    }
    Err(Error::Conflict(format!(
        "workflow \"{id}\" kept changing during its step"
    )))
}

/// Carry a workflow's cancel / pause / resume down to its tasks (after the step committed).
async fn cascade(
    inner: &Inner,
    wf: &Execution,
    cancel: Vec<String>,
    pause: Vec<String>,
    resume: Vec<String>,
) {
    let requester = wf
        .context
        .get("cancelled_by")
        .and_then(Value::as_str)
        .unwrap_or("stanley")
        .to_string();
    for c in cancel {
        if let Err(e) = cancel::cancel_execution(inner, &c, &requester).await {
            tracing::warn!(child = %c, error = %e, "could not cancel a workflow task");
        }
    }
    for c in pause {
        if let Err(e) = pause_execution(inner, &c).await {
            tracing::debug!(child = %c, error = %e, "could not pause a workflow task");
        }
    }
    for c in resume {
        if let Err(e) = resume_execution(inner, &c).await {
            tracing::debug!(child = %c, error = %e, "could not resume a workflow task");
        }
    }
}

/// Move `exec` to `to` (if legal), stamping the result for completed statuses.
pub(crate) fn set_status(exec: &mut Execution, to: ExecStatus, now: gale_model::Timestamp) {
    if exec.status == to {
        return;
    }
    if !exec.transition(to, now) {
        // E.g. the workflow failed while a cancel was being processed: cancel wins.
        if exec.status == ExecStatus::Canceling && to.is_completed() {
            exec.transition(ExecStatus::Canceled, now);
        } else if to.is_completed() {
            // Keep the record consistent even for an unexpected combination.
            exec.status = to;
            exec.log.push(gale_model::LogEntry {
                timestamp: now,
                status: to,
            });
            exec.end_timestamp = Some(now);
        }
    }
}

fn unsupported(exec: &Execution, verb: &str) -> Error {
    Error::Invalid(format!(
        "Failed updating execution. Unable to {verb} liveaction \"{}\" because it is not supported by the \"{}\" runner.",
        exec.liveaction.id, exec.runner.name
    ))
}

/// Pause (actions.md §3.7): `running` → `pausing`; the workflow's next step pauses the
/// conductor and cascades to child workflows; it becomes `paused` when no task is active.
pub(crate) async fn pause_execution(inner: &Inner, id: &str) -> Result<Execution, Error> {
    control(inner, id, true).await
}

/// Resume: `paused` → `resuming`; the next step resumes the conductor and child workflows.
pub(crate) async fn resume_execution(inner: &Inner, id: &str) -> Result<Execution, Error> {
    control(inner, id, false).await
}

async fn control(inner: &Inner, id: &str, pause: bool) -> Result<Execution, Error> {
    let verb = if pause { "pause" } else { "resume" };
    for _ in 0..STEP_ATTEMPTS {
        let exec = inner
            .store
            .get_execution(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                kind: "execution",
                id: id.to_string(),
            })?;
        if !is_workflow(&exec) {
            return Err(unsupported(&exec, verb));
        }
        let target = if pause {
            match exec.status {
                ExecStatus::Pausing | ExecStatus::Paused => return Ok(exec),
                ExecStatus::Running => ExecStatus::Pausing,
                _ => {
                    return Err(Error::Invalid(format!(
                        "Failed updating execution. Unable to pause liveaction \"{}\" because it is not in a running state.",
                        exec.liveaction.id
                    )))
                }
            }
        } else {
            match exec.status {
                ExecStatus::Running | ExecStatus::Resuming => return Ok(exec),
                ExecStatus::Paused => ExecStatus::Resuming,
                s => {
                    return Err(Error::Invalid(format!(
                        "Failed updating execution. Unable to resume liveaction \"{}\" because it is in \"{s}\" state and not in \"paused\" state.",
                        exec.liveaction.id
                    )))
                }
            }
        };
        let mut upd = exec.clone();
        if !upd.transition(target, inner.now()) {
            return Err(Error::Conflict(format!(
                "execution \"{id}\" cannot move from {} to {target}",
                exec.status
            )));
        }
        let item = advance_item(inner, id);
        if inner
            .store
            .update_execution_and_enqueue(&upd, exec.status, item)
            .await?
        {
            inner.publish(EngineEvent::ExecutionUpdated(upd.clone()));
            inner.wake.notify_one();
            tracing::info!(execution_id = %id, status = %upd.status, "workflow {verb} requested");
            return Ok(upd);
        }
    }
    Err(Error::Conflict(format!(
        "execution \"{id}\" kept changing during {verb}"
    )))
}

/// The workflow execution result for a completed workflow (StackStorm's orquesta shape).
pub(crate) fn orquesta_result(output: Option<Value>, errors: Option<Vec<Value>>) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(errors) = errors {
        m.insert("errors".into(), Value::Array(errors));
    }
    m.insert("output".into(), output.unwrap_or(Value::Null));
    json!(m)
}

#[cfg(test)]
mod tests;
