//! The routers, one module per resource, assembled here: public routes (health, token
//! creation) and everything else behind [`crate::auth::require_auth`].

pub mod actions;
pub mod apikeys;
pub mod enforcements;
pub mod executions;
pub mod health;
pub mod keys;
pub mod packs;
pub mod rules;
pub mod runners;
pub mod stream;
pub mod timers;
pub mod tokens;
pub mod triggers;
pub mod user;
pub mod webhooks;

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::Value;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/user", get(user::whoami))
        .merge(actions::routes())
        .merge(runners::routes())
        .merge(packs::routes())
        .merge(executions::routes())
        .merge(webhooks::routes())
        .merge(rules::routes())
        .merge(triggers::routes())
        .merge(enforcements::routes())
        .merge(apikeys::routes())
        .merge(keys::routes())
        .merge(timers::routes());
    let protected = Router::new()
        .nest("/api/v1", api)
        .route("/auth/v1/tokens/validate", post(tokens::validate))
        .merge(stream::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::require_auth,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/v1/healthz", get(health::healthz))
        .route("/auth/v1/tokens", post(tokens::create))
        .merge(protected)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            webhooks::basic_api_key,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("The resource could not be found.")
}

/// A JSON list response with pagination headers.
pub(crate) fn list_response(items: Vec<Value>, headers: HeaderMap) -> Response {
    (headers, Json(Value::Array(items))).into_response()
}
