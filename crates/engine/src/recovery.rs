//! Start-up recovery: a previous process may have died with executions in flight. Those that were
//! running (or pausing/resuming) on it are `abandoned`, `canceling` ones become `canceled`, and
//! queued ones (requested/scheduled/delayed) get a fresh queue item so they run now instead of
//! after the dead process's lease expires. A duplicate item is harmless: the worker drops items
//! whose execution is no longer queued.

use crate::{EngineEvent, Error, Inner};
use gale_model::ExecStatus;
use gale_store::QueueItem;

pub(crate) async fn recover(inner: &Inner) -> Result<(), Error> {
    let now = inner.now();
    let stale = inner
        .store
        .executions_with_status(&[
            ExecStatus::Running,
            ExecStatus::Pausing,
            ExecStatus::Resuming,
            ExecStatus::Canceling,
        ])
        .await?;
    let mut abandoned = 0usize;
    for exec in stale {
        let target = if exec.status == ExecStatus::Canceling {
            ExecStatus::Canceled
        } else {
            ExecStatus::Abandoned
        };
        let mut upd = exec.clone();
        if !upd.transition(target, now) {
            continue;
        }
        if inner.store.update_execution(&upd, exec.status).await? {
            tracing::warn!(execution_id = %upd.id, from = %exec.status, to = %target, "execution left over by a previous process");
            inner.publish(EngineEvent::ExecutionUpdated(upd));
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
        let item = QueueItem {
            id: gale_model::new_id(),
            execution_id: exec.id.clone(),
            available_at: now,
            attempts: 0,
        };
        inner.store.enqueue(item).await?;
    }
    if abandoned + requeued > 0 {
        tracing::info!(abandoned, requeued, "start-up recovery done");
    }
    Ok(())
}
