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
    process_next(store, worker).await;
}

/// Claim whatever is next (possibly another task's execution) and run it, as a worker does.
/// False when nothing was claimable.
async fn process_next(store: &SqliteStore, worker: &str) -> bool {
    let claimed = store
        .claim(worker, gale_model::now(), Duration::from_secs(30), 1)
        .await
        .unwrap();
    let any = !claimed.is_empty();
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
    any
}

/// CPU seconds (user + system, all threads) used by this process so far. The machine is shared,
/// so work per CPU-second is steadier than work per wall-clock second.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

struct Figures {
    writes_per_s: f64,
    executions_per_s: f64,
    writes_per_cpu_s: f64,
}

async fn measure(store: SqliteStore, executions: u64, concurrency: u64) -> Figures {
    let next = Arc::new(AtomicU64::new(0));
    let cpu_start = cpu_seconds();
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
    // Items nobody claimed: a task whose item was taken by another found the rest leased.
    while process_next(&store, "drain").await {}
    assert_eq!(store.queue_len().await.unwrap(), 0);
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_start;
    let done = store
        .executions_with_status(&[ExecStatus::Succeeded])
        .await
        .unwrap()
        .len() as f64;
    let writes = done * WRITES_PER_EXECUTION as f64;
    Figures {
        writes_per_s: writes / secs,
        executions_per_s: done / secs,
        writes_per_cpu_s: writes / cpu,
    }
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
        let f = rt.block_on(measure(store, executions, concurrency));
        println!(
            "sqlite store: {executions} noop executions, {concurrency} concurrent tasks: \
             {:.0} writes/s, {:.0} executions/s, {:.0} writes per CPU-second \
             (file-backed, WAL, synchronous=NORMAL)",
            f.writes_per_s, f.executions_per_s, f.writes_per_cpu_s
        );
    }
}
