//! Accounts: password hashing (argon2id) and creating users, shared by `POST /v1/users`, the
//! `keywarden user add` command and the desktop app's first start.

use chrono::Utc;

use super::error::ApiError;
use super::hashing;
use super::store::{AuditContext, NewUser, Store, StoreError, User};
use crate::api::Role;
use crate::secret::Secret;
use crate::text;

pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest email address (RFC 5321's path limit).
pub const EMAIL_MAX_CHARS: usize = 254;
pub const WORKSPACE_NAME_MAX_CHARS: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Busy(#[from] hashing::Busy),
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(message) => ApiError::Invalid(message),
            AccountError::Store(err) => err.into(),
            AccountError::Hash(detail) => ApiError::Internal(detail),
            AccountError::Busy(busy) => busy.into(),
        }
    }
}

/// A password hash for storing, computed on the bounded hashing pool.
pub async fn hash_password(password: &Secret) -> Result<String, AccountError> {
    hashing::hash(password).await?.map_err(AccountError::Hash)
}

pub fn validate_email(email: &str) -> Result<String, AccountError> {
    text::check_field("email", email).map_err(AccountError::Invalid)?;
    let email = email.trim();
    let valid = email.chars().count() <= EMAIL_MAX_CHARS
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email.to_string())
    } else {
        Err(AccountError::Invalid(format!(
            "email: {email:?} is not an email address"
        )))
    }
}

pub fn validate_password(password: &Secret) -> Result<(), AccountError> {
    if password.expose().chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid(format!(
            "password: must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Creates a user with `role` in `workspace_id` (their default workspace). `Role::Owner` makes a
/// server-wide owner who is an admin of that workspace.
pub async fn create_user(
    store: &dyn Store,
    email: &str,
    password: &Secret,
    role: Role,
    workspace_id: i64,
    audit: &AuditContext,
) -> Result<User, AccountError> {
    let email = validate_email(email)?;
    validate_password(password)?;
    let password_hash = hash_password(password).await?;
    let user = NewUser {
        email,
        password_hash,
        is_owner: role == Role::Owner,
        workspace_id,
        role,
        created_at: Utc::now(),
    };
    let info = store.create_user(user, audit).await?;
    store
        .accept_invitations(info.id, &info.email, audit.at)
        .await?;
    Ok(info)
}

/// The workspace with this name, created when missing (by this machine, as the audit trail says).
pub async fn ensure_workspace(store: &dyn Store, name: &str) -> Result<i64, AccountError> {
    let name = validate_workspace_name(name)?;
    if let Some(workspace) = store.workspace_by_name(&name).await? {
        return Ok(workspace.id);
    }
    match store
        .create_workspace(&name, &AuditContext::system(Utc::now()))
        .await
    {
        Ok(workspace) => Ok(workspace.id),
        // Someone created it between the two calls: use theirs.
        Err(StoreError::Conflict(_)) => store
            .workspace_by_name(&name)
            .await?
            .map(|w| w.id)
            .ok_or_else(|| AccountError::Invalid(format!("workspace {name:?} vanished"))),
        Err(err) => Err(err.into()),
    }
}

pub fn validate_workspace_name(name: &str) -> Result<String, AccountError> {
    text::check_field("name", name).map_err(AccountError::Invalid)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > WORKSPACE_NAME_MAX_CHARS {
        return Err(AccountError::Invalid(format!(
            "name: a workspace name is 1 to {WORKSPACE_NAME_MAX_CHARS} characters"
        )));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_passwords_are_checked() {
        assert!(validate_email("a@b").is_ok());
        assert!(validate_email("nope").is_err());
        assert!(validate_email("a b@c").is_err());
        assert!(validate_password(&Secret::new("short")).is_err());
    }
}
