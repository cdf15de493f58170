//! This computer's server as the account layer sees it: the one place where the app and the
//! command line hand `server::open_local` to `sources::accounts`, which may not import the server.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::secret::Secret;
use crate::sources::accounts::{self, LocalSession};

/// The embedded server on a database, started on first use and kept for the process.
pub struct Embedded {
    server: OnceCell<crate::server::LocalServer>,
    database_url: String,
}

impl Embedded {
    pub fn new(database_url: &str) -> Arc<Embedded> {
        Arc::new(Embedded {
            server: OnceCell::new(),
            database_url: database_url.to_string(),
        })
    }

    /// Its base URL, once it runs.
    pub fn base_url(&self) -> Option<String> {
        self.server.get().map(crate::server::LocalServer::base_url)
    }
}

#[async_trait::async_trait]
impl accounts::LocalServer for Embedded {
    async fn open(&self, kept_password: Option<Secret>) -> Result<LocalSession, String> {
        let opened =
            crate::server::open_local(&self.server, &self.database_url, kept_password.as_ref())
                .await
                .map_err(|err| err.to_string())?;
        Ok(LocalSession {
            base_url: opened.base_url,
            token: opened.token,
            new_password: opened.new_password,
        })
    }
}

/// A consistent copy of this computer's server database, for a backup; `None` when there is none.
pub async fn snapshot(database_url: &str) -> Result<Option<Vec<u8>>, String> {
    crate::server::embedded::snapshot_sqlite(database_url)
        .await
        .map_err(|err| format!("cannot copy this computer's server database: {err}"))
}

/// The file of this computer's server database, where a restore puts the backup's copy.
pub fn database_file(database_url: &str) -> Result<std::path::PathBuf, String> {
    crate::server::embedded::sqlite_file(database_url)
        .map(std::path::Path::to_path_buf)
        .ok_or_else(|| "this computer's server database is not a SQLite file".to_string())
}
