//! Rules (events.md §5, §10): list with StackStorm's filters (sorted by pack, name), get by
//! ref or id, create (201), replace, delete (204), and `GET /ruletypes`. Validation, trigger
//! binding and indexing are `gale_events`'.

use crate::auth::Requester;
use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::query::{get as qget, Page, Params};
use crate::routes::list_response;
use crate::routes::webhooks::events;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use gale_events::RuleRequest;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rules", get(list).post(create))
        .route("/rules/:ref_or_id", get(get_one).put(update).delete(delete))
        .route("/ruletypes", get(rule_types))
}

fn not_found(key: &str) -> ApiError {
    ApiError::not_found(format!(
        "Resource with a reference or id \"{key}\" not found"
    ))
}

/// Secret action parameters (per the action's and runner's schemas) shown as `********`.
async fn mask(
    state: &AppState,
    mut rule: Value,
    cache: &mut std::collections::HashMap<
        String,
        Option<(gale_model::RunnerType, gale_model::Action)>,
    >,
) -> ApiResult<Value> {
    let Some(action_ref) = field(&rule, &["action", "ref"])
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(rule);
    };
    if !cache.contains_key(&action_ref) {
        let found = match state.store().get_action(&action_ref).await? {
            Some(action) => state
                .store()
                .get_runner_type(&action.runner_type)
                .await?
                .map(|runner| (runner, action)),
            None => None,
        };
        cache.insert(action_ref.clone(), found);
    }
    if let (Some(Some((runner, action))), Some(Value::Object(params))) = (
        cache.get(&action_ref),
        rule.get("action")
            .and_then(|a| a.get("parameters"))
            .cloned(),
    ) {
        let masked = gale_engine::params::mask_parameters(runner, action, &params);
        rule["action"]["parameters"] = Value::Object(masked);
    }
    Ok(rule)
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, p| cur.get(p))
}

async fn list(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let page = Page::parse(&q, None, state.config().page_cap())?;
    let filters: [(&str, &[&str]); 6] = [
        ("name", &["name"]),
        ("pack", &["pack"]),
        ("action", &["action", "ref"]),
        ("trigger", &["trigger", "ref"]),
        ("user", &["context", "user"]),
        ("enabled", &["enabled"]),
    ];
    let rules: Vec<Value> = state
        .store()
        .list_rules()
        .await?
        .into_iter()
        .filter(|r| {
            filters.iter().all(|(name, path)| match qget(&q, name) {
                None => true,
                Some(want) => match field(r, path) {
                    Some(Value::String(s)) => s == want,
                    Some(Value::Bool(b)) => {
                        matches!(want.to_ascii_lowercase().as_str(), "true" | "1") == *b
                    }
                    _ => false,
                },
            })
        })
        .collect();
    let (items, total) = page.apply(rules);
    let mut cache = Default::default();
    let mut masked = Vec::with_capacity(items.len());
    for r in items {
        masked.push(mask(&state, r, &mut cache).await?);
    }
    Ok(list_response(masked, page.headers(total)))
}

async fn get_one(State(state): State<AppState>, Path(key): Path<String>) -> ApiResult<Json<Value>> {
    let rule = state
        .store()
        .get_rule(&key)
        .await?
        .ok_or_else(|| not_found(&key))?;
    Ok(Json(mask(&state, rule, &mut Default::default()).await?))
}

async fn create(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let rule = events(&state)?
        .create_rule(RuleRequest::api(body, &requester.user))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(rule))).into_response())
}

async fn update(
    State(state): State<AppState>,
    Extension(requester): Extension<Requester>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let ev = events(&state)?;
    if state.store().get_rule(&key).await?.is_none() {
        return Err(not_found(&key));
    }
    let rule = ev
        .update_rule(&key, RuleRequest::api(body, &requester.user))
        .await?;
    Ok(Json(json!(rule)))
}

async fn delete(State(state): State<AppState>, Path(key): Path<String>) -> ApiResult<Response> {
    if events(&state)?.delete_rule(&key).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(not_found(&key))
    }
}

async fn rule_types() -> Json<Value> {
    Json(json!([
        {"id": "000000000000000000000001", "name": "standard", "enabled": true,
         "description": "standard rule that is always applicable.", "parameters": {}},
        {"id": "000000000000000000000002", "name": "backstop", "enabled": true,
         "description": "Rule that applies when no other rule has matched for a specific Trigger.",
         "parameters": {}}
    ]))
}
