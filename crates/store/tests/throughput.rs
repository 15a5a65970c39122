//! Write throughput of the SQLite store, printed (never asserted). Run with
//! `cargo test --release -p gale-store --test throughput -- --ignored --nocapture`.
//!
//! It replays the store traffic of a noop execution as the engine produces it: create the
//! execution with its queue item, claim, scheduled, running, output, succeeded, ack — 7 writes
//! and one read per execution — from many concurrent tasks on a 2-worker runtime.

use gale_model::ExecStatus;
use gale_store::sqlite::SqliteStore;
use gale_store::suite::{execution, item};
use gale_store::{ExecutionStore, OutputStore, WorkQueue};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WRITES_PER_EXECUTION: u64 = 7;

async fn run_one(store: &SqliteStore, id: &str, worker: &str) {
    let now = gale_model::now();
    let exec = execution(id, "core.noop", now);
    store
        .create_execution(&exec, Some(item(&format!("q{id}"), id, now)))
        .await
        .unwrap();
    // Claim whatever is next (possibly another task's execution) and run it, as a worker does.
    let claimed = store
        .claim(worker, gale_model::now(), Duration::from_secs(30), 1)
        .await
        .unwrap();
    for it in claimed {
        let mut e = store
            .get_execution(&it.execution_id)
            .await
            .unwrap()
            .unwrap();
        for (from, to) in [
            (ExecStatus::Requested, ExecStatus::Scheduled),
            (ExecStatus::Scheduled, ExecStatus::Running),
        ] {
            assert!(e.transition(to, gale_model::now()));
            assert!(store.update_execution(&e, from).await.unwrap());
        }
        store
            .append_output(&[gale_model::OutputRecord {
                id: format!("o{}", it.execution_id),
                execution_id: it.execution_id.clone(),
                action_ref: "core.noop".into(),
                runner_ref: "noop".into(),
                timestamp: gale_model::now(),
                output_type: "stdout".into(),
                data: "ok\n".into(),
            }])
            .await
            .unwrap();
        assert!(e.transition(ExecStatus::Succeeded, gale_model::now()));
        e.set_result(serde_json::json!({"stdout": "ok", "stderr": "", "return_code": 0}));
        assert!(store
            .update_execution(&e, ExecStatus::Running)
            .await
            .unwrap());
        store.ack(&it.id).await.unwrap();
    }
}

async fn measure(store: SqliteStore, executions: u64, concurrency: u64) -> (f64, f64) {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (store, next) = (store.clone(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= executions {
                    break;
                }
                run_one(&store, &format!("e{n:08}"), &format!("w{w}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Items claimed by no one (a task found its item taken and the queue empty at the time).
    while store.queue_len().await.unwrap() > 0 {
        run_one(
            &store,
            &format!("drain{}", next.fetch_add(1, Ordering::Relaxed)),
            "drain",
        )
        .await;
    }
    let secs = started.elapsed().as_secs_f64();
    let done = store
        .executions_with_status(&[ExecStatus::Succeeded])
        .await
        .unwrap()
        .len() as f64;
    (done * WRITES_PER_EXECUTION as f64 / secs, done / secs)
}

#[test]
#[ignore = "measurement; run explicitly with --ignored --nocapture"]
fn sqlite_write_throughput() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (executions, concurrency) in [(2_000u64, 1u64), (10_000, 16), (20_000, 64)] {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("bench.db")).unwrap();
        let (writes, execs) = rt.block_on(measure(store, executions, concurrency));
        println!(
            "sqlite store: {executions} noop executions, {concurrency} concurrent tasks: \
             {writes:.0} writes/s, {execs:.0} executions/s (file-backed, WAL, synchronous=NORMAL)"
        );
    }
}
