//! Signing in and out with email and password.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ErrorBody, LoginRequest, LoginResponse};
use crate::key::{self, TokenKind};
use crate::server::auth::{Authenticated, ClientIp, session_token};
use crate::server::error::ApiError;
use crate::server::extract::JsonBody;
use crate::server::store::AuditContext;
use crate::server::{ACCOUNT_WINDOW, AppState, hashing};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
}

/// Exchanges email and password for a session token (`kws_…`), valid 12 hours by default. After
/// too many failures from one address (10 a minute), or on one account (10 in 15 minutes, counted
/// for every address that has failed), the answer is 429 with `Retry-After`, before any password
/// is checked; an address with no failures still signs in to an account under attack.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest, responses(
    (status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    state.throttle.check(ip)?;
    let email = request.email.trim();
    // An email no account can have (control characters) is looked up nowhere.
    let record = if email.chars().any(crate::text::is_unsafe) {
        None
    } else {
        state.store.user_by_email(email).await?
    };
    // Failures count per account: the user an email finds, however it is spelt (PostgreSQL
    // matches more spellings than one lower-casing), or the lower-cased email of no account.
    let account = match &record {
        Some(record) => key::hash(&format!("user:{}", record.user.id)),
        None => key::hash(&email.to_lowercase()),
    };
    let now = Utc::now();
    if state.throttle.has_failed(ip)
        && let Some((started, failures)) = state.store.login_failures(account).await?
        && failures >= state.config.account_failures
        && started + ACCOUNT_WINDOW > now
    {
        let left = (started + ACCOUNT_WINDOW - now).num_seconds().max(0);
        return Err(ApiError::TooManyRequests {
            message: "too many failed sign-ins to this account; try again later".to_string(),
            retry_after_secs: u64::try_from(left).unwrap_or(0) + 1,
        });
    }
    let stored_hash = record.as_ref().map(|r| r.password_hash.clone());
    let verified = hashing::verify(request.password, stored_hash).await?;
    let record = match record {
        Some(record) if verified => record,
        record => {
            state.throttle.fail(ip);
            let audit = AuditContext {
                ip: ip.map(|ip| ip.to_string()),
                ..AuditContext::system(now)
            };
            state
                .store
                .record_login_failure(
                    account,
                    record.as_ref().map(|r| &r.user),
                    ACCOUNT_WINDOW,
                    &audit,
                )
                .await?;
            let client = ip.map_or_else(|| "an unknown address".to_string(), |ip| ip.to_string());
            match &record {
                Some(record) => tracing::warn!(
                    "failed sign-in to {:?} (user {}) from {client}",
                    record.user.email,
                    record.user.id
                ),
                // The email is not logged: it may be a password typed into the wrong field.
                None => tracing::warn!("failed sign-in to an unknown email from {client}"),
            }
            return Err(ApiError::unauthorized(
                "invalid_login",
                "wrong email or password",
            ));
        }
    };
    state.store.clear_login_failures(account).await?;
    let joined = state
        .store
        .accept_invitations(record.user.id, &record.user.email, now)
        .await?;
    if !joined.is_empty() {
        // A key of theirs in a workspace they had left works again.
        state.cache.invalidate_user(record.user.id);
    }
    let token = key::generate(TokenKind::Session);
    let expires_at = now + Duration::hours(state.config.session_hours);
    let audit = AuditContext {
        actor_user_id: Some(record.user.id),
        ip: ip.map(|ip| ip.to_string()),
        ..AuditContext::system(now)
    };
    state
        .store
        .create_session(key::hash(token.expose()), record.user.id, expires_at, audit)
        .await?;
    Ok(Json(LoginResponse {
        token,
        expires_at,
        user: record.user.into(),
    }))
}

/// Ends the session whose token is presented.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", responses(
    (status = 204, description = "Session ended"), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Authenticated(principal): Authenticated,
) -> Result<StatusCode, ApiError> {
    let Some(token) = session_token(&headers) else {
        return Err(ApiError::Invalid(
            "logout ends a session: send the session token, not an API key".to_string(),
        ));
    };
    state
        .store
        .delete_session(
            key::hash(token.expose()),
            &principal.audit_context(Utc::now()),
        )
        .await?;
    state.cache.invalidate_user(principal.user_id);
    Ok(StatusCode::NO_CONTENT)
}
