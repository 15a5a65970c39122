//! Webhooks (events.md §3): `POST /webhooks/st2` (generic) and `POST /webhooks/<url>` for
//! custom URLs, `GET /webhooks[/<url>]`. Body parsing, header names and dispatch live in
//! `gale_events::webhook`; this module reads the raw request, enforces the size limit (413) and
//! answers `202` echoing the parsed body once the instances are committed.
//!
//! `POST /webhooks/siteengine` (site-engine.md §1.4) takes the Site Engine envelope instead:
//! `gale_siteengine` normalises it into a `siteengine.*` trigger payload, resent events are
//! dropped by idempotency key (durably: the key is stored in the payload and the memory is
//! seeded from recent instances before the first check), and the answer is the trigger instance.

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
        .route("/webhooks/siteengine", axum::routing::post(siteengine))
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

/// The body up to [`WEBHOOK_BODY_LIMIT`], or the 413/400 response to send instead.
async fn read_body(body: axum::body::Body) -> Result<axum::body::Bytes, Response> {
    match axum::body::to_bytes(body, WEBHOOK_BODY_LIMIT).await {
        Ok(b) => Ok(b),
        Err(e) => {
            // axum reports the limit as a "length limit exceeded" body error.
            let too_large = format!("{e:?} {e}").contains("length limit");
            if too_large {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Json(json!({"faultstring": format!(
                        "Request body is too large (the limit is {WEBHOOK_BODY_LIMIT} bytes)."
                    )})),
                )
                    .into_response());
            }
            Err(ApiError::bad_request(format!("Failed to read request body: {e}")).into_response())
        }
    }
}

async fn fire(
    State(state): State<AppState>,
    Path(hook): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let ev = events(&state)?.clone();
    let (parts, body) = req.into_parts();
    let raw = match read_body(Body::new(body)).await {
        Ok(b) => b,
        Err(resp) => return Ok(resp),
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

/// Trigger types a Site Engine envelope dispatches (the ones whose instances carry keys).
const SITEENGINE_TRIGGERS: [&str; 3] = [
    gale_siteengine::envelope::ALARM_TRIGGER,
    gale_siteengine::envelope::TRAP_TRIGGER,
    gale_siteengine::envelope::SYSLOG_TRIGGER,
];

/// Payload field the idempotency key is stored under, so dedup survives a restart.
pub const IDEMPOTENCY_FIELD: &str = "idempotency_key";

/// State of `POST /webhooks/siteengine`: the recent idempotency keys, seeded once from storage.
#[derive(Default)]
pub struct SiteEngineHook {
    dedup: gale_siteengine::dedup::Deduplicator,
    seeded: tokio::sync::OnceCell<()>,
}

/// How long a duplicate waits for the first delivery of its key to be stored.
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl SiteEngineHook {
    /// `None`: `key` is new and now reserved for this request (dispatch it). `Some(id)`: a
    /// duplicate of the stored instance `id`. A duplicate of a delivery still in flight waits
    /// for it: if that one fails and releases the key, this request takes it over, so an event
    /// is never acknowledged without being stored; past [`IN_FLIGHT_WAIT`] it gets 503 and
    /// the sender retries.
    async fn reserve(&self, key: &str) -> ApiResult<Option<String>> {
        let deadline = tokio::time::Instant::now() + IN_FLIGHT_WAIT;
        loop {
            if self.dedup.first_seen(key) {
                return Ok(None);
            }
            if let Some(id) = self.dedup.id_of(key) {
                return Ok(Some(id));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::Unavailable(format!(
                    "An event with idempotency key {key} is still being processed; retry."
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Loads the keys of the `siteengine.*` instances stored within the dedup window (24 h),
    /// oldest first, so a resend after a restart is still recognised.
    async fn seed(&self, state: &AppState) -> ApiResult<()> {
        self.seeded
            .get_or_try_init(|| async {
                let now = gale_model::now();
                let filter = gale_store::TriggerInstanceFilter {
                    trigger: SITEENGINE_TRIGGERS.iter().map(|s| s.to_string()).collect(),
                    timestamp_gt: Some(now - chrono::Duration::hours(24)),
                    limit: Some(100_000),
                    ..Default::default()
                };
                let (mut items, _) = state.store().list_trigger_instances(&filter).await?;
                items.sort_by_key(|t| t.occurrence_time);
                let mut n = 0usize;
                for ti in &items {
                    if let Some(key) = ti.payload.get(IDEMPOTENCY_FIELD).and_then(Value::as_str) {
                        let age = (now - ti.occurrence_time).to_std().unwrap_or_default();
                        self.dedup.seed(key, &ti.id, age);
                        n += 1;
                    }
                }
                tracing::debug!(keys = n, "siteengine webhook: dedup seeded from storage");
                Ok::<(), ApiError>(())
            })
            .await?;
        Ok(())
    }
}

fn header_str<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Opt-in (site-engine.md §1.3): `Authorization: Basic base64(<anything>:<api key>)` is taken
/// as the API key on the Site Engine webhook, for senders that can only do Basic auth. Runs
/// before the auth middleware; a request that already carries a token or key is left alone.
pub async fn basic_api_key(
    State(state): State<AppState>,
    mut req: Request,
    next: axum::middleware::Next,
) -> Response {
    if state.config().webhooks_accept_basic_api_key
        && req.uri().path().trim_end_matches('/') == "/api/v1/webhooks/siteengine"
        && header_str(req.headers(), "st2-api-key").is_none()
        && header_str(req.headers(), "x-auth-token").is_none()
    {
        if let Some(key) = header_str(req.headers(), "authorization").and_then(basic_password) {
            if let Ok(v) = axum::http::HeaderValue::from_str(&key) {
                req.headers_mut().insert("st2-api-key", v);
            }
        }
    }
    next.run(req).await
}

/// The password part of a Basic credential.
fn basic_password(value: &str) -> Option<String> {
    use base64::Engine as _;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (_, key) = text.split_once(':')?;
    Some(key.to_string()).filter(|k| !k.is_empty())
}

/// An instance in API form (the shape of `GET /triggerinstances/{id}`).
fn instance_api(ti: &gale_model::events::TriggerInstance) -> Value {
    serde_json::to_value(ti).unwrap_or(Value::Null)
}

async fn siteengine(State(state): State<AppState>, req: Request) -> ApiResult<Response> {
    let ev = events(&state)?.clone();
    let (parts, body) = req.into_parts();
    let raw = match read_body(Body::new(body)).await {
        Ok(b) => b,
        Err(resp) => return Ok(resp),
    };
    let mut n = gale_siteengine::normalize(&raw, gale_model::now())
        .map_err(|e| ApiError::bad_request(format!("Invalid Site Engine event: {e}")))?;
    // The envelope's key (alarm id and time) wins; the header covers events without both.
    let key = n.idempotency_key.clone().or_else(|| {
        header_str(
            &parts.headers,
            gale_siteengine::envelope::IDEMPOTENCY_HEADER,
        )
        .map(str::to_string)
    });
    let trace_tag = header_str(&parts.headers, "st2-trace-tag")
        .map(str::to_string)
        .unwrap_or_else(|| n.trace_tag.clone());
    let hook = &state.siteengine_hook();
    if let Some(key) = &key {
        hook.seed(&state).await?;
        if let Some(existing) = hook.reserve(key).await? {
            let Some(ti) = state.store().get_trigger_instance(&existing).await? else {
                // Stored once and since purged: nothing left to answer with.
                return Ok((
                    StatusCode::ACCEPTED,
                    Json(json!({"idempotency_key": key, "duplicate": true})),
                )
                    .into_response());
            };
            tracing::info!(key = %key, id = %ti.id, "siteengine webhook: duplicate event dropped");
            return Ok((StatusCode::ACCEPTED, Json(instance_api(&ti))).into_response());
        }
        if let Value::Object(p) = &mut n.payload {
            p.insert(IDEMPOTENCY_FIELD.into(), Value::String(key.clone()));
        }
    }
    let ctx = gale_events::EmitContext {
        trace_tag: Some(trace_tag),
        ..Default::default()
    };
    match ev.dispatch_validated(n.trigger, n.payload, ctx).await {
        Ok(Some(ti)) => {
            if let Some(key) = &key {
                hook.dedup.record(key, &ti.id);
            }
            Ok((StatusCode::ACCEPTED, Json(instance_api(&ti))).into_response())
        }
        Ok(None) => {
            // Not stored (the trigger type is not registered): a retry must not be dropped.
            if let Some(key) = &key {
                hook.dedup.forget(key);
            }
            Err(ApiError::bad_request(format!(
                "Trigger type {} is not registered (is the siteengine pack installed?)",
                n.trigger
            )))
        }
        Err(e) => {
            if let Some(key) = &key {
                hook.dedup.forget(key);
            }
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{basic_password, SiteEngineHook};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_duplicate_in_flight_waits_for_the_first_delivery() {
        let hook = Arc::new(SiteEngineHook::default());
        assert_eq!(hook.reserve("se-1").await.unwrap(), None, "new key");
        // The first delivery is stored meanwhile: the duplicate answers with it.
        let h = hook.clone();
        let first = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            h.dedup.record("se-1", "ti-1");
        });
        assert_eq!(hook.reserve("se-1").await.unwrap().as_deref(), Some("ti-1"));
        first.await.unwrap();
        // The first delivery fails and releases the key: the duplicate takes it over.
        assert_eq!(hook.reserve("se-2").await.unwrap(), None);
        let h = hook.clone();
        let failed = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            h.dedup.forget("se-2");
        });
        assert_eq!(hook.reserve("se-2").await.unwrap(), None, "taken over");
        failed.await.unwrap();
        assert_eq!(hook.dedup.id_of("se-2"), None);
    }

    #[test]
    fn basic_password_is_the_api_key() {
        use base64::Engine as _;
        let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(
            basic_password(&format!("Basic {}", enc("siteengine:k3y:x"))).as_deref(),
            Some("k3y:x")
        );
        assert_eq!(
            basic_password(&format!("basic {}", enc(":k"))).as_deref(),
            Some("k")
        );
        assert_eq!(basic_password(&format!("Basic {}", enc("user:"))), None);
        assert_eq!(basic_password(&format!("Bearer {}", enc("a:b"))), None);
        assert_eq!(basic_password("Basic !!!"), None);
    }
}
