//! Rule enforcements (events.md §5.10) and traces (§9.1): read-only lists with StackStorm's
//! filters, newest first, and get by id.

use crate::error::{ApiError, ApiResult};
use crate::query::{flag, get as qget, Page, Params};
use crate::routes::list_response;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use gale_store::{EnforcementFilter, TraceFilter};
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ruleenforcements", get(list_enforcements))
        .route("/ruleenforcements/:id", get(get_enforcement))
        .route("/traces", get(list_traces))
        .route("/traces/:id", get(get_trace))
}

fn not_found(key: &str) -> ApiError {
    ApiError::not_found(format!(
        "Resource with a reference or id \"{key}\" not found"
    ))
}

fn timestamp(q: &Params, name: &str) -> ApiResult<Option<gale_model::Timestamp>> {
    match qget(q, name) {
        None => Ok(None),
        Some(s) => gale_model::time::parse_ts(s)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid timestamp \"{s}\" for {name}"))),
    }
}

async fn list_enforcements(
    State(state): State<AppState>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    // StackStorm's default page for rule enforcements is 50 (st2-api.md §1).
    let page = Page::parse(&q, Some(50), state.config().page_cap())?;
    let filter = EnforcementFilter {
        rule: qget(&q, "rule_ref")
            .or_else(|| qget(&q, "rule_id"))
            .or_else(|| qget(&q, "rule"))
            .map(str::to_string),
        trigger_instance: qget(&q, "trigger_instance").map(str::to_string),
        execution: qget(&q, "execution").map(str::to_string),
        enforced_at_gt: timestamp(&q, "enforced_at_gt")?,
        enforced_at_lt: timestamp(&q, "enforced_at_lt")?,
        offset: page.offset,
        limit: page.limit,
    };
    let (items, total) = state.store().list_rule_enforcements(&filter).await?;
    let items = items.into_iter().map(|e| json!(e)).collect();
    Ok(list_response(items, page.headers(total)))
}

async fn get_enforcement(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .store()
        .get_rule_enforcement(&id)
        .await?
        .map(|e| Json(json!(e)))
        .ok_or_else(|| not_found(&id))
}

async fn list_traces(
    State(state): State<AppState>,
    Query(q): Query<Params>,
) -> ApiResult<Response> {
    let page = Page::parse(&q, Some(100), state.config().page_cap())?;
    let filter = TraceFilter {
        trace_tag: qget(&q, "trace_tag").map(str::to_string),
        execution: qget(&q, "execution").map(str::to_string),
        rule: qget(&q, "rule").map(str::to_string),
        trigger_instance: qget(&q, "trigger_instance").map(str::to_string),
        sort_asc: qget(&q, "sort_asc").is_some() && flag(&q, "sort_asc"),
        offset: page.offset,
        limit: page.limit,
    };
    let (items, total) = state.store().list_traces(&filter).await?;
    let items = items.into_iter().map(|t| json!(t)).collect();
    Ok(list_response(items, page.headers(total)))
}

async fn get_trace(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    state
        .store()
        .get_trace(&id)
        .await?
        .map(|t| Json(json!(t)))
        .ok_or_else(|| not_found(&id))
}
