//! Runner types: list (with `?name=`, which `st2 run` uses to cast parameters), get by name or
//! id, and `PUT` to enable/disable.

use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::query::{get as qget, Page, Params, Projection};
use crate::routes::list_response;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use gale_model::RunnerType;
use serde_json::Value;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/runnertypes", get(list))
        .route("/runnertypes/:name_or_id", get(get_one).put(update))
}

async fn list(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let page = Page::parse(&q, None, state.config().page_cap())?;
    let proj = Projection::from_query(&q);
    let mut runners = state.store().list_runner_types().await?;
    if let Some(name) = qget(&q, "name") {
        runners.retain(|r| r.name == name);
    }
    runners.sort_by(|a, b| a.name.cmp(&b.name));
    let (items, total) = page.apply(runners);
    let items = items
        .into_iter()
        .map(|r| proj.apply(to_value(&r)))
        .collect();
    Ok(list_response(items, page.headers(total)))
}

async fn find(state: &AppState, name_or_id: &str) -> ApiResult<RunnerType> {
    state
        .store()
        .get_runner_type(name_or_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Unable to identify resource with name_or_id \"{name_or_id}\"."
            ))
        })
}

async fn get_one(
    State(state): State<AppState>,
    Path(name_or_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(to_value(&find(&state, &name_or_id).await?)))
}

/// Only `enabled` may change (the rest of a runner type comes from the code); other fields of
/// the body are read-only echoes and are ignored.
async fn update(
    State(state): State<AppState>,
    Path(name_or_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let mut runner = find(&state, &name_or_id).await?;
    if let Some(enabled) = body.get("enabled") {
        runner.enabled = enabled
            .as_bool()
            .ok_or_else(|| ApiError::bad_request(format!("{enabled} is not of type 'boolean'")))?;
    }
    let stored = state.store().upsert_runner_type(runner).await?;
    state.engine().invalidate_cache();
    Ok(Json(to_value(&stored)))
}

fn to_value(r: &RunnerType) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}
