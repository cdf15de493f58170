//! Keys: create, list, read, edit, revoke, rotate, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{page_limit, paginate, parse_cursor, record_id};
use crate::api::{
    AuditAction, CreateKeyRequest, CreatedKey, ErrorBody, KeyInfo, KeyPage, KeyStatus,
    KeysRevision, ListKeysQuery, Role, RotateKeyRequest, RotatedKey, UpdateKeyRequest,
    grants_manage,
};
use crate::key::{self, TokenKind};
use crate::server::AppState;
use crate::server::auth::{Authenticated, Manager, Principal};
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, Path, Query};
use crate::server::rights;
use crate::server::store::{KeyChanges, KeyFilter, KeyRecord, NewKey};
use crate::text;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(keys_revision))
        .routes(routes!(get_key, update_key, delete_key))
        .routes(routes!(revoke_key))
        .routes(routes!(rotate_key))
}

use crate::api::limits::{self, MAX_GRACE_SECONDS, MAX_SCOPES, SCOPE_MAX_CHARS};

/// Issues a key. The secret is in this response and nowhere else, ever.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKeyRequest, responses(
    (status = 201, body = CreatedKey), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "`user_id` or `workspace_id` names no member or workspace the caller may see"),
    (status = 422, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    JsonBody(request): JsonBody<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let now = Utc::now();
    let name = validate_name(&request.name)?;
    let description = validate_description(request.description.as_deref().unwrap_or(""))?;
    let scopes = validate_scopes(request.scopes.unwrap_or_default())?;
    let expires_at = match (request.expires_in_days, request.expires_at) {
        (Some(days), None) => expiry_in_days(&state, now, days)?,
        (None, Some(at)) => validate_expires_at(&state, now, at)?,
        (None, None) => {
            return Err(ApiError::Invalid(
                "expires_in_days: give expires_in_days or expires_at".into(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::Invalid(
                "expires_at: give either expires_in_days or expires_at, not both".into(),
            ));
        }
    };
    let requested_user = record_id("user_id", request.user_id)?;
    let requested_workspace = record_id("workspace_id", request.workspace_id)?;
    let (workspace_id, role) = state.role_in(&principal, requested_workspace).await?;
    if role < Role::Member {
        return Err(ApiError::Forbidden(
            "viewers cannot create keys".to_string(),
        ));
    }
    let user_id = requested_user.unwrap_or(principal.user_id);
    let subject = state
        .standing(user_id, workspace_id)
        .await?
        .filter(|s| s.is_owner || s.role_here.is_some())
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "user_id: user {user_id} is not a member of this workspace"
            ))
        })?;
    if !rights::manages_credentials_of(&principal, role, &subject) {
        return Err(ApiError::Forbidden(if role >= Role::Admin {
            "admins create keys only for members and viewers of this workspace alone, never for \
             an owner, another admin or a member of other workspaces"
                .to_string()
        } else {
            "only admins create keys for other users".to_string()
        }));
    }
    if grants_manage(&scopes) {
        rights::may_grant_manage_scope(&principal, &subject)?;
    }
    let secret = key::generate(TokenKind::ApiKey);
    let new = NewKey {
        hash: key::hash(secret.expose()),
        hint: key::display_hint(secret.expose()),
        name,
        description,
        workspace_id,
        user_id,
        created_at: now,
        expires_at,
        scopes,
        replaces: None,
    };
    let record = state
        .store
        .insert_key(new, principal.audit_context(now))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: record.into_info(now),
            secret,
        }),
    ))
}

/// Lists keys, newest first: active, disabled, expired and revoked alike (until deleted). Members and
/// viewers see only their own keys.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", params(ListKeysQuery), responses(
    (status = 200, body = KeyPage), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Query(query): Query<ListKeysQuery>,
) -> Result<Json<KeyPage>, ApiError> {
    let now = Utc::now();
    let limit = page_limit(query.limit)?;
    let before_id = parse_cursor(query.cursor.as_deref())?;
    let requested_user = record_id("user_id", query.user_id)?;
    let requested_workspace = record_id("workspace_id", query.workspace_id)?;
    let (workspace_id, role) = state.role_in(&principal, requested_workspace).await?;
    let user_id = if role >= Role::Admin {
        requested_user
    } else {
        if requested_user.is_some_and(|id| id != principal.user_id) {
            return Ok(Json(KeyPage {
                items: Vec::new(),
                next_cursor: None,
            }));
        }
        Some(principal.user_id)
    };
    let filter = KeyFilter {
        workspace_id,
        user_id,
        status: query.status,
        query: match query.q.map(|q| q.trim().to_string()) {
            Some(q) if !q.is_empty() => {
                text::check_field("q", &q).map_err(ApiError::Invalid)?;
                Some(q)
            }
            _ => None,
        },
        before_id,
        limit: limit + 1,
        now,
    };
    let rows = state.store.list_keys(filter).await?;
    let (rows, next_cursor) = paginate(rows, limit, |k| k.id);
    Ok(Json(KeyPage {
        items: rows.into_iter().map(|k| k.into_info(now)).collect(),
        next_cursor,
    }))
}

/// A number that changes whenever the keys `GET /v1/keys` would list for this caller may have
/// changed: ask it every few seconds, fetch the list when it moved.
#[utoipa::path(get, path = "/v1/keys/revision", tag = "keys", params(ListKeysQuery), responses(
    (status = 200, body = KeysRevision), (status = 401, body = ErrorBody)))]
async fn keys_revision(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Query(query): Query<ListKeysQuery>,
) -> Result<Json<KeysRevision>, ApiError> {
    let requested_workspace = record_id("workspace_id", query.workspace_id)?;
    let (workspace_id, role) = state.role_in(&principal, requested_workspace).await?;
    let user_id = (role < Role::Admin).then_some(principal.user_id);
    let revision = state.store.keys_revision(workspace_id, user_id).await?;
    Ok(Json(KeysRevision { revision }))
}

#[utoipa::path(get, path = "/v1/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "Key id")), responses(
    (status = 200, body = KeyInfo), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_key(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<KeyInfo>, ApiError> {
    let (key, _) = visible_key(&state, &principal, id).await?;
    Ok(Json(key.into_info(Utc::now())))
}

/// Changes name, description or enabled; any other field is 422. Expiry can never be extended.
#[utoipa::path(patch, path = "/v1/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "Key id")),
    request_body = UpdateKeyRequest, responses(
    (status = 200, body = KeyInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<i64>,
    JsonBody(request): JsonBody<UpdateKeyRequest>,
) -> Result<Json<KeyInfo>, ApiError> {
    let now = Utc::now();
    let name = request.name.as_deref().map(validate_name).transpose()?;
    let description = request
        .description
        .as_deref()
        .map(validate_description)
        .transpose()?;
    let key = manageable_key(&state, &principal, id).await?;
    let mut actions = Vec::new();
    let changes = KeyChanges {
        name: name.filter(|n| *n != key.name),
        description: description.filter(|d| *d != key.description),
        enabled: request.enabled.filter(|&e| e != key.enabled),
    };
    if changes.name.is_some() || changes.description.is_some() {
        actions.push(AuditAction::Updated);
    }
    if let Some(enabled) = changes.enabled {
        if key.status(now) == KeyStatus::Revoked {
            return Err(ApiError::Conflict(
                "a revoked key cannot be enabled or disabled".to_string(),
            ));
        }
        actions.push(if enabled {
            AuditAction::Enabled
        } else {
            AuditAction::Disabled
        });
    }
    if actions.is_empty() {
        return Ok(Json(key.into_info(now)));
    }
    let record = state
        .store
        .update_key(id, changes, &actions, principal.audit_context(now))
        .await?;
    state.cache.invalidate_user(record.user_id);
    Ok(Json(record.into_info(now)))
}

/// Revokes a key at once; idempotent. The key fails from the moment this response is sent.
#[utoipa::path(post, path = "/v1/keys/{id}/revoke", tag = "keys", params(("id" = i64, Path, description = "Key id")), responses(
    (status = 200, body = KeyInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<i64>,
) -> Result<Json<KeyInfo>, ApiError> {
    let now = Utc::now();
    manageable_key(&state, &principal, id).await?;
    let record = state
        .store
        .revoke_key(id, principal.audit_context(now))
        .await?;
    state.cache.invalidate_user(record.user_id);
    Ok(Json(record.into_info(now)))
}

/// Replaces a key with a new one (same name, description, owner, workspace and scopes); the old key
/// is revoked at once or after `grace_seconds`. This is how a key is renewed.
#[utoipa::path(post, path = "/v1/keys/{id}/rotate", tag = "keys", params(("id" = i64, Path, description = "Key id")),
    request_body = RotateKeyRequest, responses(
    (status = 201, body = RotatedKey), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rotate_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<i64>,
    JsonBody(request): JsonBody<RotateKeyRequest>,
) -> Result<(StatusCode, Json<RotatedKey>), ApiError> {
    let now = Utc::now();
    let grace_seconds = request.grace_seconds.unwrap_or(0);
    if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        return Err(ApiError::Invalid(format!(
            "grace_seconds: must be between 0 and {MAX_GRACE_SECONDS} (7 days)"
        )));
    }
    let old = manageable_key(&state, &principal, id).await?;
    if grants_manage(&old.scopes) {
        let subject = state
            .standing(old.user_id, old.workspace_id)
            .await?
            .ok_or_else(ApiError::key_not_found)?;
        rights::may_grant_manage_scope(&principal, &subject)?;
    }
    if old.revoked_at.is_some() {
        let message = if old.status(now) == KeyStatus::Revoked {
            "a revoked key cannot be rotated"
        } else {
            "this key was already rotated and is waiting out its grace period"
        };
        return Err(ApiError::Conflict(message.to_string()));
    }
    let expires_at = match request.expires_in_days {
        Some(days) => expiry_in_days(&state, now, days)?,
        None => {
            let lifetime_days = limits::lifetime_days(old.created_at, old.expires_at)
                .clamp(1, state.config.max_key_days);
            now + Duration::days(lifetime_days)
        }
    };
    let old_revoked_at = (now + Duration::seconds(grace_seconds))
        .min(old.expires_at)
        .max(now);
    let secret = key::generate(TokenKind::ApiKey);
    let new = NewKey {
        hash: key::hash(secret.expose()),
        hint: key::display_hint(secret.expose()),
        name: old.name.clone(),
        description: old.description.clone(),
        workspace_id: old.workspace_id,
        user_id: old.user_id,
        created_at: now,
        expires_at,
        scopes: old.scopes.clone(),
        replaces: Some(old.id),
    };
    let record = state
        .store
        .rotate_key(old.id, old_revoked_at, new, principal.audit_context(now))
        .await?;
    state.cache.invalidate_user(old.user_id);
    Ok((
        StatusCode::CREATED,
        Json(RotatedKey {
            key: record.into_info(now),
            secret,
            replaces: old.id,
        }),
    ))
}

/// Deletes a key for good (its audit events stay).
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "Key id")), responses(
    (status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_key(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let key = manageable_key(&state, &principal, id).await?;
    if !state
        .store
        .delete_key(id, principal.audit_context(Utc::now()))
        .await?
    {
        return Err(ApiError::key_not_found());
    }
    state.cache.invalidate_user(key.user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// The key, if this credential may see it (its own keys; every key of the workspace for admins),
/// with the caller's role in the key's workspace. Anything else is 404.
pub(super) async fn visible_key(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<(KeyRecord, Role), ApiError> {
    let key = state
        .store
        .key(id)
        .await?
        .ok_or_else(ApiError::key_not_found)?;
    let role = match state.role_in(principal, Some(key.workspace_id)).await {
        Ok((_, role)) => role,
        Err(ApiError::NotFound(_)) => return Err(ApiError::key_not_found()),
        Err(err) => return Err(err),
    };
    if role < Role::Admin && key.user_id != principal.user_id {
        return Err(ApiError::key_not_found());
    }
    Ok((key, role))
}

/// A key the caller may change: visible, and its owner is someone whose credentials the caller
/// manages ([`rights::manages_credentials_of`]). Visible but not manageable is 403.
async fn manageable_key(
    state: &AppState,
    principal: &Principal,
    id: i64,
) -> Result<KeyRecord, ApiError> {
    let (key, role) = visible_key(state, principal, id).await?;
    let manages = match state.standing(key.user_id, key.workspace_id).await? {
        Some(subject) => rights::manages_credentials_of(principal, role, &subject),
        // The key's owner is gone: only someone with rights over everyone may clean up.
        None => role == Role::Owner,
    };
    if !manages {
        return Err(ApiError::Forbidden(if role < Role::Member {
            "viewers can read keys but not change them".to_string()
        } else {
            "you may read this key but not change it: admins manage only keys of members and \
             viewers whose rights stay inside this workspace"
                .to_string()
        }));
    }
    Ok(key)
}

pub(crate) fn validate_name(name: &str) -> Result<String, ApiError> {
    limits::key_name(name).map_err(ApiError::Invalid)
}

pub(crate) fn validate_description(description: &str) -> Result<String, ApiError> {
    limits::key_description(description).map_err(ApiError::Invalid)
}

fn validate_scopes(scopes: Vec<String>) -> Result<Vec<String>, ApiError> {
    if scopes.len() > MAX_SCOPES {
        return Err(ApiError::Invalid(format!(
            "scopes: at most {MAX_SCOPES} scopes"
        )));
    }
    for scope in &scopes {
        if scope.is_empty()
            || scope.chars().count() > SCOPE_MAX_CHARS
            || scope
                .chars()
                .any(|c| c.is_whitespace() || text::is_unsafe(c))
        {
            return Err(ApiError::Invalid(format!(
                "scopes: each scope is 1 to {SCOPE_MAX_CHARS} characters without spaces"
            )));
        }
    }
    Ok(scopes)
}

fn expiry_in_days(
    state: &AppState,
    now: DateTime<Utc>,
    days: i64,
) -> Result<DateTime<Utc>, ApiError> {
    let max = state.config.max_key_days;
    if !(1..=max).contains(&days) {
        return Err(ApiError::Invalid(format!(
            "expires_in_days: must be between 1 and {max}"
        )));
    }
    Ok(now + Duration::days(days))
}

fn validate_expires_at(
    state: &AppState,
    now: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    let max = state.config.max_key_days;
    if at <= now {
        return Err(ApiError::Invalid(
            "expires_at: must be in the future".to_string(),
        ));
    }
    if at > now + Duration::days(max) {
        return Err(ApiError::Invalid(format!(
            "expires_at: must be at most {max} days from now"
        )));
    }
    Ok(at)
}
