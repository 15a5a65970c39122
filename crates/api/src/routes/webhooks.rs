//! Webhooks (events.md §3): `POST /webhooks/st2` (generic) and `POST /webhooks/<url>` for
//! custom URLs, `GET /webhooks[/<url>]`. Body parsing, header names and dispatch live in
//! `gale_events::webhook`; this module reads the raw request, enforces the size limit (413) and
//! answers `202` echoing the parsed body once the instances are committed.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use gale_events::webhook::{parse_body, WebhookRequest};
use gale_events::Events;
use serde_json::{json, Value};

/// Largest accepted webhook body; larger ones get 413 and store nothing.
pub const WEBHOOK_BODY_LIMIT: usize = 8 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list))
        .route("/webhooks/*hook", get(get_one).post(fire))
}

/// The events service, or 503 while it is not attached.
pub(crate) fn events(state: &AppState) -> ApiResult<&Events> {
    state
        .events()
        .ok_or_else(|| ApiError::Unavailable("The events service is not available.".into()))
}

impl From<gale_events::Error> for ApiError {
    fn from(e: gale_events::Error) -> Self {
        use gale_events::Error as E;
        match e {
            E::NotFound { .. } | E::WebhookNotFound(_) => ApiError::NotFound(e.to_string()),
            E::Invalid(_) => ApiError::BadRequest(e.to_string()),
            E::Conflict {
                message,
                existing_id,
            } => ApiError::Conflict {
                message,
                existing_id: Some(existing_id).filter(|s| !s.is_empty()),
            },
            E::Store(s) => s.into(),
        }
    }
}

/// A trigger in API form (never `ref_count`).
pub(crate) fn trigger_api(t: &gale_model::events::Trigger) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("ref_count");
    }
    v
}

async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = events(&state)?
        .webhook_triggers()
        .iter()
        .map(trigger_api)
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn get_one(
    State(state): State<AppState>,
    Path(hook): Path<String>,
) -> ApiResult<Json<Value>> {
    let url = hook.trim_matches('/');
    events(&state)?
        .webhook_triggers()
        .iter()
        .find(|t| {
            t.parameters
                .get("url")
                .and_then(Value::as_str)
                .map(|u| u.trim_matches('/'))
                == Some(url)
        })
        .map(|t| Json(trigger_api(t)))
        .ok_or_else(|| ApiError::not_found(format!("Webhook {url} not registered with st2")))
}

async fn fire(
    State(state): State<AppState>,
    Path(hook): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let ev = events(&state)?.clone();
    let (parts, body) = req.into_parts();
    let raw = match axum::body::to_bytes(Body::new(body), WEBHOOK_BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => {
            // axum reports the limit as a "length limit exceeded" body error.
            let too_large = format!("{e:?} {e}").contains("length limit");
            if too_large {
                return Ok((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Json(json!({"faultstring": format!(
                        "Request body is too large (the limit is {WEBHOOK_BODY_LIMIT} bytes)."
                    )})),
                )
                    .into_response());
            }
            return Err(ApiError::bad_request(format!(
                "Failed to read request body: {e}"
            )));
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body = parse_body(content_type, &raw)?;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    ev.fire_webhook(WebhookRequest {
        hook,
        body: body.clone(),
        headers,
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
