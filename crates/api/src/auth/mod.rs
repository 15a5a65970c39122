//! Authentication: tokens (`X-Auth-Token` header or `x-auth-token` query parameter) and API keys
//! (`St2-Api-Key` header or `st2-api-key` query parameter), with StackStorm's exact 401 messages.
//! Secrets are stored only as hex SHA-256 hashes; the plaintext token or key is returned once,
//! when it is created.

pub mod htpasswd;

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gale_model::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// How the caller authenticated.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthMethod {
    Token { expiry: Timestamp },
    ApiKey,
}

/// The authenticated caller, put into the request extensions by [`require_auth`].
#[derive(Clone, Debug, PartialEq)]
pub struct Requester {
    pub user: String,
    pub method: AuthMethod,
    /// `header` or `query`.
    pub location: &'static str,
}

/// Hex SHA-256 of a secret (token string or API key): what the store keeps.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new token string: a uuid4 as 32 hex digits, like StackStorm's.
pub fn new_token_string() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new API key: 32 random bytes, URL-safe base64 (no padding) so it fits headers and queries.
pub fn new_api_key() -> String {
    use base64::Engine as _;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

const NO_CREDENTIALS: &str = "Unauthorized - One of Token or API key required.";

/// Middleware for every non-public route: resolves the caller or answers 401.
pub async fn require_auth(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let (token, key) = credentials(&req);
    match authenticate_with(&state, token, key).await {
        Ok(requester) => {
            req.extensions_mut().insert(requester);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

fn credential(
    headers: &HeaderMap,
    name: &str,
    query: &HashMap<String, String>,
) -> Option<(String, &'static str)> {
    if let Some(v) = headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    {
        return Some((v.to_string(), "header"));
    }
    query
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| (v.clone(), "query"))
}

type Credential = Option<(String, &'static str)>;

/// The token and API key the request carries. Read before any await: the body makes `Request`
/// non-`Sync`, so a reference to it cannot be held across one.
fn credentials(req: &Request) -> (Credential, Credential) {
    let query: HashMap<String, String> = Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    (
        credential(req.headers(), "x-auth-token", &query),
        credential(req.headers(), "st2-api-key", &query),
    )
}

async fn authenticate_with(
    state: &AppState,
    token: Credential,
    key: Credential,
) -> Result<Requester, ApiError> {
    if let Some((token, location)) = token {
        let (user, expiry) = check_token(state, &token).await?;
        return Ok(Requester {
            user,
            method: AuthMethod::Token { expiry },
            location,
        });
    }
    if let Some((key, location)) = key {
        let user = check_api_key(state, &key).await?;
        return Ok(Requester {
            user,
            method: AuthMethod::ApiKey,
            location,
        });
    }
    Err(ApiError::Unauthorized(NO_CREDENTIALS.into()))
}

/// Resolve a token string to (user, expiry), or the 401 StackStorm answers.
pub async fn check_token(state: &AppState, token: &str) -> Result<(String, Timestamp), ApiError> {
    let stored = state.store().get_token_by_hash(&hash_secret(token)).await?;
    let Some(t) = stored else {
        return Err(ApiError::Unauthorized("Unauthorized".into()));
    };
    if t.expiry <= gale_model::now() {
        return Err(ApiError::Unauthorized(
            "Unauthorized - Token has expired.".into(),
        ));
    }
    Ok((t.user, t.expiry))
}

async fn check_api_key(state: &AppState, key: &str) -> Result<String, ApiError> {
    let hash = hash_secret(key);
    match state.store().get_api_key(&hash).await? {
        Some(k) if k.key_hash == hash => {
            if k.enabled {
                Ok(k.user)
            } else {
                Err(ApiError::Unauthorized(
                    "Unauthorized - API key is disabled.".into(),
                ))
            }
        }
        _ => Err(ApiError::Unauthorized(format!(
            "Unauthorized - ApiKey with key_hash={hash} not found."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_shapes() {
        let t = new_token_string();
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(t, new_token_string());
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let k = new_api_key();
        assert_eq!(k.len(), 43);
        assert!(k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}
