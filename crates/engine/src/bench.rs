//! A throughput/latency probe for the whole pipeline with a `noop` action: requests go through
//! `request_execution`, workers run them. Latency is the stored request → completion time
//! (`end_timestamp - start_timestamp`) in the open-loop mode, and what the requester observed
//! (request call → completion event) in the closed-loop mode. Asserts nothing; callers print.

use crate::{Engine, EngineEvent, Error, ExecutionRequest};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinSet;

#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Action to run (a `noop` action such as `core.noop`).
    pub action_ref: String,
    pub executions: usize,
    /// Concurrent requesters.
    pub concurrency: usize,
    pub user: String,
    /// Closed loop: each requester waits for its execution to complete before the next
    /// request, so latency is the pipeline's own and not time spent queued behind a backlog.
    pub wait_each: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            action_ref: "core.noop".into(),
            executions: 2000,
            concurrency: 16,
            user: "stanley".into(),
            wait_each: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct BenchReport {
    pub executions: usize,
    pub succeeded: usize,
    pub elapsed: Duration,
    /// Completed executions per second (first request to last completion).
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} executions ({} succeeded) in {:.3}s: {:.0} executions/s, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.executions,
            self.succeeded,
            self.elapsed.as_secs_f64(),
            self.per_second,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.max.as_secs_f64() * 1e3
        )
    }
}

/// Run `opts.executions` executions of a started engine and measure them.
pub async fn bench_noop(engine: &Engine, opts: &BenchOptions) -> Result<BenchReport, Error> {
    let mut events = engine.subscribe();
    let start = Instant::now();
    let mut requesters = JoinSet::new();
    let per = opts.executions / opts.concurrency.max(1);
    let extra = opts.executions % opts.concurrency.max(1);
    for i in 0..opts.concurrency.max(1) {
        let n = per + usize::from(i < extra);
        let engine = engine.clone();
        let req = ExecutionRequest {
            action_ref: opts.action_ref.clone(),
            user: opts.user.clone(),
            ..Default::default()
        };
        let wait_each = opts.wait_each;
        requesters.spawn(async move {
            let mut ids = Vec::with_capacity(n);
            let mut waited = Vec::new();
            let mut rx = engine.subscribe();
            for _ in 0..n {
                let t = Instant::now();
                let id = engine.request_execution(req.clone()).await?.id;
                if wait_each {
                    wait_completed(&engine, &mut rx, &id).await?;
                    waited.push(t.elapsed());
                }
                ids.push(id);
            }
            Ok::<_, Error>((ids, waited))
        });
    }
    let mut ids = Vec::with_capacity(opts.executions);
    let mut client_lat = Vec::new();
    while let Some(r) = requesters.join_next().await {
        match r {
            Ok(Ok((mut v, mut w))) => {
                ids.append(&mut v);
                client_lat.append(&mut w);
            }
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(Error::Invalid(format!("bench requester failed: {e}"))),
        }
    }

    // Wait for completion: events when we keep up, a store sweep when the channel lagged.
    let mut pending: HashSet<String> = ids.iter().cloned().collect();
    let mut last_sweep = Instant::now();
    while !pending.is_empty() {
        match tokio::time::timeout(Duration::from_millis(200), events.recv()).await {
            Ok(Ok(EngineEvent::ExecutionUpdated(e))) if e.status.is_completed() => {
                pending.remove(&e.id);
            }
            Ok(Ok(_)) => {}
            Ok(Err(RecvError::Closed)) => break,
            Ok(Err(RecvError::Lagged(_))) | Err(_) => {
                if last_sweep.elapsed() > Duration::from_millis(100) {
                    let mut done = Vec::new();
                    for id in &pending {
                        if engine.get_execution(id).await?.status.is_completed() {
                            done.push(id.clone());
                        }
                    }
                    for id in done {
                        pending.remove(&id);
                    }
                    last_sweep = Instant::now();
                }
            }
        }
    }
    let elapsed = start.elapsed();

    let mut lat = Vec::with_capacity(ids.len());
    let mut succeeded = 0;
    for id in &ids {
        let e = engine.get_execution(id).await?;
        if e.status == gale_model::ExecStatus::Succeeded {
            succeeded += 1;
        }
        if let Some(end) = e.end_timestamp {
            lat.push((end - e.start_timestamp).to_std().unwrap_or_default());
        }
    }
    if opts.wait_each {
        // Closed loop: what the requester saw, request call to the completion event.
        lat = client_lat;
    }
    lat.sort();
    let pct = |p: f64| -> Duration {
        if lat.is_empty() {
            return Duration::ZERO;
        }
        let i = ((lat.len() as f64 - 1.0) * p).round() as usize;
        lat[i.min(lat.len() - 1)]
    };
    Ok(BenchReport {
        executions: ids.len(),
        succeeded,
        elapsed,
        per_second: ids.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        p50: pct(0.50),
        p99: pct(0.99),
        max: lat.last().copied().unwrap_or_default(),
    })
}

/// Wait until `id` completes, from events (or the store when the channel lagged).
async fn wait_completed(
    engine: &Engine,
    rx: &mut tokio::sync::broadcast::Receiver<EngineEvent>,
    id: &str,
) -> Result<(), Error> {
    loop {
        match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            Ok(Ok(EngineEvent::ExecutionUpdated(e))) if e.id == id && e.status.is_completed() => {
                return Ok(())
            }
            Ok(Ok(_)) => {}
            Ok(Err(RecvError::Closed)) => return Ok(()),
            Ok(Err(RecvError::Lagged(_))) | Err(_) => {
                if engine.get_execution(id).await?.status.is_completed() {
                    return Ok(());
                }
            }
        }
    }
}
