//! `POST /v1/verify`: the call a service makes to gate its own API on a Keywarden key.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ErrorBody, KeyStatus, VerifyCode, VerifyRequest, VerifyResponse};
use crate::key::{self, TokenKind};
use crate::server::AppState;
use crate::server::auth::WorkspaceAdmin;
use crate::server::error::ApiError;
use crate::server::extract::JsonBody;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify))
}

/// Checks a key of the caller's workspace (the caller must be a workspace admin; an owner signed in
/// with a session checks keys of every workspace). Any admin's key may call this, without the scope
/// to manage: it is the call services make. `DISABLED` also covers a key whose owner is no longer a
/// member of the workspace.
#[utoipa::path(post, path = "/v1/verify", tag = "keys", request_body = VerifyRequest, responses(
    (status = 200, body = VerifyResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn verify(
    State(state): State<AppState>,
    WorkspaceAdmin(principal): WorkspaceAdmin,
    JsonBody(request): JsonBody<VerifyRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let invalid = |code| VerifyResponse {
        valid: false,
        code,
        key_id: None,
        name: None,
        user_id: None,
        workspace_id: None,
        scopes: None,
        expires_at: None,
    };
    let text = request.key.expose().trim();
    if key::parse(TokenKind::ApiKey, text).is_err() {
        return Ok(Json(invalid(VerifyCode::Malformed)));
    }
    let Some(key) = state.lookup_key(text).await? else {
        return Ok(Json(invalid(VerifyCode::NotFound)));
    };
    let auth = &key.auth;
    if !principal.server_wide() && auth.workspace_id != principal.workspace_id {
        return Ok(Json(invalid(VerifyCode::NotFound)));
    }
    let now = Utc::now();
    let code = match key.status(now) {
        KeyStatus::Revoked => VerifyCode::Revoked,
        KeyStatus::Expired => VerifyCode::Expired,
        KeyStatus::Disabled => VerifyCode::Disabled,
        KeyStatus::Active if auth.role.is_none() && !auth.is_owner => VerifyCode::Disabled,
        KeyStatus::Active => VerifyCode::Valid,
    };
    if code == VerifyCode::Valid {
        state.note_key_used(&key, now);
    }
    Ok(Json(VerifyResponse {
        valid: code == VerifyCode::Valid,
        code,
        key_id: Some(auth.key_id),
        name: Some(auth.name.clone()),
        user_id: Some(auth.user_id),
        workspace_id: Some(auth.workspace_id),
        scopes: Some(auth.scopes.clone()),
        expires_at: Some(auth.expires_at),
    }))
}
