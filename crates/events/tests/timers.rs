//! The timer engine wired to the events service: a rule on a timer trigger schedules it, fires
//! on the injected clock become trigger instances that run the rule's action, deleting the
//! rule unschedules it, and bad timer parameters are refused at rule creation.

use chrono::{DateTime, Utc};
use gale_engine::{Engine, EngineOptions};
use gale_events::{Events, EventsOptions, RuleRequest};
use gale_sensors::timers::TimerOptions;
use gale_store::{ExecutionFilter, TriggerInstanceFilter};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

async fn env(dir: &std::path::Path) -> (Engine, Events) {
    let store = Arc::new(gale_store::sqlite::SqliteStore::open_in_memory().unwrap());
    let opts = EngineOptions {
        data_dir: dir.to_path_buf(),
        workers: 2,
        ..Default::default()
    };
    let engine = Engine::new(store, gale_runners::Registry::with_builtin(), opts);
    engine.register_runner_types().await.unwrap();
    let core = gale_packs::builtin::core()
        .extract_to(&dir.join("packs"))
        .unwrap();
    engine.register_pack_dir(&core, false).await.unwrap();
    engine.start().await.unwrap();
    let events = Events::new(engine.clone(), EventsOptions::default());
    events.start().await.unwrap();
    (engine, events)
}

async fn count_instances(ev: &Events, trigger: &str) -> usize {
    ev.store()
        .list_trigger_instances(&TriggerInstanceFilter {
            trigger: vec![trigger.to_string()],
            ..Default::default()
        })
        .await
        .unwrap()
        .0
        .len()
}

async fn wait_count(ev: &Events, trigger: &str, want: usize) {
    for _ in 0..300 {
        if count_instances(ev, trigger).await >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        count_instances(ev, trigger).await,
        want,
        "instances of {trigger}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_rule_fires_on_the_clock_until_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, ev) = env(dir.path()).await;
    let t0: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
    let clock = Arc::new(Mutex::new(t0));
    let c = clock.clone();
    let now = Arc::new(move || *c.lock().unwrap());
    let cancel = CancellationToken::new();
    let timers = ev
        .start_timers(
            TimerOptions::default(),
            now,
            Duration::from_millis(10),
            cancel.clone(),
        )
        .await
        .unwrap();

    // Refused at create time, naming the field.
    let err = ev
        .create_rule(RuleRequest::api(
            json!({"name": "bad", "pack": "ex",
                   "trigger": {"type": "core.st2.CronTimer", "parameters": {"hour": "25"}},
                   "action": {"ref": "core.noop"}}),
            "admin",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), 400);
    assert!(err.to_string().contains("trigger.parameters"), "{err}");
    assert!(err.to_string().contains("hour"), "{err}");

    let rule = ev
        .create_rule(RuleRequest::api(
            json!({"name": "tick", "pack": "ex", "enabled": true,
                   "trigger": {"type": "core.st2.IntervalTimer",
                               "parameters": {"unit": "seconds", "delta": 10}},
                   "action": {"ref": "core.noop"}}),
            "admin",
        ))
        .await
        .unwrap();
    let trigger = rule.trigger.r#ref.clone().unwrap();
    // The watcher picks the new trigger up.
    for _ in 0..300 {
        if !timers.list().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let listed = timers.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].trigger.trigger_ref, trigger);
    assert_eq!(listed[0].next, t0 + chrono::Duration::seconds(10));
    assert!(ev.timers().is_some());

    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count_instances(&ev, &trigger).await, 0, "not due yet");
    for n in 1..=3 {
        *clock.lock().unwrap() = t0 + chrono::Duration::seconds(10 * n);
        wait_count(&ev, &trigger, n as usize).await;
    }
    let instances = ev
        .store()
        .list_trigger_instances(&TriggerInstanceFilter {
            trigger: vec![trigger.clone()],
            ..Default::default()
        })
        .await
        .unwrap()
        .0;
    let payloads: Vec<_> = instances
        .iter()
        .map(|t| t.payload["executed_at"].clone())
        .collect();
    assert!(
        payloads.contains(&json!("2030-01-01 00:00:20+00:00")),
        "{payloads:?}"
    );
    // Each fire ran the rule's action.
    let mut execs = 0;
    for _ in 0..300 {
        execs = engine
            .store()
            .list_executions(&ExecutionFilter {
                rule: Some("tick".into()),
                ..Default::default()
            })
            .await
            .unwrap()
            .0
            .len();
        if execs == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(execs, 3);

    // Deleting the rule deletes its trigger and the timer.
    assert!(ev.delete_rule("ex.tick").await.unwrap());
    for _ in 0..300 {
        if timers.list().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(timers.list().is_empty());
    *clock.lock().unwrap() = t0 + chrono::Duration::seconds(40);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count_instances(&ev, &trigger).await, 3);
    cancel.cancel();
}
