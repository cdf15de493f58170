//! Users, their passwords' hashes and their sessions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::audit::{About, AuditContext, record_audit};
use super::backend::{Backend, Bind as _, Row};
use super::rights::log_rights_change;
use super::{SqlStore, StoreError, StoreResult, conflict_on_unique};
use crate::api::{AuditAction, Role};

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub email: String,
    /// Server-wide owner: every right in every workspace.
    pub owner: bool,
    pub default_workspace_id: i64,
    pub created_at: DateTime<Utc>,
}

/// A user with the password hash that never leaves the server.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
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

#[derive(Debug, Clone)]
pub struct SessionAuth {
    pub user_id: i64,
    pub is_owner: bool,
    pub default_workspace_id: i64,
    /// The user's membership role in their default workspace.
    pub role: Option<Role>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait Users {
    /// Creates a user with their first membership, and records it.
    async fn create_user(&self, user: NewUser, audit: &AuditContext) -> StoreResult<User>;
    async fn user(&self, id: i64) -> StoreResult<Option<User>>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Replaces a user's password hash and ends their sessions.
    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()>;

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
}

/// The columns of `users` a [`UserRecord`] is read from (a literal, for `concat!`).
macro_rules! user_columns {
    () => {
        "id, email, password_hash, is_owner, default_workspace_id, created_at"
    };
}

/// A user from a row of `users` with all its columns.
fn user_record<B: Backend>(row: &B::Row) -> StoreResult<UserRecord> {
    let row = Row::<B>(row);
    Ok(UserRecord {
        user: User {
            id: row.get("id")?,
            email: row.get("email")?,
            owner: row.get("is_owner")?,
            default_workspace_id: row.get("default_workspace_id")?,
            created_at: row.time("created_at")?,
        },
        password_hash: row.get("password_hash")?,
    })
}

#[async_trait]
impl<B: Backend> Users for SqlStore<B> {
    async fn create_user(&self, user: NewUser, audit: &AuditContext) -> StoreResult<User> {
        let membership_role = if user.role == Role::Owner {
            Role::Admin
        } else {
            user.role
        };
        let mut tx = self.write().await?;
        let query = sqlx::query(concat!(
            "INSERT INTO users (email, password_hash, is_owner, default_workspace_id, \
             created_at) VALUES ($1, $2, $3, $4, $5) RETURNING ",
            user_columns!()
        ))
        .arg(user.email.as_str())
        .arg(user.password_hash.as_str())
        .arg(user.is_owner)
        .arg(user.workspace_id)
        .time(user.created_at);
        let row = B::fetch_one(&mut tx, query).await.map_err(|err| {
            conflict_on_unique(err, || {
                format!("a user with email {} already exists", user.email)
            })
        })?;
        let created = user_record::<B>(&row)?.user;
        let query = sqlx::query(
            "INSERT INTO memberships (user_id, workspace_id, role) VALUES ($1, $2, $3)",
        )
        .arg(created.id)
        .arg(user.workspace_id)
        .arg(membership_role.as_str());
        B::execute(&mut tx, query).await?;
        let about = About::member(created.id, user.workspace_id, Some(user.role));
        record_audit(&mut tx, AuditAction::UserCreated, about, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        let query = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .arg(id);
        let row = B::fetch_optional(&mut *self.connection().await?, query).await?;
        Ok(row
            .as_ref()
            .map(user_record::<B>)
            .transpose()?
            .map(|r| r.user))
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let query = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1"
        ))
        .arg(email);
        let row = B::fetch_optional(&mut *self.connection().await?, query).await?;
        row.as_ref().map(user_record::<B>).transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let query = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY id"
        ));
        let rows = B::fetch_all(&mut *self.connection().await?, query).await?;
        rows.iter()
            .map(|row| Ok(user_record::<B>(row)?.user))
            .collect()
    }

    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let query = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .arg(password_hash)
            .arg(user_id);
        let result = B::execute(&mut tx, query).await?;
        if B::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound);
        }
        let query = sqlx::query("DELETE FROM sessions WHERE user_id = $1").arg(user_id);
        B::execute(&mut tx, query).await?;
        log_rights_change(&mut tx, user_id, Utc::now()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_session(
        &self,
        token_hash: [u8; 32],
        user_id: i64,
        expires_at: DateTime<Utc>,
        audit: AuditContext,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let query = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").time(audit.at);
        B::execute(&mut tx, query).await?;
        let query = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .arg(&token_hash[..])
        .arg(user_id)
        .time(audit.at)
        .time(expires_at);
        B::execute(&mut tx, query).await?;
        let query =
            sqlx::query("SELECT default_workspace_id FROM users WHERE id = $1").arg(user_id);
        let workspace_id = B::fetch_optional(&mut tx, query)
            .await?
            .map(|row| Row::<B>(&row).get("default_workspace_id"))
            .transpose()?;
        let about = About {
            workspace_id,
            user_id: Some(user_id),
            ..About::default()
        };
        record_audit(&mut tx, AuditAction::Login, about, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, token_hash: [u8; 32]) -> StoreResult<Option<SessionAuth>> {
        let query = sqlx::query(
            "SELECT s.user_id AS user_id, u.is_owner AS is_owner, \
                    u.default_workspace_id AS default_workspace_id, m.role AS role, \
                    s.expires_at AS expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             LEFT JOIN memberships m \
               ON m.user_id = u.id AND m.workspace_id = u.default_workspace_id \
             WHERE s.token_hash = $1",
        )
        .arg(&token_hash[..]);
        let Some(row) = B::fetch_optional(&mut *self.connection().await?, query).await? else {
            return Ok(None);
        };
        let row = Row::<B>(&row);
        Ok(Some(SessionAuth {
            user_id: row.get("user_id")?,
            is_owner: row.get("is_owner")?,
            default_workspace_id: row.get("default_workspace_id")?,
            role: row.optional_role("role")?,
            expires_at: row.time("expires_at")?,
        }))
    }

    async fn delete_session(
        &self,
        token_hash: [u8; 32],
        audit: &AuditContext,
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let query = sqlx::query(
            "DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id, \
             (SELECT default_workspace_id FROM users WHERE users.id = sessions.user_id) \
             AS workspace_id",
        )
        .arg(&token_hash[..]);
        let Some(row) = B::fetch_optional(&mut tx, query).await? else {
            return Ok(false);
        };
        let row = Row::<B>(&row);
        let user_id: i64 = row.get("user_id")?;
        let about = About::member(user_id, row.get("workspace_id")?, None);
        record_audit(&mut tx, AuditAction::Logout, about, audit).await?;
        log_rights_change(&mut tx, user_id, audit.at).await?;
        tx.commit().await?;
        Ok(true)
    }
}
