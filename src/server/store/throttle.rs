//! Failed sign-ins counted per account (a hash of the email), in windows, so the server can slow
//! down guessing across all its instances.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::audit::{About, AuditContext, record_audit};
use super::backend::{Backend, Bind as _, Row};
use super::users::User;
use super::{SqlStore, StoreResult};
use crate::api::AuditAction;

#[async_trait]
pub trait Throttle {
    /// The failed sign-ins counted for `account` in the window that began at the returned time.
    async fn login_failures(&self, account: [u8; 32]) -> StoreResult<Option<(DateTime<Utc>, u32)>>;
    /// Counts a failed sign-in at `audit.at` and records it (about `user`, when the email is a
    /// user's); a window older than `window` starts again. Returns the window's start and count.
    async fn record_login_failure(
        &self,
        account: [u8; 32],
        user: Option<&User>,
        window: Duration,
        audit: &AuditContext,
    ) -> StoreResult<(DateTime<Utc>, u32)>;
    async fn clear_login_failures(&self, account: [u8; 32]) -> StoreResult<()>;
}

/// A window's start and count, from a row of `login_failures`.
fn failure_window<B: Backend>(row: &B::Row) -> StoreResult<(DateTime<Utc>, u32)> {
    let row = Row::<B>(row);
    let failures: i64 = row.get("failures")?;
    Ok((
        row.time("started_at")?,
        u32::try_from(failures).unwrap_or(u32::MAX),
    ))
}

#[async_trait]
impl<B: Backend> Throttle for SqlStore<B> {
    async fn login_failures(&self, account: [u8; 32]) -> StoreResult<Option<(DateTime<Utc>, u32)>> {
        let query =
            sqlx::query("SELECT started_at, failures FROM login_failures WHERE account = $1")
                .arg(&account[..]);
        let row = B::fetch_optional(&mut *self.connection().await?, query).await?;
        row.as_ref().map(failure_window::<B>).transpose()
    }

    async fn record_login_failure(
        &self,
        account: [u8; 32],
        user: Option<&User>,
        window: Duration,
        audit: &AuditContext,
    ) -> StoreResult<(DateTime<Utc>, u32)> {
        let mut tx = self.write().await?;
        // A window that began at or before `$3` is over: counting starts again.
        let query = sqlx::query(
            "INSERT INTO login_failures (account, started_at, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (account) DO UPDATE SET \
               started_at = CASE WHEN login_failures.started_at <= $3 THEN $2 \
                            ELSE login_failures.started_at END, \
               failures = CASE WHEN login_failures.started_at <= $3 THEN 1 \
                          ELSE login_failures.failures + 1 END \
             RETURNING started_at, failures",
        )
        .arg(&account[..])
        .time(audit.at)
        .time(audit.at - window);
        let row = B::fetch_one(&mut tx, query).await?;
        let about = About {
            workspace_id: user.map(|u| u.default_workspace_id),
            user_id: user.map(|u| u.id),
            ..About::default()
        };
        record_audit(&mut tx, AuditAction::LoginFailed, about, audit).await?;
        tx.commit().await?;
        failure_window::<B>(&row)
    }

    async fn clear_login_failures(&self, account: [u8; 32]) -> StoreResult<()> {
        let query = sqlx::query("DELETE FROM login_failures WHERE account = $1").arg(&account[..]);
        B::execute(&mut *self.connection().await?, query).await?;
        Ok(())
    }
}
