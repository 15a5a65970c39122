//! The execution pipeline end to end: real SQLite store on a temp dir, real runners, the core
//! pack from the repository.

use gale_engine::{
    CancelOutcome, Engine, EngineEvent, EngineOptions, Error, ExecutionRequest, ManualClock,
};
use gale_model::{ExecStatus, Execution};
use gale_runners::Registry;
use gale_store::sqlite::SqliteStore;
use gale_store::DynStore;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn core_pack() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/core")
}

fn opts(dir: &Path) -> EngineOptions {
    EngineOptions {
        workers: 4,
        data_dir: dir.to_path_buf(),
        lease: Duration::from_secs(30),
        ..EngineOptions::default()
    }
}

fn open_store(dir: &Path) -> DynStore {
    Arc::new(SqliteStore::open(dir.join("gale.db")).unwrap())
}

/// An engine over a fresh database with the core pack registered (not started).
async fn engine_in(dir: &Path) -> Engine {
    let engine = Engine::new(open_store(dir), Registry::with_builtin(), opts(dir));
    let rep = engine.register_pack_dir(&core_pack(), true).await.unwrap();
    assert!(rep.actions >= 2, "{rep:?}");
    engine
}

async fn started(dir: &Path) -> Engine {
    let e = engine_in(dir).await;
    e.start().await.unwrap();
    e
}

fn req(action: &str, params: Value) -> ExecutionRequest {
    let Value::Object(parameters) = params else {
        panic!("params must be an object")
    };
    ExecutionRequest {
        action_ref: action.into(),
        parameters,
        user: "stanley".into(),
        ..Default::default()
    }
}

async fn wait_for(
    engine: &Engine,
    id: &str,
    pred: impl Fn(&Execution) -> bool,
    within: Duration,
) -> Execution {
    let deadline = Instant::now() + within;
    loop {
        let e = engine.get_execution(id).await.unwrap();
        if pred(&e) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting; last status {} ({:?})",
            e.status,
            e.result
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_done(engine: &Engine, id: &str) -> Execution {
    wait_for(
        engine,
        id,
        |e| e.status.is_completed(),
        Duration::from_secs(20),
    )
    .await
}

fn statuses(e: &Execution) -> Vec<ExecStatus> {
    e.log.iter().map(|l| l.status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noop_succeeds_with_the_full_log() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let created = engine
        .request_execution(req("core.noop", json!({})))
        .await
        .unwrap();
    assert_eq!(created.status, ExecStatus::Requested);
    assert_eq!(created.context["user"], "stanley");
    assert_eq!(created.context["pack"], "core");
    assert_eq!(created.action.action_ref, "core.noop");
    assert_eq!(created.runner.name, "noop");
    assert!(created
        .web_url
        .as_deref()
        .unwrap()
        .ends_with(&format!("/#/history/{}/general", created.id)));
    let done = wait_done(&engine, &created.id).await;
    assert_eq!(done.status, ExecStatus::Succeeded, "{:?}", done.result);
    assert_eq!(
        statuses(&done),
        [
            ExecStatus::Requested,
            ExecStatus::Scheduled,
            ExecStatus::Running,
            ExecStatus::Succeeded
        ]
    );
    assert!(done.end_timestamp.is_some());
    assert!(done.elapsed_seconds.unwrap() >= 0.0);
    assert_eq!(
        done.liveaction.runner_info["pid"],
        json!(std::process::id())
    );
    assert!(done.liveaction.runner_info["hostname"]
        .as_str()
        .is_some_and(|h| !h.is_empty()));
    assert_eq!(engine.get_execution("last").await.unwrap().id, done.id);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_echo_streams_output_and_sets_action_env() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let mut events = engine.subscribe();
    let e = engine
        .request_execution(req(
            "core.local",
            json!({"cmd": "echo hello; echo \"$ST2_ACTION_PACK_NAME $ST2_ACTION_EXECUTION_ID $ST2_ACTION_API_URL ${#ST2_ACTION_AUTH_TOKEN}\" >&2"}),
        ))
        .await
        .unwrap();
    let done = wait_done(&engine, &e.id).await;
    assert_eq!(done.status, ExecStatus::Succeeded, "{:?}", done.result);
    assert_eq!(done.result["stdout"], "hello");
    assert_eq!(done.result["return_code"], 0);
    let stderr = done.result["stderr"].as_str().unwrap();
    assert_eq!(
        stderr,
        format!("core {} http://127.0.0.1:9101/api/v1 32", e.id)
    );
    let out = engine.store().list_output(&e.id, None).await.unwrap();
    let text: String = out.iter().map(|o| o.data.as_str()).collect();
    assert!(text.contains("hello\n"), "{text:?}");
    assert!(out.iter().any(|o| o.output_type == "stderr"));
    assert!(out
        .iter()
        .all(|o| o.action_ref == "core.local" && o.runner_ref == "local-shell-cmd"));
    let mut saw = (false, false, false);
    while let Ok(ev) = events.try_recv() {
        match ev {
            EngineEvent::ExecutionCreated(x) if x.id == e.id => saw.0 = true,
            EngineEvent::ExecutionUpdated(x)
                if x.id == e.id && x.status == ExecStatus::Succeeded =>
            {
                saw.1 = true
            }
            EngineEvent::Output(o) if o.execution_id == e.id => saw.2 = true,
            _ => {}
        }
    }
    assert_eq!(saw, (true, true, true));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_command_fails_with_return_code() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let e = engine
        .request_execution(req("core.local", json!({"cmd": "echo oops >&2; exit 3"})))
        .await
        .unwrap();
    let done = wait_done(&engine, &e.id).await;
    assert_eq!(done.status, ExecStatus::Failed);
    assert_eq!(done.result["return_code"], 3);
    assert_eq!(done.result["stderr"], "oops");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_ends_in_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let e = engine
        .request_execution(req("core.local", json!({"cmd": "sleep 10", "timeout": 1})))
        .await
        .unwrap();
    let done = wait_done(&engine, &e.id).await;
    assert_eq!(done.status, ExecStatus::Timeout, "{:?}", done.result);
    assert_eq!(
        done.result["error"],
        "Action failed to complete in 1 seconds"
    );
    assert_eq!(done.result["return_code"], -9);
    assert!(done.elapsed_seconds.unwrap() < 5.0);
    engine.shutdown().await;
}

fn alive(pid: i32) -> bool {
    // Signal 0 only checks existence; a reaped process is gone.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_of_a_running_command_kills_it_and_ends_canceled() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let engine = started(dir.path()).await;
    let cmd = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
    let e = engine
        .request_execution(req("core.local", json!({"cmd": cmd})))
        .await
        .unwrap();
    wait_for(
        &engine,
        &e.id,
        |x| x.status == ExecStatus::Running,
        Duration::from_secs(10),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid: i32 = loop {
        if let Ok(s) = std::fs::read_to_string(&pidfile) {
            if let Ok(p) = s.trim().parse() {
                break p;
            }
        }
        assert!(Instant::now() < deadline, "command never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(alive(pid));
    let started_cancel = Instant::now();
    match engine.cancel_execution(&e.id, "admin").await.unwrap() {
        CancelOutcome::Canceled(x) => assert_eq!(x.status, ExecStatus::Canceling),
        other => panic!("{other:?}"),
    }
    let done = wait_done(&engine, &e.id).await;
    assert!(started_cancel.elapsed() < Duration::from_secs(10));
    assert_eq!(done.status, ExecStatus::Canceled);
    assert_eq!(
        done.result,
        json!({"message": "Action canceled by user.", "user": "admin"})
    );
    assert_eq!(done.context["cancelled_by"], "admin");
    assert_eq!(
        statuses(&done),
        [
            ExecStatus::Requested,
            ExecStatus::Scheduled,
            ExecStatus::Running,
            ExecStatus::Canceling,
            ExecStatus::Canceled
        ]
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "sleep {pid} survived the cancel");
    // Canceling again returns the object unchanged.
    match engine.cancel_execution(&e.id, "admin").await.unwrap() {
        CancelOutcome::Canceled(x) => assert_eq!(x, done),
        other => panic!("{other:?}"),
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_of_a_queued_execution_is_immediate_and_it_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_in(dir.path()).await; // not started: stays requested
    let e = engine
        .request_execution(req("core.noop", json!({})))
        .await
        .unwrap();
    let x = match engine.cancel_execution(&e.id, "bob").await.unwrap() {
        CancelOutcome::Canceled(x) => x,
        other => panic!("{other:?}"),
    };
    assert_eq!(x.status, ExecStatus::Canceled);
    assert_eq!(
        x.result,
        json!({"message": "Action canceled by user.", "user": "bob"})
    );
    assert_eq!(statuses(&x), [ExecStatus::Requested, ExecStatus::Canceled]);
    engine.start().await.unwrap();
    // The queue item is consumed without running anything.
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.store().queue_len().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "queue item never consumed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(engine.get_execution(&e.id).await.unwrap(), x);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_of_a_completed_execution_reports_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let e = engine
        .request_execution(req("core.noop", json!({})))
        .await
        .unwrap();
    wait_done(&engine, &e.id).await;
    match engine.cancel_execution(&e.id, "bob").await.unwrap() {
        CancelOutcome::AlreadyCompleted(x) => assert_eq!(x.status, ExecStatus::Succeeded),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        engine.cancel_execution("nope", "bob").await,
        Err(Error::NotFound { .. })
    ));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_execution_waits_for_its_delay() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let mut r = req("core.noop", json!({}));
    r.delay_ms = Some(400);
    let e = engine.request_execution(r).await.unwrap();
    assert_eq!(e.delay, Some(400));
    wait_for(
        &engine,
        &e.id,
        |x| x.status == ExecStatus::Delayed,
        Duration::from_secs(2),
    )
    .await;
    let done = wait_done(&engine, &e.id).await;
    assert_eq!(done.status, ExecStatus::Succeeded);
    assert_eq!(
        statuses(&done),
        [
            ExecStatus::Requested,
            ExecStatus::Delayed,
            ExecStatus::Scheduled,
            ExecStatus::Running,
            ExecStatus::Succeeded
        ]
    );
    let ran_at = done.log[2].timestamp;
    assert!(ran_at - done.start_timestamp >= chrono::Duration::milliseconds(400));
    // Woken by the due time, not by a slow poll.
    assert!(
        done.elapsed_seconds.unwrap() < 1.5,
        "{:?}",
        done.elapsed_seconds
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_delays_each_run_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let mut ids = Vec::new();
    for ms in [600u64, 300, 900] {
        let mut r = req("core.noop", json!({}));
        r.delay_ms = Some(ms);
        ids.push((ms, engine.request_execution(r).await.unwrap().id));
    }
    for (ms, id) in ids {
        let done = wait_done(&engine, &id).await;
        assert_eq!(done.status, ExecStatus::Succeeded);
        let waited = (done.log[2].timestamp - done.start_timestamp).num_milliseconds();
        assert!(waited >= ms as i64, "{ms}: ran after {waited} ms");
        // Woken at the due time rather than at the next poll (200 ms) — generous bound for a
        // loaded machine.
        assert!(waited < ms as i64 + 150, "{ms}: ran after {waited} ms");
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_follows_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(gale_model::now()));
    let engine = Engine::with_clock(
        open_store(dir.path()),
        Registry::with_builtin(),
        opts(dir.path()),
        clock.clone(),
    );
    engine.register_pack_dir(&core_pack(), true).await.unwrap();
    engine.start().await.unwrap();
    let mut r = req("core.noop", json!({}));
    r.delay_ms = Some(3_600_000);
    let e = engine.request_execution(r).await.unwrap();
    wait_for(
        &engine,
        &e.id,
        |x| x.status == ExecStatus::Delayed,
        Duration::from_secs(2),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        engine.get_execution(&e.id).await.unwrap().status,
        ExecStatus::Delayed
    );
    clock.advance(Duration::from_secs(3601));
    let done = wait_done(&engine, &e.id).await;
    assert_eq!(done.status, ExecStatus::Succeeded);
    assert_eq!(done.elapsed_seconds, Some(3601.0));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_abandons_running_and_runs_requested() {
    let dir = tempfile::tempdir().unwrap();
    let (running_id, canceling_id, requested_id) = {
        let engine = engine_in(dir.path()).await; // never started: nothing runs
        let a = engine
            .request_execution(req("core.noop", json!({})))
            .await
            .unwrap();
        let b = engine
            .request_execution(req("core.noop", json!({})))
            .await
            .unwrap();
        let c = engine
            .request_execution(req("core.noop", json!({})))
            .await
            .unwrap();
        // Simulate a process that died while running a and canceling b.
        for (x, path) in [
            (&a, &[ExecStatus::Scheduled, ExecStatus::Running][..]),
            (
                &b,
                &[
                    ExecStatus::Scheduled,
                    ExecStatus::Running,
                    ExecStatus::Canceling,
                ][..],
            ),
        ] {
            let mut upd = x.clone();
            for s in path {
                assert!(upd.transition(*s, gale_model::now()));
            }
            assert!(engine
                .store()
                .update_execution(&upd, ExecStatus::Requested)
                .await
                .unwrap());
        }
        (a.id, b.id, c.id)
    };
    let engine = Engine::new(
        open_store(dir.path()),
        Registry::with_builtin(),
        opts(dir.path()),
    );
    engine.start().await.unwrap();
    let a = engine.get_execution(&running_id).await.unwrap();
    assert_eq!(a.status, ExecStatus::Abandoned);
    assert_eq!(
        engine.get_execution(&canceling_id).await.unwrap().status,
        ExecStatus::Canceled
    );
    let c = wait_done(&engine, &requested_id).await;
    assert_eq!(c.status, ExecStatus::Succeeded);
    // The old queue items of a and b are dropped, not run.
    let deadline = Instant::now() + Duration::from_secs(5);
    while engine.store().queue_len().await.unwrap() > 0 {
        assert!(
            Instant::now() < deadline,
            "stale queue items never consumed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(engine.get_execution(&running_id).await.unwrap(), a);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_in(dir.path()).await;
    let err = engine
        .request_execution(req("core.nope", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ActionNotFound(_)));
    assert_eq!(err.to_string(), "Action \"core.nope\" cannot be found.");

    let err = engine
        .request_execution(req("core.local", json!({"cmd": "true", "foo": 1})))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Params(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Additional properties are not allowed ('foo' was unexpected)"
    );

    let err = engine
        .request_execution(req("core.local", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Params(_)), "{err:?}");
    assert_eq!(err.to_string(), "'cmd' is a required property");

    let err = engine
        .request_execution(req("core.local", json!({"cmd": "true", "sudo": true})))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Override of immutable parameter(s) ['sudo'] is unsupported."
    );

    // None of those created an execution.
    assert!(engine.store().last_execution().await.unwrap().is_none());

    // A disabled action.
    let mut noop = engine
        .store()
        .get_action("core.noop")
        .await
        .unwrap()
        .unwrap();
    noop.enabled = false;
    engine.store().upsert_action(noop).await.unwrap();
    engine.invalidate_cache();
    let err = engine
        .request_execution(req("core.noop", json!({})))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to execute. Action \"core.noop\" is disabled."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_failure_still_creates_a_failed_execution() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_in(dir.path()).await;
    let err = engine
        .request_execution(req("core.local", json!({"cmd": "echo {{ nope }}"})))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Params(_)), "{err:?}");
    let last = engine
        .store()
        .last_execution()
        .await
        .unwrap()
        .expect("a failed execution");
    assert_eq!(last.status, ExecStatus::Failed);
    assert_eq!(last.result["error"], json!(err.to_string()));
    assert_eq!(statuses(&last), [ExecStatus::Requested, ExecStatus::Failed]);
    assert_eq!(engine.store().queue_len().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_runner_fails_with_the_spec_message() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let mut rt = engine
        .store()
        .get_runner_type("noop")
        .await
        .unwrap()
        .unwrap();
    rt.enabled = false;
    engine.store().upsert_runner_type(rt).await.unwrap();
    engine.invalidate_cache();
    let e = engine
        .request_execution(req("core.noop", json!({})))
        .await
        .unwrap();
    let done = wait_done(&engine, &e.id).await;
    assert_eq!(done.status, ExecStatus::Failed);
    assert_eq!(
        done.result["error"],
        "Runner \"noop\" has been disabled by the administrator."
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_stored_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let e = engine
        .request_execution(req(
            "core.local",
            json!({"cmd": "echo first; sleep 2; echo second"}),
        ))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = engine
            .store()
            .list_output(&e.id, Some("stdout"))
            .await
            .unwrap();
        if !out.is_empty() {
            assert_eq!(out[0].data, "first\n");
            assert_eq!(out.len(), 1);
            break;
        }
        assert!(Instant::now() < deadline, "no output while running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        engine.get_execution(&e.id).await.unwrap().status,
        ExecStatus::Running
    );
    let done = wait_done(&engine, &e.id).await;
    assert_eq!(done.result["stdout"], "first\nsecond");
    let out = engine.store().list_output(&e.id, None).await.unwrap();
    let text: String = out.iter().map(|o| o.data.as_str()).collect();
    assert_eq!(text, "first\nsecond\n");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_are_linked_to_their_parent() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_in(dir.path()).await;
    let parent = engine
        .request_execution(req("core.noop", json!({})))
        .await
        .unwrap();
    let mut r = req("core.noop", json!({}));
    r.user = "system".into();
    r.parent = Some(parent.id.clone());
    let child = engine.request_execution(r).await.unwrap();
    assert_eq!(child.parent.as_deref(), Some(parent.id.as_str()));
    assert_eq!(child.context["parent"]["execution_id"], json!(parent.id));
    assert_eq!(child.context["user"], "stanley", "the parent's user wins");
    let p = engine.get_execution(&parent.id).await.unwrap();
    assert_eq!(p.children, vec![child.id.clone()]);
    // A child is canceled through canceling, even when queued.
    match engine.cancel_execution(&child.id, "stanley").await.unwrap() {
        CancelOutcome::Canceled(x) => assert_eq!(x.status, ExecStatus::Canceling),
        other => panic!("{other:?}"),
    }
    engine.start().await.unwrap();
    let done = wait_done(&engine, &child.id).await;
    assert_eq!(done.status, ExecStatus::Canceled);
    assert_eq!(done.result["message"], "Action canceled by user.");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_an_upsert_and_honours_fail_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_in(dir.path()).await;
    let before = engine
        .store()
        .get_action("core.local")
        .await
        .unwrap()
        .unwrap();
    engine.register_pack_dir(&core_pack(), true).await.unwrap();
    let after = engine
        .store()
        .get_action("core.local")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.id, after.id, "upsert keeps the id");

    let pack = dir.path().join("demo");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: demo\nname: demo\nversion: 1.0.0\nauthor: me\ndescription: d\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/good.yaml"),
        "name: good\nrunner_type: noop\nentry_point: ''\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/bad.yaml"),
        "name: bad\nrunner_type: no-such-runner\n",
    )
    .unwrap();
    let err = engine.register_pack_dir(&pack, true).await.unwrap_err();
    assert!(matches!(err, Error::Pack(_)));
    assert!(
        err.to_string().starts_with("Failed to register action"),
        "{err}"
    );
    assert!(
        engine
            .store()
            .get_action("demo.good")
            .await
            .unwrap()
            .is_none(),
        "nothing registered on failure"
    );
    let rep = engine.register_pack_dir(&pack, false).await.unwrap();
    assert_eq!(rep.actions, 1);
    assert_eq!(rep.errors.len(), 1, "{rep:?}");
    assert!(engine
        .store()
        .get_action("demo.good")
        .await
        .unwrap()
        .is_some());
    assert!(engine.store().get_pack("demo").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_abandons_running_executions() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let e = engine
        .request_execution(req("core.local", json!({"cmd": "sleep 30"})))
        .await
        .unwrap();
    wait_for(
        &engine,
        &e.id,
        |x| x.status == ExecStatus::Running,
        Duration::from_secs(10),
    )
    .await;
    let t = Instant::now();
    engine.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(
        engine.get_execution(&e.id).await.unwrap().status,
        ExecStatus::Abandoned
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_noops_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let report = gale_engine::bench::bench_noop(
        &engine,
        &gale_engine::bench::BenchOptions {
            executions: 300,
            concurrency: 8,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.succeeded, 300, "{report}");
    engine.shutdown().await;
}

/// `cargo test -p gale-engine --release --test pipeline -- --ignored --nocapture bench`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_noop_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let engine = started(dir.path()).await;
    let n: usize = std::env::var("GALE_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    // Warm-up, then the measured run.
    let warm = gale_engine::bench::BenchOptions {
        executions: 200,
        ..Default::default()
    };
    gale_engine::bench::bench_noop(&engine, &warm)
        .await
        .unwrap();
    let report = gale_engine::bench::bench_noop(
        &engine,
        &gale_engine::bench::BenchOptions {
            executions: n,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    println!("bench core.noop: {report}");
    // Closed loop: latency without queueing behind a backlog.
    for concurrency in [1, 8] {
        let closed = gale_engine::bench::BenchOptions {
            executions: 1000,
            concurrency,
            wait_each: true,
            ..Default::default()
        };
        let report = gale_engine::bench::bench_noop(&engine, &closed)
            .await
            .unwrap();
        println!("bench core.noop (closed loop, {concurrency} requesters): {report}");
    }
    engine.shutdown().await;
    let _: Map<String, Value> = Map::new();
}

mod custom_runners {
    //! Runners written for the test: a JSON-string result, a panic, and a runner type that is
    //! in the store but not in the registry.
    use super::*;
    use async_trait::async_trait;
    use gale_model::{Action, RunnerType};
    use gale_runners::{RunContext, RunOutcome, RunRequest, Runner};

    fn runner_type(name: &str) -> RunnerType {
        serde_json::from_value(
            json!({"name": name, "uid": RunnerType::uid_for(name), "runner_parameters": {}}),
        )
        .unwrap()
    }

    struct JsonString;
    #[async_trait]
    impl Runner for JsonString {
        fn runner_type(&self) -> RunnerType {
            runner_type("json-string")
        }
        async fn run(&self, req: RunRequest, _ctx: RunContext) -> RunOutcome {
            RunOutcome {
                status: ExecStatus::Succeeded,
                result: json!(format!(
                    "{{\"id\": \"{}\", \"n\": [1, 2]}}",
                    req.execution_id
                )),
            }
        }
    }

    struct Panicky;
    #[async_trait]
    impl Runner for Panicky {
        fn runner_type(&self) -> RunnerType {
            runner_type("panicky")
        }
        async fn run(&self, _req: RunRequest, _ctx: RunContext) -> RunOutcome {
            panic!("boom")
        }
    }

    async fn action(engine: &Engine, name: &str, runner: &str) {
        let a: Action = serde_json::from_value(json!({
            "name": name, "pack": "test", "ref": format!("test.{name}"), "uid": format!("action:test:{name}"),
            "runner_type": runner, "parameters": {}
        }))
        .unwrap();
        engine.store().upsert_action(a).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn json_string_results_panics_and_unknown_runners() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Registry::with_builtin();
        reg.register(Arc::new(JsonString));
        reg.register(Arc::new(Panicky));
        let engine = Engine::new(open_store(dir.path()), reg, opts(dir.path()));
        engine.register_pack_dir(&core_pack(), true).await.unwrap();
        engine
            .store()
            .upsert_runner_type(runner_type("ghost"))
            .await
            .unwrap();
        action(&engine, "json", "json-string").await;
        action(&engine, "panic", "panicky").await;
        action(&engine, "ghost", "ghost").await;
        engine.start().await.unwrap();

        let e = engine
            .request_execution(req("test.json", json!({})))
            .await
            .unwrap();
        let done = wait_done(&engine, &e.id).await;
        assert_eq!(done.result, json!({"id": e.id, "n": [1, 2]}));
        assert_eq!(
            done.result_size,
            serde_json::to_string(&done.result).unwrap().len() as u64
        );

        let e = engine
            .request_execution(req("test.panic", json!({})))
            .await
            .unwrap();
        let done = wait_done(&engine, &e.id).await;
        assert_eq!(done.status, ExecStatus::Failed);
        assert_eq!(done.result["error"], "runner \"panicky\" panicked: boom");

        let e = engine
            .request_execution(req("test.ghost", json!({})))
            .await
            .unwrap();
        let done = wait_done(&engine, &e.id).await;
        assert_eq!(done.status, ExecStatus::Failed);
        assert_eq!(done.result["error"], "Runner \"ghost\" is not registered.");

        // The pool survived the panic.
        let e = engine
            .request_execution(req("core.noop", json!({})))
            .await
            .unwrap();
        assert_eq!(
            wait_done(&engine, &e.id).await.status,
            ExecStatus::Succeeded
        );
        engine.shutdown().await;
    }
}
