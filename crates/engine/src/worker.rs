//! The worker pool: one dispatcher task claims queue items (woken at once by an in-process
//! `Notify` when something is enqueued, otherwise polling briefly) and hands them to a fixed set
//! of worker tasks. All tasks live in one `JoinSet` owned by [`Pool`]; shutdown stops claiming,
//! cancels running executions and waits for every task.

use crate::output::BatchingSink;
use crate::{env, params, request, stage, workflow, Inner};
use futures::FutureExt;
use gale_model::{ExecStatus, Execution};
use gale_runners::{CancellationToken, RunContext, RunOutcome, RunRequest};
use gale_store::QueueItem;
use serde_json::{json, Map, Value};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

/// Longest idle sleep between claims when nothing woke the dispatcher.
const POLL: Duration = Duration::from_millis(200);
/// Back-off after a store error while claiming.
const CLAIM_ERROR_BACKOFF: Duration = Duration::from_millis(500);
/// How many times a compare-and-set is retried against concurrent updates.
const CAS_ATTEMPTS: usize = 20;

struct Claimed {
    item: QueueItem,
    /// Returned to the dispatcher when the worker is done with the item.
    _slot: OwnedSemaphorePermit,
}

pub(crate) struct Pool {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Pool {
    pub fn start(inner: Arc<Inner>) -> Pool {
        let n = inner.opts.workers.max(1);
        let stop = CancellationToken::new();
        let (tx, rx) = mpsc::channel::<Claimed>(n);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let slots = Arc::new(Semaphore::new(n));
        let mut tasks = JoinSet::new();
        tasks.spawn(
            dispatcher(inner.clone(), tx, slots, stop.clone())
                .instrument(tracing::info_span!("dispatcher", node = %inner.opts.node_id)),
        );
        for i in 0..n {
            tasks.spawn(
                worker_loop(inner.clone(), rx.clone())
                    .instrument(tracing::info_span!("worker", worker = i)),
            );
        }
        tracing::info!(workers = n, node = %inner.opts.node_id, "engine workers started");
        Pool { stop, tasks }
    }

    pub async fn shutdown(mut self, inner: &Inner) {
        // Order matters: mark shutdown first so runs cancelled below end `abandoned`, not
        // `canceled`, and items already handed to workers are released instead of started.
        inner.shutting_down.cancel();
        self.stop.cancel();
        let tokens: Vec<CancellationToken> = match inner.running.lock() {
            Ok(g) => g.values().cloned().collect(),
            Err(p) => p.into_inner().values().cloned().collect(),
        };
        for t in tokens {
            t.cancel();
        }
        while let Some(res) = self.tasks.join_next().await {
            if let Err(e) = res {
                tracing::error!(error = %e, "engine task ended abnormally");
            }
        }
        tracing::info!("engine workers stopped");
    }
}

async fn dispatcher(
    inner: Arc<Inner>,
    tx: mpsc::Sender<Claimed>,
    slots: Arc<Semaphore>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.cancelled() => return,
        };
        let mut permits = vec![first];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let now = inner.now();
        let claimed = inner
            .store
            .claim(&inner.opts.node_id, now, inner.opts.lease, permits.len())
            .await;
        match claimed {
            Ok(items) if !items.is_empty() => {
                for item in items {
                    let Some(slot) = permits.pop() else { break };
                    if tx.send(Claimed { item, _slot: slot }).await.is_err() {
                        return;
                    }
                }
            }
            Ok(_) => {
                drop(permits);
                let wait = idle_wait(&inner, now);
                tokio::select! {
                    _ = inner.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return,
                }
            }
            Err(e) => {
                drop(permits);
                tracing::warn!(error = %e, "claiming queue items failed");
                tokio::select! {
                    _ = tokio::time::sleep(CLAIM_ERROR_BACKOFF) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }
}

/// Sleep until the next known delayed item is due, at most [`POLL`].
fn idle_wait(inner: &Inner, now: gale_model::Timestamp) -> Duration {
    let mut g = match inner.due.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    // Due times already passed were claimable by the claim that just came back empty.
    while g.peek().is_some_and(|d| d.0 <= now) {
        g.pop();
    }
    match g.peek() {
        Some(d) => (d.0 - now).to_std().unwrap_or(POLL).min(POLL),
        None => POLL,
    }
}

async fn worker_loop(inner: Arc<Inner>, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Claimed>>>) {
    loop {
        let next = { rx.lock().await.recv().await };
        let Some(claimed) = next else { return };
        let item = claimed.item.clone();
        let fut = process(inner.clone(), claimed.item);
        if let Err(panic) = AssertUnwindSafe(fut).catch_unwind().await {
            tracing::error!(execution_id = %item.execution_id, panic = %panic_text(&panic), "worker panicked while processing an execution");
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

async fn process(inner: Arc<Inner>, item: QueueItem) {
    let span = tracing::info_span!("execution", execution_id = %item.execution_id);
    process_item(&inner, item).instrument(span).await
}

async fn ack(inner: &Inner, item: &QueueItem) {
    if let Err(e) = inner.store.ack(&item.id).await {
        tracing::warn!(error = %e, item = %item.id, "could not ack queue item");
    }
}

async fn nack(inner: &Inner, item: &QueueItem, at: gale_model::Timestamp) {
    if let Err(e) = inner.store.nack(&item.id, at).await {
        tracing::warn!(error = %e, item = %item.id, "could not release queue item");
    }
}

async fn load(inner: &Inner, id: &str) -> Option<Execution> {
    match inner.store.get_execution(id).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "could not load execution");
            None
        }
    }
}

/// CAS write; publishes the new state on success.
/// A workflow task's change that its workflow must hear about is written together with the
/// workflow's work item (see [`workflow::write_execution`]).
async fn write(
    inner: &Inner,
    exec: &Execution,
    expected: ExecStatus,
) -> Result<bool, gale_store::Error> {
    workflow::write_execution(inner, exec, expected).await
}

/// Advance a workflow execution; the item is acked once the step is committed and released
/// for a retry when it failed.
async fn advance_workflow(inner: &Inner, item: &QueueItem, id: &str) {
    match workflow::advance(inner, id).await {
        Ok(()) => ack(inner, item).await,
        Err(e) => {
            tracing::warn!(error = %e, "workflow step failed; retrying later");
            nack(inner, item, inner.now() + chrono::Duration::seconds(1)).await;
        }
    }
}

/// From a claimed item to `running`, then run. Every decision re-reads the record after a lost
/// compare-and-set, because a cancel may have changed it in between.
async fn process_item(inner: &Inner, item: QueueItem) {
    if inner.shutting_down.is_cancelled() {
        nack(inner, &item, inner.now()).await;
        return;
    }
    let mut exec = match inner.store.get_execution(&item.execution_id).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            tracing::warn!("queue item for a missing execution dropped");
            ack(inner, &item).await;
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not load execution; retrying later");
            nack(inner, &item, inner.now() + chrono::Duration::seconds(1)).await;
            return;
        }
    };
    let token = CancellationToken::new();
    let is_workflow = workflow::is_workflow(&exec);
    for _ in 0..CAS_ATTEMPTS {
        let now = inner.now();
        let started = exec.log.iter().any(|l| l.status == ExecStatus::Running);
        match exec.status {
            ExecStatus::Requested | ExecStatus::Delayed | ExecStatus::Scheduled => {}
            // A started workflow: advance it (children finished, pause/resume/cancel).
            s if is_workflow && !s.is_completed() && (started || s != ExecStatus::Canceling) => {
                advance_workflow(inner, &item, &exec.id).await;
                return;
            }
            ExecStatus::Canceling | ExecStatus::Canceled => {
                // Canceled while queued (§3.7).
                let mut upd = exec.clone();
                upd.transition(ExecStatus::Canceled, now);
                if upd.result.is_null() || upd.result == json!({}) {
                    upd.set_result(json!({"message": "Action execution canceled by user."}));
                }
                if upd != exec {
                    match write(inner, &upd, exec.status).await {
                        Ok(true) => {}
                        Ok(false) => {
                            exec = match load(inner, &item.execution_id).await {
                                Some(e) => e,
                                None => break,
                            };
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not store cancellation");
                            nack(inner, &item, now + chrono::Duration::seconds(1)).await;
                            return;
                        }
                    }
                }
                ack(inner, &item).await;
                return;
            }
            _ => {
                // Already running, paused or completed: a duplicate item (e.g. after recovery).
                ack(inner, &item).await;
                return;
            }
        }

        // Delay (§3.3): requested → delayed, released until start + delay.
        if let Some(delay) = exec.delay {
            let due = exec.start_timestamp + chrono::Duration::milliseconds(delay as i64);
            if now < due {
                if exec.status != ExecStatus::Delayed {
                    let mut upd = exec.clone();
                    upd.transition(ExecStatus::Delayed, now);
                    match write(inner, &upd, exec.status).await {
                        Ok(true) => {}
                        Ok(false) => {
                            exec = match load(inner, &item.execution_id).await {
                                Some(e) => e,
                                None => break,
                            };
                            continue;
                        }
                        Err(e) => tracing::warn!(error = %e, "could not mark execution delayed"),
                    }
                }
                nack(inner, &item, due).await;
                inner.note_due(due);
                return;
            }
        }

        // requested/delayed → scheduled → running in one write (both log entries kept). The
        // token is registered first so a cancel that sees `running` always finds it.
        let mut upd = exec.clone();
        if upd.status != ExecStatus::Scheduled {
            upd.transition(ExecStatus::Scheduled, now);
        }
        upd.transition(ExecStatus::Running, now);
        upd.liveaction.runner_info = runner_info(inner);
        insert_token(inner, &exec.id, &token);
        match write(inner, &upd, exec.status).await {
            Ok(true) if is_workflow => {
                remove_token(inner, &exec.id);
                advance_workflow(inner, &item, &exec.id).await;
                return;
            }
            Ok(true) => {
                ack(inner, &item).await;
                run(inner, upd, token).await;
                return;
            }
            Ok(false) => {
                remove_token(inner, &exec.id);
                exec = match load(inner, &item.execution_id).await {
                    Some(e) => e,
                    None => break,
                };
            }
            Err(e) => {
                remove_token(inner, &exec.id);
                tracing::warn!(error = %e, "could not mark execution running; retrying later");
                nack(inner, &item, now + chrono::Duration::seconds(1)).await;
                return;
            }
        }
    }
    tracing::warn!("execution kept changing under the worker; item released");
    nack(inner, &item, inner.now() + chrono::Duration::seconds(1)).await;
}

fn runner_info(inner: &Inner) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("hostname".into(), json!(inner.hostname));
    m.insert("pid".into(), json!(std::process::id()));
    m
}

fn insert_token(inner: &Inner, id: &str, token: &CancellationToken) {
    match inner.running.lock() {
        Ok(mut g) => g.insert(id.to_string(), token.clone()),
        Err(p) => p.into_inner().insert(id.to_string(), token.clone()),
    };
}

fn remove_token(inner: &Inner, id: &str) {
    match inner.running.lock() {
        Ok(mut g) => g.remove(id),
        Err(p) => p.into_inner().remove(id),
    };
}

fn failure(msg: impl Into<String>) -> RunOutcome {
    RunOutcome {
        status: ExecStatus::Failed,
        result: json!({"error": msg.into(), "traceback": ""}),
    }
}

/// Render final parameters, run the runner, store the outcome. `exec` is the stored `running`
/// record.
async fn run(inner: &Inner, exec: Execution, token: CancellationToken) {
    let outcome = invoke(inner, &exec, &token).await;
    remove_token(inner, &exec.id);
    // Start from the stored record, not the one from before the run: children may have been
    // linked (or a cancel recorded) meanwhile, and the compare-and-set only checks the status.
    let cur = load(inner, &exec.id).await.unwrap_or(exec);
    finalize(inner, cur, outcome).await;
}

async fn invoke(inner: &Inner, exec: &Execution, token: &CancellationToken) -> RunOutcome {
    let runner_name = exec.runner.name.clone();
    if !exec.runner.enabled {
        return failure(format!(
            "Runner \"{runner_name}\" has been disabled by the administrator."
        ));
    }
    let Some(runner) = inner.runners.get(&runner_name) else {
        return failure(format!("Runner \"{runner_name}\" is not registered."));
    };
    let params::FinalParams {
        runner: runner_parameters,
        action: action_parameters,
    } = match stage::final_params(
        &exec.action,
        &exec.runner,
        &exec.parameters,
        &exec.context,
        inner
            .datastore_for(exec.user().unwrap_or("stanley"))
            .as_ref(),
    ) {
        Ok(p) => p,
        Err(e) => return failure(e.to_string()),
    };
    let pack_path = match request::resolve(inner, &exec.action.action_ref).await {
        Ok(r) if r.action.pack == exec.action.pack => r.pack_path.clone(),
        _ => match inner.store.get_pack(&exec.action.pack).await {
            Ok(p) => p.map(|p| p.path).filter(|p| !p.is_empty()).map(Into::into),
            Err(_) => None,
        },
    };
    let user = exec.user().unwrap_or("stanley").to_string();

    // Temporary API token for process runners, deleted after the run (§3.4).
    let mut token_id = None;
    let mut secret = None;
    if env::wants_auth_token(&runner_name) {
        let expiry = inner.now() + chrono::Duration::hours(24);
        let (s, t) = env::temporary_token(&user, &exec.id, expiry);
        match inner.store.create_token(&t).await {
            Ok(()) => {
                token_id = Some(t.id.clone());
                secret = Some(s);
            }
            Err(e) => tracing::warn!(error = %e, "could not create the temporary auth token"),
        }
    }
    let req = RunRequest {
        execution_id: exec.id.clone(),
        action: exec.action.clone(),
        env: env::action_env(
            &exec.action,
            &exec.id,
            &inner.opts.api_url,
            &runner_parameters,
            secret.as_deref(),
        ),
        runner_parameters,
        action_parameters,
        pack_path,
        user,
    };
    let sink = Arc::new(BatchingSink::new(
        &exec.id,
        &exec.action.action_ref,
        &runner_name,
        inner.clock.clone(),
        inner.events.clone(),
    ));
    let ctx = RunContext {
        cancel: token.clone(),
        output: sink.clone(),
    };
    let done = CancellationToken::new();
    let running = async {
        let out = AssertUnwindSafe(runner.run(req, ctx)).catch_unwind().await;
        done.cancel();
        out
    };
    let (out, ()) = tokio::join!(running, sink.flush_loop(&inner.store, done.clone()));
    if let Some(id) = token_id {
        if let Err(e) = inner.store.delete_token(&id).await {
            tracing::warn!(error = %e, "could not delete the temporary auth token");
        }
    }
    match out {
        Ok(o) => o,
        Err(p) => failure(format!(
            "runner \"{runner_name}\" panicked: {}",
            panic_text(&p)
        )),
    }
}

/// A result that is a string holding JSON is replaced by the parsed value (§3.4).
pub(crate) fn normalize_result(result: Value) -> Value {
    if let Value::String(s) = &result {
        if let Ok(v) = serde_json::from_str::<Value>(s) {
            return v;
        }
    }
    result
}

/// Store the runner's outcome by compare-and-set. A cancel that arrived meanwhile wins:
/// `canceling` becomes `canceled` keeping the cancel result; completed records are left alone.
async fn finalize(inner: &Inner, mut cur: Execution, outcome: RunOutcome) {
    let result = normalize_result(outcome.result);
    let mut target = outcome.status;
    if inner.shutting_down.is_cancelled() && target == ExecStatus::Canceled {
        // Cancelled by our own shutdown, not by a user (§3.1 "action runner shut down").
        target = ExecStatus::Abandoned;
    }
    for _ in 0..CAS_ATTEMPTS {
        let now = inner.now();
        let mut upd = cur.clone();
        match cur.status {
            s if s.is_completed() => return,
            ExecStatus::Canceling => {
                upd.transition(ExecStatus::Canceled, now);
            }
            _ => {
                if target == cur.status {
                    // Still running (asynchronous runners): only the result changes.
                } else if !upd.transition(target, now) {
                    tracing::warn!(from = %cur.status, to = %target, "runner returned an illegal status");
                    upd.transition(ExecStatus::Failed, now);
                }
                upd.set_result(result.clone());
            }
        }
        match write(inner, &upd, cur.status).await {
            Ok(true) => {
                tracing::debug!(status = %upd.status, "execution finished");
                return;
            }
            Ok(false) => match load(inner, &cur.id).await {
                Some(e) => cur = e,
                None => return,
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not store execution result; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    tracing::error!("execution result could not be stored");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_results_are_parsed() {
        assert_eq!(normalize_result(json!("{\"a\": 1}")), json!({"a": 1}));
        assert_eq!(normalize_result(json!("[1, 2]")), json!([1, 2]));
        assert_eq!(normalize_result(json!("plain text")), json!("plain text"));
        assert_eq!(normalize_result(json!({"x": "{}"})), json!({"x": "{}"}));
    }
}
