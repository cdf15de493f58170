//! axum's extractors with rejections turned into our JSON error body.

use axum::extract::{FromRequest, FromRequestParts};

use super::error::ApiError;

/// A JSON body; unknown fields and wrong types are 422 naming the field.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);
