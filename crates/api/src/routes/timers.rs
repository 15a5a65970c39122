//! `GET /timers[?timer_type=]` and `GET /timers/{ref_or_id}` (events.md §4.4): the timer
//! Triggers (IntervalTimer, DateTimer, CronTimer) that rules created, in their API form.

use crate::error::{ApiError, ApiResult};
use crate::query::{get as qget, Page, Params};
use crate::routes::list_response;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use gale_model::events::Trigger;
use gale_sensors::timers::TIMER_TYPES;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/timers", get(list))
        .route("/timers/:ref_or_id", get(get_one))
}

/// The API form of a trigger: never `ref_count`.
fn to_api(t: &Trigger) -> Value {
    let mut v = json!({
        "id": t.id,
        "ref": t.trigger_ref,
        "uid": t.uid,
        "name": t.name,
        "pack": t.pack,
        "type": t.trigger_type,
        "parameters": t.parameters,
    });
    if let (Some(d), Some(o)) = (&t.description, v.as_object_mut()) {
        o.insert("description".into(), json!(d));
    }
    v
}

async fn list(State(state): State<AppState>, Query(q): Query<Params>) -> ApiResult<Response> {
    let page = Page::parse(&q, None, state.config().page_cap())?;
    let types: Vec<&str> = match qget(&q, "timer_type") {
        None => TIMER_TYPES.to_vec(),
        Some(t) if TIMER_TYPES.contains(&t) => vec![t],
        Some(t) => {
            return Err(ApiError::bad_request(format!(
                "Timer type {t} not in supported types - {TIMER_TYPES:?}."
            )))
        }
    };
    let mut items = Vec::new();
    for ty in types {
        for t in state.store().list_triggers(Some(ty)).await? {
            items.push(to_api(&t));
        }
    }
    let (items, total) = page.apply(items);
    Ok(list_response(items, page.headers(total)))
}

async fn get_one(State(state): State<AppState>, Path(key): Path<String>) -> ApiResult<Json<Value>> {
    state
        .store()
        .get_trigger(&key)
        .await?
        .filter(|t| TIMER_TYPES.contains(&t.trigger_type.as_str()))
        .map(|t| Json(to_api(&t)))
        .ok_or_else(|| ApiError::not_found(format!("Timer with ref or id \"{key}\" not found.")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn api_form_has_no_ref_count() {
        let t = Trigger {
            id: "i".into(),
            trigger_ref: "core.abc".into(),
            uid: "trigger:core:abc:x".into(),
            name: "abc".into(),
            pack: "core".into(),
            trigger_type: "core.st2.IntervalTimer".into(),
            parameters: Map::new(),
            description: None,
            ref_count: 3,
        };
        let v = to_api(&t);
        assert!(v.get("ref_count").is_none());
        assert!(v.get("description").is_none());
        assert_eq!(v["type"], "core.st2.IntervalTimer");
        assert_eq!(v["ref"], "core.abc");
    }
}
