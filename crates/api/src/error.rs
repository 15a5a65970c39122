//! The one place that maps domain errors to HTTP status codes and StackStorm's error body
//! `{"faultstring": "<message>"}` (409 adds `"conflict-id"`). Storage failures are 500, never 4xx.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        message: String,
        existing_id: Option<String>,
    },
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError::NotFound(msg.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self, "request failed");
        }
        let body = match &self {
            ApiError::Conflict {
                message,
                existing_id: Some(id),
            } => {
                json!({"faultstring": message, "conflict-id": id})
            }
            other => json!({"faultstring": other.to_string()}),
        };
        (status, Json(body)).into_response()
    }
}

impl From<gale_store::Error> for ApiError {
    fn from(e: gale_store::Error) -> Self {
        use gale_store::Error as S;
        match e {
            S::NotFound { .. } => ApiError::NotFound(e.to_string()),
            S::Conflict {
                ref existing_id, ..
            } => {
                let existing_id = Some(existing_id.clone()).filter(|s| !s.is_empty());
                ApiError::Conflict {
                    message: e.to_string(),
                    existing_id,
                }
            }
            S::Backend(_) | S::Corrupt(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<gale_engine::Error> for ApiError {
    fn from(e: gale_engine::Error) -> Self {
        use gale_engine::Error as E;
        match e {
            E::ActionNotFound(_) | E::ActionDisabled(_) | E::Invalid(_) | E::Pack(_) => {
                ApiError::BadRequest(e.to_string())
            }
            E::Params(ref p) => {
                if crate::mask::params_error_is_internal(p) {
                    ApiError::Internal(e.to_string())
                } else {
                    ApiError::BadRequest(e.to_string())
                }
            }
            E::NotFound { .. } => ApiError::NotFound(e.to_string()),
            E::Conflict(_) => ApiError::Conflict {
                message: e.to_string(),
                existing_id: None,
            },
            E::Store(s) => s.into(),
            #[allow(unreachable_patterns)]
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
