//! The SQLite store: one file, WAL, a busy timeout, so the desktop app, the command line and a
//! server may all open the same database at once. Its queries are beside it, one file per domain;
//! what is SQLite's own is here: times as Unix milliseconds, scopes as a JSON array in a text
//! column, `BEGIN IMMEDIATE` for writes, and no way to tell other processes of a change.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteQueryResult, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Pool, Sqlite};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::backend::{Backend, Q, Reads, Tx};
use super::keys::{NewKey, insert_key_row};
use super::{SqlStore, SqliteStore, StoreError, StoreResult, from_millis, to_millis};
use crate::files;

impl Backend for Sqlite {
    const ILIKE: bool = false;

    fn bind_time(query: Q<Sqlite>, at: DateTime<Utc>) -> Q<Sqlite> {
        query.bind(to_millis(at))
    }

    fn read_time(row: &SqliteRow, column: &str) -> StoreResult<DateTime<Utc>> {
        from_millis(Sqlite::read(row, column)?)
    }

    fn read_optional_time(row: &SqliteRow, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let ms: Option<i64> = Sqlite::read(row, column)?;
        ms.map(from_millis).transpose()
    }

    fn bind_scopes(query: Q<Sqlite>, scopes: &[String]) -> StoreResult<Q<Sqlite>> {
        let json =
            serde_json::to_string(scopes).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        Ok(query.bind(json))
    }

    fn read_scopes(row: &SqliteRow, column: &str) -> StoreResult<Vec<String>> {
        let json: String = Sqlite::read(row, column)?;
        serde_json::from_str(&json).map_err(|err| StoreError::Corrupt(format!("scopes: {err}")))
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn write(pool: &Pool<Sqlite>) -> StoreResult<Tx<Sqlite>> {
        // IMMEDIATE takes the write lock up front, so two writers wait (busy timeout) instead of
        // one failing when it tries to upgrade a read transaction.
        Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn announce_rights_change(_tx: &mut Tx<Sqlite>) -> StoreResult<()> {
        Ok(())
    }

    /// Other processes on the file find changes by reading the log; SQLite cannot tell them.
    fn watch(_pool: &Pool<Sqlite>, _wake: Arc<Notify>) -> Option<AbortHandle> {
        None
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `url` (`sqlite://PATH`, `sqlite:PATH` or a plain
    /// path) and brings its schema up to date.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let open_error = |source| StoreError::Open {
            url: url.to_string(),
            source,
        };
        let normalized = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&normalized)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // The database holds password hashes, emails and client addresses: a directory the
        // server creates is 700 and a database file 600 (SQLite gives its -wal and -shm files the
        // database file's mode).
        let path = options.get_filename();
        if path != Path::new(":memory:") && !path.as_os_str().is_empty() {
            if let Some(parent) = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty() && !p.exists())
            {
                files::create_private_dir_all(parent)
                    .map_err(|err| open_error(sqlx::Error::Io(err)))?;
            }
            files::create_private_file(path).map_err(|err| open_error(sqlx::Error::Io(err)))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqlStore { pool })
    }

    /// Inserts many keys without audit events, in one transaction. For benchmarks that need a
    /// database with a million keys in seconds, not for serving.
    #[doc(hidden)]
    pub async fn insert_keys_unaudited(&self, keys: &[NewKey]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        for key in keys {
            insert_key_row::<Sqlite>(&mut tx, key).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
