//! Cancel (actions.md §3.7): queued top-level executions end `canceled` at once; running ones
//! (or children) go `canceling` and the in-process cancellation token stops the runner, after
//! which the worker records `canceled`. A workflow goes `canceling` with a work item so its
//! next step cancels the conductor and cascades to its tasks.

use crate::{CancelOutcome, EngineEvent, Error, Inner};
use gale_model::ExecStatus;
use serde_json::json;

const CAS_ATTEMPTS: usize = 20;

pub(crate) async fn cancel_execution(
    inner: &Inner,
    id: &str,
    requester: &str,
) -> Result<CancelOutcome, Error> {
    for _ in 0..CAS_ATTEMPTS {
        let exec = match if id == "last" {
            inner.store.last_execution().await?
        } else {
            inner.store.get_execution(id).await?
        } {
            Some(e) => e,
            None => {
                return Err(Error::NotFound {
                    kind: "execution",
                    id: id.to_string(),
                })
            }
        };
        if matches!(exec.status, ExecStatus::Canceled | ExecStatus::Canceling) {
            return Ok(CancelOutcome::Canceled(exec));
        }
        if exec.status.is_completed() || !exec.status.is_cancelable() {
            return Ok(CancelOutcome::AlreadyCompleted(exec));
        }
        let started_workflow = crate::workflow::is_workflow(&exec)
            && matches!(
                exec.status,
                ExecStatus::Pausing | ExecStatus::Paused | ExecStatus::Resuming
            );
        let target =
            if exec.status == ExecStatus::Running || exec.parent.is_some() || started_workflow {
                ExecStatus::Canceling
            } else {
                ExecStatus::Canceled
            };
        let mut upd = exec.clone();
        if !upd.transition(target, inner.now()) {
            return Ok(CancelOutcome::AlreadyCompleted(exec));
        }
        upd.set_result(json!({"message": "Action canceled by user.", "user": requester}));
        upd.context.insert("cancelled_by".into(), json!(requester));
        // Workflows advance (cascade, wait for their tasks) and queued children are picked
        // up now rather than when their delay ends: both get a work item in the same write.
        let wake_self = target == ExecStatus::Canceling
            && (crate::workflow::is_workflow(&exec)
                || matches!(
                    exec.status,
                    ExecStatus::Requested | ExecStatus::Scheduled | ExecStatus::Delayed
                ));
        let written = if wake_self {
            let item = crate::workflow::advance_item(inner, &exec.id);
            let ok = inner
                .store
                .update_execution_and_enqueue(&upd, exec.status, item)
                .await?;
            inner.wake.notify_one();
            ok
        } else {
            inner.store.update_execution(&upd, exec.status).await?
        };
        if written {
            tracing::info!(execution_id = %upd.id, status = %upd.status, user = requester, "execution cancel requested");
            inner.publish(EngineEvent::ExecutionUpdated(upd.clone()));
            if target == ExecStatus::Canceling {
                let token = match inner.running.lock() {
                    Ok(g) => g.get(&upd.id).cloned(),
                    Err(p) => p.into_inner().get(&upd.id).cloned(),
                };
                if let Some(t) = token {
                    t.cancel();
                }
            }
            return Ok(CancelOutcome::Canceled(upd));
        }
    }
    Err(Error::Conflict(format!(
        "execution \"{id}\" kept changing while canceling"
    )))
}
