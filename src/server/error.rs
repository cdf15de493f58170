//! The server's one error type. A 4xx says why and is not logged; a 5xx says "internal error" and its
//! detail is logged once, here.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::hashing::Busy;
use super::store::StoreError;
use crate::api::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no usable credential. `code` is machine-readable, e.g. `expired_credential`.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// 403: the credential is valid but its owner lacks the right.
    #[error("{0}")]
    Forbidden(String),
    /// 404: absent, or not visible to this credential.
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// 422: the request is well-formed JSON but a field is wrong; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// 400: the body is not JSON at all.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("this endpoint does not support that method")]
    MethodNotAllowed,
    /// 413: a body over the limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 408: the request took too long to arrive or to answer.
    #[error("the request took too long")]
    RequestTimeout,
    /// 431: the headers are too large.
    #[error("the request headers are too large")]
    HeadersTooLarge,
    /// 414: the path and query are too long.
    #[error("the request URI is too long")]
    UriTooLong,
    /// 429: too many failed attempts from this address or on this account, or the server is busy
    /// checking passwords; `Retry-After` says when to try again.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 503: the database cannot be reached, so nothing can be confirmed; `Retry-After` says when
    /// to try again. The detail is logged, not sent.
    #[error("the server cannot reach its database; try again shortly")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

/// Seconds a 503 asks the client to wait.
const UNAVAILABLE_RETRY_SECS: u64 = 2;

impl ApiError {
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            code,
            message: message.into(),
        }
    }

    pub fn key_not_found() -> Self {
        ApiError::NotFound("no such key".to_string())
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
            ApiError::UriTooLong => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl From<Busy> for ApiError {
    fn from(busy: Busy) -> Self {
        ApiError::TooManyRequests {
            message: busy.to_string(),
            retry_after_secs: 1,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound("not found".to_string()),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            other if other.is_unavailable() => ApiError::Unavailable(other.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge;
        }
        let text = redact_quoted(&rejection.body_text());
        match rejection {
            JsonRejection::JsonDataError(_) => ApiError::Invalid(text),
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "send the body as JSON with `Content-Type: application/json`".into(),
            ),
            _ => ApiError::BadRequest(text),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Invalid(redact_quoted(&rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::NotFound(redact_quoted(&rejection.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            ApiError::Internal(detail) => tracing::error!("internal error: {detail}"),
            ApiError::Unavailable(detail) => tracing::warn!("database unavailable: {detail}"),
            _ => {}
        }
        let body = ErrorBody {
            error: self.to_string(),
            code: code.to_string(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ApiError::Unavailable(_) => Some(UNAVAILABLE_RETRY_SECS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="keywarden", ApiKey realm="keywarden""#),
            );
        }
        response
    }
}

/// serde quotes the offending value in some messages (`invalid type: string "…"`); a value can be a
/// secret, so everything between double quotes is dropped. Field names are in backticks and stay.
fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for c in text.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_dropped_but_field_names_stay() {
        let text = "key: invalid type: string \"kw_secret\", expected i64 at `expires_in_days`";
        let redacted = redact_quoted(text);
        assert!(!redacted.contains("kw_secret"));
        assert!(redacted.contains("`expires_in_days`"));
    }
}
