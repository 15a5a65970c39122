//! The events service against a real engine on an in-memory store: rules from the API and
//! from packs, webhooks, enforcements, traces, action triggers, re-emit and crash recovery.

use gale_engine::{Engine, EngineOptions};
use gale_events::webhook::WebhookRequest;
use gale_events::{EmitContext, Events, EventsOptions, RuleRequest};
use gale_model::events::{EnforcementStatus, TriggerInstanceStatus, TriggerType};
use gale_model::ExecStatus;
use gale_store::{EnforcementFilter, TriggerInstanceFilter};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

struct Env {
    engine: Engine,
    events: Events,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(gale_store::sqlite::SqliteStore::open_in_memory().unwrap());
    let opts = EngineOptions {
        data_dir: dir.path().to_path_buf(),
        workers: 4,
        ..Default::default()
    };
    let engine = Engine::new(store, gale_runners::Registry::with_builtin(), opts);
    engine.register_runner_types().await.unwrap();
    let core = gale_packs::builtin::core()
        .extract_to(&dir.path().join("packs"))
        .unwrap();
    engine.register_pack_dir(&core, false).await.unwrap();
    engine.start().await.unwrap();
    let events = Events::new(engine.clone(), EventsOptions::default());
    events.start().await.unwrap();
    Env {
        engine,
        events,
        _dir: dir,
    }
}

async fn wait_for<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn custom_type(ev: &Events) {
    let mut tt = TriggerType::new("ex", "event");
    tt.payload_schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    ev.register_trigger_type(tt).await.unwrap();
}

async fn enforcements(ev: &Events, ti: &str) -> Vec<gale_model::events::RuleEnforcement> {
    ev.store()
        .list_rule_enforcements(&EnforcementFilter {
            trigger_instance: Some(ti.to_string()),
            ..Default::default()
        })
        .await
        .unwrap()
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_renders_payload_into_a_local_execution() {
    let env = env().await;
    let ev = &env.events;
    custom_type(ev).await;
    let rule = ev
        .create_rule(RuleRequest::api(
            json!({"name": "echo", "pack": "ex", "enabled": true,
                   "trigger": {"type": "ex.event"},
                   "criteria": {"trigger.n": {"type": "gt", "pattern": 1}},
                   "action": {"ref": "core.local",
                              "parameters": {"cmd": "echo {{ trigger.msg }} {{ action_context.rule.name }}"}}}),
            "admin",
        ))
        .await
        .unwrap();
    assert_eq!(rule.trigger.r#ref.as_deref(), Some("ex.event"));
    assert_eq!(rule.context["user"], json!("admin"));
    let ti = ev
        .emit(
            "ex.event",
            json!({"n": 2, "msg": "hi"}),
            EmitContext::default(),
        )
        .await
        .unwrap()
        .unwrap();
    let store = ev.store().clone();
    let id = ti.id.clone();
    wait_for("processed", || {
        let (store, id) = (store.clone(), id.clone());
        async move {
            store
                .get_trigger_instance(&id)
                .await
                .unwrap()
                .unwrap()
                .status
                == TriggerInstanceStatus::Processed
        }
    })
    .await;
    let enf = enforcements(ev, &ti.id).await;
    assert_eq!(enf.len(), 1);
    assert_eq!(enf[0].status, EnforcementStatus::Succeeded, "{enf:?}");
    let exec_id = enf[0].execution_id.clone().unwrap();
    let engine = env.engine.clone();
    let eid = exec_id.clone();
    wait_for("execution done", || {
        let (engine, eid) = (engine.clone(), eid.clone());
        async move {
            engine
                .get_execution(&eid)
                .await
                .unwrap()
                .status
                .is_completed()
        }
    })
    .await;
    let exec = env.engine.get_execution(&exec_id).await.unwrap();
    assert_eq!(exec.status, ExecStatus::Succeeded, "{:?}", exec.result);
    assert_eq!(exec.parameters["cmd"], json!("echo hi echo"));
    assert_eq!(exec.context["rule"]["name"], json!("echo"));
    assert_eq!(exec.context["trigger_instance"]["id"], json!(ti.id));
    assert_eq!(exec.context["user"], json!("stanley"));
    // The snapshots StackStorm's create_execution_object adds, and the store filters on them.
    assert_eq!(exec.trigger_instance.as_ref().unwrap()["id"], json!(ti.id));
    assert_eq!(exec.trigger.as_ref().unwrap()["ref"], json!("ex.event"));
    assert!(exec.trigger.as_ref().unwrap().get("ref_count").is_none());
    assert_eq!(
        exec.trigger_type.as_ref().unwrap()["ref"],
        json!("ex.event")
    );
    assert_eq!(exec.rule.as_ref().unwrap()["ref"], json!("ex.echo"));
    assert_eq!(exec.rule.as_ref().unwrap()["id"], json!(rule.id));
    for filter in [
        gale_store::ExecutionFilter {
            trigger_instance: Some(ti.id.clone()),
            ..Default::default()
        },
        gale_store::ExecutionFilter {
            rule: Some("echo".into()),
            ..Default::default()
        },
    ] {
        let (found, _) = ev.store().list_executions(&filter).await.unwrap();
        assert_eq!(
            found.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec![exec_id.as_str()]
        );
    }
    let trace = ev
        .store()
        .trace_of_trigger_instance(&ti.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exec.context["trace_context"]["id_"], json!(trace.id));
    assert_eq!(trace.rules.len(), 1);
    assert_eq!(trace.action_executions[0].object_id, exec_id);
    assert_eq!(trace.trace_tag, format!("trigger_instance-{}", ti.id));

    // The completion emits an actiontrigger into the same trace.
    let store = ev.store().clone();
    wait_for("actiontrigger", || {
        let store = store.clone();
        async move {
            let (list, _) = store
                .list_trigger_instances(&TriggerInstanceFilter {
                    trigger: vec!["core.st2.generic.actiontrigger".into()],
                    ..Default::default()
                })
                .await
                .unwrap();
            list.len() == 1
        }
    })
    .await;
    let (list, _) = ev
        .store()
        .list_trigger_instances(&TriggerInstanceFilter {
            trigger: vec!["core.st2.generic.actiontrigger".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(list[0].payload["execution_id"], json!(exec_id));
    assert_eq!(list[0].payload["action_ref"], json!("core.local"));
    assert_eq!(list[0].payload["status"], json!("succeeded"));
    let t2 = ev
        .store()
        .trace_of_trigger_instance(&list[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t2.id, trace.id);

    // Criteria false: processed, no enforcement.
    let ti = ev
        .emit("ex.event", json!({"n": 0}), EmitContext::default())
        .await
        .unwrap()
        .unwrap();
    ev.process_pending().await.unwrap();
    wait_for("processed", || {
        let (store, id) = (ev.store().clone(), ti.id.clone());
        async move {
            store
                .get_trigger_instance(&id)
                .await
                .unwrap()
                .unwrap()
                .status
                .is_completed()
        }
    })
    .await;
    assert!(enforcements(ev, &ti.id).await.is_empty());
    env.events.shutdown().await;
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_recorded_and_the_engine_keeps_going() {
    let env = env().await;
    let ev = &env.events;
    custom_type(ev).await;
    for (name, criteria, action) in [
        (
            "typeerr",
            json!({"trigger.s": {"type": "lt", "pattern": 3}}),
            json!({"ref": "core.noop"}),
        ),
        (
            "render",
            json!({}),
            json!({"ref": "core.local", "parameters": {"cmd": "{{ trigger.missing.x }}"}}),
        ),
        (
            "rawbad",
            json!({}),
            json!({"ref": "core.local", "parameters": {"cmd": "{{ trigger.missing.x }}",
                                                       "timeout": "{{ trigger.s }}"}}),
        ),
        ("ok", json!({}), json!({"ref": "core.noop"})),
    ] {
        ev.create_rule(RuleRequest::api(
            json!({"name": name, "pack": "ex", "enabled": true, "trigger": {"type": "ex.event"},
                   "criteria": criteria, "action": action}),
            "admin",
        ))
        .await
        .unwrap();
    }
    let ti = ev
        .emit("ex.event", json!({"s": "x"}), EmitContext::default())
        .await
        .unwrap()
        .unwrap();
    ev.process_pending().await.unwrap();
    let store = ev.store().clone();
    let id = ti.id.clone();
    wait_for("processed", || {
        let (store, id) = (store.clone(), id.clone());
        async move {
            store
                .get_trigger_instance(&id)
                .await
                .unwrap()
                .unwrap()
                .status
                .is_completed()
        }
    })
    .await;
    let enf = enforcements(ev, &ti.id).await;
    let by = |r: &str| enf.iter().find(|e| e.rule_ref() == r).unwrap().clone();
    let t = by("ex.typeerr");
    assert_eq!(t.status, EnforcementStatus::Failed);
    assert!(t.failure_reason.unwrap().starts_with(&format!(
        "Failed to match rule \"ex.typeerr\" against trigger instance \"{}\"",
        ti.id
    )));
    let r = by("ex.render");
    assert_eq!(r.status, EnforcementStatus::Failed);
    assert!(r.execution_id.is_none());
    let reason = r.failure_reason.unwrap();
    assert!(
        reason.contains("Failed to render parameter \"cmd\""),
        "{reason}"
    );
    // StackStorm still leaves a failed execution with the unrendered parameters.
    let (failed, _) = ev
        .store()
        .list_executions(&gale_store::ExecutionFilter {
            rule: Some("render".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let f = &failed[0];
    assert_eq!(f.status, ExecStatus::Failed);
    assert_eq!(f.parameters["cmd"], json!("{{ trigger.missing.x }}"));
    assert_eq!(f.result["error"], json!(reason));
    assert_eq!(f.context["rule"]["name"], json!("render"));
    assert_eq!(f.context["user"], json!("stanley"));
    assert_eq!(f.trigger_instance.as_ref().unwrap()["id"], json!(ti.id));
    // Unrendered parameters that fail the action's schema: that is the reason, no execution.
    let raw = by("ex.rawbad");
    assert_eq!(raw.status, EnforcementStatus::Failed);
    let reason = raw.failure_reason.unwrap();
    assert!(reason.contains("is not of type 'integer'"), "{reason}");
    let (none, _) = ev
        .store()
        .list_executions(&gale_store::ExecutionFilter {
            rule: Some("rawbad".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(by("ex.ok").status, EnforcementStatus::Succeeded);
    env.events.shutdown().await;
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refuses_bad_rules_naming_the_field() {
    let env = env().await;
    let ev = &env.events;
    custom_type(ev).await;
    ev.set_trigger_params_check(Arc::new(|ty, params| {
        if ty == "core.st2.CronTimer" && params.get("hour") == Some(&json!("25")) {
            return Err("the last value (25) is higher than the maximum value (23)".into());
        }
        Ok(())
    }));
    let bad = |doc: Value| RuleRequest::api(doc, "admin");
    let cases = [
        (
            json!({"name": "a", "trigger": {"type": "core.st2.CronTimer", "parameters": {"hour": "25"}},
                   "action": {"ref": "core.noop"}}),
            "trigger.parameters: the last value (25) is higher than the maximum value (23)",
        ),
        (
            json!({"name": "a", "trigger": {"type": "ex.event"}, "action": {"ref": "core.noop"},
                "criteria": {"trigger.n": {"type": "bogus", "pattern": 1}}}),
            "operator bogus not in list of allowed operators",
        ),
        (
            json!({"name": "a", "trigger": {"type": "ex.nope"}, "action": {"ref": "core.noop"}}),
            "A simple trigger should have been created",
        ),
        (
            json!({"name": "a", "trigger": {"type": "ex.event"}, "action": {"ref": "core.nope"}}),
            "Action \"core.nope\" doesn't exist",
        ),
        (
            json!({"name": "a", "trigger": {"type": "core.st2.webhook", "parameters": {"uri": "x"}},
                "action": {"ref": "core.noop"}}),
            "trigger.parameters",
        ),
        (
            json!({"name": "a", "trigger": {"type": "core.st2.IntervalTimer",
                                            "parameters": {"unit": "fortnights", "delta": 1}},
                "action": {"ref": "core.noop"}}),
            "trigger.parameters.unit: 'fortnights' is not one of",
        ),
        (
            json!({"name": 5, "trigger": {"type": "ex.event"}, "action": {"ref": "core.noop"}}),
            "name",
        ),
    ];
    for (doc, want) in cases {
        let e = ev.create_rule(bad(doc)).await.unwrap_err();
        assert_eq!(e.http_status(), 400, "{e}");
        assert!(e.to_string().contains(want), "{e} does not contain {want}");
    }
    let ok = json!({"name": "a", "trigger": {"type": "ex.event"}, "action": {"ref": "core.noop"}});
    let r = ev.create_rule(bad(ok.clone())).await.unwrap();
    assert_eq!(r.r#ref, "default.a");
    assert!(!r.enabled, "rules default to disabled");
    assert_eq!(
        ev.create_rule(bad(ok)).await.unwrap_err().http_status(),
        409
    );
    env.events.shutdown().await;
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_generic_and_custom_with_shared_triggers() {
    let env = env().await;
    let ev = &env.events;
    custom_type(ev).await;
    for name in ["w1", "w2"] {
        ev.create_rule(RuleRequest::api(
            json!({"name": name, "enabled": true,
                   "trigger": {"type": "core.st2.webhook", "parameters": {"url": "/hooks/a/"}},
                   "criteria": {"trigger.headers['X-Github-Event']": {"type": "equals", "pattern": "push"}},
                   "action": {"ref": "core.noop"}}),
            "admin",
        ))
        .await
        .unwrap();
    }
    let watch = ev.watch_triggers();
    let triggers = ev.webhook_triggers();
    assert_eq!(
        triggers.len(),
        1,
        "two rules with the same parameters share a trigger"
    );
    assert_eq!(triggers[0].ref_count, 2);
    assert!(triggers[0].uid.starts_with("trigger:core:"));
    let fired = ev
        .fire_webhook(WebhookRequest {
            hook: "hooks/a".into(),
            body: json!({"ref": "main"}),
            headers: vec![
                ("x-github-event".into(), "push".into()),
                ("x-auth-token".into(), "secret".into()),
                ("st2-trace-tag".into(), "my-tag".into()),
            ],
        })
        .await
        .unwrap();
    assert_eq!(fired.len(), 1);
    assert_eq!(
        fired[0].payload["headers"],
        json!({"X-Github-Event": "push"})
    );
    assert_eq!(
        fired[0].payload["headers_lower"],
        json!({"x-github-event": "push"})
    );
    ev.process_pending().await.unwrap();
    let store = ev.store().clone();
    let id = fired[0].id.clone();
    wait_for("processed", || {
        let (store, id) = (store.clone(), id.clone());
        async move {
            store
                .get_trigger_instance(&id)
                .await
                .unwrap()
                .unwrap()
                .status
                .is_completed()
        }
    })
    .await;
    assert_eq!(enforcements(ev, &fired[0].id).await.len(), 2);
    let trace = ev
        .store()
        .trace_of_trigger_instance(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trace.trace_tag, "my-tag");

    let e = ev
        .fire_webhook(WebhookRequest {
            hook: "nope".into(),
            body: json!({}),
            headers: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.http_status(), e.to_string().as_str()),
        (404, "Webhook nope not registered with st2")
    );

    // Generic: payload validated against the type's schema.
    let ok = ev
        .fire_webhook(WebhookRequest {
            hook: "st2".into(),
            body: json!({"trigger": "ex.event", "payload": {"n": 1}}),
            headers: vec![],
        })
        .await
        .unwrap();
    assert_eq!(ok[0].trigger, "ex.event");
    for (body, want) in [
        (
            json!({"trigger": "ex.event", "payload": {"n": "x"}}),
            "Trigger payload validation failed",
        ),
        (json!({"payload": {}}), "Trigger not specified."),
        (json!([1]), "Webhook body needs to be an object, got: array"),
        (
            json!({"trigger": "ex.unknown", "payload": {}}),
            "Trigger payload validation failed",
        ),
    ] {
        let e = ev
            .fire_webhook(WebhookRequest {
                hook: "st2".into(),
                body,
                headers: vec![],
            })
            .await
            .unwrap_err();
        assert_eq!(e.http_status(), 400);
        assert!(e.to_string().contains(want), "{e}");
    }

    // Deleting both rules deletes the shared trigger and unregisters the URL.
    assert!(ev.delete_rule("default.w1").await.unwrap());
    assert!(watch.has_changed().unwrap(), "trigger watchers are told");
    assert_eq!(ev.webhook_triggers()[0].ref_count, 1);
    assert!(ev.delete_rule("default.w2").await.unwrap());
    assert!(ev.webhook_triggers().is_empty());
    env.events.shutdown().await;
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_emit_adds_the_original_id() {
    let env = env().await;
    let ev = &env.events;
    custom_type(ev).await;
    let ti = ev
        .emit("ex.event", json!({"n": 1}), EmitContext::default())
        .await
        .unwrap()
        .unwrap();
    // No rule on the trigger: stored processed at once, nothing for the processor to do.
    assert_eq!(ti.status, TriggerInstanceStatus::Processed);
    let (new, payload) = ev.re_emit(&ti.id).await.unwrap();
    assert_eq!(
        payload,
        json!({"n": 1, "__context": {"original_id": ti.id}})
    );
    assert_eq!(new.unwrap().trigger, "ex.event");
    assert_eq!(ev.re_emit("nope").await.unwrap_err().http_status(), 404);
    // Unknown trigger: nothing stored.
    assert!(ev
        .emit("ex.none", json!({}), EmitContext::default())
        .await
        .unwrap()
        .is_none());
    env.events.shutdown().await;
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_instances_are_processed_once_after_restart() {
    let env = env().await;
    let ev = &env.events;
    custom_type(ev).await;
    ev.create_rule(RuleRequest::api(
        json!({"name": "r", "pack": "ex", "enabled": true, "trigger": {"type": "ex.event"},
               "action": {"ref": "core.noop"}}),
        "admin",
    ))
    .await
    .unwrap();
    // Stop the processor, then leave instances as a crash would: one `pending`, one
    // `processing` whose execution was already requested, one `processing` without.
    ev.shutdown().await;
    let store = ev.store().clone();
    let mut ids = Vec::new();
    for n in 0..3 {
        let ti = ev
            .emit("ex.event", json!({"n": n}), EmitContext::default())
            .await
            .unwrap()
            .unwrap();
        ids.push(ti.id);
    }
    let claimed = store.claim_trigger_instances(2).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let rule = store.get_rule("ex.r").await.unwrap().unwrap();
    let mut ctx = serde_json::Map::new();
    ctx.insert("rule".into(), json!({"id": rule["id"], "name": "r"}));
    ctx.insert(
        "trigger_instance".into(),
        json!({"id": ids[0], "name": null}),
    );
    let already = env
        .engine
        .request_execution(gale_engine::ExecutionRequest {
            action_ref: "core.noop".into(),
            user: "stanley".into(),
            context: ctx,
            ..Default::default()
        })
        .await
        .unwrap();

    let restarted = Events::new(env.engine.clone(), EventsOptions::default());
    restarted.start().await.unwrap();
    restarted.process_pending().await.unwrap();
    for id in &ids {
        // The pending one may be in the running processor's hands rather than ours.
        let (st, i) = (store.clone(), id.clone());
        wait_for("processed", || {
            let (st, i) = (st.clone(), i.clone());
            async move {
                st.get_trigger_instance(&i)
                    .await
                    .unwrap()
                    .unwrap()
                    .status
                    .is_completed()
            }
        })
        .await;
        let ti = store.get_trigger_instance(id).await.unwrap().unwrap();
        assert_eq!(ti.status, TriggerInstanceStatus::Processed);
        let enf = enforcements(&restarted, id).await;
        assert_eq!(enf.len(), 1, "exactly one enforcement for {id}");
    }
    let first = enforcements(&restarted, &ids[0]).await;
    assert_eq!(first[0].execution_id.as_deref(), Some(already.id.as_str()));
    let (execs, _) = store
        .list_executions(&gale_store::ExecutionFilter {
            action: Some("core.noop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(execs.len(), 3, "one execution per instance, none twice");
    restarted.shutdown().await;
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_rules_and_trigger_types_register_with_the_pack() {
    let env = env().await;
    let ev = &env.events;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ex");
    std::fs::create_dir_all(p.join("rules")).unwrap();
    std::fs::create_dir_all(p.join("triggers")).unwrap();
    std::fs::write(
        p.join("pack.yaml"),
        "ref: ex\nname: ex\ndescription: d\nversion: 1.0.0\nauthor: a\nemail: a@example.com\n",
    )
    .unwrap();
    std::fs::write(p.join("triggers/event.yaml"), "name: event\n").unwrap();
    std::fs::write(
        p.join("rules/on_event.yaml"),
        "name: on_event\npack: ex\nenabled: true\ntrigger: {type: ex.event}\naction: {ref: core.noop}\n",
    )
    .unwrap();
    std::fs::write(
        p.join("rules/bad.yaml"),
        "name: bad\ntrigger: {type: ex.event}\naction: {ref: core.missing}\n",
    )
    .unwrap();
    let report = ev.register_pack_dir(&p, false).await.unwrap();
    assert_eq!((report.trigger_types, report.rules), (1, 1));
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert!(report.errors[0].contains("core.missing"));
    assert!(ev.register_pack_dir(&p, true).await.is_err());
    // Registering again replaces (no conflict).
    let again = ev.register_pack_dir(&p, false).await.unwrap();
    assert_eq!(again.rules, 1);
    let rule = ev.store().get_rule("ex.on_event").await.unwrap().unwrap();
    assert_eq!(rule["metadata_file"], json!("rules/on_event.yaml"));
    env.events.shutdown().await;
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_overrides_set_rule_enabled() {
    let env = env().await;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ex");
    std::fs::create_dir_all(p.join("rules")).unwrap();
    std::fs::create_dir_all(dir.path().join("overrides")).unwrap();
    std::fs::write(
        p.join("pack.yaml"),
        "ref: ex\nname: ex\ndescription: d\nversion: 1.0.0\nauthor: a\nemail: a@example.com\n",
    )
    .unwrap();
    for name in ["a", "b"] {
        std::fs::write(
            p.join(format!("rules/{name}.yaml")),
            format!("name: {name}\nenabled: true\ntrigger: {{type: core.st2.generic.actiontrigger}}\naction: {{ref: core.noop}}\n"),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("overrides/ex.yaml"),
        "rules:\n  defaults: {enabled: false}\n  exceptions:\n    b: {enabled: true}\n",
    )
    .unwrap();
    let opts = EventsOptions {
        overrides_dir: Some(dir.path().join("overrides")),
        ..Default::default()
    };
    let ev = Events::new(env.engine.clone(), opts);
    ev.register_pack_dir(&p, true).await.unwrap();
    let enabled = |r: Value| r["enabled"].as_bool().unwrap();
    assert!(!enabled(
        ev.store().get_rule("ex.a").await.unwrap().unwrap()
    ));
    assert!(enabled(ev.store().get_rule("ex.b").await.unwrap().unwrap()));
    env.events.shutdown().await;
    env.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_failure_is_not_requested_twice_after_restart() {
    let env = env().await;
    let ev = &env.events;
    custom_type(ev).await;
    ev.create_rule(RuleRequest::api(
        json!({"name": "bad", "pack": "ex", "enabled": true, "trigger": {"type": "ex.event"},
               "action": {"ref": "core.local", "parameters": {"cmd": "{{ trigger.nope.x }}"}}}),
        "admin",
    ))
    .await
    .unwrap();
    // A crash after the failed execution was stored, before the enforcement was.
    ev.shutdown().await;
    let store = ev.store().clone();
    let ti = ev
        .emit("ex.event", json!({"n": 1}), EmitContext::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.claim_trigger_instances(1).await.unwrap().len(), 1);
    let rule = store.get_rule("ex.bad").await.unwrap().unwrap();
    let mut ctx = serde_json::Map::new();
    ctx.insert("rule".into(), json!({"id": rule["id"], "name": "bad"}));
    ctx.insert(
        "trigger_instance".into(),
        json!({"id": ti.id, "name": null}),
    );
    let failed = env
        .engine
        .request_failed_execution(
            gale_engine::ExecutionRequest {
                action_ref: "core.local".into(),
                user: "stanley".into(),
                parameters: serde_json::from_value(json!({"cmd": "{{ trigger.nope.x }}"})).unwrap(),
                context: ctx,
                ..Default::default()
            },
            "the first reason",
        )
        .await
        .unwrap();
    assert_eq!(failed.status, ExecStatus::Failed);

    let restarted = Events::new(env.engine.clone(), EventsOptions::default());
    restarted.start().await.unwrap();
    restarted.process_pending().await.unwrap();
    let (st, i) = (store.clone(), ti.id.clone());
    wait_for("processed", || {
        let (st, i) = (st.clone(), i.clone());
        async move {
            st.get_trigger_instance(&i)
                .await
                .unwrap()
                .unwrap()
                .status
                .is_completed()
        }
    })
    .await;
    let enf = enforcements(&restarted, &ti.id).await;
    assert_eq!(enf.len(), 1, "{enf:?}");
    assert_eq!(enf[0].status, EnforcementStatus::Failed);
    assert!(enf[0].execution_id.is_none());
    assert_eq!(enf[0].failure_reason.as_deref(), Some("the first reason"));
    let (execs, _) = store
        .list_executions(&gale_store::ExecutionFilter {
            rule: Some("bad".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(execs.len(), 1, "not requested twice");
    restarted.shutdown().await;
    env.engine.shutdown().await;
}
