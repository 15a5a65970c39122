//! Gale's StackStorm-compatible HTTP API: the axum routers (one module per resource under
//! [`routes`]), authentication (htpasswd users, tokens, API keys) and the single place that maps
//! domain errors to HTTP status codes and StackStorm's `{"faultstring": ...}` bodies ([`error`]).
//!
//! This crate owns no business logic and no SQL: executions go through the engine facade
//! (`gale_engine::Engine`), records are read through the store traits. Secrets are masked here,
//! on output only. The key choice: every route is served once under `/api/v1` and `/auth/v1`;
//! the direct-port forms (`/v1/...`, `/tokens`) and the one accepted trailing slash are handled
//! by rewriting the request path before routing ([`app`]), so no route is declared twice.

pub mod auth;
pub mod error;
pub mod json;
pub mod mask;
pub mod query;
pub mod routes;
pub mod state;

pub use error::ApiError;
pub use state::{ApiConfig, AppState};

use axum::body::Body;
use axum::http::{Request, Uri};
use axum::Router;
use tower::util::MapRequest;
use tower::ServiceExt;

/// The service to serve: the router behind the path normalization.
pub type App = MapRequest<Router, fn(Request<Body>) -> Request<Body>>;

/// Build the full application (routes, auth, path normalization) for `state`.
pub fn app(state: AppState) -> App {
    routes::router(state).map_request(normalize_path as fn(Request<Body>) -> Request<Body>)
}

/// Serve the application on `listener` until `shutdown` resolves, then finish the requests in
/// flight (graceful shutdown).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state);
    axum::serve(listener, tower::make::Shared::new(app))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Rewrite the path before routing: drop one trailing slash (the st2 CLI calls both
/// `/executions` and `/executions/`), and map the direct-port forms of StackStorm (`/v1/...` on
/// the API port, `/tokens` on the auth port) onto the prefixed routes.
fn normalize_path(mut req: Request<Body>) -> Request<Body> {
    let path = req.uri().path();
    let mut new_path = path.to_string();
    if new_path.len() > 1 && new_path.ends_with('/') {
        new_path.pop();
    }
    if new_path == "/tokens" || new_path.starts_with("/tokens/") {
        new_path = format!("/auth/v1{new_path}");
    } else if (new_path == "/v1" || new_path.starts_with("/v1/"))
        && !new_path.starts_with("/v1/stream")
    {
        new_path = format!("/api{new_path}");
    }
    if new_path != path {
        let pq = match req.uri().query() {
            Some(q) => format!("{new_path}?{q}"),
            None => new_path,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(p) = pq.parse() {
            parts.path_and_query = Some(p);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(p: &str) -> String {
        let req = Request::builder().uri(p).body(Body::empty()).unwrap();
        normalize_path(req).uri().to_string()
    }

    #[test]
    fn trailing_slash_and_direct_port_forms() {
        assert_eq!(
            norm("/api/v1/executions/?limit=1"),
            "/api/v1/executions?limit=1"
        );
        assert_eq!(norm("/api/v1/executions"), "/api/v1/executions");
        assert_eq!(norm("/v1/actions/core.local"), "/api/v1/actions/core.local");
        assert_eq!(norm("/tokens"), "/auth/v1/tokens");
        assert_eq!(norm("/tokens/validate/"), "/auth/v1/tokens/validate");
        assert_eq!(norm("/"), "/");
        assert_eq!(norm("/v1/stream?x=1"), "/v1/stream?x=1");
    }
}
