//! Users, workspaces and memberships: for owners and workspace admins.

use std::collections::HashSet;

use super::record_id;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    AddMemberRequest, CreateUserRequest, CreateWorkspaceRequest, ErrorBody, Invitation, MemberInfo,
    Role, SetMemberRequest, UserInfo, WorkspaceInfo,
};
use crate::server::AppState;
use crate::server::accounts::{
    create_user as create_account, validate_email, validate_workspace_name,
};
use crate::server::auth::{Manager, Owner, Principal};
use crate::server::error::ApiError;
use crate::server::extract::{JsonBody, Path};
use crate::server::rights::{Standing, manages_membership_of, session_only, workspace_role};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(list_members, add_member))
        .routes(routes!(set_member, remove_member))
        .routes(routes!(list_invitations))
        .routes(routes!(withdraw_invitation))
}

/// Owners (with a session) see every user; workspace admins see the members of their workspace.
#[utoipa::path(get, path = "/v1/users", tag = "admin", responses(
    (status = 200, body = Vec<UserInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "The caller is no longer a member of their default workspace")))]
async fn list_users(
    State(state): State<AppState>,
    Manager(principal): Manager,
) -> Result<Json<Vec<UserInfo>>, ApiError> {
    let (workspace_id, role) = state.role_in(&principal, None).await?;
    require_admin(role)?;
    let users = state.store.list_users().await?;
    if principal.server_wide() {
        return Ok(Json(users.into_iter().map(UserInfo::from).collect()));
    }
    let members: HashSet<i64> = state
        .store
        .members(workspace_id)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    Ok(Json(
        users
            .into_iter()
            .filter(|u| members.contains(&u.id))
            .map(UserInfo::from)
            .collect(),
    ))
}

/// Creates a user in a workspace (default: the caller's), with a session only. Admins add members,
/// viewers and admins to their workspace; only owners create owners.
#[utoipa::path(post, path = "/v1/users", tag = "admin", request_body = CreateUserRequest, responses(
    (status = 201, body = UserInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    Manager(principal): Manager,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    session_only(&principal, "creating an account")?;
    let role = request.role.unwrap_or(Role::Member);
    let requested_workspace = record_id("workspace_id", request.workspace_id)?;
    let (workspace_id, caller_role) = state.role_in(&principal, requested_workspace).await?;
    require_admin(caller_role)?;
    if role == Role::Owner && !principal.server_wide() {
        return Err(ApiError::Forbidden(
            "only owners, signed in with a session, create owners".to_string(),
        ));
    }
    let user = create_account(
        state.store.as_ref(),
        &request.email,
        &request.password,
        role,
        workspace_id,
        &principal.audit_context(Utc::now()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Owners (with a session) see every workspace; others see the workspaces they belong to (a key
/// only its own).
#[utoipa::path(get, path = "/v1/workspaces", tag = "admin", responses(
    (status = 200, body = Vec<WorkspaceInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list_workspaces(
    State(state): State<AppState>,
    Manager(principal): Manager,
) -> Result<Json<Vec<WorkspaceInfo>>, ApiError> {
    let info = |w: crate::server::store::Workspace, role| WorkspaceInfo {
        id: w.id,
        name: w.name,
        created_at: w.created_at,
        role,
    };
    let workspaces = if principal.server_wide() {
        state
            .store
            .list_workspaces()
            .await?
            .into_iter()
            .map(|w| info(w, Some(Role::Owner)))
            .collect()
    } else if principal.key_id.is_some() {
        let (workspace_id, role) = state.role_in(&principal, None).await?;
        let workspace = state
            .store
            .workspace(workspace_id)
            .await?
            .ok_or_else(|| ApiError::NotFound("no such workspace".to_string()))?;
        vec![info(workspace, Some(role))]
    } else {
        state
            .store
            .user_workspaces(principal.user_id)
            .await?
            .into_iter()
            .map(|(w, role)| info(w, Some(role)))
            .collect()
    };
    Ok(Json(workspaces))
}

#[utoipa::path(post, path = "/v1/workspaces", tag = "admin", request_body = CreateWorkspaceRequest, responses(
    (status = 201, body = WorkspaceInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_workspace(
    State(state): State<AppState>,
    Owner(principal): Owner,
    JsonBody(request): JsonBody<CreateWorkspaceRequest>,
) -> Result<(StatusCode, Json<WorkspaceInfo>), ApiError> {
    let name = validate_workspace_name(&request.name)?;
    let w = state
        .store
        .create_workspace(&name, &principal.audit_context(Utc::now()))
        .await?;
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
    responses((status = 200, body = Vec<MemberInfo>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(workspace_id): Path<i64>,
) -> Result<Json<Vec<MemberInfo>>, ApiError> {
    admin_of(&state, &principal, workspace_id).await?;
    let members = state.store.members(workspace_id).await?;
    Ok(Json(members.into_iter().map(MemberInfo::from).collect()))
}

/// Adds someone to the workspace by email. When the account exists and the caller may already see
/// it (an owner with a session sees everyone; an admin sees the members of the workspaces they
/// administer) the membership is made at once: 200 with the member. Otherwise the answer is 202
/// with a pending invitation, the same whether or not an account with that email exists; the
/// invitation becomes a membership when that account signs in or is created.
#[utoipa::path(post, path = "/v1/workspaces/{id}/members", tag = "admin", params(("id" = i64, Path, description = "Workspace id")),
    request_body = AddMemberRequest,
    responses((status = 200, body = MemberInfo), (status = 202, body = Invitation), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(workspace_id): Path<i64>,
    JsonBody(request): JsonBody<AddMemberRequest>,
) -> Result<Response, ApiError> {
    session_only(&principal, "adding a member")?;
    let role = admin_of(&state, &principal, workspace_id).await?;
    workspace_role(request.role)?;
    let email = validate_email(&request.email)?;
    let record = state.store.user_by_email(&email).await?;
    let visible = match &record {
        Some(record) => sees_user(&state, &principal, record.user.id).await?,
        None => false,
    };
    let Some(record) = record.filter(|_| visible) else {
        let invitation = state
            .store
            .invite(
                workspace_id,
                &email,
                request.role,
                &principal.audit_context(Utc::now()),
            )
            .await?;
        return Ok((StatusCode::ACCEPTED, Json(Invitation::from(invitation))).into_response());
    };
    let subject = state
        .standing(record.user.id, workspace_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such user".to_string()))?;
    manages_membership_of(role, &subject, Some(request.role))?;
    state
        .store
        .set_membership(
            subject.user_id,
            workspace_id,
            request.role,
            &principal.audit_context(Utc::now()),
        )
        .await?;
    state.cache.invalidate_user(subject.user_id);
    Ok(Json(MemberInfo {
        user_id: subject.user_id,
        email: record.user.email,
        role: request.role,
    })
    .into_response())
}

/// Changes the role of a member of the workspace (`admin`, `member`, `viewer`); takes effect on the
/// user's sessions and keys at once. Admins change members and viewers only.
#[utoipa::path(put, path = "/v1/workspaces/{id}/members/{user_id}", tag = "admin",
    params(("id" = i64, Path, description = "Workspace id"), ("user_id" = i64, Path, description = "User id")),
    request_body = SetMemberRequest,
    responses((status = 200, body = MemberInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_member(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path((workspace_id, user_id)): Path<(i64, i64)>,
    JsonBody(request): JsonBody<SetMemberRequest>,
) -> Result<Json<MemberInfo>, ApiError> {
    session_only(&principal, "changing a role")?;
    let role = admin_of(&state, &principal, workspace_id).await?;
    workspace_role(request.role)?;
    let subject = member_standing(&state, user_id, workspace_id).await?;
    manages_membership_of(role, &subject, Some(request.role))?;
    let user = state.store.user(user_id).await?.ok_or_else(not_a_member)?;
    state
        .store
        .set_membership(
            user_id,
            workspace_id,
            request.role,
            &principal.audit_context(Utc::now()),
        )
        .await?;
    state.cache.invalidate_user(user_id);
    Ok(Json(MemberInfo {
        user_id,
        email: user.email,
        role: request.role,
    }))
}

/// Removes a user from the workspace; their keys there stop working at once.
#[utoipa::path(delete, path = "/v1/workspaces/{id}/members/{user_id}", tag = "admin",
    params(("id" = i64, Path, description = "Workspace id"), ("user_id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Removed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
async fn remove_member(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path((workspace_id, user_id)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    let role = admin_of(&state, &principal, workspace_id).await?;
    let subject = member_standing(&state, user_id, workspace_id).await?;
    manages_membership_of(role, &subject, None)?;
    let audit = principal.audit_context(Utc::now());
    if !state
        .store
        .remove_membership(user_id, workspace_id, &audit)
        .await?
    {
        return Err(not_a_member());
    }
    state.cache.invalidate_user(user_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Invitations of this workspace that no account has taken up yet.
#[utoipa::path(get, path = "/v1/workspaces/{id}/invitations", tag = "admin", params(("id" = i64, Path, description = "Workspace id")),
    responses((status = 200, body = Vec<Invitation>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
async fn list_invitations(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path(workspace_id): Path<i64>,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    admin_of(&state, &principal, workspace_id).await?;
    let invitations = state.store.invitations(workspace_id).await?;
    Ok(Json(
        invitations.into_iter().map(Invitation::from).collect(),
    ))
}

/// Withdraws a pending invitation.
#[utoipa::path(delete, path = "/v1/workspaces/{id}/invitations/{email}", tag = "admin",
    params(("id" = i64, Path, description = "Workspace id"), ("email" = String, Path, description = "The invited email")),
    responses((status = 204, description = "Withdrawn"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody)))]
async fn withdraw_invitation(
    State(state): State<AppState>,
    Manager(principal): Manager,
    Path((workspace_id, email)): Path<(i64, String)>,
) -> Result<StatusCode, ApiError> {
    admin_of(&state, &principal, workspace_id).await?;
    if !state.store.remove_invitation(workspace_id, &email).await? {
        return Err(ApiError::NotFound(
            "no pending invitation for that email".to_string(),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

fn not_a_member() -> ApiError {
    ApiError::NotFound("that user is not a member of this workspace".to_string())
}

/// The standing of a current member of the workspace; anyone else is 404, so these calls reveal
/// nothing about users outside it.
async fn member_standing(
    state: &AppState,
    user_id: i64,
    workspace_id: i64,
) -> Result<Standing, ApiError> {
    state
        .standing(user_id, workspace_id)
        .await?
        .filter(|s| s.role_here.is_some())
        .ok_or_else(not_a_member)
}

/// May the caller already see this user: itself, everyone for an owner with a session, and the
/// members of the workspaces the caller administers (a key: its own workspace only).
async fn sees_user(
    state: &AppState,
    principal: &Principal,
    user_id: i64,
) -> Result<bool, ApiError> {
    if principal.server_wide() || user_id == principal.user_id {
        return Ok(true);
    }
    let theirs = state.store.user_workspaces(user_id).await?;
    for (workspace, _) in theirs {
        if let Ok((_, role)) = state.role_in(principal, Some(workspace.id)).await
            && role >= Role::Admin
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The caller's role in the workspace, which must be admin or more.
async fn admin_of(
    state: &AppState,
    principal: &Principal,
    workspace_id: i64,
) -> Result<Role, ApiError> {
    let (_, role) = state.role_in(principal, Some(workspace_id)).await?;
    require_admin(role)?;
    Ok(role)
}

fn require_admin(role: Role) -> Result<(), ApiError> {
    if role < Role::Admin {
        return Err(ApiError::Forbidden(
            "this needs the admin role in the workspace".to_string(),
        ));
    }
    Ok(())
}
