//! Assembles the route modules into one router and one OpenAPI document.

mod admin;
mod audit;
mod keys;
mod meta;
mod session;
mod verify;

#[cfg(test)]
pub(crate) use keys::{validate_description, validate_name};

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::error::ApiError;
use super::http;
use super::openapi::ApiDoc;

/// The generated OpenAPI document, served by `GET /v1/openapi.json`: turned into JSON (with the
/// answers every route gives and the request constraints added) at the first request for it, not
/// when the server starts, since the app and every command on this computer start one.
pub(super) struct OpenApiJson {
    api: utoipa::openapi::OpenApi,
    max_key_days: i64,
    json: std::sync::OnceLock<serde_json::Value>,
}

impl OpenApiJson {
    pub(super) fn document(&self) -> &serde_json::Value {
        self.json.get_or_init(|| {
            let mut document = serde_json::to_value(&self.api).unwrap_or_default();
            super::openapi::add_generic_responses(&mut document);
            super::openapi::add_request_constraints(&mut document, self.max_key_days);
            document
        })
    }
}

pub fn router(state: AppState) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(meta::routes())
        .merge(session::routes())
        .merge(keys::routes())
        .merge(verify::routes())
        .merge(audit::routes())
        .merge(admin::routes())
        .split_for_parts();
    let document = OpenApiJson {
        api,
        max_key_days: state.config.max_key_days,
        json: std::sync::OnceLock::new(),
    };
    router
        .fallback(|| async { ApiError::NotFound("no such endpoint".to_string()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(Extension(Arc::new(document)))
        .layer(DefaultBodyLimit::max(http::MAX_BODY_BYTES))
        .with_state(state)
}

use crate::api::limits::PAGE_LIMIT_DEFAULT;
pub(super) use crate::api::limits::PAGE_LIMIT_MAX;

fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(PAGE_LIMIT_DEFAULT),
        Some(n @ 1..=PAGE_LIMIT_MAX) => Ok(n),
        Some(_) => Err(ApiError::Invalid(format!(
            "limit: must be between 1 and {PAGE_LIMIT_MAX}"
        ))),
    }
}

/// A query parameter or body field that names a record (`workspace_id`, `user_id`, `key_id`):
/// ids are 1 or more, so one below is a wrong request (422), not a record that is missing (404).
fn record_id(field: &str, id: Option<i64>) -> Result<Option<i64>, ApiError> {
    match id {
        Some(id) if id < 1 => Err(ApiError::Invalid(format!(
            "{field}: not an id (ids are 1 or more)"
        ))),
        id => Ok(id),
    }
}

fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    cursor
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::Invalid("cursor: not a cursor from this server".to_string()))
        })
        .transpose()
}

/// Keyset pagination: `rows` was fetched with `limit + 1`; returns the page and the next cursor.
fn paginate<T>(mut rows: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|row| id(row).to_string())
    } else {
        None
    };
    (rows, next)
}
