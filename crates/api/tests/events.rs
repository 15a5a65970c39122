//! Event-side API tests through the real router: webhooks (auth, content types, 400/404/413,
//! nothing stored on a bad body), rules CRUD, trigger types, trigger instances with re-emit,
//! rule enforcements and traces.

use axum::http::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

mod common;
use common::*;

/// The events tests need no opt-in webhook auth.
async fn setup() -> Env {
    setup_with(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_rule_flow_and_bad_inputs() {
    let env = setup().await;
    let rule = json!({"name": "hook", "pack": "ex", "enabled": true,
        "trigger": {"type": "core.st2.webhook", "parameters": {"url": "sample"}},
        "criteria": {"trigger.body.n": {"type": "equals", "pattern": 1}},
        "action": {"ref": "core.local", "parameters": {"cmd": "echo {{ trigger.body.msg }}"}}});
    let r = env
        .call(Method::POST, "/api/v1/rules", Some(rule.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    assert_eq!(created["ref"], json!("ex.hook"));
    assert!(created["trigger"]["ref"]
        .as_str()
        .unwrap()
        .starts_with("core."));
    assert_eq!(created["context"]["user"], json!("st2admin"));
    let r = env.call(Method::POST, "/api/v1/rules", Some(rule)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // Auth: none → 401; token in the query string works.
    let r = env
        .raw(
            Method::POST,
            "/api/v1/webhooks/sample",
            &[],
            Some("{}".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(env.instances().await.is_empty());
    let uri = format!("/api/v1/webhooks/sample?x-auth-token={}", env.token);
    let r = env
        .raw(
            Method::POST,
            &uri,
            &[("content-type", "application/json")],
            Some(r#"{"n": 1, "msg": "hello"}"#.into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json(), json!({"n": 1, "msg": "hello"}));
    let list = env.instances().await;
    assert_eq!(list.len(), 1);
    let ti = list[0]["id"].as_str().unwrap().to_string();

    // The rule fires: an enforcement with an execution whose cmd came from the payload.
    let mut exec_id = None;
    for _ in 0..300 {
        let r = env
            .call(
                Method::GET,
                &format!("/api/v1/ruleenforcements?trigger_instance={ti}"),
                None,
            )
            .await;
        if let Some(e) = r.json().as_array().and_then(|a| a.first()).cloned() {
            exec_id = e["execution_id"].as_str().map(str::to_string);
            assert_eq!(e["rule"]["ref"], json!("ex.hook"));
            assert_eq!(e["status"], json!("succeeded"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let exec_id = exec_id.expect("an enforcement with an execution");
    let exec = env.state.engine().get_execution(&exec_id).await.unwrap();
    assert_eq!(exec.parameters["cmd"], json!("echo hello"));
    let r = env
        .call(
            Method::GET,
            &format!("/api/v1/traces?execution={exec_id}"),
            None,
        )
        .await;
    let traces = r.json();
    assert_eq!(traces.as_array().unwrap().len(), 1, "{traces}");
    assert!(traces[0]["trace_tag"]
        .as_str()
        .unwrap()
        .starts_with("webhook-sample-"));

    // Bad bodies: 400, nothing stored.
    let h = [
        ("x-auth-token", env.token.as_str()),
        ("content-type", "application/json"),
    ];
    let r = env
        .raw(
            Method::POST,
            "/api/v1/webhooks/sample",
            &h,
            Some("{bad".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.fault().starts_with("Failed to parse request body"),
        "{}",
        r.text
    );
    let r = env
        .raw(
            Method::POST,
            "/api/v1/webhooks/sample",
            &h,
            Some("5".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let hx = [
        ("x-auth-token", env.token.as_str()),
        ("content-type", "application/xml"),
    ];
    let r = env
        .raw(
            Method::POST,
            "/api/v1/webhooks/sample",
            &hx,
            Some("<a/>".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.fault(),
        "Failed to parse request body: Unsupported Content-Type: \"application/xml\""
    );
    let big = format!(
        "{{\"a\": \"{}\"}}",
        "x".repeat(gale_api::routes::webhooks::WEBHOOK_BODY_LIMIT)
    );
    let r = env
        .raw(Method::POST, "/api/v1/webhooks/sample", &h, Some(big))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = env
        .raw(
            Method::POST,
            "/api/v1/webhooks/nothere",
            &h,
            Some("{}".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.fault(), "Webhook nothere not registered with st2");
    let r = env
        .raw(
            Method::POST,
            "/api/v1/webhooks/st2",
            &h,
            Some(r#"{"payload": {}}"#.into()),
        )
        .await;
    assert_eq!(
        (r.status, r.fault().as_str()),
        (StatusCode::BAD_REQUEST, "Trigger not specified.")
    );
    // Form bodies are dicts of lists.
    let hf = [
        ("x-auth-token", env.token.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let r = env
        .raw(
            Method::POST,
            "/api/v1/webhooks/sample",
            &hf,
            Some("n=1&n=2".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.json(), json!({"n": ["1", "2"]}));
    let hook_trigger = created["trigger"]["ref"].clone();
    let stored = env
        .instances()
        .await
        .into_iter()
        .filter(|t| t["trigger"] == hook_trigger)
        .count();
    assert_eq!(stored, 2, "only the two accepted webhooks are stored");

    // Re-emit.
    let r = env
        .call(
            Method::POST,
            &format!("/api/v1/triggerinstances/{ti}/re_emit"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json()["message"],
        json!(format!("Trigger instance {ti} succesfully re-sent."))
    );
    assert_eq!(r.json()["payload"]["__context"]["original_id"], json!(ti));

    // GET /webhooks lists the trigger without ref_count.
    let r = env.call(Method::GET, "/api/v1/webhooks", None).await;
    let hooks = r.json();
    assert_eq!(hooks[0]["parameters"], json!({"url": "sample"}));
    assert!(hooks[0].get("ref_count").is_none());

    // Rules: filters, update, delete.
    let r = env.call(Method::GET, "/api/v1/rules?pack=ex", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = env
        .call(Method::GET, "/api/v1/rules?pack=other", None)
        .await;
    assert!(r.json().as_array().unwrap().is_empty());
    let mut doc = created.clone();
    doc["enabled"] = json!(false);
    let r = env
        .call(Method::PUT, "/api/v1/rules/ex.hook", Some(doc))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["enabled"], json!(false));
    assert_eq!(r.json()["id"], created["id"]);
    let r = env
        .call(Method::POST, "/api/v1/rules", Some(json!({"name": "x", "trigger": {"type": "core.st2.webhook", "parameters": {"url": "a"}}, "action": {"ref": "core.noop"}, "criteria": {"k": {"type": "nope", "pattern": 1}}})))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.fault().contains("operator nope not in list"),
        "{}",
        r.text
    );
    let r = env
        .call(Method::DELETE, "/api/v1/rules/ex.hook", None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = env.call(Method::GET, "/api/v1/rules/ex.hook", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = env.call(Method::GET, "/api/v1/webhooks", None).await;
    assert!(
        r.json().as_array().unwrap().is_empty(),
        "the URL is gone with its last rule"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_types_and_triggers() {
    let env = setup().await;
    let r = env
        .call(Method::GET, "/api/v1/triggertypes?pack=core", None)
        .await;
    let refs: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ref"].as_str().unwrap().to_string())
        .collect();
    assert!(refs.contains(&"core.st2.webhook".to_string()));
    assert!(refs.contains(&"core.st2.generic.actiontrigger".to_string()));
    let r = env
        .call(
            Method::POST,
            "/api/v1/triggertypes",
            Some(json!({"name": "ev", "pack": "ex", "payload_schema": {"type": "object"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["uid"], json!("trigger_type:ex:ev"));
    let r = env.call(Method::GET, "/api/v1/triggers/ex.ev", None).await;
    assert_eq!(r.status, StatusCode::OK, "shadow trigger: {}", r.text);
    assert_eq!(r.json()["type"], json!("ex.ev"));
    let r = env
        .call(
            Method::POST,
            "/api/v1/webhooks/st2",
            Some(json!({"trigger": "ex.ev", "payload": {"a": 1}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let r = env
        .call(
            Method::GET,
            "/api/v1/triggerinstances?trigger=ex.ev,other",
            None,
        )
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.json()[0]["payload"], json!({"a": 1}));
    let r = env.call(Method::GET, "/api/v1/ruletypes", None).await;
    assert_eq!(r.json()[1]["name"], json!("backstop"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_action_parameters_are_masked_in_rules() {
    let env = setup().await;
    let r = env
        .call(
            Method::POST,
            "/api/v1/rules",
            Some(json!({"name": "sec", "trigger": {"type": "core.st2.generic.actiontrigger"},
                        "action": {"ref": "core.http", "parameters": {"url": "http://x", "password": "p4ss"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = env
        .call(Method::GET, "/api/v1/rules/default.sec", None)
        .await;
    let params = &r.json()["action"]["parameters"];
    assert_eq!(params["password"], json!("********"), "{params}");
    assert_eq!(params["url"], json!("http://x"));
    let r = env.call(Method::GET, "/api/v1/rules", None).await;
    assert_eq!(
        r.json()[0]["action"]["parameters"]["password"],
        json!("********")
    );
}
