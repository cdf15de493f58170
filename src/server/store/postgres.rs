//! The PostgreSQL store, for several server instances on one database. Its queries are beside it,
//! one file per domain; what differs from SQLite is here: `timestamptz` times, `text[]` scopes,
//! and one advisory lock that every write transaction takes, so writers queue as on SQLite and the
//! rights log's ids are handed out in commit order (a follower reading `id > last` never skips a
//! slower transaction), and NOTIFY to tell the other instances of a change of rights.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Connection as _;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgQueryResult, PgRow,
};
use sqlx::{Pool, Postgres};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::backend::{Backend, Q, Reads, Tx};
use super::{PostgresStore, SqlStore, StoreError, StoreResult, from_millis, redact_url, to_millis};

/// The advisory lock of write transactions ("kwwr").
const WRITE_LOCK: i64 = 0x6b77_7772;

/// The channel a committed change of rights is announced on (NOTIFY); the log says what changed.
const RIGHTS_CHANNEL: &str = "keywarden_rights";

impl PostgresStore {
    /// Connects to `url` (`postgres://USER:PASSWORD@HOST[:PORT]/DATABASE`) and brings the schema up
    /// to date (instances starting together take turns: the migrator holds a lock). Errors name
    /// the URL without its password.
    pub async fn open(url: &str) -> StoreResult<PostgresStore> {
        let open_error = |source| StoreError::Open {
            url: redact_url(url),
            source,
        };
        let options = PgConnectOptions::from_str(url).map_err(open_error)?;
        // One connection first: its error says why (refused, wrong password, no such database),
        // where the pool's would only say that it timed out.
        let first = PgConnection::connect_with(&options)
            .await
            .map_err(open_error)?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(SqlStore { pool })
    }
}

impl Backend for Postgres {
    const ILIKE: bool = true;

    fn bind_time(query: Q<Postgres>, at: DateTime<Utc>) -> Q<Postgres> {
        query.bind(from_millis(to_millis(at)).unwrap_or(at))
    }

    fn read_time(row: &PgRow, column: &str) -> StoreResult<DateTime<Utc>> {
        Ok(Postgres::read(row, column)?)
    }

    fn read_optional_time(row: &PgRow, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(Postgres::read(row, column)?)
    }

    fn bind_scopes(query: Q<Postgres>, scopes: &[String]) -> StoreResult<Q<Postgres>> {
        Ok(query.bind(scopes.to_vec()))
    }

    fn read_scopes(row: &PgRow, column: &str) -> StoreResult<Vec<String>> {
        Ok(Postgres::read(row, column)?)
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn write(pool: &Pool<Postgres>) -> StoreResult<Tx<Postgres>> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Delivered to every listening connection when the transaction commits, not before.
    async fn announce_rights_change(tx: &mut Tx<Postgres>) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(RIGHTS_CHANNEL)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    fn watch(pool: &Pool<Postgres>, wake: Arc<Notify>) -> Option<AbortHandle> {
        Some(tokio::spawn(listen(pool.clone(), wake)).abort_handle())
    }
}

/// Wakes `wake` on every announcement, listening again after a lost connection (and waking then,
/// since announcements made meanwhile are lost; reading the log finds them).
async fn listen(pool: PgPool, wake: Arc<Notify>) {
    loop {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => match listener.listen(RIGHTS_CHANNEL).await {
                Ok(()) => {
                    wake.notify_one();
                    while listener.try_recv().await.ok().flatten().is_some() {
                        wake.notify_one();
                    }
                }
                Err(err) => tracing::debug!("cannot listen for changes of rights: {err}"),
            },
            Err(err) => tracing::debug!("cannot listen for changes of rights: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
