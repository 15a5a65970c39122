//! Actions: list/get (by ref or id), create, update, delete, and the parameter/overview views.

use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::query::{get as qget, Page, Params, Projection};
use crate::routes::list_response;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use gale_model::params::merge_schemas;
use gale_model::{Action, RunnerType};
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/actions", get(list).post(create))
        .route(
            "/actions/:ref_or_id",
            get(get_one).put(update).delete(delete),
        )
        .route("/actions/views/overview", get(list))
        .route("/actions/views/overview/:ref_or_id", get(get_one))
        .route("/actions/views/parameters/:ref_or_id", get(parameters_view))
}

async fn list(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let page = Page::parse(&q, None, state.config().page_cap())?;
    let proj = Projection::from_query(&q);
    let mut actions = state.store().list_actions(qget(&q, "pack")).await?;
    if let Some(name) = qget(&q, "name") {
        actions.retain(|a| a.name == name);
    }
    if let Some(r) = qget(&q, "ref") {
        actions.retain(|a| a.action_ref == r);
    }
    let (items, total) = page.apply(actions);
    let items = items
        .into_iter()
        .map(|a| proj.apply(to_value(&a)))
        .collect();
    Ok(list_response(items, page.headers(total)))
}

pub(crate) async fn find(state: &AppState, ref_or_id: &str) -> ApiResult<Action> {
    state.store().get_action(ref_or_id).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "Unable to identify resource with ref_or_id \"{ref_or_id}\"."
        ))
    })
}

async fn get_one(
    State(state): State<AppState>,
    Path(ref_or_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(to_value(&find(&state, &ref_or_id).await?)))
}

async fn parameters_view(
    State(state): State<AppState>,
    Path(ref_or_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let action = find(&state, &ref_or_id).await?;
    let runner = runner_of(&state, &action).await?;
    let merged = merge_schemas(&runner.runner_parameters, &action.parameters);
    Ok(Json(json!({"parameters": merged})))
}

async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let action = parse_action(&state, body, None).await?;
    let stored = state.store().create_action(action).await?;
    state.engine().invalidate_cache();
    tracing::info!(action = %stored.action_ref, id = %stored.id, "action created");
    Ok((StatusCode::CREATED, Json(to_value(&stored))))
}

async fn update(
    State(state): State<AppState>,
    Path(ref_or_id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let existing = find(&state, &ref_or_id).await?;
    let action = parse_action(&state, body, Some(&existing)).await?;
    if action.action_ref != existing.action_ref {
        if let Some(other) = state.store().get_action(&action.action_ref).await? {
            return Err(ApiError::Conflict {
                message: format!("Action with ref \"{}\" already exists.", action.action_ref),
                existing_id: Some(other.id),
            });
        }
        // The ref is the upsert key: drop the old record so the rename does not duplicate it.
        state.store().delete_action(&existing.id).await?;
    }
    let stored = state.store().upsert_action(action).await?;
    state.engine().invalidate_cache();
    Ok(Json(to_value(&stored)))
}

async fn delete(
    State(state): State<AppState>,
    Path(ref_or_id): Path<String>,
) -> ApiResult<StatusCode> {
    let existing = find(&state, &ref_or_id).await?;
    state.store().delete_action(&existing.id).await?;
    state.engine().invalidate_cache();
    tracing::info!(action = %existing.action_ref, "action deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn runner_of(state: &AppState, action: &Action) -> ApiResult<RunnerType> {
    state
        .store()
        .get_runner_type(&action.runner_type)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "RunnerType \"{}\" is not found.",
                action.runner_type
            ))
        })
}

fn to_value(a: &Action) -> Value {
    serde_json::to_value(a).unwrap_or(Value::Null)
}

/// Build and validate an action from a request body with the pack loader's rules (the same
/// checks, in the same order and wording, as registration); `existing` keeps the id on update.
async fn parse_action(
    state: &AppState,
    body: Value,
    existing: Option<&Action>,
) -> ApiResult<Action> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "{body} is not of type 'object'"
        )));
    }
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    // The body's `pack` decides the pack (StackStorm's default pack is `default`).
    let pack = text("pack")
        .or_else(|| existing.map(|e| e.pack.clone()))
        .unwrap_or_else(|| "default".into());
    let metadata_file = text("metadata_file")
        .or_else(|| existing.map(|e| e.metadata_file.clone()))
        .unwrap_or_default();
    let runners = state.store().list_runner_types().await?;
    let mut action =
        gale_packs::action::action_from_document(&body, &pack, &metadata_file, &runners)
            .map_err(|e| ApiError::BadRequest(e.reason))?;
    action.id = existing.map(|e| e.id.clone()).unwrap_or_default();
    Ok(action)
}
