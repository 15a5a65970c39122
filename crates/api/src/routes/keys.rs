//! The datastore (`/keys`, events.md §7.3): list with `prefix`/`scope`/`user`/`decrypt`, get one,
//! `PUT` (upsert; the name comes from the path), delete. Secret values are returned as
//! ciphertext with `encrypted: true` unless `decrypt=true`. All semantics live in
//! `gale-datastore`; this module checks the body's types and maps errors.

use crate::auth::Requester;
use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::query::{flag, get as qget, Page, Params};
use crate::routes::list_response;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use gale_datastore::{Caller, Datastore, Error as DsError, ListQuery, SetRequest};
use serde_json::{Map, Value};
use std::sync::Arc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/keys", get(list))
        .route("/keys/:name", get(get_one).put(put).delete(delete))
}

fn ds_error(e: DsError) -> ApiError {
    match e {
        DsError::InvalidScope(_)
        | DsError::Invalid(_)
        | DsError::NoCryptoKey { .. }
        | DsError::NotEncryptedWithKey { .. } => ApiError::BadRequest(e.to_string()),
        DsError::Forbidden(_) => ApiError::Forbidden(e.to_string()),
        DsError::NotFound { .. } => ApiError::NotFound(e.to_string()),
        DsError::Store(s) => s.into(),
        DsError::Decrypt { .. } | DsError::BadKeyFile { .. } => ApiError::Internal(e.to_string()),
    }
}

fn datastore(state: &AppState) -> ApiResult<&Arc<Datastore>> {
    state
        .datastore()
        .ok_or_else(|| ApiError::Unavailable("The datastore is not available.".into()))
}

/// RBAC is not implemented: every caller is treated as StackStorm treats users with RBAC off.
fn caller(r: &Requester) -> Caller {
    Caller::no_rbac(r.user.clone())
}

async fn list(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let page = Page::parse(&q, Some(100), state.config().page_cap())?;
    let query = ListQuery {
        scope: qget(&q, "scope").map(str::to_string),
        user: qget(&q, "user").map(str::to_string),
        prefix: qget(&q, "prefix").map(str::to_string),
        name: qget(&q, "name").map(str::to_string),
        decrypt: flag(&q, "decrypt"),
    };
    let items = datastore(&state)?
        .list(&caller(&requester), &query)
        .await
        .map_err(ds_error)?;
    let (items, total) = page.apply(items);
    Ok(list_response(items, page.headers(total)))
}

async fn get_one(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    let v = datastore(&state)?
        .get(
            &caller(&requester),
            &name,
            qget(&q, "scope"),
            qget(&q, "user"),
            flag(&q, "decrypt"),
        )
        .await
        .map_err(ds_error)?;
    Ok(Json(v))
}

async fn delete(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    Path(name): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<StatusCode> {
    datastore(&state)?
        .delete(
            &caller(&requester),
            &name,
            qget(&q, "scope"),
            qget(&q, "user"),
        )
        .await
        .map_err(ds_error)?;
    Ok(StatusCode::NO_CONTENT)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(field: &str, v: &Value, want: &str) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid value for \"{field}\": {v} is not of type '{want}' (got {})",
        type_name(v)
    ))
}

fn opt_str(body: &Map<String, Value>, field: &str) -> ApiResult<Option<String>> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(wrong_type(field, v, "string")),
    }
}

fn opt_bool(body: &Map<String, Value>, field: &str) -> ApiResult<bool> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(wrong_type(field, v, "boolean")),
    }
}

/// The `PUT` body, checked as StackStorm's `KeyValuePairAPI` schema checks it: `name` and
/// `value` are required strings, `ttl` an integer of at least 1, flags booleans.
fn set_request(name: String, body: Value) -> ApiResult<SetRequest> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request(format!(
            "{body} is not of type 'object'"
        )));
    };
    for required in ["name", "value"] {
        if !body.contains_key(required) {
            return Err(ApiError::bad_request(format!(
                "'{required}' is a required property"
            )));
        }
    }
    // The stored name comes from the path; the body's only has to be a string.
    opt_str(&body, "name")?;
    let value = match body.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => return Err(wrong_type("value", v, "string")),
        None => String::new(),
    };
    let ttl = match body.get("ttl") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        Some(v) => return Err(wrong_type("ttl", v, "integer")),
    };
    Ok(SetRequest {
        name,
        value,
        scope: opt_str(&body, "scope")?,
        user: opt_str(&body, "user")?,
        secret: opt_bool(&body, "secret")?,
        encrypted: opt_bool(&body, "encrypted")?,
        ttl,
        description: opt_str(&body, "description")?,
    })
}

async fn put(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let req = set_request(name, body)?;
    let v = datastore(&state)?
        .set(&caller(&requester), req)
        .await
        .map_err(ds_error)?;
    Ok(Json(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_checks_name_the_field() {
        let e = |b: Value| set_request("k".into(), b).unwrap_err().to_string();
        assert_eq!(e(json!({"name": "k"})), "'value' is a required property");
        assert_eq!(e(json!({"value": "v"})), "'name' is a required property");
        assert!(e(json!({"name": "k", "value": 42})).starts_with("Invalid value for \"value\": 42"));
        assert!(e(json!({"name": "k", "value": "v", "ttl": "10"})).contains("\"ttl\""));
        assert!(e(json!({"name": "k", "value": "v", "ttl": 1.5})).contains("\"ttl\""));
        assert!(e(json!({"name": "k", "value": "v", "secret": "yes"})).contains("\"secret\""));
        assert!(e(json!({"name": "k", "value": "v", "scope": 1})).contains("\"scope\""));
        assert!(e(json!([1])).contains("is not of type 'object'"));
        let ok = set_request(
            "from-path".into(),
            json!({"name": "body", "value": "v", "ttl": 5, "secret": true, "scope": "user"}),
        )
        .unwrap();
        assert_eq!(ok.name, "from-path");
        assert_eq!(
            (ok.ttl, ok.secret, ok.scope.as_deref()),
            (Some(5), true, Some("user"))
        );
    }

    /// The router itself (auth bypassed by inserting the requester), a real SQLite store and
    /// datastore with a key file.
    mod router {
        use super::super::*;
        use crate::auth::AuthMethod;
        use axum::body::Body;
        use axum::http::Request;
        use http_body_util::BodyExt;
        use serde_json::json;
        use tower::ServiceExt;

        struct Env {
            app: Router,
            _dir: tempfile::TempDir,
        }

        async fn env(with_datastore: bool) -> Env {
            let dir = tempfile::tempdir().unwrap();
            let store: gale_store::DynStore =
                Arc::new(gale_store::sqlite::SqliteStore::open_in_memory().unwrap());
            let engine = gale_engine::Engine::new(
                store.clone(),
                gale_runners::Registry::with_builtin(),
                gale_engine::EngineOptions::default(),
            );
            let state = AppState::new(engine, crate::ApiConfig::new(dir.path()));
            if with_datastore {
                let key = dir.path().join("key.json");
                gale_datastore::ensure_key_file(&key).unwrap();
                let kv: Arc<dyn gale_store::KeyValueStore> = store;
                let ds = Datastore::open(
                    kv,
                    gale_datastore::DatastoreOptions {
                        key_path: Some(key),
                    },
                    Arc::new(gale_model::now),
                )
                .await
                .unwrap();
                state.set_datastore(ds);
            }
            let app = routes()
                .layer(axum::Extension(Requester {
                    user: "st2admin".into(),
                    method: AuthMethod::ApiKey,
                    location: "header",
                }))
                .with_state(state);
            Env { app, _dir: dir }
        }

        impl Env {
            async fn call(
                &self,
                method: &str,
                uri: &str,
                body: Option<Value>,
            ) -> (u16, Value, Option<String>) {
                let req = Request::builder()
                    .method(method)
                    .uri(uri)
                    .header("content-type", "application/json")
                    .body(
                        body.map(|b| Body::from(b.to_string()))
                            .unwrap_or_else(Body::empty),
                    )
                    .unwrap();
                let resp = self.app.clone().oneshot(req).await.unwrap();
                let status = resp.status().as_u16();
                let total = resp
                    .headers()
                    .get("x-total-count")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let bytes = resp.into_body().collect().await.unwrap().to_bytes();
                let v = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes).unwrap()
                };
                (status, v, total)
            }
        }

        #[tokio::test]
        async fn put_get_list_delete() {
            let e = env(true).await;
            let (st, v, _) = e
                .call(
                    "PUT",
                    "/keys/a.b",
                    Some(json!({"name": "ignored", "value": "1"})),
                )
                .await;
            assert_eq!(st, 200, "{v}");
            assert_eq!(v["name"], "a.b", "the path names the key");
            let (st, v, _) = e
                .call(
                    "PUT",
                    "/keys/pw",
                    Some(json!({"name": "pw", "value": "s3", "secret": true})),
                )
                .await;
            assert_eq!((st, v["encrypted"].clone()), (200, json!(true)));
            let ct = v["value"].clone();
            let (_, v, _) = e.call("GET", "/keys/pw", None).await;
            assert_eq!(v["value"], ct, "masked as ciphertext");
            let (_, v, _) = e.call("GET", "/keys/pw?decrypt=True", None).await;
            assert_eq!(v["value"], "s3");
            let (st, v, total) = e.call("GET", "/keys?prefix=a.", None).await;
            assert_eq!(st, 200);
            assert_eq!(v.as_array().unwrap().len(), 1);
            assert_eq!(total.as_deref(), Some("1"));
            let (_, v, total) = e.call("GET", "/keys?limit=1", None).await;
            assert_eq!(
                (v.as_array().unwrap().len(), total.as_deref()),
                (1, Some("2"))
            );
            let (st, _, _) = e.call("DELETE", "/keys/a.b", None).await;
            assert_eq!(st, 204);
            let (st, v, _) = e.call("GET", "/keys/a.b", None).await;
            assert_eq!(st, 404);
            assert_eq!(
                v["faultstring"],
                "Key with name: a.b and scope: st2kv.system not found!"
            );
            let (st, v, _) = e.call("DELETE", "/keys/a.b", None).await;
            assert_eq!(st, 404, "{v}");
            let (st, v, _) = e
                .call("PUT", "/keys/x", Some(json!({"name": "x", "value": 5})))
                .await;
            assert_eq!(st, 400);
            assert!(
                v["faultstring"].as_str().unwrap().contains("\"value\""),
                "{v}"
            );
            let (st, v, _) = e.call("GET", "/keys?scope=nope", None).await;
            assert_eq!(
                (st, v["faultstring"].clone()),
                (400, json!("Invalid scope: st2kv.nope"))
            );
            let (st, _, _) = e.call("GET", "/keys/pw?user=bob", None).await;
            assert_eq!(st, 403);
        }

        #[tokio::test]
        async fn without_a_datastore_the_routes_are_unavailable() {
            let e = env(false).await;
            let (st, v, _) = e.call("GET", "/keys", None).await;
            assert_eq!(st, 503);
            assert_eq!(v["faultstring"], "The datastore is not available.");
        }
    }

    #[test]
    fn errors_map_to_stackstorm_statuses() {
        use axum::http::StatusCode as S;
        let cases = [
            (DsError::Invalid("x".into()), S::BAD_REQUEST),
            (DsError::InvalidScope("x".into()), S::BAD_REQUEST),
            (DsError::Forbidden("x".into()), S::FORBIDDEN),
            (
                DsError::NotFound {
                    name: "k".into(),
                    scope: "st2kv.system".into(),
                },
                S::NOT_FOUND,
            ),
            (
                DsError::NoCryptoKey {
                    path: "p".into(),
                    name: "k".into(),
                },
                S::BAD_REQUEST,
            ),
            (
                DsError::Store(gale_store::Error::Backend("disk".into())),
                S::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(ds_error(e).status(), status);
        }
    }
}
