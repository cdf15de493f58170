//! Accounts: password hashing (argon2id) and creating users, shared by `POST /v1/users`, the
//! `keywarden user add` command and the desktop app's first start.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::Utc;

use super::error::ApiError;
use super::store::{NewUser, Store, StoreError};
use crate::api::{Role, UserInfo};
use crate::key::fill_random;
use crate::secret::Secret;

pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(message) => ApiError::Invalid(message),
            AccountError::Store(err) => err.into(),
            AccountError::Hash(detail) => ApiError::Internal(detail),
        }
    }
}

/// argon2id with a random salt, in PHC string form. CPU-heavy by design: call it off the async threads.
pub fn hash_password(password: &Secret) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|err| AccountError::Hash(err.to_string()))?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| AccountError::Hash(err.to_string()))
}

/// Checks `password` against a stored hash; with no hash (unknown email) it checks against a dummy
/// so both cases take the same time and the response does not tell which emails exist.
pub fn verify_password(password: &Secret, stored_hash: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY
        .get_or_init(|| hash_password(&Secret::new("not a real password")).unwrap_or_default());
    let (hash, real) = match stored_hash {
        Some(hash) => (hash, true),
        None => (dummy.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok()
        && real
}

pub fn validate_email(email: &str) -> Result<String, AccountError> {
    let email = email.trim();
    let valid = email.len() <= 254
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
) -> Result<UserInfo, AccountError> {
    let email = validate_email(email)?;
    validate_password(password)?;
    let password = password.clone();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|err| AccountError::Hash(err.to_string()))??;
    let user = NewUser {
        email,
        password_hash,
        is_owner: role == Role::Owner,
        workspace_id,
        role,
        created_at: Utc::now(),
    };
    let info = store.create_user(user).await?;
    store.accept_invitations(info.id, &info.email).await?;
    Ok(info)
}

/// The workspace with this name, created when missing.
pub async fn ensure_workspace(store: &dyn Store, name: &str) -> Result<i64, AccountError> {
    let name = validate_workspace_name(name)?;
    if let Some(workspace) = store.workspace_by_name(&name).await? {
        return Ok(workspace.id);
    }
    match store.create_workspace(&name, Utc::now()).await {
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
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AccountError::Invalid(
            "name: a workspace name is 1 to 100 characters".to_string(),
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password(&Secret::new("correct horse")).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&Secret::new("correct horse"), Some(&hash)));
        assert!(!verify_password(&Secret::new("wrong horse"), Some(&hash)));
        assert!(!verify_password(&Secret::new("not a real password"), None));
    }

    #[test]
    fn emails_and_passwords_are_checked() {
        assert!(validate_email("a@b").is_ok());
        assert!(validate_email("nope").is_err());
        assert!(validate_email("a b@c").is_err());
        assert!(validate_password(&Secret::new("short")).is_err());
    }
}
