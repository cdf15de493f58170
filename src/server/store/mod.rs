//! Persistence behind one trait, so SQLite and PostgreSQL are two implementations, not two servers.
//! Their queries are written once (`sql.rs`); each backend module supplies its types and locking.

#[macro_use]
mod sql;
mod postgres;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::api::{
    AuditAction, AuditEvent, Invitation, KeyInfo, KeyStatus, MemberInfo, Role, UserInfo,
};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A database URL as given (`--database-url`, `KEYWARDEN_DATABASE_URL`): it may hold a password, so
/// `Debug` and `Display` show it with the password replaced by `***`; [`DatabaseUrl::expose`] is for
/// opening the database only.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;
    fn from_str(url: &str) -> Result<DatabaseUrl, Self::Err> {
        Ok(DatabaseUrl::new(url))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({:?})", redact_url(&self.0))
    }
}

/// Whether a database URL names PostgreSQL (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with its password (in the user part or a `password=` parameter) replaced by `***`, for
/// log lines, error messages and `Debug`.
pub fn redact_url(url: &str) -> String {
    let mut redacted = url.to_string();
    // The user part ends at the last `@`: a password may hold `/`, `?`, `#` or `@` unencoded,
    // and hiding too much is better than too little.
    if let Some(scheme_end) = redacted.find("://") {
        let start = scheme_end + 3;
        if let Some(at) = redacted[start..].rfind('@') {
            let userinfo = start..start + at;
            if let Some(colon) = redacted[userinfo.clone()].find(':') {
                redacted.replace_range(userinfo.start + colon + 1..userinfo.end, "***");
            }
        }
    }
    if let Some(query_start) = redacted.find('?') {
        let (head, query) = redacted.split_at(query_start + 1);
        let query = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&");
        redacted = format!("{head}{query}");
    }
    redacted
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot migrate database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Whether the database could not be reached or used for now (connection lost, refused or
    /// timed out, server shutting down, file locked or unreadable), as opposed to a wrong request
    /// or a bug: worth answering 503 and trying again.
    pub fn is_unavailable(&self) -> bool {
        let (StoreError::Database(err) | StoreError::Open { source: err, .. }) = self else {
            return false;
        };
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                if code.len() == 5 {
                    // A PostgreSQL SQLSTATE: connection exception, invalid authorization (a role
                    // no longer allowed to log in), insufficient resources, operator
                    // intervention (connections terminated).
                    ["08", "28", "53", "57"]
                        .iter()
                        .any(|class| code.starts_with(class))
                } else {
                    // A SQLite result code (at most 4 digits with its extended part): busy,
                    // locked, I/O error, cannot open.
                    code.parse::<i32>()
                        .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 14))
                }
            }),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A user as stored, with the password hash that never leaves the server.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub info: UserInfo,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub is_owner: bool,
    pub workspace_id: i64,
    /// Membership role in `workspace_id` (owners are made admins there).
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub workspace_id: i64,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub enabled: bool,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub hint: String,
    pub replaces: Option<i64>,
}

impl KeyRecord {
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        KeyStatus::derive(now, self.expires_at, self.enabled, self.revoked_at)
    }

    pub fn into_info(self, now: DateTime<Utc>) -> KeyInfo {
        let status = self.status(now);
        KeyInfo {
            id: self.id,
            name: self.name,
            description: self.description,
            workspace_id: self.workspace_id,
            user_id: self.user_id,
            created_at: self.created_at,
            expires_at: self.expires_at,
            enabled: self.enabled,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            scopes: self.scopes,
            status,
            hint: self.hint,
            replaces: self.replaces,
        }
    }
}

/// A key to insert: its hash, never the key.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub hash: [u8; 32],
    pub hint: String,
    pub name: String,
    pub description: String,
    pub workspace_id: i64,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub scopes: Vec<String>,
    pub replaces: Option<i64>,
}

/// What authenticating with a key needs, in one lookup by hash.
#[derive(Debug, Clone)]
pub struct KeyAuth {
    pub key_id: i64,
    pub name: String,
    pub user_id: i64,
    pub workspace_id: i64,
    pub is_owner: bool,
    pub default_workspace_id: i64,
    /// The owner's current membership role in the key's workspace.
    pub role: Option<Role>,
    pub expires_at: DateTime<Utc>,
    pub enabled: bool,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub user_id: i64,
    pub is_owner: bool,
    pub default_workspace_id: i64,
    /// The user's membership role in their default workspace.
    pub role: Option<Role>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// Who is changing something, with which key, from where, and when: written into the audit trail
/// in the same transaction as the change.
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor_user_id: Option<i64>,
    pub actor_key_id: Option<i64>,
    pub ip: Option<String>,
    pub at: DateTime<Utc>,
}

impl AuditContext {
    /// A change made on the server's own machine (`keywarden user add`, the app's first start).
    pub fn system(at: DateTime<Utc>) -> AuditContext {
        AuditContext {
            actor_user_id: None,
            actor_key_id: None,
            ip: None,
            at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyFilter {
    pub workspace_id: i64,
    pub user_id: Option<i64>,
    pub status: Option<KeyStatus>,
    /// Substring of name or description.
    pub query: Option<String>,
    /// Keyset pagination: only ids below this one (newest first).
    pub before_id: Option<i64>,
    pub limit: u32,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AuditFilter {
    pub workspace_id: i64,
    /// Only events about this user's keys or done by this user (members and viewers).
    pub involving_user: Option<i64>,
    pub key_id: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The id of the newest logged change of rights (0 when none). Every change that can take a
    /// right away is logged, with the user it concerns, in the transaction that makes it.
    async fn last_rights_change(&self) -> StoreResult<i64>;
    /// The changes of rights logged after `after`, oldest first: (id, the user concerned; `None`
    /// for everyone). Ids follow each other without gaps until old ones are pruned.
    async fn rights_changes_since(&self, after: i64) -> StoreResult<Vec<(i64, Option<i64>)>>;
    /// Forgets logged changes older than `before`.
    async fn prune_rights_changes(&self, before: DateTime<Utc>) -> StoreResult<()>;
    /// The newest logged change (of rights or of keys: a key's creation is logged too) that can
    /// touch the keys `user_id` sees in `workspace_id`, or of anyone in the workspace when
    /// `user_id` is `None` (an administrator's view). Grows with every such change; may fall back
    /// when old changes are pruned, which only costs one needless reload.
    async fn keys_revision(&self, workspace_id: i64, user_id: Option<i64>) -> StoreResult<i64>;

    /// Creates a workspace and records it.
    async fn create_workspace(&self, name: &str, audit: &AuditContext) -> StoreResult<Workspace>;
    async fn workspace(&self, id: i64) -> StoreResult<Option<Workspace>>;
    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>>;
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
    async fn user_workspaces(&self, user_id: i64) -> StoreResult<Vec<(Workspace, Role)>>;

    /// Creates a user with their first membership, and records it.
    async fn create_user(&self, user: NewUser, audit: &AuditContext) -> StoreResult<UserInfo>;
    async fn user(&self, id: i64) -> StoreResult<Option<UserInfo>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    async fn list_users(&self) -> StoreResult<Vec<UserInfo>>;
    /// Replaces a user's password hash and ends their sessions.
    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()>;

    async fn membership(&self, user_id: i64, workspace_id: i64) -> StoreResult<Option<Role>>;
    /// Adds a membership or changes its role, and records which; returns the role it had.
    async fn set_membership(
        &self,
        user_id: i64,
        workspace_id: i64,
        role: Role,
        audit: &AuditContext,
    ) -> StoreResult<Option<Role>>;
    /// Removes a membership and records it; false when there was none.
    async fn remove_membership(
        &self,
        user_id: i64,
        workspace_id: i64,
        audit: &AuditContext,
    ) -> StoreResult<bool>;
    async fn members(&self, workspace_id: i64) -> StoreResult<Vec<MemberInfo>>;

    /// Records (or updates) an invitation of `email` to `workspace_id`, and audits it.
    async fn invite(
        &self,
        workspace_id: i64,
        email: &str,
        role: Role,
        audit: &AuditContext,
    ) -> StoreResult<Invitation>;
    async fn invitations(&self, workspace_id: i64) -> StoreResult<Vec<Invitation>>;
    async fn remove_invitation(&self, workspace_id: i64, email: &str) -> StoreResult<bool>;
    /// Turns the invitations of `email` into memberships of `user_id` (an existing membership keeps
    /// its role), records each, and removes them; returns the workspaces joined.
    async fn accept_invitations(
        &self,
        user_id: i64,
        email: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>>;

    /// The failed sign-ins counted for `account` in the window that began at the returned time.
    async fn login_failures(&self, account: [u8; 32]) -> StoreResult<Option<(DateTime<Utc>, u32)>>;
    /// Counts a failed sign-in at `audit.at` and records it (about `user`, when the email is a
    /// user's); a window older than `window` starts again. Returns the window's start and count.
    async fn record_login_failure(
        &self,
        account: [u8; 32],
        user: Option<&UserInfo>,
        window: chrono::Duration,
        audit: &AuditContext,
    ) -> StoreResult<(DateTime<Utc>, u32)>;
    async fn clear_login_failures(&self, account: [u8; 32]) -> StoreResult<()>;

    /// Stores a new session and records the login, in one transaction.
    async fn create_session(
        &self,
        token_hash: [u8; 32],
        user_id: i64,
        expires_at: DateTime<Utc>,
        audit: AuditContext,
    ) -> StoreResult<()>;
    async fn session(&self, token_hash: [u8; 32]) -> StoreResult<Option<SessionAuth>>;
    /// Ends a session and records the logout.
    async fn delete_session(&self, token_hash: [u8; 32], audit: &AuditContext)
    -> StoreResult<bool>;

    async fn insert_key(&self, key: NewKey, audit: AuditContext) -> StoreResult<KeyRecord>;
    async fn key(&self, id: i64) -> StoreResult<Option<KeyRecord>>;
    async fn key_auth(&self, hash: [u8; 32]) -> StoreResult<Option<KeyAuth>>;
    async fn list_keys(&self, filter: KeyFilter) -> StoreResult<Vec<KeyRecord>>;
    /// Applies `changes` and records `actions` (updated, enabled, disabled) in one transaction.
    async fn update_key(
        &self,
        id: i64,
        changes: KeyChanges,
        actions: &[AuditAction],
        audit: AuditContext,
    ) -> StoreResult<KeyRecord>;
    /// Sets `revoked_at` to `audit.at` unless the key is already revoked by then.
    async fn revoke_key(&self, id: i64, audit: AuditContext) -> StoreResult<KeyRecord>;
    /// Inserts `new` and schedules the old key's revocation at `old_revoked_at`, in one transaction.
    async fn rotate_key(
        &self,
        old_id: i64,
        old_revoked_at: DateTime<Utc>,
        new: NewKey,
        audit: AuditContext,
    ) -> StoreResult<KeyRecord>;
    async fn delete_key(&self, id: i64, audit: AuditContext) -> StoreResult<bool>;
    /// Records a successful use at `at`, unless one was recorded less than [`TOUCH_INTERVAL`] before:
    /// at most one write a minute per key, however many server instances see it used.
    async fn touch_key(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()>;

    async fn list_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditEvent>>;

    /// Where the backend pushes committed changes of rights (PostgreSQL's LISTEN/NOTIFY): starts a
    /// task that wakes `wake` after each one, and after each reconnection (a change may have come
    /// meanwhile), and returns its handle. `None` where changes are found only by reading the log.
    fn watch_rights_changes(&self, wake: Arc<Notify>) -> Option<AbortHandle>;
}

/// The shortest time between two recorded uses of one key.
pub const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::minutes(1);

/// What an audit event is about, beside its action and its actor.
#[derive(Default)]
pub(crate) struct About<'a> {
    pub key: Option<&'a KeyRecord>,
    pub workspace_id: Option<i64>,
    pub user_id: Option<i64>,
    pub role: Option<Role>,
}

impl<'a> About<'a> {
    pub fn key(key: &'a KeyRecord) -> About<'a> {
        About {
            key: Some(key),
            ..About::default()
        }
    }

    pub fn member(user_id: i64, workspace_id: i64, role: Option<Role>) -> About<'a> {
        About {
            workspace_id: Some(workspace_id),
            user_id: Some(user_id),
            role,
            ..About::default()
        }
    }
}

pub(crate) fn conflict_on_unique(err: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(message()),
        _ => StoreError::Database(err),
    }
}

pub(crate) fn parse_role(text: &str) -> StoreResult<Role> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown role {text:?}")))
}

/// A `LIKE` pattern matching `query` anywhere, its wildcards escaped with `\`.
pub(crate) fn like_pattern(query: &str) -> String {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(crate) fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_millis(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("time {ms} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_urls_password_is_never_shown() {
        let url = DatabaseUrl::new("postgres://kw:hunter2@db.example:5432/keys?sslmode=require");
        let shown = "postgres://kw:***@db.example:5432/keys?sslmode=require";
        assert_eq!(url.to_string(), shown);
        assert_eq!(format!("{url:?}"), format!("DatabaseUrl({shown:?})"));
        assert_eq!(
            url.expose(),
            "postgres://kw:hunter2@db.example:5432/keys?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://kw@db/keys?password=hunter2&application_name=kw"),
            "postgresql://kw@db/keys?password=***&application_name=kw"
        );
        // A password holding @, /, ? or #, and URLs with nothing to hide, stay readable.
        assert_eq!(
            redact_url("postgres://kw:a@b@db/keys"),
            "postgres://kw:***@db/keys"
        );
        assert_eq!(
            redact_url("postgres://kw:a/b?c#d@db/keys"),
            "postgres://kw:***@db/keys"
        );
        assert_eq!(
            redact_url("sqlite:///var/lib/kw/server.db"),
            "sqlite:///var/lib/kw/server.db"
        );
        assert_eq!(redact_url("/var/lib/kw/server.db"), "/var/lib/kw/server.db");
    }
}
