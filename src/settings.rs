//! Settings shared by the desktop app and the command line: the servers (no secrets), which one is
//! current, and preferences. TOML in `$XDG_CONFIG_HOME/keywarden/config.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::reminders::Thresholds;

/// The name of the embedded server in the server list and in keychain account names.
pub const LOCAL_SERVER: &str = "local";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot find the user's config directory (is HOME set?)")]
    NoConfigDir,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid Keywarden config (it was left as it is): {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThemeChoice {
    #[default]
    System,
    Light,
    Dark,
}

/// The kind of an account, as the settings file records it: which source speaks to it. What a
/// kind means is the sources' business (`sources::SourceKind`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    #[default]
    Keywarden,
    Thingsboard,
    Gitlab,
    Tracked,
}

/// A remote account the user signed in to: a Keywarden or ThingsBoard server. The session (or
/// ThingsBoard's refresh token) lives in the keychain, not here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerEntry {
    pub url: String,
    pub email: String,
    #[serde(default)]
    pub kind: SourceKind,
    /// The account's name (`--name`); the URL when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Plain `http://` to this server is allowed although it is another machine (`--allow-http`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
}

impl ServerEntry {
    /// How the command line and the app name the account.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.url)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `local` (the embedded server) or the URL of one of `servers`.
    pub current_server: String,
    pub servers: Vec<ServerEntry>,
    /// Clear the clipboard this long after copying a secret, if it still holds it; 0 = never.
    pub clipboard_clear_secs: u64,
    /// Put every secret the app is shown into the OS keychain.
    pub store_secrets: bool,
    pub theme: ThemeChoice,
    /// Desktop notifications when a key crosses a reminder threshold.
    pub notifications: bool,
    /// Days before expiry at which keys count as expiring, urgent and critical.
    pub thresholds: Thresholds,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            current_server: LOCAL_SERVER.to_string(),
            servers: Vec::new(),
            clipboard_clear_secs: 30,
            store_secrets: true,
            theme: ThemeChoice::System,
            notifications: true,
            thresholds: Thresholds::default(),
        }
    }
}

impl Config {
    pub fn default_path() -> Result<PathBuf, ConfigError> {
        Ok(dirs::config_dir()
            .ok_or(ConfigError::NoConfigDir)?
            .join("keywarden")
            .join("config.toml"))
    }

    /// The config at `path`; the defaults when the file does not exist yet.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|err| ConfigError::Parse {
            path: path.to_path_buf(),
            message: err.to_string(),
        })
    }

    /// Writes atomically (temporary file, then rename), so a crash never leaves half a config.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let write_error = |source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        };
        let text =
            toml::to_string_pretty(self).map_err(|err| write_error(std::io::Error::other(err)))?;
        crate::files::write_atomic(path, text.as_bytes()).map_err(write_error)
    }

    /// Takes the preferences the Settings screen edits from `edited`, and nothing else: the
    /// accounts and the current one stay as they are now (a sign-in may have finished while the
    /// screen was open).
    pub fn take_preferences(&mut self, edited: &Config) {
        let Config {
            current_server: _,
            servers: _,
            clipboard_clear_secs,
            store_secrets,
            theme,
            notifications,
            thresholds,
        } = edited.clone();
        self.clipboard_clear_secs = clipboard_clear_secs;
        self.store_secrets = store_secrets;
        self.theme = theme;
        self.notifications = notifications;
        self.thresholds = thresholds;
    }

    pub fn is_local(&self) -> bool {
        self.current_server == LOCAL_SERVER
    }

    /// Who the app and the command line sign in as on the current server: the local owner, or the
    /// user last signed in to the remote server (empty when the server list names none).
    pub fn current_email(&self) -> String {
        if self.is_local() {
            crate::api::LOCAL_OWNER_EMAIL.to_string()
        } else {
            self.current_entry()
                .map(|entry| entry.email.clone())
                .unwrap_or_default()
        }
    }

    pub fn current_entry(&self) -> Option<&ServerEntry> {
        self.entry(&self.current_server)
    }

    /// The remote account named `name`.
    pub fn entry(&self, name: &str) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.name() == name)
    }

    /// Adds or updates a remote account and makes it current.
    pub fn use_server(&mut self, entry: ServerEntry) {
        self.current_server = entry.name().to_string();
        match self.servers.iter_mut().find(|s| s.name() == entry.name()) {
            Some(existing) => *existing = entry,
            None => self.servers.push(entry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found: Settings saved a copy of the whole config made when it opened, so a sign-in that
    /// finished meanwhile was lost.
    #[test]
    fn saving_settings_keeps_accounts_added_meanwhile() {
        let opened = Config::default();
        let mut edited = opened.clone();
        edited.clipboard_clear_secs = 5;
        let mut now = opened;
        now.use_server(ServerEntry {
            url: "https://kw.example.com".into(),
            email: "a@b".into(),
            kind: Default::default(),
            name: None,
            allow_http: false,
        });
        now.take_preferences(&edited);
        assert_eq!(now.clipboard_clear_secs, 5);
        assert_eq!(now.servers.len(), 1);
        assert_eq!(now.current_server, "https://kw.example.com");
    }

    #[test]
    fn round_trips_and_reports_bad_files_without_touching_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keywarden/config.toml");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let mut config = Config::default();
        config.use_server(ServerEntry {
            url: "https://kw.example.com".into(),
            email: "a@b".into(),
            kind: Default::default(),
            name: None,
            allow_http: false,
        });
        config.use_server(ServerEntry {
            url: "https://tb.example.com".into(),
            email: "a@b".into(),
            kind: serde_json::from_str("\"thingsboard\"").unwrap(),
            name: Some("tb".into()),
            allow_http: true,
        });
        config.clipboard_clear_secs = 5;
        config.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), config);
        assert_eq!(
            config.current_entry().unwrap().url,
            "https://tb.example.com"
        );

        // A config written before accounts had kinds and names reads as Keywarden servers.
        std::fs::write(
            &path,
            "current_server = \"https://kw.example.com\"\n[[servers]]\nurl = \"https://kw.example.com\"\nemail = \"a@b\"\n",
        )
        .unwrap();
        let old = Config::load(&path).unwrap();
        assert_eq!(old.current_entry().unwrap().kind.as_str(), "keywarden");
        assert_eq!(
            old.current_entry().unwrap().name(),
            "https://kw.example.com"
        );

        std::fs::write(&path, "clipboard_clear_secs = \"soon\"").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("not a valid Keywarden config"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "clipboard_clear_secs = \"soon\""
        );
    }
}
