//! API tests: the real router (via `tower::ServiceExt::oneshot`), a real SQLite store in a temp
//! dir, the real engine with the built-in runners and core pack.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine as _;
use gale_api::auth::{self, htpasswd};
use gale_api::{ApiConfig, App, AppState};
use gale_engine::{Engine, EngineOptions, ExecutionRequest};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const PASSWORD: &str = "Ch@ngeMe";

struct Env {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    state: AppState,
    app: App,
    token: String,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
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

async fn setup() -> Env {
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
    for pack in gale_packs::builtin::install_all(&dir).unwrap() {
        engine.register_pack_dir(&pack, false).await.unwrap();
    }
    engine.start().await.unwrap();
    htpasswd::bootstrap(&dir, Some(PASSWORD), 4).unwrap();
    let mut cfg = ApiConfig::new(&dir);
    cfg.bcrypt_cost = 4;
    cfg.packs_dirs = vec![dir.join("packs")];
    let state = AppState::new(engine, cfg);
    state.set_ready(true);
    let app = gale_api::app(state.clone());
    let mut env = Env {
        _dir: tmp,
        dir,
        state,
        app,
        token: String::new(),
    };
    let r = env.login("st2admin", PASSWORD, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    env.token = r.json()["token"].as_str().unwrap().to_string();
    env
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
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// An authenticated call with a JSON body.
    async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Resp {
        let headers = [
            ("x-auth-token", self.token.as_str()),
            ("content-type", "application/json"),
        ];
        self.raw(method, uri, &headers, body.map(|b| b.to_string()))
            .await
    }

    async fn get(&self, uri: &str) -> Resp {
        self.call(Method::GET, uri, None).await
    }

    async fn login(&self, user: &str, pass: &str, body: Value) -> Resp {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        );
        self.raw(
            Method::POST,
            "/auth/v1/tokens",
            &[("authorization", &basic)],
            Some(body.to_string()),
        )
        .await
    }

    async fn run(&self, action: &str, parameters: Value) -> Value {
        let r = self
            .call(
                Method::POST,
                "/api/v1/executions",
                Some(json!({"action": action, "parameters": parameters, "user": null})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }

    /// Poll until the execution is in `want` (or any completed status when `want` is None).
    async fn wait(&self, id: &str, want: &str) -> Value {
        for _ in 0..300 {
            let e = self.get(&format!("/api/v1/executions/{id}")).await.json();
            if e["status"] == want {
                return e;
            }
            let done = ["succeeded", "failed", "timeout", "canceled", "abandoned"];
            if done.contains(&e["status"].as_str().unwrap_or("")) && !done.contains(&want) {
                panic!(
                    "execution ended {} while waiting for {want}: {e}",
                    e["status"]
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {id} never reached {want}");
    }
}

#[tokio::test]
async fn healthz_is_public_and_reports_readiness() {
    let env = setup().await;
    let r = env.raw(Method::GET, "/healthz", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    env.state.set_ready(false);
    let r = env.raw(Method::GET, "/healthz", &[], None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn auth_refusals_carry_st2_messages() {
    let env = setup().await;
    let r = env.raw(Method::GET, "/api/v1/actions", &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.fault(),
        "Unauthorized - One of Token or API key required."
    );

    let r = env
        .raw(
            Method::GET,
            "/api/v1/actions",
            &[("x-auth-token", "0123456789abcdef0123456789abcdef")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.fault(), "Unauthorized");

    // An expired token, stored directly.
    let expired = auth::new_token_string();
    let rec = gale_model::Token {
        id: gale_model::new_id(),
        user: "st2admin".into(),
        token_hash: auth::hash_secret(&expired),
        expiry: gale_model::now() - chrono::Duration::seconds(5),
        metadata: json!({}),
        service: false,
    };
    env.state.store().create_token(&rec).await.unwrap();
    let r = env
        .raw(
            Method::GET,
            "/api/v1/actions",
            &[("x-auth-token", &expired)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.fault(), "Unauthorized - Token has expired.");

    let r = env.login("st2admin", "wrong", json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.fault(), "Invalid or missing credentials");
    let r = env
        .raw(Method::POST, "/auth/v1/tokens", &[], Some("{}".into()))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = env
        .raw(
            Method::GET,
            "/api/v1/actions",
            &[("st2-api-key", "nope")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.fault(),
        format!(
            "Unauthorized - ApiKey with key_hash={} not found.",
            auth::hash_secret("nope")
        )
    );
}

#[tokio::test]
async fn tokens_shape_ttl_and_query_param() {
    let env = setup().await;
    let r = env.login("st2admin", PASSWORD, json!({"ttl": 60})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let t = r.json();
    assert_eq!(t["user"], "st2admin");
    let token = t["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert!(t["expiry"].as_str().unwrap().ends_with('Z'));
    assert!(t.get("ttl").is_none());
    for k in ["id", "metadata", "service"] {
        assert!(t.get(k).is_some(), "missing {k}");
    }

    let r = env.login("st2admin", PASSWORD, json!({"ttl": 86401})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.fault(),
        "TTL specified 86401 is greater than max allowed 86400."
    );
    assert_eq!(
        env.login("st2admin", PASSWORD, json!({"ttl": 0}))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let r = env
        .raw(
            Method::GET,
            &format!("/api/v1/actions?limit=1&x-auth-token={token}"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Direct-port form of the auth service and an empty body.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("st2admin:{PASSWORD}"))
    );
    let r = env
        .raw(Method::POST, "/tokens", &[("authorization", &basic)], None)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let r = env
        .call(
            Method::POST,
            "/auth/v1/tokens/validate",
            Some(json!({"token": token})),
        )
        .await;
    assert_eq!(r.json(), json!({"valid": true}));
    let r = env
        .call(
            Method::POST,
            "/auth/v1/tokens/validate",
            Some(json!({"token": "nope"})),
        )
        .await;
    assert_eq!(r.json(), json!({"valid": false}));
    let r = env
        .raw(
            Method::POST,
            "/auth/v1/tokens/validate",
            &[],
            Some(json!({"token": token}).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "validate is not public");

    let r = env.get("/api/v1/user").await;
    let me = r.json();
    assert_eq!(me["username"], "st2admin");
    assert_eq!(me["authentication"]["method"], "authentication token");
    assert_eq!(me["rbac"]["enabled"], false);
}

#[tokio::test]
async fn actions_list_get_and_trailing_slash() {
    let env = setup().await;
    let r = env
        .get("/api/v1/actions?include_attributes=ref,pack,description&pack=core")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let refs: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["ref"].as_str().unwrap().to_string())
        .collect();
    for want in ["core.local", "core.echo", "core.noop"] {
        assert!(
            refs.contains(&want.to_string()),
            "{want} missing from {refs:?}"
        );
    }
    let slash = env.get("/api/v1/actions/?pack=core").await;
    assert_eq!(slash.status, StatusCode::OK);
    assert_eq!(slash.json().as_array().unwrap().len(), refs.len());

    let a = env.get("/api/v1/actions/core.local").await.json();
    assert_eq!(a["runner_type"], "local-shell-cmd");
    assert_eq!(a["parameters"]["cmd"]["required"], true);
    let id = a["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    let by_id = env.get(&format!("/api/v1/actions/{id}")).await.json();
    assert_eq!(by_id["ref"], "core.local");
    assert_eq!(
        env.get("/v1/actions/core.local").await.status,
        StatusCode::OK
    );
    assert_eq!(
        env.get("/api/v1/actions/core.nope").await.status,
        StatusCode::NOT_FOUND
    );

    let params = env
        .get("/api/v1/actions/views/parameters/core.local")
        .await
        .json();
    assert!(
        params["parameters"]["sudo"].is_object(),
        "runner parameters merged: {params}"
    );

    let runners = env.get("/api/v1/runnertypes/?name=local-shell-cmd").await;
    assert_eq!(runners.status, StatusCode::OK);
    let list = runners.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0]["runner_parameters"]["cmd"].is_object());
    assert_eq!(
        env.get("/api/v1/runnertypes/noop").await.json()["name"],
        "noop"
    );
    assert_eq!(env.get("/api/v1/packs/core").await.json()["name"], "core");
}

#[tokio::test]
async fn action_create_update_delete() {
    let env = setup().await;
    let body = json!({"name": "hello", "pack": "tests", "runner_type": "local-shell-cmd", "description": "d",
                      "parameters": {"cmd": {"default": "echo hello", "immutable": true}}});
    let r = env
        .call(Method::POST, "/api/v1/actions", Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    assert_eq!(created["ref"], "tests.hello");
    let id = created["id"].as_str().unwrap().to_string();

    let r = env.call(Method::POST, "/api/v1/actions", Some(body)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    let bad = json!({"name": "x", "pack": "tests", "runner_type": "no-such-runner"});
    let r = env.call(Method::POST, "/api/v1/actions", Some(bad)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.fault().contains("no-such-runner"), "{}", r.text);
    let extra = json!({"name": "x", "pack": "tests", "runner_type": "noop", "bogus": 1});
    assert_eq!(
        env.call(Method::POST, "/api/v1/actions", Some(extra))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let mut update = created.clone();
    update["description"] = json!("changed");
    let r = env
        .call(Method::PUT, &format!("/api/v1/actions/{id}"), Some(update))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(
        env.get("/api/v1/actions/tests.hello").await.json()["description"],
        "changed"
    );

    let r = env
        .call(
            Method::DELETE,
            &format!("/api/v1/actions/{id}"),
            Some(json!({"remove_files": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        env.get("/api/v1/actions/tests.hello").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn run_noop_and_local_then_read_output() {
    let env = setup().await;
    let e = env.run("core.noop", json!({})).await;
    assert_eq!(e["action"]["ref"], "core.noop");
    assert_eq!(e["context"]["user"], "st2admin");
    let done = env.wait(e["id"].as_str().unwrap(), "succeeded").await;
    assert!(done["end_timestamp"].is_string());

    let e = env.run("core.local", json!({"cmd": "echo hi-there"})).await;
    let id = e["id"].as_str().unwrap();
    let done = env.wait(id, "succeeded").await;
    assert_eq!(done["result"]["stdout"], "hi-there");
    let out = env.get(&format!("/api/v1/executions/{id}/output")).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(out.text, "hi-there\n");
    let res = env.get(&format!("/api/v1/executions/{id}/result")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&res.text).unwrap()["return_code"],
        0
    );
    let attr = env
        .get(&format!("/api/v1/executions/{id}/attribute/status"))
        .await;
    assert_eq!(attr.json(), json!("succeeded"));
    let last = env.get("/api/v1/executions/last").await.json();
    assert_eq!(last["id"], id);
    let projected = env
        .get(&format!(
            "/api/v1/executions/{id}?include_attributes=action.ref,status"
        ))
        .await
        .json();
    assert_eq!(
        projected,
        json!({"id": id, "action": {"ref": "core.local"}, "status": "succeeded"})
    );
    let excluded = env
        .get(&format!(
            "/api/v1/executions/{id}?exclude_attributes=result"
        ))
        .await
        .json();
    assert!(excluded.get("result").is_none() && excluded.get("status").is_some());

    // Re-run keeps the parameters and records the original.
    let r = env
        .call(
            Method::POST,
            &format!("/api/v1/executions/{id}/re_run"),
            Some(json!({"parameters": {}, "tasks": [], "reset": [], "delay": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let again = r.json();
    assert_ne!(again["id"], id);
    assert_eq!(again["parameters"]["cmd"], "echo hi-there");
    assert_eq!(again["context"]["re-run"]["ref"], id);
}

#[tokio::test]
async fn request_errors_are_400_with_st2_messages() {
    let env = setup().await;
    let r = env
        .call(
            Method::POST,
            "/api/v1/executions",
            Some(json!({"action": "x.y", "parameters": {}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.fault(), "Action \"x.y\" cannot be found.");

    let r = env
        .call(
            Method::POST,
            "/api/v1/executions",
            Some(json!({"action": "core.local", "parameters": {"cmd": "true", "foo": 1}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.fault().contains("'foo' was unexpected"), "{}", r.text);

    let r = env
        .call(
            Method::POST,
            "/api/v1/executions",
            Some(json!({"action": "core.local", "parameters": {}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.fault(), "'cmd' is a required property");

    let headers = [
        ("x-auth-token", env.token.as_str()),
        ("content-type", "application/json"),
    ];
    let r = env
        .raw(
            Method::POST,
            "/api/v1/executions",
            &headers,
            Some("{not json".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.fault().starts_with("Failed to parse request body"));

    assert_eq!(
        env.get("/api/v1/executions/000000000000000000000000")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        env.get("/api/v1/nothing-here").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn execution_list_paging_filters_and_parent_null() {
    let env = setup().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let e = env.run("core.noop", json!({})).await;
        ids.push(e["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        env.wait(id, "succeeded").await;
    }
    // A child of the first one, as a workflow would create it.
    let child = env
        .state
        .engine()
        .request_execution(ExecutionRequest {
            action_ref: "core.noop".into(),
            user: "st2admin".into(),
            parent: Some(ids[0].clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    env.wait(&child.id, "succeeded").await;

    let r = env
        .get("/api/v1/executions/?limit=2&parent=null&sort_desc=True")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-total-count"], "3");
    assert_eq!(r.headers["x-limit"], "2");
    let page = r.json();
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert_eq!(page[0]["id"], ids[2].as_str(), "newest first");

    let all = env.get("/api/v1/executions?limit=-1").await;
    assert_eq!(all.headers["x-total-count"], "4");
    assert!(all.headers.get("x-limit").is_none());
    let top = env.get("/api/v1/executions?parent=null").await.json();
    assert!(top
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["id"] != child.id.as_str()));
    let kids = env
        .get(&format!("/api/v1/executions?parent={}", ids[0]))
        .await
        .json();
    assert_eq!(kids.as_array().unwrap().len(), 1);

    let r = env
        .get(&format!("/api/v1/executions/{}/children/?depth=-1", ids[0]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["id"], child.id.as_str());

    let asc = env
        .get("/api/v1/executions?parent=null&sort_asc=True&offset=1&limit=1")
        .await
        .json();
    assert_eq!(asc[0]["id"], ids[1].as_str());
    let filtered = env
        .get("/api/v1/executions?action=core.local&status=succeeded")
        .await
        .json();
    assert_eq!(filtered.as_array().unwrap().len(), 0);
    let by_status = env
        .get("/api/v1/executions?status=succeeded&user=st2admin&parent=null")
        .await;
    assert_eq!(by_status.headers["x-total-count"], "3");

    assert_eq!(
        env.get("/api/v1/executions?limit=0").await.status,
        StatusCode::BAD_REQUEST
    );
    // Without RBAC every user is an admin, and StackStorm lets admins page past the cap.
    let r = env.get("/api/v1/executions?limit=101").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-limit"], "101");
}

#[tokio::test]
async fn cancel_and_status_changes() {
    let env = setup().await;
    let e = env.run("core.local", json!({"cmd": "sleep 30"})).await;
    let id = e["id"].as_str().unwrap().to_string();
    env.wait(&id, "running").await;

    let r = env
        .call(
            Method::PUT,
            &format!("/api/v1/executions/{id}"),
            Some(json!({"status": "pausing"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let live = e["liveaction"]["id"].as_str().unwrap();
    assert_eq!(
        r.fault(),
        format!("Failed updating execution. Unable to pause liveaction \"{live}\" because it is not supported by the \"local-shell-cmd\" runner.")
    );

    let r = env
        .call(Method::DELETE, &format!("/api/v1/executions/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let st = r.json()["status"].as_str().unwrap().to_string();
    assert!(st == "canceling" || st == "canceled", "{st}");
    env.wait(&id, "canceled").await;

    let done = env.run("core.noop", json!({})).await;
    let did = done["id"].as_str().unwrap();
    env.wait(did, "succeeded").await;
    let r = env
        .call(Method::DELETE, &format!("/api/v1/executions/{did}"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.fault(), "Action cannot be canceled. State = succeeded.");
    let r = env
        .call(
            Method::PUT,
            &format!("/api/v1/executions/{did}"),
            Some(json!({"status": "canceling"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.fault(), "Execution is already in completed state.");
}

#[tokio::test]
async fn apikey_lifecycle() {
    let env = setup().await;
    let r = env
        .call(
            Method::POST,
            "/api/v1/apikeys",
            Some(json!({"metadata": {"used_by": "tests"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let created = r.json();
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["user"], "st2admin");

    let r = env
        .raw(
            Method::GET,
            "/api/v1/actions/core.local",
            &[("st2-api-key", &key)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = env
        .raw(
            Method::GET,
            &format!("/api/v1/user?st2-api-key={key}"),
            &[],
            None,
        )
        .await;
    assert_eq!(r.json()["authentication"]["method"], "api key");

    let list = env.get("/api/v1/apikeys").await;
    assert!(!list.text.contains(&key), "plaintext key leaked");
    let listed = list.json();
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(mine["key_hash"], "********");
    assert_eq!(mine["metadata"]["used_by"], "tests");
    let shown = env.get("/api/v1/apikeys?show_secrets=True").await.json();
    assert_eq!(shown[0]["key_hash"], auth::hash_secret(&key));

    assert_eq!(
        env.get(&format!("/api/v1/apikeys/{id}")).await.json()["id"],
        id.as_str()
    );
    assert_eq!(
        env.get(&format!("/api/v1/apikeys/{key}")).await.json()["id"],
        id.as_str()
    );

    let mut disabled = mine.clone();
    disabled["enabled"] = json!(false);
    let r = env
        .call(
            Method::PUT,
            &format!("/api/v1/apikeys/{id}"),
            Some(disabled),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = env
        .raw(
            Method::GET,
            "/api/v1/actions/core.local",
            &[("st2-api-key", &key)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.fault(), "Unauthorized - API key is disabled.");

    let mut bad = mine.clone();
    bad["key_hash"] = json!("abc");
    let r = env
        .call(Method::PUT, &format!("/api/v1/apikeys/{id}"), Some(bad))
        .await;
    assert_eq!(r.fault(), "Update of key_hash is not allowed.");

    assert_eq!(
        env.call(Method::DELETE, &format!("/api/v1/apikeys/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = env
        .raw(
            Method::GET,
            "/api/v1/actions/core.local",
            &[("st2-api-key", &key)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        env.get(&format!("/api/v1/apikeys/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn secret_parameters_are_masked_unless_asked() {
    let env = setup().await;
    let body = json!({"name": "secretive", "pack": "tests", "runner_type": "noop",
                      "parameters": {"password": {"type": "string", "secret": true}, "user": {"type": "string"}}});
    let r = env.call(Method::POST, "/api/v1/actions", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let e = env
        .run(
            "tests.secretive",
            json!({"password": "hunter2", "user": "bob"}),
        )
        .await;
    assert_eq!(e["parameters"]["password"], "********");
    assert_eq!(e["parameters"]["user"], "bob");
    assert_eq!(e["liveaction"]["parameters"]["password"], "********");
    let id = e["id"].as_str().unwrap();
    env.wait(id, "succeeded").await;
    let got = env.get(&format!("/api/v1/executions/{id}")).await;
    assert!(!got.text.contains("hunter2"));
    let list = env.get("/api/v1/executions").await;
    assert!(!list.text.contains("hunter2"));
    let shown = env
        .get(&format!("/api/v1/executions/{id}?show_secrets=true"))
        .await
        .json();
    assert_eq!(shown["parameters"]["password"], "hunter2");
}

#[tokio::test]
async fn pack_register_by_path_and_name() {
    let env = setup().await;
    let pack = env.dir.join("packs").join("demo");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: demo\nname: demo\ndescription: d\nversion: 0.1.0\nauthor: t\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/hi.yaml"),
        "name: hi\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: echo hi\n",
    )
    .unwrap();
    let r = env
        .call(
            Method::POST,
            "/api/v1/packs/register",
            Some(json!({"packs": [pack.display().to_string()], "types": ["actions"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["actions"], 1);
    assert_eq!(
        env.get("/api/v1/actions/demo.hi").await.json()["pack"],
        "demo"
    );
    let r = env
        .call(
            Method::POST,
            "/api/v1/packs/register",
            Some(json!({"packs": ["demo"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = env
        .call(
            Method::POST,
            "/api/v1/packs/register",
            Some(json!({"packs": ["missing"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let packs = env.get("/api/v1/packs").await.json();
    assert!(packs.as_array().unwrap().iter().any(|p| p["ref"] == "demo"));
}

#[tokio::test]
async fn stream_follows_one_execution_and_ends() {
    let env = setup().await;
    let e = env
        .run(
            "core.local",
            json!({"cmd": "echo one; sleep 0.3; echo two"}),
        )
        .await;
    let id = e["id"].as_str().unwrap().to_string();
    let uri = format!(
        "/stream/v1/stream?end_execution_id={id}&end_event=st2.execution__update&events=st2.execution__update,st2.execution.output__create&x-auth-token={}",
        env.token
    );
    let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let resp = env.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    // The body ends by itself once the execution completed.
    let body = tokio::time::timeout(Duration::from_secs(20), resp.into_body().collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(text.starts_with('\n'), "heartbeat first: {text:?}");
    let last = text.trim_end().rsplit("\n\n").next().unwrap().to_string();
    assert!(
        last.starts_with("event: st2.execution__update\ndata: "),
        "{last}"
    );
    let data: Value =
        serde_json::from_str(last.lines().nth(1).unwrap().trim_start_matches("data: ")).unwrap();
    assert_eq!(data["id"], id.as_str());
    assert_eq!(data["status"], "succeeded");

    // The stored output of the finished execution, then EOF.
    let r = env
        .get(&format!(
            "/stream/v1/executions/{id}/output?output_type=stdout"
        ))
        .await;
    assert!(r.text.contains("\"data\":\"one\\n\""), "{}", r.text);
    assert!(r.text.contains("\"data\":\"two\\n\""), "{}", r.text);
    assert!(r.text.ends_with("event: EOF\ndata: ''\n\n"), "{}", r.text);

    // A stream for an execution that already finished closes at once with its final update.
    let r = env.get(&format!("/v1/stream?end_execution_id={id}")).await;
    assert!(r.text.contains("st2.execution__update"), "{}", r.text);
}

#[tokio::test]
async fn streams_end_when_the_server_shuts_down() {
    let env = setup().await;
    let uri = format!("/stream/v1/stream?x-auth-token={}", env.token);
    let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let resp = env.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let state = env.state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        state.begin_shutdown();
    });
    let body = tokio::time::timeout(Duration::from_secs(10), resp.into_body().collect()).await;
    assert!(body.is_ok(), "stream still open after shutdown");
    let r = env.raw(Method::GET, "/healthz", &[], None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}
