//! The PostgreSQL store, for several server instances on one database. Its queries are in `sql.rs`;
//! what differs from SQLite is here: `timestamptz` times, `text[]` scopes, and one advisory lock
//! that every write transaction takes, so writers queue as on SQLite and the rights log's ids are
//! handed out in commit order (a follower reading `id > last` never skips a slower transaction).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::{from_millis, redact_url, to_millis};

/// The advisory lock of write transactions ("kwwr").
const WRITE_LOCK: i64 = 0x6b77_7772;

/// The channel a committed change of rights is announced on (NOTIFY); the log says what changed.
const RIGHTS_CHANNEL: &str = "keywarden_rights";

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Times are `timestamptz`, written with millisecond precision so both backends keep the same.
type Time = DateTime<Utc>;

fn db_time(at: DateTime<Utc>) -> Time {
    from_millis(to_millis(at)).unwrap_or(at)
}

fn from_db_time(at: Time) -> StoreResult<DateTime<Utc>> {
    Ok(at)
}

/// Scopes are a `text[]` column.
type Scopes = Vec<String>;

fn db_scopes(scopes: &[String]) -> StoreResult<Scopes> {
    Ok(scopes.to_vec())
}

fn from_db_scopes(scopes: Scopes) -> StoreResult<Vec<String>> {
    Ok(scopes)
}

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
        Ok(PostgresStore { pool })
    }

    fn watch(&self, wake: Arc<Notify>) -> Option<AbortHandle> {
        let pool = self.pool.clone();
        Some(tokio::spawn(listen(pool, wake)).abort_handle())
    }

    async fn write(&self) -> StoreResult<Tx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// Delivered to every listening connection when the transaction commits, not before.
async fn announce_rights_change(tx: &mut Tx) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(RIGHTS_CHANNEL)
        .execute(&mut **tx)
        .await?;
    Ok(())
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

sql_store!(PostgresStore, sqlx::Postgres, like = "ILIKE");
