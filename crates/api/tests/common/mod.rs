//! What the router-level API tests share: a real engine, events service and router over a
//! temporary SQLite store with the shipped packs, a logged-in token, and request helpers.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use gale_api::auth::htpasswd;
use gale_api::{ApiConfig, App, AppState};
use gale_engine::{Engine, EngineOptions};
use gale_events::{Events, EventsOptions};
use http_body_util::BodyExt;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

pub const PASSWORD: &str = "Ch@ngeMe";

pub struct Env {
    pub _dir: tempfile::TempDir,
    pub state: AppState,
    pub app: App,
    pub token: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn fault(&self) -> String {
        self.json()["faultstring"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub async fn setup_with(accept_basic: bool) -> Env {
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

pub fn base64_basic(user: &str, pw: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

impl Env {
    pub async fn raw(
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

    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Resp {
        let headers = [
            ("x-auth-token", self.token.as_str()),
            ("content-type", "application/json"),
        ];
        self.raw(method, uri, &headers, body.map(|b| b.to_string()))
            .await
    }

    pub async fn instances(&self) -> Vec<Value> {
        let r = self
            .call(Method::GET, "/api/v1/triggerinstances", None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json().as_array().unwrap().clone()
    }
}
