//! The embedded default: the server the desktop app and the command line start in-process on the
//! user's own database, with one local owner account. [`open_local`] is the one function they call
//! (as `server::open_local`): after it they speak to the server over HTTP like to any other.

use chrono::{Duration, Utc};
use tokio::sync::OnceCell;

use super::accounts::{self, AccountError};
use super::hashing;
use super::store::{AuditContext, Store, StoreError};
use super::{LocalServer, ServerConfig, ServerError, open_store, spawn_local};
pub use crate::api::LOCAL_OWNER_EMAIL;
use crate::api::Role;
use crate::key::{self, TokenKind};
use crate::secret::Secret;

/// The embedded server, signed into as the local owner.
pub struct LocalSignIn {
    pub base_url: String,
    /// A session token of the local owner.
    pub token: Secret,
    /// The owner's new password, when the kept one was missing or wrong: keep it for next time.
    pub new_password: Option<Secret>,
}

impl std::fmt::Debug for LocalSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSignIn")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("new_password", &self.new_password)
            .finish()
    }
}

/// Starts the embedded server on `database_url` once per process (kept in `local`) and signs in as
/// the local owner with `kept_password`; when that is missing or wrong (first run, a reset keychain,
/// another database), a new random password is set and returned.
pub async fn open_local(
    local: &OnceCell<LocalServer>,
    database_url: &str,
    kept_password: Option<&Secret>,
) -> Result<LocalSignIn, ServerError> {
    let server = local.get_or_try_init(|| start(database_url)).await?;
    let store = server.state.store.as_ref();
    let owner = store.user_by_email(LOCAL_OWNER_EMAIL).await?;
    let known = match (&owner, kept_password) {
        (Some(owner), Some(password)) => {
            hashing::verify(password.clone(), Some(owner.password_hash.clone()))
                .await
                .map_err(|busy| ServerError::Invalid(busy.to_string()))?
        }
        _ => false,
    };
    let new_password = if known {
        None
    } else {
        let password = key::random_password();
        set_local_owner_password(store, &password).await?;
        Some(password)
    };
    let owner = store
        .user_by_email(LOCAL_OWNER_EMAIL)
        .await?
        .ok_or_else(|| ServerError::Invalid("the local owner account vanished".to_string()))?;
    let token = key::generate(TokenKind::Session);
    let now = Utc::now();
    let audit = AuditContext {
        actor_user_id: Some(owner.user.id),
        ..AuditContext::system(now)
    };
    let expires_at = now + Duration::hours(server.state.config.session_hours);
    store
        .create_session(key::hash(token.expose()), owner.user.id, expires_at, audit)
        .await?;
    Ok(LocalSignIn {
        base_url: server.base_url(),
        token,
        new_password,
    })
}

/// Starts the embedded server on 127.0.0.1 (a free port) over `database_url`.
pub async fn start(database_url: &str) -> Result<LocalServer, ServerError> {
    let store = open_store(database_url).await?;
    spawn_local(store, ServerConfig::default()).await
}

/// Makes sure the local owner exists and signs in with `password`: creates the account on first
/// run, or sets the new password when the old one was lost (for example, the keychain was reset).
pub async fn set_local_owner_password(
    store: &dyn Store,
    password: &Secret,
) -> Result<(), ServerError> {
    let to_server = |err: AccountError| match err {
        AccountError::Store(err) => ServerError::Store(err),
        other => ServerError::Invalid(other.to_string()),
    };
    match store.user_by_email(LOCAL_OWNER_EMAIL).await? {
        Some(user) => {
            let hash = accounts::hash_password(password).await.map_err(to_server)?;
            store.set_password(user.user.id, &hash).await?;
        }
        None => {
            let workspace_id = accounts::ensure_workspace(store, "default")
                .await
                .map_err(to_server)?;
            match accounts::create_user(
                store,
                LOCAL_OWNER_EMAIL,
                password,
                Role::Owner,
                workspace_id,
                &AuditContext::system(chrono::Utc::now()),
            )
            .await
            {
                Ok(_) => {}
                // Another process (the command line beside the app) created it first: take it over.
                Err(AccountError::Store(StoreError::Conflict(_))) => {
                    Box::pin(set_local_owner_password(store, password)).await?;
                }
                Err(err) => return Err(to_server(err)),
            }
        }
    }
    Ok(())
}

/// A consistent copy of this computer's SQLite database (`VACUUM INTO`, so a server writing to it
/// meanwhile leaves no torn page), for a backup; `None` when there is no database yet.
/// The file of a `sqlite://PATH` database URL; `None` for another kind of database.
pub fn sqlite_file(database_url: &str) -> Option<&std::path::Path> {
    database_url
        .strip_prefix("sqlite://")
        .map(std::path::Path::new)
}

pub async fn snapshot_sqlite(database_url: &str) -> Result<Option<Vec<u8>>, ServerError> {
    use sqlx::ConnectOptions as _;
    use std::str::FromStr as _;
    let Some(path) = sqlite_file(database_url) else {
        return Err(ServerError::Invalid(
            "only this computer's SQLite database is backed up".into(),
        ));
    };
    if !path.exists() {
        return Ok(None);
    }
    let copy = path.with_extension(format!("backup-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&copy);
    let failed =
        |err: sqlx::Error| ServerError::Invalid(format!("cannot copy the database: {err}"));
    let mut connection = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)
        .map_err(failed)?
        .read_only(true)
        .connect()
        .await
        .map_err(failed)?;
    sqlx::query("VACUUM INTO ?")
        .bind(copy.to_string_lossy().into_owned())
        .execute(&mut connection)
        .await
        .map_err(failed)?;
    let bytes = std::fs::read(&copy);
    let _ = std::fs::remove_file(&copy);
    bytes
        .map(Some)
        .map_err(|err| ServerError::Invalid(format!("cannot read the database's copy: {err}")))
}
