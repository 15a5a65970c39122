//! Request bodies: a JSON extractor whose rejections are StackStorm-shaped 400s (axum's own
//! rejection is plain text), and which accepts bodies sent without a content type, as the st2
//! client sometimes does.

use crate::error::ApiError;
use axum::async_trait;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// A JSON request body. An empty body is parsed as `null` so that `Option<T>`/defaulted bodies
/// work for clients that send nothing.
pub struct JsonBody<T>(pub T);

#[async_trait]
impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("Failed to read request body: {e}")))?;
        parse(&bytes).map(JsonBody)
    }
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"null"[..]
    } else {
        bytes
    };
    serde_json::from_slice(text)
        .map_err(|e| ApiError::bad_request(format!("Failed to parse request body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn empty_body_is_null_and_garbage_is_400() {
        assert_eq!(parse::<Value>(b"").unwrap(), Value::Null);
        let err = parse::<Value>(b"{not json").unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(err.to_string().starts_with("Failed to parse request body"));
    }
}
