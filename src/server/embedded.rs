//! The embedded default: the server the desktop app and the command line start in-process on the
//! user's own database, with one local owner account.

use super::accounts::{self, AccountError};
use super::store::{AuditContext, Store, StoreError};
use super::{LocalServer, ServerConfig, ServerError, open_store, spawn_local};
use crate::api::Role;
use crate::secret::Secret;

/// The account the embedded server's user acts as. Its password is random and lives in the keychain.
pub const LOCAL_OWNER_EMAIL: &str = "owner@localhost";

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
            store.set_password(user.info.id, &hash).await?;
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
