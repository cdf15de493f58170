//! API keys: their hashes, names, lifetimes and states. What authenticating with a key needs is one
//! lookup by hash ([`Keys::key_auth`]); a use is recorded at most once a minute per key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::audit::{About, AuditContext, record_audit};
use super::backend::{Backend, Bind as _, Row, Tx};
use super::rights::log_rights_change;
use super::{SqlStore, StoreError, StoreResult, conflict_on_unique};
use crate::api::{AuditAction, KeyStatus, Role};

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

#[derive(Debug, Clone, Default)]
pub struct KeyChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct KeyFilter {
    pub workspace_id: i64,
    pub user_id: Option<i64>,
    pub status: Option<KeyStatus>,
    /// Substring of name or description, in any case.
    pub query: Option<String>,
    /// Keyset pagination: only ids below this one (newest first).
    pub before_id: Option<i64>,
    pub limit: u32,
    pub now: DateTime<Utc>,
}

/// The shortest time between two recorded uses of one key.
pub const TOUCH_INTERVAL: chrono::Duration = chrono::Duration::minutes(1);

#[async_trait]
pub trait Keys {
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
}

/// The columns of `api_keys` a [`KeyRecord`] is read from (a literal, for `concat!`).
macro_rules! key_columns {
    () => {
        "id, name, description, workspace_id, user_id, created_at, expires_at, enabled, \
         revoked_at, last_used_at, scopes, hint, replaces"
    };
}

/// One key by id.
const KEY_BY_ID: &str = concat!("SELECT ", key_columns!(), " FROM api_keys WHERE id = $1");

/// A page of a workspace's keys, newest first, searched with `$like` (see [`Backend::ILIKE`]).
macro_rules! key_page {
    ($like:literal) => {
        concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE workspace_id = $1 \
             AND ($2 IS NULL OR user_id = $2) \
             AND ($3 IS NULL OR id < $3) \
             AND ($4 IS NULL OR name ",
            $like,
            " $4 ESCAPE '\\' OR description ",
            $like,
            " $4 ESCAPE '\\') \
             ORDER BY id DESC LIMIT $5"
        )
    };
}

/// The page on a backend whose `LIKE` ignores case, and on one that needs `ILIKE` for it.
const KEY_PAGE: [&str; 2] = [key_page!("LIKE"), key_page!("ILIKE")];

/// Sets `revoked_at` to `$1` unless the key is revoked by then already.
const REVOKE: &str = "UPDATE api_keys SET revoked_at = $1 \
     WHERE id = $2 AND (revoked_at IS NULL OR revoked_at > $1)";

fn key_record<B: Backend>(row: &B::Row) -> StoreResult<KeyRecord> {
    let row = Row::<B>(row);
    Ok(KeyRecord {
        id: row.get("id")?,
        name: row.get("name")?,
        description: row.get("description")?,
        workspace_id: row.get("workspace_id")?,
        user_id: row.get("user_id")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        enabled: row.get("enabled")?,
        revoked_at: row.optional_time("revoked_at")?,
        last_used_at: row.optional_time("last_used_at")?,
        scopes: row.scopes("scopes")?,
        hint: row.get("hint")?,
        replaces: row.get("replaces")?,
    })
}

/// A `LIKE` pattern matching `query` anywhere, its wildcards escaped with `\`.
fn like_pattern(query: &str) -> String {
    let escaped = query
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(super) async fn insert_key_row<B: Backend>(tx: &mut Tx<B>, key: &NewKey) -> StoreResult<i64> {
    let query = sqlx::query(
        "INSERT INTO api_keys (key_hash, hint, name, description, workspace_id, user_id, \
         created_at, expires_at, enabled, scopes, replaces) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $10) RETURNING id",
    )
    .arg(&key.hash[..])
    .arg(key.hint.as_str())
    .arg(key.name.as_str())
    .arg(key.description.as_str())
    .arg(key.workspace_id)
    .arg(key.user_id)
    .time(key.created_at)
    .time(key.expires_at)
    .scopes(&key.scopes)?
    .arg(key.replaces);
    let row = B::fetch_one(tx, query).await.map_err(|err| {
        conflict_on_unique(err, || "a key with this hash already exists".to_string())
    })?;
    Row::<B>(&row).get("id")
}

async fn key_in<B: Backend>(tx: &mut Tx<B>, id: i64) -> StoreResult<KeyRecord> {
    let row = B::fetch_optional(tx, sqlx::query(KEY_BY_ID).arg(id)).await?;
    key_record::<B>(&row.ok_or(StoreError::NotFound)?)
}

#[async_trait]
impl<B: Backend> Keys for SqlStore<B> {
    async fn insert_key(&self, key: NewKey, audit: AuditContext) -> StoreResult<KeyRecord> {
        let mut tx = self.write().await?;
        let id = insert_key_row(&mut tx, &key).await?;
        let record = key_in(&mut tx, id).await?;
        record_audit(&mut tx, AuditAction::Created, About::key(&record), &audit).await?;
        // Not a loss of rights, but a change of the owner's key list: open apps reload it.
        log_rights_change(&mut tx, record.user_id, audit.at).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn key(&self, id: i64) -> StoreResult<Option<KeyRecord>> {
        let query = sqlx::query(KEY_BY_ID).arg(id);
        let row = B::fetch_optional(&mut *self.connection().await?, query).await?;
        row.as_ref().map(key_record::<B>).transpose()
    }

    async fn key_auth(&self, hash: [u8; 32]) -> StoreResult<Option<KeyAuth>> {
        let query = sqlx::query(
            "SELECT k.id AS id, k.name AS name, k.user_id AS user_id, \
                    k.workspace_id AS workspace_id, u.is_owner AS is_owner, \
                    u.default_workspace_id AS default_workspace_id, m.role AS role, \
                    k.expires_at AS expires_at, k.enabled AS enabled, \
                    k.revoked_at AS revoked_at, k.last_used_at AS last_used_at, \
                    k.scopes AS scopes \
             FROM api_keys k JOIN users u ON u.id = k.user_id \
             LEFT JOIN memberships m \
               ON m.user_id = k.user_id AND m.workspace_id = k.workspace_id \
             WHERE k.key_hash = $1",
        )
        .arg(&hash[..]);
        let Some(row) = B::fetch_optional(&mut *self.connection().await?, query).await? else {
            return Ok(None);
        };
        let row = Row::<B>(&row);
        Ok(Some(KeyAuth {
            key_id: row.get("id")?,
            name: row.get("name")?,
            user_id: row.get("user_id")?,
            workspace_id: row.get("workspace_id")?,
            is_owner: row.get("is_owner")?,
            default_workspace_id: row.get("default_workspace_id")?,
            role: row.optional_role("role")?,
            expires_at: row.time("expires_at")?,
            enabled: row.get("enabled")?,
            revoked_at: row.optional_time("revoked_at")?,
            last_used_at: row.optional_time("last_used_at")?,
            scopes: row.scopes("scopes")?,
        }))
    }

    async fn list_keys(&self, filter: KeyFilter) -> StoreResult<Vec<KeyRecord>> {
        let pattern = filter.query.as_deref().map(like_pattern);
        let limit = i64::from(filter.limit);
        // The status is derived from the row in Rust (`KeyRecord::status`), nowhere else: with a
        // status asked for, rows are read newest first in batches until enough match.
        let batch = if filter.status.is_some() {
            limit.max(500)
        } else {
            limit
        };
        let mut keys = Vec::new();
        let mut before_id = filter.before_id;
        loop {
            let query = sqlx::query(KEY_PAGE[usize::from(B::ILIKE)])
                .arg(filter.workspace_id)
                .arg(filter.user_id)
                .arg(before_id)
                .arg(pattern.as_deref())
                .arg(batch);
            let rows = B::fetch_all(&mut *self.connection().await?, query).await?;
            let exhausted = (rows.len() as i64) < batch;
            for row in &rows {
                let key = key_record::<B>(row)?;
                before_id = Some(key.id);
                if filter
                    .status
                    .is_none_or(|status| key.status(filter.now) == status)
                {
                    keys.push(key);
                    if keys.len() as i64 == limit {
                        return Ok(keys);
                    }
                }
            }
            if exhausted {
                return Ok(keys);
            }
        }
    }

    async fn update_key(
        &self,
        id: i64,
        changes: KeyChanges,
        actions: &[AuditAction],
        audit: AuditContext,
    ) -> StoreResult<KeyRecord> {
        let mut tx = self.write().await?;
        let query = sqlx::query(
            "UPDATE api_keys SET name = COALESCE($1, name), \
             description = COALESCE($2, description), enabled = COALESCE($3, enabled) \
             WHERE id = $4",
        )
        .arg(changes.name)
        .arg(changes.description)
        .arg(changes.enabled)
        .arg(id);
        let result = B::execute(&mut tx, query).await?;
        if B::rows_affected(&result) == 0 {
            return Err(StoreError::NotFound);
        }
        let record = key_in(&mut tx, id).await?;
        for &action in actions {
            record_audit(&mut tx, action, About::key(&record), &audit).await?;
        }
        log_rights_change(&mut tx, record.user_id, audit.at).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn revoke_key(&self, id: i64, audit: AuditContext) -> StoreResult<KeyRecord> {
        let mut tx = self.write().await?;
        let query = sqlx::query(REVOKE).time(audit.at).arg(id);
        let result = B::execute(&mut tx, query).await?;
        let record = key_in(&mut tx, id).await?;
        if B::rows_affected(&result) > 0 {
            record_audit(&mut tx, AuditAction::Revoked, About::key(&record), &audit).await?;
            log_rights_change(&mut tx, record.user_id, audit.at).await?;
        }
        tx.commit().await?;
        Ok(record)
    }

    async fn rotate_key(
        &self,
        old_id: i64,
        old_revoked_at: DateTime<Utc>,
        new: NewKey,
        audit: AuditContext,
    ) -> StoreResult<KeyRecord> {
        let mut tx = self.write().await?;
        let query = sqlx::query(REVOKE).time(old_revoked_at).arg(old_id);
        let result = B::execute(&mut tx, query).await?;
        if B::rows_affected(&result) == 0 {
            // Either gone, or revoked by someone else since the caller looked: nothing half-done.
            return Err(match key_in(&mut tx, old_id).await {
                Ok(_) => StoreError::Conflict("the key is already revoked".to_string()),
                Err(err) => err,
            });
        }
        let old = key_in(&mut tx, old_id).await?;
        let id = insert_key_row(&mut tx, &new).await?;
        let record = key_in(&mut tx, id).await?;
        record_audit(&mut tx, AuditAction::Rotated, About::key(&old), &audit).await?;
        record_audit(&mut tx, AuditAction::Created, About::key(&record), &audit).await?;
        log_rights_change(&mut tx, old.user_id, audit.at).await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn delete_key(&self, id: i64, audit: AuditContext) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let record = match key_in(&mut tx, id).await {
            Ok(record) => record,
            Err(StoreError::NotFound) => return Ok(false),
            Err(err) => return Err(err),
        };
        B::execute(
            &mut tx,
            sqlx::query("DELETE FROM api_keys WHERE id = $1").arg(id),
        )
        .await?;
        record_audit(&mut tx, AuditAction::Deleted, About::key(&record), &audit).await?;
        log_rights_change(&mut tx, record.user_id, audit.at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn touch_key(&self, id: i64, at: DateTime<Utc>) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
        )
        .time(at)
        .arg(id)
        .time(at - TOUCH_INTERVAL);
        B::execute(&mut *self.connection().await?, query).await?;
        Ok(())
    }
}
