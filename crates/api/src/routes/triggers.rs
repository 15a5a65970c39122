//! Trigger types, triggers and trigger instances (events.md §2, §10), including
//! `POST /triggerinstances/{id}/re_emit`.

use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::query::{get as qget, Page, Params};
use crate::routes::list_response;
use crate::routes::webhooks::{events, trigger_api};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gale_model::events::{TriggerInstanceStatus, TriggerType};
use gale_store::TriggerInstanceFilter;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/triggertypes", get(list_types).post(create_type))
        .route(
            "/triggertypes/:ref_or_id",
            get(get_type).put(update_type).delete(delete_type),
        )
        .route("/triggers", get(list_triggers))
        .route("/triggers/:id", get(get_trigger).delete(delete_trigger))
        .route("/triggerinstances", get(list_instances))
        .route("/triggerinstances/:id", get(get_instance))
        .route("/triggerinstances/:id/re_emit", post(re_emit))
}

fn not_found(key: &str) -> ApiError {
    ApiError::not_found(format!(
        "Resource with a reference or id \"{key}\" not found"
    ))
}

fn type_from_body(body: Value) -> ApiResult<TriggerType> {
    let Value::Object(m) = &body else {
        return Err(ApiError::bad_request("a trigger type must be an object"));
    };
    let pack = m
        .get("pack")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("'pack' is a required property"))?
        .to_string();
    gale_packs::events::trigger_type_from_document(&body, &pack).map_err(ApiError::bad_request)
}

async fn list_types(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let page = Page::parse(&q, None, state.config().page_cap())?;
    let name = qget(&q, "name");
    let items: Vec<Value> = state
        .store()
        .list_trigger_types(qget(&q, "pack"))
        .await?
        .into_iter()
        .filter(|t| name.is_none_or(|n| t.name == n))
        .map(|t| json!(t))
        .collect();
    let (items, total) = page.apply(items);
    Ok(list_response(items, page.headers(total)))
}

async fn get_type(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .store()
        .get_trigger_type(&key)
        .await?
        .map(|t| Json(json!(t)))
        .ok_or_else(|| not_found(&key))
}

async fn create_type(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let tt = type_from_body(body)?;
    if let Some(existing) = state.store().get_trigger_type(&tt.type_ref).await? {
        return Err(ApiError::Conflict {
            message: format!(
                "Tried to save duplicate unique keys (ref: \"{}\")",
                tt.type_ref
            ),
            existing_id: Some(existing.id),
        });
    }
    let tt = events(&state)?.register_trigger_type(tt).await?;
    Ok((StatusCode::CREATED, Json(json!(tt))).into_response())
}

async fn update_type(
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    if state.store().get_trigger_type(&key).await?.is_none() {
        return Err(not_found(&key));
    }
    let tt = events(&state)?
        .register_trigger_type(type_from_body(body)?)
        .await?;
    Ok(Json(json!(tt)))
}

async fn delete_type(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    if state.store().delete_trigger_type(&key).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(&key))
    }
}

async fn list_triggers(
    State(state): State<AppState>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let page = Page::parse(&q, None, state.config().page_cap())?;
    let items: Vec<Value> = state
        .store()
        .list_triggers(qget(&q, "type"))
        .await?
        .iter()
        .map(trigger_api)
        .collect();
    let (items, total) = page.apply(items);
    Ok(list_response(items, page.headers(total)))
}

async fn get_trigger(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .store()
        .get_trigger(&key)
        .await?
        .map(|t| Json(trigger_api(&t)))
        .ok_or_else(|| not_found(&key))
}

async fn delete_trigger(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    if state.store().delete_trigger(&key).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(&key))
    }
}

fn timestamp(q: &Params, name: &str) -> ApiResult<Option<gale_model::Timestamp>> {
    match qget(q, name) {
        None => Ok(None),
        Some(s) => gale_model::time::parse_ts(s)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid timestamp \"{s}\" for {name}"))),
    }
}

async fn list_instances(
    State(state): State<AppState>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let page = Page::parse(&q, Some(100), state.config().page_cap())?;
    let status = match qget(&q, "status") {
        None => None,
        Some(s) => Some(
            TriggerInstanceStatus::parse(s)
                .ok_or_else(|| ApiError::bad_request(format!("Invalid status \"{s}\"")))?,
        ),
    };
    let filter = TriggerInstanceFilter {
        trigger: qget(&q, "trigger")
            .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default(),
        status,
        timestamp_gt: timestamp(&q, "timestamp_gt")?,
        timestamp_lt: timestamp(&q, "timestamp_lt")?,
        offset: page.offset,
        limit: page.limit,
    };
    let (items, total) = state.store().list_trigger_instances(&filter).await?;
    let items = items.into_iter().map(|t| json!(t)).collect();
    Ok(list_response(items, page.headers(total)))
}

async fn get_instance(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .store()
        .get_trigger_instance(&id)
        .await?
        .map(|t| Json(json!(t)))
        .ok_or_else(|| not_found(&id))
}

async fn re_emit(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let (_, payload) = events(&state)?.re_emit(&id).await?;
    // "succesfully" is StackStorm's spelling.
    Ok(Json(json!({
        "message": format!("Trigger instance {id} succesfully re-sent."),
        "payload": payload,
    })))
}
