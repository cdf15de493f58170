//! Users, workspaces and memberships: for owners and workspace admins.

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    CreateUserRequest, CreateWorkspaceRequest, ErrorBody, MemberInfo, Role, SetMemberRequest,
    UserInfo, WorkspaceInfo,
};
use crate::server::AppState;
use crate::server::accounts::{create_user as create_account, validate_workspace_name};
use crate::server::auth::{Authenticated, Owner, Principal, WorkspaceAdmin};
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, Path};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(list_members))
        .routes(routes!(set_member, remove_member))
}

/// Owners see every user; workspace admins see the members of their workspace.
#[utoipa::path(get, path = "/v1/users", tag = "admin", responses(
    (status = 200, body = Vec<UserInfo>), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    WorkspaceAdmin(principal): WorkspaceAdmin,
) -> Result<Json<Vec<UserInfo>>, ApiError> {
    let users = state.store.list_users().await?;
    if principal.is_owner {
        return Ok(Json(users));
    }
    let members: HashSet<i64> = state
        .store
        .members(principal.workspace_id)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    Ok(Json(
        users
            .into_iter()
            .filter(|u| members.contains(&u.id))
            .collect(),
    ))
}

/// Creates a user in a workspace (default: the caller's). Admins add members, viewers and admins to
/// their workspace; only owners create owners.
#[utoipa::path(post, path = "/v1/users", tag = "admin", request_body = CreateUserRequest, responses(
    (status = 201, body = UserInfo), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    let role = request.role.unwrap_or(Role::Member);
    let (workspace_id, caller_role) = state.role_in(&principal, request.workspace_id).await?;
    require_admin(caller_role)?;
    if role == Role::Owner && !principal.is_owner {
        return Err(ApiError::Forbidden("only owners create owners".to_string()));
    }
    let user = create_account(
        state.store.as_ref(),
        &request.email,
        &request.password,
        role,
        workspace_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Owners see every workspace; others see the workspaces they belong to (a key only its own).
#[utoipa::path(get, path = "/v1/workspaces", tag = "admin", responses(
    (status = 200, body = Vec<WorkspaceInfo>), (status = 401, body = ErrorBody)))]
async fn list_workspaces(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<Vec<WorkspaceInfo>>, ApiError> {
    let info = |w: crate::server::store::Workspace, role| WorkspaceInfo {
        id: w.id,
        name: w.name,
        created_at: w.created_at,
        role,
    };
    let workspaces = if principal.is_owner {
        state
            .store
            .list_workspaces()
            .await?
            .into_iter()
            .map(|w| info(w, Some(Role::Owner)))
            .collect()
    } else {
        state
            .store
            .user_workspaces(principal.user_id)
            .await?
            .into_iter()
            .filter(|(w, _)| principal.key_id.is_none() || w.id == principal.workspace_id)
            .map(|(w, role)| info(w, Some(role)))
            .collect()
    };
    Ok(Json(workspaces))
}

#[utoipa::path(post, path = "/v1/workspaces", tag = "admin", request_body = CreateWorkspaceRequest, responses(
    (status = 201, body = WorkspaceInfo), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_workspace(
    State(state): State<AppState>,
    Owner(_): Owner,
    JsonBody(request): JsonBody<CreateWorkspaceRequest>,
) -> Result<(StatusCode, Json<WorkspaceInfo>), ApiError> {
    let name = validate_workspace_name(&request.name)?;
    let w = state.store.create_workspace(&name, Utc::now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(WorkspaceInfo {
            id: w.id,
            name: w.name,
            created_at: w.created_at,
            role: Some(Role::Owner),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/workspaces/{id}/members", tag = "admin", params(("id" = i64, Path, description = "Workspace id")),
    responses((status = 200, body = Vec<MemberInfo>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(workspace_id): Path<i64>,
) -> Result<Json<Vec<MemberInfo>>, ApiError> {
    admin_of(&state, &principal, workspace_id).await?;
    Ok(Json(state.store.members(workspace_id).await?))
}

/// Adds a user to the workspace or changes their role (`admin`, `member`, `viewer`); takes effect on
/// the user's sessions and keys at once.
#[utoipa::path(put, path = "/v1/workspaces/{id}/members/{user_id}", tag = "admin",
    params(("id" = i64, Path, description = "Workspace id"), ("user_id" = i64, Path, description = "User id")),
    request_body = SetMemberRequest,
    responses((status = 200, body = MemberInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody)))]
async fn set_member(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path((workspace_id, user_id)): Path<(i64, i64)>,
    JsonBody(request): JsonBody<SetMemberRequest>,
) -> Result<Json<MemberInfo>, ApiError> {
    admin_of(&state, &principal, workspace_id).await?;
    if request.role == Role::Owner {
        return Err(ApiError::Invalid(
            "role: owner is server-wide, not a workspace role".to_string(),
        ));
    }
    let user = state
        .store
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such user".to_string()))?;
    state
        .store
        .set_membership(user_id, workspace_id, request.role)
        .await?;
    state.cache.invalidate();
    Ok(Json(MemberInfo {
        user_id,
        email: user.email,
        role: request.role,
    }))
}

/// Removes a user from the workspace; their keys there stop working at once.
#[utoipa::path(delete, path = "/v1/workspaces/{id}/members/{user_id}", tag = "admin",
    params(("id" = i64, Path, description = "Workspace id"), ("user_id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path((workspace_id, user_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    admin_of(&state, &principal, workspace_id).await?;
    if !state.store.remove_membership(user_id, workspace_id).await? {
        return Err(ApiError::NotFound(
            "that user is not a member of this workspace".to_string(),
        ));
    }
    state.cache.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

async fn admin_of(
    state: &AppState,
    principal: &Principal,
    workspace_id: i64,
) -> Result<(), ApiError> {
    let (_, role) = state.role_in(principal, Some(workspace_id)).await?;
    require_admin(role)
}

fn require_admin(role: Role) -> Result<(), ApiError> {
    if role < Role::Admin {
        return Err(ApiError::Forbidden(
            "this needs the admin role in the workspace".to_string(),
        ));
    }
    Ok(())
}
