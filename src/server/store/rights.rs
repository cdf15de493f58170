//! The rights log: every change that can take a right away (or change someone's key list) is
//! logged, with the user it concerns, in the transaction that makes it. Other instances on the
//! database read it to drop what they cached; the app's key list asks its revision.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::backend::{Backend, Bind as _, Row, Tx};
use super::{SqlStore, StoreResult};

#[async_trait]
pub trait RightsLog {
    /// The id of the newest logged change of rights (0 when none).
    async fn last_rights_change(&self) -> StoreResult<i64>;
    /// The changes of rights logged after `after`, oldest first: (id, the user concerned; `None`
    /// for everyone). Ids follow each other without gaps until old ones are pruned.
    async fn rights_changes_since(&self, after: i64) -> StoreResult<Vec<(i64, Option<i64>)>>;
    /// Forgets logged changes older than `before`.
    async fn prune_rights_changes(&self, before: DateTime<Utc>) -> StoreResult<()>;
    /// The newest logged change (of rights or of keys: a key's creation is logged too) that can
    /// touch the keys `user_id` sees in `workspace_id`, or of anyone in the workspace when
    /// `user_id` is `None` (an administrator's view). Grows with every such change; may fall back
    /// when old changes are pruned, which only costs one needless reload.
    async fn keys_revision(&self, workspace_id: i64, user_id: Option<i64>) -> StoreResult<i64>;
    /// Where the backend pushes committed changes of rights (PostgreSQL's LISTEN/NOTIFY): starts a
    /// task that wakes `wake` after each one, and after each reconnection (a change may have come
    /// meanwhile), and returns its handle. `None` where changes are found only by reading the log.
    fn watch_rights_changes(&self, wake: Arc<Notify>) -> Option<AbortHandle>;
}

/// Logs that `user_id`'s rights may have shrunk or their keys changed, for the other processes on
/// this database and for the key-list revision.
pub(super) async fn log_rights_change<B: Backend>(
    tx: &mut Tx<B>,
    user_id: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let query = sqlx::query("INSERT INTO rights_changes (user_id, at) VALUES ($1, $2)")
        .arg(user_id)
        .time(at);
    B::execute(tx, query).await?;
    B::announce_rights_change(tx).await
}

#[async_trait]
impl<B: Backend> RightsLog for SqlStore<B> {
    async fn last_rights_change(&self) -> StoreResult<i64> {
        let query = sqlx::query("SELECT COALESCE(MAX(id), 0) AS last FROM rights_changes");
        let row = B::fetch_one(&mut *self.connection().await?, query).await?;
        Row::<B>(&row).get("last")
    }

    async fn rights_changes_since(&self, after: i64) -> StoreResult<Vec<(i64, Option<i64>)>> {
        let query = sqlx::query("SELECT id, user_id FROM rights_changes WHERE id > $1 ORDER BY id")
            .arg(after);
        let rows = B::fetch_all(&mut *self.connection().await?, query).await?;
        rows.iter()
            .map(|row| {
                let row = Row::<B>(row);
                Ok((row.get("id")?, row.get("user_id")?))
            })
            .collect()
    }

    async fn prune_rights_changes(&self, before: DateTime<Utc>) -> StoreResult<()> {
        let query = sqlx::query("DELETE FROM rights_changes WHERE at < $1").time(before);
        B::execute(&mut *self.connection().await?, query).await?;
        Ok(())
    }

    async fn keys_revision(&self, workspace_id: i64, user_id: Option<i64>) -> StoreResult<i64> {
        let query = sqlx::query(
            "SELECT COALESCE(MAX(id), 0) AS revision FROM rights_changes WHERE user_id IS NULL \
             OR ($2 IS NOT NULL AND user_id = $2) \
             OR ($2 IS NULL AND (\
                 user_id IN (SELECT user_id FROM memberships WHERE workspace_id = $1) \
                 OR user_id IN (SELECT user_id FROM api_keys WHERE workspace_id = $1)))",
        )
        .arg(workspace_id)
        .arg(user_id);
        let row = B::fetch_one(&mut *self.connection().await?, query).await?;
        Row::<B>(&row).get("revision")
    }

    fn watch_rights_changes(&self, wake: Arc<Notify>) -> Option<AbortHandle> {
        B::watch(&self.pool, wake)
    }
}
