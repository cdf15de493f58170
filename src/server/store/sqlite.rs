//! The SQLite store: one file, WAL, a busy timeout, so the desktop app, the command line and a
//! server may all open the same database at once. Its queries are in `sql.rs`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{from_millis, to_millis};
use crate::files;

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

/// Times are Unix milliseconds.
type Time = i64;

fn db_time(at: DateTime<Utc>) -> Time {
    to_millis(at)
}

fn from_db_time(ms: Time) -> StoreResult<DateTime<Utc>> {
    from_millis(ms)
}

/// Scopes are a JSON array in a text column.
type Scopes = String;

fn db_scopes(scopes: &[String]) -> StoreResult<Scopes> {
    serde_json::to_string(scopes).map_err(|err| StoreError::Corrupt(err.to_string()))
}

fn from_db_scopes(json: Scopes) -> StoreResult<Vec<String>> {
    serde_json::from_str(&json).map_err(|err| StoreError::Corrupt(format!("scopes: {err}")))
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
        Ok(SqliteStore { pool })
    }

    /// Inserts many keys without audit events, in one transaction. For benchmarks that need a
    /// database with a million keys in seconds, not for serving.
    #[doc(hidden)]
    pub async fn insert_keys_unaudited(&self, keys: &[NewKey]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        for key in keys {
            insert_key_row(&mut tx, key).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Other processes on the file find changes by reading the log; SQLite cannot tell them.
    fn watch(
        &self,
        _wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> Option<tokio::task::AbortHandle> {
        None
    }

    async fn write(&self) -> StoreResult<Tx> {
        // IMMEDIATE takes the write lock up front, so two writers wait (busy timeout) instead of one
        // failing when it tries to upgrade a read transaction.
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

async fn announce_rights_change(_tx: &mut Tx) -> StoreResult<()> {
    Ok(())
}

sql_store!(SqliteStore, sqlx::Sqlite, like = "LIKE");
