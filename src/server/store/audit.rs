//! The audit trail: who changed what, with which key, from where and when, written in the
//! transaction that makes the change, and read back per workspace.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::backend::{Backend, Bind as _, Row, Tx};
use super::keys::KeyRecord;
use super::{SqlStore, StoreError, StoreResult};
use crate::api::{AuditAction, Role};

/// An event of the audit trail, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub action: AuditAction,
    pub actor_user_id: Option<i64>,
    pub actor_key_id: Option<i64>,
    pub subject_user_id: Option<i64>,
    pub role: Option<Role>,
    pub key_id: Option<i64>,
    /// The key's name at the time (kept after the key is deleted).
    pub key_name: Option<String>,
    pub workspace_id: Option<i64>,
    pub ip: Option<String>,
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
pub struct AuditFilter {
    pub workspace_id: i64,
    /// Only events about this user's keys or done by this user (members and viewers).
    pub involving_user: Option<i64>,
    pub key_id: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: u32,
}

#[async_trait]
pub trait AuditLog {
    /// A workspace's events, newest first.
    async fn list_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditEntry>>;
}

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

pub(super) async fn record_audit<B: Backend>(
    tx: &mut Tx<B>,
    action: AuditAction,
    about: About<'_>,
    audit: &AuditContext,
) -> StoreResult<()> {
    let key = about.key;
    let query = sqlx::query(
        "INSERT INTO audit_events (at, action, actor_user_id, actor_key_id, key_id, \
         key_name, key_owner_id, workspace_id, subject_user_id, role, ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .time(audit.at)
    .arg(action.as_str())
    .arg(audit.actor_user_id)
    .arg(audit.actor_key_id)
    .arg(key.map(|k| k.id))
    .arg(key.map(|k| k.name.as_str()))
    .arg(key.map(|k| k.user_id))
    .arg(key.map(|k| k.workspace_id).or(about.workspace_id))
    .arg(about.user_id)
    .arg(about.role.map(Role::as_str))
    .arg(audit.ip.as_deref());
    B::execute(tx, query).await?;
    Ok(())
}

#[async_trait]
impl<B: Backend> AuditLog for SqlStore<B> {
    async fn list_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let query = sqlx::query(
            "SELECT id, at, action, actor_user_id, actor_key_id, subject_user_id, role, \
             key_id, key_name, workspace_id, ip FROM audit_events \
             WHERE workspace_id = $1 \
             AND ($2 IS NULL OR key_owner_id = $2 OR actor_user_id = $2 \
                  OR subject_user_id = $2) \
             AND ($3 IS NULL OR key_id = $3) \
             AND ($4 IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5",
        )
        .arg(filter.workspace_id)
        .arg(filter.involving_user)
        .arg(filter.key_id)
        .arg(filter.before_id)
        .arg(i64::from(filter.limit));
        let rows = B::fetch_all(&mut *self.connection().await?, query).await?;
        rows.iter()
            .map(|row| {
                let row = Row::<B>(row);
                let action: String = row.get("action")?;
                Ok(AuditEntry {
                    id: row.get("id")?,
                    at: row.time("at")?,
                    action: AuditAction::parse(&action).ok_or_else(|| {
                        StoreError::Corrupt(format!("unknown audit action {action:?}"))
                    })?,
                    actor_user_id: row.get("actor_user_id")?,
                    actor_key_id: row.get("actor_key_id")?,
                    subject_user_id: row.get("subject_user_id")?,
                    role: row.optional_role("role")?,
                    key_id: row.get("key_id")?,
                    key_name: row.get("key_name")?,
                    workspace_id: row.get("workspace_id")?,
                    ip: row.get("ip")?,
                })
            })
            .collect()
    }
}
