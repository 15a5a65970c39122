//! `POST /api/v1/webhooks/siteengine` through the real router: auth (token, API key, the
//! opt-in Basic form), normalisation into `siteengine.*` instances, 400 naming the field with
//! nothing stored, the trace tag, and deduplication by idempotency key, also after a restart.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use gale_api::auth::htpasswd;
use gale_api::{ApiConfig, App, AppState};
use gale_engine::{Engine, EngineOptions};
use gale_events::{Events, EventsOptions};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

const PASSWORD: &str = "Ch@ngeMe";

struct Env {
    _dir: tempfile::TempDir,
    state: AppState,
    app: App,
    token: String,
}

struct Resp {
    status: StatusCode,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn fault(&self) -> String {
        self.json()["faultstring"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

async fn setup_with(accept_basic: bool) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let store = gale_store::sqlite::SqliteStore::open(dir.join("gale.db")).unwrap();
    let opts = EngineOptions {
        workers: 4,
        data_dir: dir.clone(),
        ..EngineOptions::default()
    };
    let engine = Engine::new(
        Arc::new(store),
        gale_runners::Registry::with_builtin(),
        opts,
    );
    engine.register_runner_types().await.unwrap();
    let packs = gale_packs::builtin::install_all(&dir).unwrap();
    for pack in &packs {
        engine.register_pack_dir(pack, false).await.unwrap();
    }
    engine.start().await.unwrap();
    let events = Events::new(engine.clone(), EventsOptions::default());
    events.start().await.unwrap();
    // The siteengine pack's trigger types, as `gale server` registers them at start.
    for pack in &packs {
        events.register_pack_dir(pack, false).await.unwrap();
    }
    htpasswd::bootstrap(&dir, Some(PASSWORD), 4).unwrap();
    let mut cfg = ApiConfig::new(&dir);
    cfg.bcrypt_cost = 4;
    cfg.packs_dirs = vec![dir.join("packs")];
    cfg.webhooks_accept_basic_api_key = accept_basic;
    let state = AppState::new(engine, cfg);
    state.set_events(events);
    state.set_ready(true);
    let app = gale_api::app(state.clone());
    let mut env = Env {
        _dir: tmp,
        state,
        app,
        token: String::new(),
    };
    let basic = base64_basic("st2admin", PASSWORD);
    let r = env
        .raw(
            Method::POST,
            "/auth/v1/tokens",
            &[
                ("authorization", &basic),
                ("content-type", "application/json"),
            ],
            Some("{}".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    env.token = r.json()["token"].as_str().unwrap().to_string();
    env
}

fn base64_basic(user: &str, pw: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

impl Env {
    async fn raw(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Resp {
        let headers = [
            ("x-auth-token", self.token.as_str()),
            ("content-type", "application/json"),
        ];
        self.raw(method, uri, &headers, body.map(|b| b.to_string()))
            .await
    }

    async fn instances(&self) -> Vec<Value> {
        let r = self
            .call(Method::GET, "/api/v1/triggerinstances", None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json().as_array().unwrap().clone()
    }
}

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
