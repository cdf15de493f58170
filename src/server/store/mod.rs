//! Persistence behind [`Store`], so SQLite and PostgreSQL are two implementations, not two servers.
//!
//! [`Store`] is the sum of one trait per domain, each in its own file with its queries: keys
//! (`keys.rs`), users and sessions (`users.rs`), workspaces and members (`workspaces.rs`),
//! invitations (`invitations.rs`), the audit trail (`audit.rs`), the rights log (`rights.rs`) and
//! the throttling of sign-ins (`throttle.rs`). Each is implemented once, for [`SqlStore`] over any
//! [`Backend`](backend::Backend); what differs between SQLite and PostgreSQL is in `backend.rs`,
//! `sqlite.rs` and `postgres.rs`. The store returns its own record types; `server::wire` turns them
//! into the API's.

mod audit;
pub mod backend;
mod invitations;
mod keys;
mod postgres;
mod rights;
mod sqlite;
mod throttle;
mod users;
mod workspaces;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};

use crate::api::Role;

pub use audit::{AuditContext, AuditEntry, AuditFilter, AuditLog};
pub use invitations::{Invitations, PendingInvitation};
pub use keys::{KeyAuth, KeyChanges, KeyFilter, KeyRecord, Keys, NewKey, TOUCH_INTERVAL};
pub use rights::RightsLog;
pub use throttle::Throttle;
pub use users::{NewUser, SessionAuth, User, UserRecord, Users};
pub use workspaces::{Member, Workspace, Workspaces};

use backend::{Backend, Tx};

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

/// Everything the server keeps: one trait per domain.
pub trait Store:
    Keys + Users + Workspaces + Invitations + AuditLog + RightsLog + Throttle + Send + Sync + 'static
{
}

impl<S> Store for S where
    S: Keys
        + Users
        + Workspaces
        + Invitations
        + AuditLog
        + RightsLog
        + Throttle
        + Send
        + Sync
        + 'static
{
}

/// The store on a database of backend `B`.
pub struct SqlStore<B: Database> {
    pool: Pool<B>,
}

impl<B: Database> Clone for SqlStore<B> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
        }
    }
}

/// The store on one SQLite file (`sqlite.rs`).
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

/// The store on a PostgreSQL database, for several server instances (`postgres.rs`).
pub type PostgresStore = SqlStore<sqlx::Postgres>;

impl<B: Backend> SqlStore<B> {
    /// A connection of the pool: for a read, or a write of one statement that needs no lock.
    async fn connection(&self) -> StoreResult<PoolConnection<B>> {
        Ok(self.pool.acquire().await?)
    }

    /// A transaction that holds the database's write lock.
    async fn write(&self) -> StoreResult<Tx<B>> {
        B::write(&self.pool).await
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
