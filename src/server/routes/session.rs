//! Signing in and out with email and password.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ErrorBody, LoginRequest, LoginResponse};
use crate::key::{self, TokenKind};
use crate::server::AppState;
use crate::server::accounts::verify_password;
use crate::server::auth::{Authenticated, ClientIp, session_token};
use crate::server::error::ApiError;
use crate::server::extract::JsonBody;
use crate::server::store::AuditContext;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
}

/// Exchanges email and password for a session token (`kws_…`), valid 12 hours by default.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest, responses(
    (status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let record = state.store.user_by_email(request.email.trim()).await?;
    let stored_hash = record.as_ref().map(|r| r.password_hash.clone());
    let password = request.password;
    let verified =
        tokio::task::spawn_blocking(move || verify_password(&password, stored_hash.as_deref()))
            .await
            .map_err(|err| ApiError::Internal(format!("password check failed: {err}")))?;
    let Some(record) = record.filter(|_| verified) else {
        return Err(ApiError::unauthorized(
            "invalid_login",
            "wrong email or password",
        ));
    };
    state
        .store
        .accept_invitations(record.info.id, &record.info.email)
        .await?;
    let token = key::generate(TokenKind::Session);
    let now = Utc::now();
    let expires_at = now + Duration::hours(state.config.session_hours);
    let audit = AuditContext {
        actor_user_id: Some(record.info.id),
        ip,
        at: now,
    };
    state
        .store
        .create_session(key::hash(token.expose()), record.info.id, expires_at, audit)
        .await?;
    Ok(Json(LoginResponse {
        token,
        expires_at,
        user: record.info,
    }))
}

/// Ends the session whose token is presented.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", responses(
    (status = 204, description = "Session ended"), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _: Authenticated,
) -> Result<StatusCode, ApiError> {
    let Some(token) = session_token(&headers) else {
        return Err(ApiError::Invalid(
            "logout ends a session: send the session token, not an API key".to_string(),
        ));
    };
    state.store.delete_session(key::hash(&token)).await?;
    state.cache.invalidate();
    Ok(StatusCode::NO_CONTENT)
}
