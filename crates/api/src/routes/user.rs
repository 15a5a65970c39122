//! `GET /api/v1/user` (`st2 whoami`): who the caller is and how they authenticated.

use crate::auth::{AuthMethod, Requester};
use axum::{Extension, Json};
use serde_json::{json, Value};

pub async fn whoami(Extension(req): Extension<Requester>) -> Json<Value> {
    let mut authentication = json!({
        "method": match req.method { AuthMethod::Token { .. } => "authentication token", AuthMethod::ApiKey => "api key" },
        "location": req.location,
    });
    if let AuthMethod::Token { expiry } = req.method {
        authentication["token_expire"] = json!(expiry.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    // Gale has no RBAC: every authenticated user is an administrator, as in StackStorm with RBAC
    // disabled.
    Json(json!({
        "username": req.user,
        "authentication": authentication,
        "rbac": {"enabled": false, "roles": [], "is_admin": true},
    }))
}
