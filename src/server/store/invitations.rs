//! Invitations of an email to a workspace, turned into memberships when its owner signs in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::audit::{About, AuditContext, record_audit};
use super::backend::{Backend, Bind as _, Row};
use super::rights::log_rights_change;
use super::{SqlStore, StoreResult};
use crate::api::{AuditAction, Role};

/// An invitation waiting for its email's owner to sign in.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingInvitation {
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait Invitations {
    /// Records (or updates) an invitation of `email` to `workspace_id`, and audits it.
    async fn invite(
        &self,
        workspace_id: i64,
        email: &str,
        role: Role,
        audit: &AuditContext,
    ) -> StoreResult<PendingInvitation>;
    async fn invitations(&self, workspace_id: i64) -> StoreResult<Vec<PendingInvitation>>;
    async fn remove_invitation(&self, workspace_id: i64, email: &str) -> StoreResult<bool>;
    /// Turns the invitations of `email` into memberships of `user_id` (an existing membership keeps
    /// its role), records each, and removes them; returns the workspaces joined.
    async fn accept_invitations(
        &self,
        user_id: i64,
        email: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>>;
}

fn invitation<B: Backend>(row: &B::Row) -> StoreResult<PendingInvitation> {
    let row = Row::<B>(row);
    Ok(PendingInvitation {
        email: row.get("email")?,
        role: row.role("role")?,
        created_at: row.time("created_at")?,
    })
}

#[async_trait]
impl<B: Backend> Invitations for SqlStore<B> {
    async fn invite(
        &self,
        workspace_id: i64,
        email: &str,
        role: Role,
        audit: &AuditContext,
    ) -> StoreResult<PendingInvitation> {
        let mut tx = self.write().await?;
        let query = sqlx::query(
            "INSERT INTO invitations (workspace_id, email, role, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, email) DO UPDATE SET role = excluded.role \
             RETURNING email, role, created_at",
        )
        .arg(workspace_id)
        .arg(email)
        .arg(role.as_str())
        .time(audit.at);
        let row = B::fetch_one(&mut tx, query).await?;
        let about = About {
            workspace_id: Some(workspace_id),
            role: Some(role),
            ..About::default()
        };
        record_audit(&mut tx, AuditAction::Invited, about, audit).await?;
        tx.commit().await?;
        invitation::<B>(&row)
    }

    async fn invitations(&self, workspace_id: i64) -> StoreResult<Vec<PendingInvitation>> {
        let query = sqlx::query(
            "SELECT email, role, created_at FROM invitations WHERE workspace_id = $1 \
             ORDER BY email",
        )
        .arg(workspace_id);
        let rows = B::fetch_all(&mut *self.connection().await?, query).await?;
        rows.iter().map(invitation::<B>).collect()
    }

    async fn remove_invitation(&self, workspace_id: i64, email: &str) -> StoreResult<bool> {
        let query = sqlx::query("DELETE FROM invitations WHERE workspace_id = $1 AND email = $2")
            .arg(workspace_id)
            .arg(email);
        let result = B::execute(&mut *self.connection().await?, query).await?;
        Ok(B::rows_affected(&result) > 0)
    }

    async fn accept_invitations(
        &self,
        user_id: i64,
        email: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>> {
        // Every sign-in asks; almost always there is nothing, and that costs no write lock.
        let query =
            sqlx::query("SELECT EXISTS (SELECT 1 FROM invitations WHERE email = $1) AS pending")
                .arg(email);
        let row = B::fetch_one(&mut *self.connection().await?, query).await?;
        if !Row::<B>(&row).get::<bool>("pending")? {
            return Ok(Vec::new());
        }
        let mut tx = self.write().await?;
        let query = sqlx::query(
            "INSERT INTO memberships (user_id, workspace_id, role) \
             SELECT $1, workspace_id, role FROM invitations WHERE email = $2 AND TRUE \
             ON CONFLICT (user_id, workspace_id) DO NOTHING RETURNING workspace_id, role",
        )
        .arg(user_id)
        .arg(email);
        let joined = B::fetch_all(&mut tx, query).await?;
        let audit = AuditContext {
            actor_user_id: Some(user_id),
            ..AuditContext::system(at)
        };
        let mut workspaces = Vec::with_capacity(joined.len());
        for row in &joined {
            let row = Row::<B>(row);
            let workspace_id: i64 = row.get("workspace_id")?;
            let about = About::member(user_id, workspace_id, Some(row.role("role")?));
            record_audit(&mut tx, AuditAction::MemberAdded, about, &audit).await?;
            workspaces.push(workspace_id);
        }
        let query = sqlx::query("DELETE FROM invitations WHERE email = $1").arg(email);
        B::execute(&mut tx, query).await?;
        log_rights_change(&mut tx, user_id, at).await?;
        tx.commit().await?;
        Ok(workspaces)
    }
}
