//! The wire contract between the server and every client: request and response types, the error
//! body and the paths. The server and the client serialize exactly these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::secret::Secret;

pub mod limits;

/// The account the embedded server's user acts as. Its password is random and lives in the keychain.
pub const LOCAL_OWNER_EMAIL: &str = "owner@localhost";

/// The reserved scope that lets an API key manage keys, users, workspaces and memberships like a
/// session. Without it a key only reads (its owner's keys, `me`, `ping`) and, for admins, verifies.
pub const MANAGE_SCOPE: &str = "keywarden:manage";

/// Whether a key with these scopes may manage: it carries [`MANAGE_SCOPE`].
pub fn grants_manage(scopes: &[String]) -> bool {
    scopes.iter().any(|s| s == MANAGE_SCOPE)
}

/// Paths of the HTTP API, relative to the server's base URL.
pub mod paths {
    pub const HEALTHZ: &str = "/healthz";
    pub const OPENAPI: &str = "/v1/openapi.json";
    pub const PING: &str = "/v1/ping";
    pub const ME: &str = "/v1/me";
    pub const LOGIN: &str = "/v1/auth/login";
    pub const LOGOUT: &str = "/v1/auth/logout";
    pub const KEYS: &str = "/v1/keys";
    pub const KEYS_REVISION: &str = "/v1/keys/revision";
    pub const VERIFY: &str = "/v1/verify";
    pub const AUDIT: &str = "/v1/audit";
    pub const USERS: &str = "/v1/users";
    pub const WORKSPACES: &str = "/v1/workspaces";

    pub fn key(id: i64) -> String {
        format!("{KEYS}/{id}")
    }
    pub fn key_revoke(id: i64) -> String {
        format!("{KEYS}/{id}/revoke")
    }
    pub fn key_rotate(id: i64) -> String {
        format!("{KEYS}/{id}/rotate")
    }
    pub fn workspace_members(workspace_id: i64) -> String {
        format!("{WORKSPACES}/{workspace_id}/members")
    }
    pub fn workspace_member(workspace_id: i64, user_id: i64) -> String {
        format!("{WORKSPACES}/{workspace_id}/members/{user_id}")
    }
    pub fn workspace_invitations(workspace_id: i64) -> String {
        format!("{WORKSPACES}/{workspace_id}/invitations")
    }
}

/// Every error response: a human sentence and a stable machine code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub code: String,
}

/// Rights, from least to most. `owner` is server-wide; the others are per workspace.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Viewer, Role::Member, Role::Admin, Role::Owner]
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

/// Derived from the key's fields: revoked, else expired, else disabled, else active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Disabled,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Disabled => "disabled",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }

    /// The one definition of a key's status at time `now`.
    pub fn derive(
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        enabled: bool,
        revoked_at: Option<DateTime<Utc>>,
    ) -> KeyStatus {
        if revoked_at.is_some_and(|at| at <= now) {
            KeyStatus::Revoked
        } else if expires_at <= now {
            KeyStatus::Expired
        } else if !enabled {
            KeyStatus::Disabled
        } else {
            KeyStatus::Active
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Pong {
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserInfo {
    pub id: i64,
    pub email: String,
    /// Server-wide owner: every right in every workspace.
    pub owner: bool,
    pub default_workspace_id: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    #[schema(value_type = String)]
    pub password: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Session token (`kws_…`), sent as `Authorization: Bearer`.
    #[schema(value_type = String)]
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
    pub user: UserInfo,
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Session,
    ApiKey,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    pub user: UserInfo,
    /// The workspace this credential acts in when a request names none.
    pub workspace_id: i64,
    /// The caller's effective role in that workspace.
    pub role: Role,
    pub credential: CredentialKind,
    /// Set when the credential is an API key.
    pub key_id: Option<i64>,
    /// The credential may manage keys, users, workspaces and memberships: a session, or a key with
    /// the scope `keywarden:manage`. Other keys only read (their owner's keys, `me`, `ping`) and,
    /// for admins, verify.
    #[serde(default)]
    pub manage: bool,
}

/// Everything about a key except its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeyInfo {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub workspace_id: i64,
    /// The owner.
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub enabled: bool,
    /// When the key was or will be revoked (a rotation's grace period sets a future time).
    pub revoked_at: Option<DateTime<Utc>>,
    /// Updated at most once a minute per key.
    pub last_used_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub status: KeyStatus,
    /// `kw_AbCd…wxyz`: enough to recognise the key, not to use it.
    pub hint: String,
    /// The key this one was rotated from.
    pub replaces: Option<i64>,
}

impl KeyInfo {
    /// The key's status at `now`. Clients read this, never the `status` field, which was true when
    /// the server answered: a key that expired or reached the end of its rotation overlap since
    /// then is expired or revoked now.
    pub fn status_at(&self, now: DateTime<Utc>) -> KeyStatus {
        KeyStatus::derive(now, self.expires_at, self.enabled, self.revoked_at)
    }

    /// The key carries [`MANAGE_SCOPE`]: it may manage like a session, so it is shown as such.
    pub fn manages(&self) -> bool {
        grants_manage(&self.scopes)
    }
}

#[cfg(test)]
impl KeyInfo {
    /// An active key for unit tests, made 300 days before `now`, expiring `days_left` days after it.
    pub(crate) fn sample(id: i64, days_left: i64, now: DateTime<Utc>) -> KeyInfo {
        KeyInfo {
            id,
            name: format!("key {id}"),
            description: String::new(),
            workspace_id: 1,
            user_id: 1,
            created_at: now - chrono::Duration::days(300),
            expires_at: now + chrono::Duration::days(days_left),
            enabled: true,
            revoked_at: None,
            last_used_at: None,
            scopes: vec![],
            status: KeyStatus::Active,
            hint: "kw_AbCd…wxyz".into(),
            replaces: None,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// 1 to 100 characters.
    pub name: String,
    /// Up to 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Give this or `expires_at`: at most 365 days, or the server's lower maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Defaults to the credential's workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<i64>,
    /// Owner of the new key; admins may name any member of the workspace. Defaults to the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// Free-form labels for the services that verify the key. The reserved scope
    /// `keywarden:manage` lets the key manage keys, users, workspaces and memberships like a
    /// session; only a session of someone who may manage can create such a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

/// A key together with its secret: returned exactly once, when the key is created or rotated.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedKey {
    pub key: KeyInfo,
    #[schema(value_type = String)]
    pub secret: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RotatedKey {
    pub key: KeyInfo,
    #[schema(value_type = String)]
    pub secret: Secret,
    /// Id of the key this one replaces.
    pub replaces: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListKeysQuery {
    pub status: Option<KeyStatus>,
    /// Only keys of this owner (admins); members and viewers always see only their own keys.
    pub user_id: Option<i64>,
    /// Substring of name or description.
    pub q: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    /// Defaults to the credential's workspace.
    pub workspace_id: Option<i64>,
}

/// A number that changes whenever the caller's key list may have changed (a key made, changed,
/// revoked or deleted, a membership or role changed). Cheap to ask for; the app polls it and
/// fetches the list only when it moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeysRevision {
    pub revision: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KeyPage {
    pub items: Vec<KeyInfo>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyRequest {
    /// Lifetime of the new key; defaults to the old key's lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<i64>,
    /// Keep the old key working this long (at most 7 days, never past its own expiry). Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[schema(value_type = String)]
    pub key: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerifyCode {
    Valid,
    Malformed,
    NotFound,
    Disabled,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VerifyResponse {
    pub valid: bool,
    pub code: VerifyCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Created,
    Updated,
    Enabled,
    Disabled,
    Revoked,
    Rotated,
    Deleted,
    Login,
    LoginFailed,
    Logout,
    UserCreated,
    WorkspaceCreated,
    MemberAdded,
    RoleChanged,
    MemberRemoved,
    Invited,
}

impl AuditAction {
    pub const ALL: [AuditAction; 16] = {
        use AuditAction::*;
        [
            Created,
            Updated,
            Enabled,
            Disabled,
            Revoked,
            Rotated,
            Deleted,
            Login,
            LoginFailed,
            Logout,
            UserCreated,
            WorkspaceCreated,
            MemberAdded,
            RoleChanged,
            MemberRemoved,
            Invited,
        ]
    };

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Created => "created",
            AuditAction::Updated => "updated",
            AuditAction::Enabled => "enabled",
            AuditAction::Disabled => "disabled",
            AuditAction::Revoked => "revoked",
            AuditAction::Rotated => "rotated",
            AuditAction::Deleted => "deleted",
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::UserCreated => "user_created",
            AuditAction::WorkspaceCreated => "workspace_created",
            AuditAction::MemberAdded => "member_added",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::MemberRemoved => "member_removed",
            AuditAction::Invited => "invited",
        }
    }

    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub action: AuditAction,
    /// Who did it.
    pub actor_user_id: Option<i64>,
    /// The key the request was made with, when it was made with a key.
    #[serde(default)]
    pub actor_key_id: Option<i64>,
    /// The user an account, membership, sign-in or sign-out event is about.
    #[serde(default)]
    pub subject_user_id: Option<i64>,
    /// The role a user, membership or invitation event gave.
    #[serde(default)]
    pub role: Option<Role>,
    pub key_id: Option<i64>,
    /// The key's name at the time (kept after the key is deleted).
    pub key_name: Option<String>,
    pub workspace_id: Option<i64>,
    /// The client's address as the server saw it.
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub key_id: Option<i64>,
    /// 1 to 1000, default 100.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// Defaults to the credential's workspace.
    pub workspace_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    /// At least 8 characters.
    #[schema(value_type = String)]
    pub password: Secret,
    /// Role in `workspace_id`; `owner` makes a server-wide owner (owners only). Default `member`.
    #[serde(default)]
    pub role: Option<Role>,
    /// The new user's default workspace; defaults to the caller's.
    #[serde(default)]
    pub workspace_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WorkspaceInfo {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The caller's role here, if any.
    pub role: Option<Role>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceRequest {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberInfo {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMemberRequest {
    /// `admin`, `member` or `viewer`.
    pub role: Role,
}

/// Adds someone to a workspace by email.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub email: String,
    /// `admin`, `member` or `viewer`.
    pub role: Role,
}

/// A pending invitation: it becomes a membership when an account with this email signs in or is
/// created. Admins get one for every email they add that they may not already see, whether or not
/// such an account exists, so adding reveals nothing about other workspaces' users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}
