//! Start-up recovery: a previous process may have died with executions in flight.
//!
//! - Workflow executions in progress (running, pausing, paused, resuming, canceling) keep
//!   going: they get a work item and their next step continues from the stored state.
//! - Other executions that were running (or pausing/resuming) on it are `abandoned`, `canceling`
//!   ones become `canceled` — as StackStorm does; a workflow task's new status is written
//!   together with its workflow's work item, so the workflow hears about it.
//! - Queued ones (requested/scheduled/delayed) get a fresh queue item so they run now instead of
//!   after the dead process's lease expires. A duplicate item is harmless: the worker drops
//!   items whose execution is no longer queued.

use crate::{workflow, Error, Inner};
use gale_model::ExecStatus;
use gale_store::QueueItem;

pub(crate) async fn recover(inner: &Inner) -> Result<(), Error> {
    let now = inner.now();
    let stale = inner
        .store
        .executions_with_status(&[
            ExecStatus::Running,
            ExecStatus::Pausing,
            ExecStatus::Paused,
            ExecStatus::Resuming,
            ExecStatus::Canceling,
        ])
        .await?;
    let mut abandoned = 0usize;
    let mut workflows = 0usize;
    for exec in stale {
        if workflow::is_workflow(&exec) {
            if exec.status != ExecStatus::Paused {
                inner
                    .store
                    .enqueue(workflow::advance_item(inner, &exec.id))
                    .await?;
            }
            workflows += 1;
            continue;
        }
        if exec.status == ExecStatus::Paused {
            continue;
        }
        let target = if exec.status == ExecStatus::Canceling {
            ExecStatus::Canceled
        } else {
            ExecStatus::Abandoned
        };
        let mut upd = exec.clone();
        if !upd.transition(target, now) {
            continue;
        }
        if workflow::write_execution(inner, &upd, exec.status).await? {
            tracing::warn!(execution_id = %upd.id, from = %exec.status, to = %target, "execution left over by a previous process");
            abandoned += 1;
        }
    }
    let queued = inner
        .store
        .executions_with_status(&[
            ExecStatus::Requested,
            ExecStatus::Scheduled,
            ExecStatus::Delayed,
        ])
        .await?;
    let requeued = queued.len();
    for exec in queued {
        // A delayed execution is not due before its delay ends; the worker re-checks anyway.
        let item = QueueItem {
            id: gale_model::new_id(),
            execution_id: exec.id.clone(),
            available_at: now,
            attempts: 0,
        };
        inner.store.enqueue(item).await?;
    }
    if abandoned + requeued + workflows > 0 {
        tracing::info!(abandoned, requeued, workflows, "start-up recovery done");
    }
    Ok(())
}
