//! Workspaces, and who is a member of which with what role.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::audit::{About, AuditContext, record_audit};
use super::backend::{Backend, Bind as _, Row, Tx};
use super::rights::log_rights_change;
use super::{SqlStore, StoreResult, conflict_on_unique};
use crate::api::{AuditAction, Role};

#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A member of a workspace, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
}

#[async_trait]
pub trait Workspaces {
    /// Creates a workspace and records it.
    async fn create_workspace(&self, name: &str, audit: &AuditContext) -> StoreResult<Workspace>;
    async fn workspace(&self, id: i64) -> StoreResult<Option<Workspace>>;
    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>>;
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
    async fn user_workspaces(&self, user_id: i64) -> StoreResult<Vec<(Workspace, Role)>>;

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
    async fn members(&self, workspace_id: i64) -> StoreResult<Vec<Member>>;
}

fn workspace_record<B: Backend>(row: &B::Row) -> StoreResult<Workspace> {
    let row = Row::<B>(row);
    Ok(Workspace {
        id: row.get("id")?,
        name: row.get("name")?,
        created_at: row.time("created_at")?,
    })
}

const MEMBERSHIP: &str = "SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2";

fn role_of<B: Backend>(row: Option<B::Row>) -> StoreResult<Option<Role>> {
    row.map(|row| Row::<B>(&row).role("role")).transpose()
}

async fn role_in<B: Backend>(
    tx: &mut Tx<B>,
    user_id: i64,
    workspace_id: i64,
) -> StoreResult<Option<Role>> {
    let query = sqlx::query(MEMBERSHIP).arg(user_id).arg(workspace_id);
    role_of::<B>(B::fetch_optional(tx, query).await?)
}

#[async_trait]
impl<B: Backend> Workspaces for SqlStore<B> {
    async fn create_workspace(&self, name: &str, audit: &AuditContext) -> StoreResult<Workspace> {
        let mut tx = self.write().await?;
        let query = sqlx::query(
            "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) \
             RETURNING id, name, created_at",
        )
        .arg(name)
        .time(audit.at);
        let row = B::fetch_one(&mut tx, query).await.map_err(|err| {
            conflict_on_unique(err, || format!("a workspace named {name:?} already exists"))
        })?;
        let created = workspace_record::<B>(&row)?;
        let about = About {
            workspace_id: Some(created.id),
            ..About::default()
        };
        record_audit(&mut tx, AuditAction::WorkspaceCreated, about, audit).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn workspace(&self, id: i64) -> StoreResult<Option<Workspace>> {
        let query =
            sqlx::query("SELECT id, name, created_at FROM workspaces WHERE id = $1").arg(id);
        let row = B::fetch_optional(&mut *self.connection().await?, query).await?;
        row.as_ref().map(workspace_record::<B>).transpose()
    }

    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>> {
        let query =
            sqlx::query("SELECT id, name, created_at FROM workspaces WHERE name = $1").arg(name);
        let row = B::fetch_optional(&mut *self.connection().await?, query).await?;
        row.as_ref().map(workspace_record::<B>).transpose()
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        let query = sqlx::query("SELECT id, name, created_at FROM workspaces ORDER BY id");
        let rows = B::fetch_all(&mut *self.connection().await?, query).await?;
        rows.iter().map(workspace_record::<B>).collect()
    }

    async fn user_workspaces(&self, user_id: i64) -> StoreResult<Vec<(Workspace, Role)>> {
        let query = sqlx::query(
            "SELECT w.id AS id, w.name AS name, w.created_at AS created_at, m.role AS role \
             FROM workspaces w \
             JOIN memberships m ON m.workspace_id = w.id WHERE m.user_id = $1 ORDER BY w.id",
        )
        .arg(user_id);
        let rows = B::fetch_all(&mut *self.connection().await?, query).await?;
        rows.iter()
            .map(|row| Ok((workspace_record::<B>(row)?, Row::<B>(row).role("role")?)))
            .collect()
    }

    async fn membership(&self, user_id: i64, workspace_id: i64) -> StoreResult<Option<Role>> {
        let query = sqlx::query(MEMBERSHIP).arg(user_id).arg(workspace_id);
        role_of::<B>(B::fetch_optional(&mut *self.connection().await?, query).await?)
    }

    async fn set_membership(
        &self,
        user_id: i64,
        workspace_id: i64,
        role: Role,
        audit: &AuditContext,
    ) -> StoreResult<Option<Role>> {
        let mut tx = self.write().await?;
        let before = role_in(&mut tx, user_id, workspace_id).await?;
        let query = sqlx::query(
            "INSERT INTO memberships (user_id, workspace_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, workspace_id) DO UPDATE SET role = excluded.role",
        )
        .arg(user_id)
        .arg(workspace_id)
        .arg(role.as_str());
        B::execute(&mut tx, query).await?;
        let action = match before {
            None => AuditAction::MemberAdded,
            Some(_) => AuditAction::RoleChanged,
        };
        let about = About::member(user_id, workspace_id, Some(role));
        record_audit(&mut tx, action, about, audit).await?;
        log_rights_change(&mut tx, user_id, audit.at).await?;
        tx.commit().await?;
        Ok(before)
    }

    async fn remove_membership(
        &self,
        user_id: i64,
        workspace_id: i64,
        audit: &AuditContext,
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let query = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND workspace_id = $2")
            .arg(user_id)
            .arg(workspace_id);
        let result = B::execute(&mut tx, query).await?;
        if B::rows_affected(&result) == 0 {
            return Ok(false);
        }
        let about = About::member(user_id, workspace_id, None);
        record_audit(&mut tx, AuditAction::MemberRemoved, about, audit).await?;
        log_rights_change(&mut tx, user_id, audit.at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn members(&self, workspace_id: i64) -> StoreResult<Vec<Member>> {
        let query = sqlx::query(
            "SELECT u.id AS user_id, u.email AS email, m.role AS role \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.workspace_id = $1 ORDER BY u.id",
        )
        .arg(workspace_id);
        let rows = B::fetch_all(&mut *self.connection().await?, query).await?;
        rows.iter()
            .map(|row| {
                let row = Row::<B>(row);
                Ok(Member {
                    user_id: row.get("user_id")?,
                    email: row.get("email")?,
                    role: row.role("role")?,
                })
            })
            .collect()
    }
}
