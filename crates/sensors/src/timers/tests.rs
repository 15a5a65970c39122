use super::*;
use serde_json::json;

struct Clock(Mutex<DateTime<Utc>>);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn setup(start: &str) -> (Arc<Timers>, Arc<Clock>, Arc<MemoryTimerSink>) {
    let clock = Arc::new(Clock(Mutex::new(at(start))));
    let c = clock.clone();
    let sink = Arc::new(MemoryTimerSink::default());
    let timers = Timers::new(
        TimerOptions {
            local_tz: chrono_tz::UTC,
        },
        Arc::new(move || *c.0.lock().unwrap()),
        sink.clone(),
    );
    (timers, clock, sink)
}

impl Clock {
    fn set(&self, s: &str) {
        *self.0.lock().unwrap() = at(s);
    }
    fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += Duration::seconds(secs);
    }
}

fn trigger(id: &str, ty: &str, params: Value) -> Trigger {
    Trigger {
        id: id.into(),
        trigger_ref: format!("core.{id}"),
        uid: String::new(),
        name: id.into(),
        pack: "core".into(),
        trigger_type: ty.into(),
        parameters: params.as_object().unwrap().clone(),
        description: None,
        ref_count: 1,
    }
}

#[tokio::test]
async fn interval_fires_one_interval_after_scheduling_then_every_interval() {
    let (t, clock, sink) = setup("2024-01-10T12:00:00Z");
    let added = t
        .add(trigger(
            "t1",
            INTERVAL_TIMER,
            json!({"unit": "seconds", "delta": 30}),
        ))
        .unwrap();
    assert_eq!(
        added,
        Added::Scheduled {
            next: at("2024-01-10T12:00:30Z")
        }
    );
    assert_eq!(t.tick().await, 0, "not immediately");
    clock.advance(29);
    assert_eq!(t.tick().await, 0);
    clock.advance(1);
    assert_eq!(t.tick().await, 1);
    let f = sink.take().remove(0);
    assert_eq!(
        f.payload,
        json!({"executed_at": "2024-01-10 12:00:30+00:00", "schedule": null})
    );
    assert_eq!(f.trace_tag, "st2.IntervalTimer-t1");
    assert_eq!(f.trigger.id, "t1");
    assert_eq!(t.tick().await, 0, "a fire happens once");
    clock.advance(30);
    assert_eq!(t.tick().await, 1);
    // half a second late is within the grace time; the payload says when it really ran
    *clock.0.lock().unwrap() += Duration::milliseconds(30_500);
    assert_eq!(t.tick().await, 1);
    assert_eq!(
        sink.take()[1].payload["executed_at"],
        "2024-01-10 12:01:30.500000+00:00"
    );
    // minutes unit
    t.add(trigger(
        "t2",
        INTERVAL_TIMER,
        json!({"unit": "minutes", "delta": 2}),
    ))
    .unwrap();
    assert_eq!(
        t.list().iter().find(|s| s.trigger.id == "t2").unwrap().next,
        at("2024-01-10T12:03:30.5Z")
    );
}

#[tokio::test]
async fn missed_fires_are_dropped_and_coalesced() {
    let (t, clock, sink) = setup("2024-01-10T12:00:00Z");
    t.add(trigger(
        "t",
        INTERVAL_TIMER,
        json!({"unit": "seconds", "delta": 10}),
    ))
    .unwrap();
    // 35 s pass without a tick: the due run (12:00:10) is 25 s late -> dropped; the next is
    // on the original phase, after now.
    clock.advance(35);
    assert_eq!(t.tick().await, 0);
    assert!(sink.take().is_empty());
    assert_eq!(t.next_due(), Some(at("2024-01-10T12:00:40Z")));
    clock.advance(5);
    assert_eq!(t.tick().await, 1);
}

#[tokio::test]
async fn cron_in_time_zones_across_dst() {
    let (t, clock, sink) = setup("2024-03-09T12:00:00Z");
    t.add(trigger(
        "c",
        CRON_TIMER,
        json!({"hour": 9, "minute": 0, "timezone": "America/New_York"}),
    ))
    .unwrap();
    // 09:00 EST = 14:00 UTC on the 9th; after the spring change 09:00 EDT = 13:00 UTC.
    assert_eq!(t.next_due(), Some(at("2024-03-09T14:00:00Z")));
    clock.set("2024-03-09T14:00:00Z");
    assert_eq!(t.tick().await, 1);
    assert_eq!(t.next_due(), Some(at("2024-03-10T13:00:00Z")));
    clock.set("2024-03-10T13:00:00.200Z");
    assert_eq!(t.tick().await, 1);
    let fires = sink.take();
    assert_eq!(fires[0].payload["executed_at"], "2024-03-09 14:00:00+00:00");
    assert_eq!(
        fires[1].payload["executed_at"],
        "2024-03-10 13:00:00.200000+00:00"
    );
    assert_eq!(fires[1].trace_tag, "st2.CronTimer-c");
    // without timezone: the engine's local zone (UTC here)
    t.add(trigger("u", CRON_TIMER, json!({"minute": "*/5"})))
        .unwrap();
    assert_eq!(
        t.list().iter().find(|s| s.trigger.id == "u").unwrap().next,
        at("2024-03-10T13:05:00Z")
    );
}

#[tokio::test]
async fn cron_every_second() {
    let (t, clock, sink) = setup("2024-01-10T12:00:00Z");
    t.add(trigger("c", CRON_TIMER, json!({}))).unwrap();
    for _ in 0..3 {
        assert_eq!(t.tick().await, 1);
        clock.advance(1);
    }
    assert_eq!(sink.take().len(), 3);
}

#[tokio::test]
async fn date_timers_fire_once_and_past_dates_are_not_scheduled() {
    let (t, clock, sink) = setup("2024-01-10T12:00:00Z");
    let added = t
        .add(trigger(
            "d",
            DATE_TIMER,
            json!({"date": "2024-01-10 12:00:05"}),
        ))
        .unwrap();
    assert_eq!(
        added,
        Added::Scheduled {
            next: at("2024-01-10T12:00:05Z")
        }
    );
    clock.advance(5);
    assert_eq!(t.tick().await, 1);
    assert_eq!(sink.take()[0].trace_tag, "st2.DateTimer-d");
    assert!(t.list().is_empty(), "a date timer fires once");
    clock.advance(10);
    assert_eq!(t.tick().await, 0);
    // already past: not scheduled
    let r = t
        .add(trigger(
            "p",
            DATE_TIMER,
            json!({"date": "2024-01-01T00:00:00Z"}),
        ))
        .unwrap();
    assert!(matches!(r, Added::NotScheduled { .. }), "{r:?}");
    assert!(t.list().is_empty());
    // naive dates use the trigger's zone; offsets are honoured
    let r = t
        .add(trigger(
            "z",
            DATE_TIMER,
            json!({"date": "2030-01-01 09:00:00", "timezone": "Europe/Paris"}),
        ))
        .unwrap();
    assert_eq!(
        r,
        Added::Scheduled {
            next: at("2030-01-01T08:00:00Z")
        }
    );
    let r = t
        .add(trigger(
            "o",
            DATE_TIMER,
            json!({"date": "2030-01-01T00:00:00+02:00"}),
        ))
        .unwrap();
    assert_eq!(
        r,
        Added::Scheduled {
            next: at("2029-12-31T22:00:00Z")
        }
    );
}

#[tokio::test]
async fn removal_and_update() {
    let (t, clock, sink) = setup("2024-01-10T12:00:00Z");
    t.add(trigger(
        "a",
        INTERVAL_TIMER,
        json!({"unit": "seconds", "delta": 5}),
    ))
    .unwrap();
    t.add(trigger(
        "b",
        INTERVAL_TIMER,
        json!({"unit": "seconds", "delta": 5}),
    ))
    .unwrap();
    assert!(t.remove("a"));
    assert!(!t.remove("a"));
    clock.advance(5);
    assert_eq!(t.tick().await, 1);
    assert_eq!(sink.take()[0].trigger.id, "b");
    // update = add again with new parameters: the schedule restarts
    t.add(trigger(
        "b",
        INTERVAL_TIMER,
        json!({"unit": "minutes", "delta": 1}),
    ))
    .unwrap();
    assert_eq!(t.list().len(), 1);
    clock.advance(5);
    assert_eq!(t.tick().await, 0);
    clock.advance(55);
    assert_eq!(t.tick().await, 1);
}

#[test]
fn parameter_validation_names_the_field() {
    let o = TimerOptions {
        local_tz: chrono_tz::UTC,
    };
    let e = |ty: &str, p: Value| {
        parse_spec(ty, p.as_object().unwrap(), &o)
            .unwrap_err()
            .to_string()
    };
    assert!(e(INTERVAL_TIMER, json!({"unit": "seconds", "delta": "30"})).contains("\"delta\""));
    assert!(
        e(INTERVAL_TIMER, json!({"unit": "seconds"})).contains("'delta' is a required property")
    );
    assert!(e(INTERVAL_TIMER, json!({"unit": "fortnights", "delta": 1})).contains("\"unit\""));
    assert!(e(
        INTERVAL_TIMER,
        json!({"unit": "seconds", "delta": 1, "x": 1})
    )
    .contains("'x' was unexpected"));
    assert!(e(INTERVAL_TIMER, json!({"unit": "seconds", "delta": 0})).contains("\"delta\""));
    assert!(e(DATE_TIMER, json!({})).contains("'date' is a required property"));
    assert!(e(DATE_TIMER, json!({"date": "tomorrow"})).contains("\"date\""));
    assert!(e(CRON_TIMER, json!({"hour": "25"}))
        .contains("the last value (25) is higher than the maximum value (23)"));
    assert!(e(CRON_TIMER, json!({"timezone": "Mars/Olympus"})).contains("\"timezone\""));
    assert!(e(CRON_TIMER, json!({"minutes": 5})).contains("'minutes' was unexpected"));
    assert!(matches!(
        parse_spec("core.st2.webhook", &Map::new(), &o),
        Err(TimerError::NotATimer(_))
    ));
    // integers and strings both accepted in cron fields
    parse_spec(
        CRON_TIMER,
        json!({"hour": "5", "minute": 0}).as_object().unwrap(),
        &o,
    )
    .unwrap();
}

#[test]
fn python_str_of_datetimes() {
    assert_eq!(
        python_str(&at("2024-01-10T12:35:00Z")),
        "2024-01-10 12:35:00+00:00"
    );
    assert_eq!(
        python_str(&at("2024-01-10T12:35:00.001234Z")),
        "2024-01-10 12:35:00.001234+00:00"
    );
}

#[tokio::test]
async fn run_loop_fires_on_the_clock_and_stops_on_cancel() {
    let (t, clock, sink) = setup("2024-01-10T12:00:00Z");
    t.add(trigger(
        "a",
        INTERVAL_TIMER,
        json!({"unit": "seconds", "delta": 1}),
    ))
    .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(
        t.clone()
            .run(std::time::Duration::from_millis(10), cancel.clone()),
    );
    clock.advance(1);
    for _ in 0..200 {
        if !sink.fires.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(sink.take().len(), 1);
    cancel.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn sync_reconciles_with_the_stored_triggers() {
    let (t, clock, _sink) = setup("2024-01-10T12:00:00Z");
    let a = trigger("a", INTERVAL_TIMER, json!({"unit": "seconds", "delta": 10}));
    let b = trigger("b", CRON_TIMER, json!({"hour": 5}));
    let bad = trigger("bad", CRON_TIMER, json!({"hour": 25}));
    let hook = trigger("hook", "core.st2.webhook", json!({"url": "x"}));
    let refused = t.sync(vec![a.clone(), b.clone(), bad, hook]);
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0.id, "bad");
    let ids = |t: &Timers| {
        t.list()
            .into_iter()
            .map(|s| s.trigger.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&t), ["a", "b"]);
    // unchanged triggers keep their phase
    clock.advance(4);
    t.sync(vec![a.clone(), b.clone()]);
    assert_eq!(t.list()[0].next, at("2024-01-10T12:00:10Z"));
    // changed parameters reschedule; missing triggers are removed
    let a2 = trigger("a", INTERVAL_TIMER, json!({"unit": "seconds", "delta": 20}));
    t.sync(vec![a2]);
    assert_eq!(ids(&t), ["a"]);
    assert_eq!(t.list()[0].next, at("2024-01-10T12:00:24Z"));
    t.sync(vec![]);
    assert!(t.list().is_empty());
}
