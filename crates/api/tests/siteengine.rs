//! `POST /api/v1/webhooks/siteengine` through the real router: auth (token, API key, the
//! opt-in Basic form), normalisation into `siteengine.*` instances, 400 naming the field with
//! nothing stored, the trace tag, and deduplication by idempotency key, also after a restart.

use axum::http::{Method, StatusCode};
use gale_api::{ApiConfig, AppState};
use serde_json::{json, Value};

mod common;
use common::*;

const ALARM: &str = include_str!("../../siteengine/data/examples/alarm-webhook.json");
const HOOK: &str = "/api/v1/webhooks/siteengine";

impl Env {
    async fn post_hook(&self, headers: &[(&str, &str)], body: &str) -> Resp {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        self.raw(Method::POST, HOOK, &h, Some(body.to_string()))
            .await
    }
    async fn api_key(&self) -> String {
        let r = self
            .call(Method::POST, "/api/v1/apikeys", Some(json!({})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()["key"].as_str().unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_is_normalised_dispatched_and_deduplicated() {
    let env = setup_with(false).await;
    let key = env.api_key().await;

    // Auth as every webhook: nothing, then a Basic credential (not enabled), are refused.
    let r = env.post_hook(&[], ALARM).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let basic = base64_basic("siteengine", &key);
    let r = env.post_hook(&[("authorization", &basic)], ALARM).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(env.instances().await.is_empty());

    let r = env
        .post_hook(
            &[("st2-api-key", &key), ("st2-trace-tag", "ticket-42")],
            ALARM,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let ti = r.json();
    assert_eq!(ti["trigger"], "siteengine.alarm");
    let p = &ti["payload"];
    assert_eq!(p["device_ip"], "10.10.1.21");
    assert_eq!(p["alarm_name"], "Device Contact Lost");
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["raw"], serde_json::from_str::<Value>(ALARM).unwrap());
    let idem = gale_siteengine::envelope::idempotency_key("58213", "2024-05-02T10:35:17Z");
    assert_eq!(p["idempotency_key"], json!(idem));
    let id = ti["id"].as_str().unwrap().to_string();
    let trace = env
        .state
        .store()
        .trace_of_trigger_instance(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trace.trace_tag, "ticket-42");

    // The resend (same alarm id and time) answers the stored instance and stores nothing.
    let r = env.post_hook(&[("st2-api-key", &key)], ALARM).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json()["id"], json!(id));
    assert_eq!(env.instances().await.len(), 1);

    // A restart: a fresh API state over the same store still knows the key.
    let mut cfg = ApiConfig::new(env.state.config().data_dir.clone());
    cfg.bcrypt_cost = 4;
    let state2 = AppState::new(env.state.engine().clone(), cfg);
    state2.set_events(env.state.events().unwrap().clone());
    state2.set_ready(true);
    let env2 = Env {
        _dir: tempfile::tempdir().unwrap(),
        app: gale_api::app(state2.clone()),
        state: state2,
        token: env.token.clone(),
    };
    let r = env2.post_hook(&[("st2-api-key", &key)], ALARM).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json()["id"], json!(id), "deduplicated across the restart");
    assert_eq!(env2.instances().await.len(), 1);

    // Without alarm id and time the Idempotency-Key header is the key; the envelope's trace
    // tag is used when there is no St2-Trace-Tag header.
    let mut body: Value = serde_json::from_str(ALARM).unwrap();
    body["alarm"].as_object_mut().unwrap().remove("id");
    let body = body.to_string();
    let r = env2
        .post_hook(
            &[("st2-api-key", &key), ("idempotency-key", "se-h1")],
            &body,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let second = r.json();
    assert_eq!(second["payload"]["idempotency_key"], "se-h1");
    let trace = env2
        .state
        .store()
        .trace_of_trigger_instance(second["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trace.trace_tag, "siteengine-alarm");
    let r = env2
        .post_hook(
            &[("st2-api-key", &key), ("idempotency-key", "se-h1")],
            &body,
        )
        .await;
    assert_eq!(r.json()["id"], second["id"]);
    assert_eq!(env2.instances().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_envelopes_get_400_naming_the_field_and_store_nothing() {
    let env = setup_with(false).await;
    let h = [("x-auth-token", env.token.as_str())];
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "not valid JSON"),
        ("[1]".into(), "JSON object"),
        (
            json!({"event_type": "fax", "device": {"ip": "10.0.0.1"}}).to_string(),
            "'event_type'",
        ),
        (
            {
                let mut b: Value = serde_json::from_str(ALARM).unwrap();
                b["device"].as_object_mut().unwrap().remove("ip");
                b.to_string()
            },
            "device.ip",
        ),
    ];
    for (body, expected) in cases {
        let r = env.post_hook(&h, &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert!(r.fault().contains(expected), "{body}: {}", r.fault());
    }
    assert!(env.instances().await.is_empty());
    // The stock generic webhook keeps working for the same trigger.
    let payload: Value = serde_json::from_str(ALARM).unwrap();
    let r = env
        .call(
            Method::POST,
            "/api/v1/webhooks/st2",
            Some(json!({"trigger": "siteengine.alarm", "payload": {"device_ip": "10.0.0.1", "raw": payload}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(env.instances().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_with_api_key_when_enabled() {
    let env = setup_with(true).await;
    let key = env.api_key().await;
    let r = env
        .post_hook(&[("authorization", &base64_basic("anything", &key))], ALARM)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    // A wrong key in the Basic form is refused as a wrong API key.
    let r = env
        .post_hook(
            &[("authorization", &base64_basic("anything", "nope"))],
            ALARM,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // Only on the Site Engine hook: elsewhere Basic is still no credential.
    let r = env
        .raw(
            Method::GET,
            "/api/v1/triggerinstances",
            &[("authorization", &base64_basic("anything", &key))],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
}
