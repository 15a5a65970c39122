//! `POST /auth/v1/tokens` (HTTP basic auth against the htpasswd users; public) and
//! `POST /auth/v1/tokens/validate` (needs its own credentials).

use crate::auth::{self, htpasswd};
use crate::error::{ApiError, ApiResult};
use crate::json::JsonBody;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine as _;
use gale_model::{format_ts, Token};
use serde_json::{json, Value};

const BAD_CREDENTIALS: &str = "Invalid or missing credentials";

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = headers.get("authorization")?.to_str().ok()?;
    let (scheme, data) = raw.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// The requested TTL: absent/null → the default; must be an integer in 1..=max.
fn requested_ttl(body: &Value, max: u64) -> ApiResult<u64> {
    let Some(ttl) = body.get("ttl").filter(|v| !v.is_null()) else {
        return Ok(max);
    };
    let Some(n) = ttl.as_i64() else {
        return Err(ApiError::bad_request(format!(
            "{ttl} is not of type 'integer'"
        )));
    };
    if n < 1 {
        return Err(ApiError::bad_request(format!(
            "{n} is less than the minimum of 1"
        )));
    }
    if n as u64 > max {
        return Err(ApiError::bad_request(format!(
            "TTL specified {n} is greater than max allowed {max}."
        )));
    }
    Ok(n as u64)
}

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Some((user, password)) = basic_credentials(&headers) else {
        return Err(ApiError::Unauthorized(BAD_CREDENTIALS.into()));
    };
    let body = if body.is_null() { json!({}) } else { body };
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "{body} is not of type 'object'"
        )));
    }
    let ttl = requested_ttl(&body, state.config().token_ttl)?;
    let path = state.config().htpasswd_path();
    let check_user = user.clone();
    // bcrypt is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || htpasswd::verify(&path, &check_user, &password))
        .await
        .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !ok {
        tracing::info!(user = %user, "token request with invalid credentials");
        return Err(ApiError::Unauthorized(BAD_CREDENTIALS.into()));
    }
    let token = auth::new_token_string();
    let expiry = gale_model::now() + chrono::Duration::seconds(ttl as i64);
    let record = Token {
        id: gale_model::new_id(),
        user: user.clone(),
        token_hash: auth::hash_secret(&token),
        expiry,
        metadata: json!({}),
        service: false,
    };
    state.store().create_token(&record).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": record.id,
            "user": user,
            "token": token,
            "expiry": format_ts(&expiry),
            "metadata": {},
            "service": false,
        })),
    ))
}

pub async fn validate(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let Some(token) = body.get("token").and_then(Value::as_str) else {
        return Err(ApiError::bad_request("'token' is a required property"));
    };
    let valid = match auth::check_token(&state, token).await {
        Ok(_) => true,
        Err(ApiError::Unauthorized(_)) => false,
        Err(e) => return Err(e),
    };
    Ok(Json(json!({"valid": valid})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_rules() {
        assert_eq!(requested_ttl(&json!({}), 86400).unwrap(), 86400);
        assert_eq!(requested_ttl(&json!({"ttl": null}), 86400).unwrap(), 86400);
        assert_eq!(requested_ttl(&json!({"ttl": 60}), 86400).unwrap(), 60);
        let e = requested_ttl(&json!({"ttl": 90000}), 86400).unwrap_err();
        assert_eq!(
            e.to_string(),
            "TTL specified 90000 is greater than max allowed 86400."
        );
        assert_eq!(
            requested_ttl(&json!({"ttl": 0}), 86400)
                .unwrap_err()
                .status(),
            400
        );
        assert_eq!(
            requested_ttl(&json!({"ttl": "x"}), 86400)
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn parses_basic_auth() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Basic c3QyYWRtaW46cDpx".parse().unwrap());
        assert_eq!(
            basic_credentials(&h),
            Some(("st2admin".into(), "p:q".into()))
        );
        h.insert("authorization", "Bearer x".parse().unwrap());
        assert_eq!(basic_credentials(&h), None);
    }
}
