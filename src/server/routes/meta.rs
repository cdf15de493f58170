//! Health, the OpenAPI document, ping and "who am I".

use std::time::Duration;

use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::OpenApiJson;
use crate::api::{CredentialKind, ErrorBody, Health, MeResponse, Pong};
use crate::server::AppState;
use crate::server::auth::Authenticated;
use crate::server::error::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi_json))
        .routes(routes!(ping))
        .routes(routes!(me))
}

/// Liveness; needs no credential.
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()), responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
    })
}

/// Readiness, for load balancers: 200 while the database answers, 503 with `Retry-After` while it
/// does not (within 2 s). Needs no credential.
#[utoipa::path(get, path = "/readyz", tag = "meta", security(()), responses(
    (status = 200, body = Health), (status = 503, body = ErrorBody)))]
async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Json<Health>, ApiError> {
    let answer =
        tokio::time::timeout(Duration::from_secs(2), state.store.last_rights_change()).await;
    match answer {
        Ok(Ok(_)) => Ok(Json(Health {
            status: "ready".to_string(),
        })),
        Ok(Err(err)) => Err(ApiError::Unavailable(err.to_string())),
        Err(_) => Err(ApiError::Unavailable(
            "the database did not answer within 2 s".to_string(),
        )),
    }
}

/// This document; needs no credential.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", security(()), responses((status = 200, description = "OpenAPI 3 document")))]
async fn openapi_json(
    Extension(document): Extension<std::sync::Arc<OpenApiJson>>,
) -> Json<serde_json::Value> {
    Json(document.document().clone())
}

/// Checks a credential: 200 when it is valid.
#[utoipa::path(get, path = "/v1/ping", tag = "meta", responses(
    (status = 200, body = Pong), (status = 401, body = ErrorBody)))]
async fn ping(_: Authenticated) -> Json<Pong> {
    Json(Pong {
        status: "pong".to_string(),
    })
}

/// The caller: user, workspace, effective role and credential kind.
#[utoipa::path(get, path = "/v1/me", tag = "meta", responses(
    (status = 200, body = MeResponse), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody, description = "The caller is no longer a member of their default workspace")))]
async fn me(
    axum::extract::State(state): axum::extract::State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<MeResponse>, ApiError> {
    let user = state.store.user(principal.user_id).await?.ok_or_else(|| {
        ApiError::unauthorized(
            "invalid_credential",
            "the credential's user no longer exists",
        )
    })?;
    let role = principal.effective_role().ok_or_else(|| {
        ApiError::Forbidden("you are no longer a member of your default workspace".to_string())
    })?;
    Ok(Json(MeResponse {
        user: user.into(),
        workspace_id: principal.workspace_id,
        role,
        credential: if principal.key_id.is_some() {
            CredentialKind::ApiKey
        } else {
            CredentialKind::Session
        },
        key_id: principal.key_id,
        manage: principal.manage,
    }))
}
