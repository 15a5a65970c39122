//! API keys: create (the only response carrying the plaintext key), list, get by id or key,
//! `PUT` (enable/disable; read-only fields tolerated), delete. `key_hash` and `uid` are masked
//! unless `show_secrets=true`.

use crate::auth::{self, Requester};
use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::query::{flag, Page, Params, Projection};
use crate::routes::list_response;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use gale_model::params::MASKED;
use gale_model::{format_ts, ApiKey};
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/apikeys", get(list).post(create))
        .route(
            "/apikeys/:id_or_key",
            get(get_one).put(update).delete(delete),
        )
}

fn to_value(k: &ApiKey, show_secrets: bool) -> Value {
    let (hash, uid) = if show_secrets {
        (json!(k.key_hash), json!(k.uid))
    } else {
        (json!(MASKED), json!(MASKED))
    };
    json!({
        "id": k.id,
        "uid": uid,
        "user": k.user,
        "key_hash": hash,
        "metadata": if k.metadata.is_null() { json!({}) } else { k.metadata.clone() },
        "enabled": k.enabled,
        "created_at": format_ts(&k.created_at),
    })
}

async fn list(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let page = Page::parse(&q, Some(50), state.config().page_cap())?;
    let proj = Projection::from_query(&q);
    let show = flag(&q, "show_secrets");
    let mut keys = state.store().list_api_keys().await?;
    keys.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let (items, total) = page.apply(keys);
    let items = items
        .iter()
        .map(|k| proj.apply(to_value(k, show)))
        .collect();
    Ok(list_response(items, page.headers(total)))
}

/// By id, else by the plaintext key (StackStorm's `get_one(api_key_id_or_key)`).
async fn find(state: &AppState, id_or_key: &str) -> ApiResult<ApiKey> {
    let store = state.store();
    if let Some(k) = store
        .get_api_key(id_or_key)
        .await?
        .filter(|k| k.id == id_or_key)
    {
        return Ok(k);
    }
    if let Some(k) = store.get_api_key(&auth::hash_secret(id_or_key)).await? {
        return Ok(k);
    }
    Err(ApiError::not_found(format!(
        "ApiKey with id or key \"{id_or_key}\" not found."
    )))
}

async fn get_one(
    State(state): State<AppState>,
    Path(id_or_key): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult<Json<Value>> {
    let k = find(&state, &id_or_key).await?;
    Ok(Json(to_value(&k, flag(&q, "show_secrets"))))
}

async fn create(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let body = if body.is_null() { json!({}) } else { body };
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "{body} is not of type 'object'"
        )));
    }
    let user = match body.get("user") {
        Some(Value::String(u)) if !u.is_empty() => u.clone(),
        _ => requester.user.clone(),
    };
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => json!({}),
        Some(m @ Value::Object(_)) => m.clone(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "{other} is not of type 'object'"
            )))
        }
    };
    let enabled = body.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let key = auth::new_api_key();
    let key_hash = auth::hash_secret(&key);
    let record = ApiKey {
        id: gale_model::new_id(),
        uid: format!("api_key:{key_hash}"),
        user,
        key_hash,
        metadata,
        enabled,
        created_at: gale_model::now(),
    };
    state.store().create_api_key(&record).await?;
    tracing::info!(id = %record.id, user = %record.user, "api key created");
    let mut out = to_value(&record, true);
    if let Some(obj) = out.as_object_mut() {
        obj.remove("key_hash");
        obj.insert("key".into(), json!(key));
    }
    Ok((StatusCode::CREATED, Json(out)))
}

async fn update(
    State(state): State<AppState>,
    Path(id_or_key): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let mut k = find(&state, &id_or_key).await?;
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    };
    // The CLI sends the whole object back, `key_hash` normally as the mask: only a real
    // change of the hash is refused.
    match body.get("key_hash") {
        None | Some(Value::Null) => {}
        Some(Value::String(h)) if h.is_empty() || h == MASKED || *h == k.key_hash => {}
        Some(_) => return Err(ApiError::bad_request("Update of key_hash is not allowed.")),
    }
    if let Some(e) = body.get("enabled") {
        k.enabled = e
            .as_bool()
            .ok_or_else(|| ApiError::bad_request(format!("{e} is not of type 'boolean'")))?;
    }
    match body.get("metadata") {
        None | Some(Value::Null) => {}
        Some(m @ Value::Object(_)) => k.metadata = m.clone(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "{other} is not of type 'object'"
            )))
        }
    }
    if let Some(Value::String(u)) = body.get("user") {
        if !u.is_empty() {
            k.user = u.clone();
        }
    }
    state.store().update_api_key(&k).await?;
    Ok(Json(to_value(&k, false)))
}

async fn delete(
    State(state): State<AppState>,
    Path(id_or_key): Path<String>,
) -> ApiResult<StatusCode> {
    let k = find(&state, &id_or_key).await?;
    state.store().delete_api_key(&k.id).await?;
    tracing::info!(id = %k.id, "api key deleted");
    Ok(StatusCode::NO_CONTENT)
}
