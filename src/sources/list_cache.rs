//! The last key list each server returned, without secrets, in `$XDG_CACHE_HOME/keywarden/lists/`.
//! The app shows it the moment it starts (and while the server cannot be reached), then replaces it
//! with the server's answer. Only metadata is kept: names, dates, hints (`kw_AbCd…wxyz`), never a key.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::KeyInfo;

/// One directory of cached lists, one file per server.
#[derive(Debug, Clone)]
pub struct ListCache {
    dir: PathBuf,
}

/// A list read back from the cache: a server's `KeyInfo`s, or a source's `SourceKey`s.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedList<T = KeyInfo> {
    pub saved_at: DateTime<Utc>,
    /// The id of the user the list was fetched as (absent in lists saved by earlier versions).
    pub user_id: Option<String>,
    pub keys: Vec<T>,
}

/// A user id as saved: a number by earlier versions, a string now.
#[derive(Deserialize)]
#[serde(untagged)]
enum SavedId {
    Number(i64),
    Text(String),
}

#[derive(Deserialize)]
struct File<T> {
    /// The server and the user the list was fetched as: a list is never shown to another user.
    server: String,
    email: String,
    #[serde(default)]
    user_id: Option<SavedId>,
    saved_at: DateTime<Utc>,
    keys: Vec<T>,
}

impl ListCache {
    pub fn new(dir: impl Into<PathBuf>) -> ListCache {
        ListCache { dir: dir.into() }
    }

    /// `$XDG_CACHE_HOME/keywarden/lists`; `None` when the system names no cache directory.
    pub fn default_dir() -> Option<PathBuf> {
        Some(dirs::cache_dir()?.join("keywarden").join("lists"))
    }

    fn path(&self, server: &str) -> PathBuf {
        let digest = Sha256::digest(server.as_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("{name}.json"))
    }

    /// The list last saved for `server` as `email`. Nothing when there is none, when another user
    /// saved it, or when the file is damaged (it is then removed: a cache loses nothing by that).
    pub fn load<T: DeserializeOwned>(&self, server: &str, email: &str) -> Option<CachedList<T>> {
        let path = self.path(server);
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice::<File<T>>(&bytes) {
            Ok(file) if file.server == server && file.email == email => Some(CachedList {
                saved_at: file.saved_at,
                user_id: file.user_id.map(|id| match id {
                    SavedId::Number(n) => n.to_string(),
                    SavedId::Text(text) => text,
                }),
                keys: file.keys,
            }),
            Ok(_) => None,
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Replaces the list saved for `server`, fetched as `email` (user `user_id`), atomically.
    pub fn save<T: Serialize>(
        &self,
        server: &str,
        (email, user_id): (&str, &str),
        keys: &[T],
        saved_at: DateTime<Utc>,
    ) -> std::io::Result<()> {
        #[derive(Serialize)]
        struct Borrowed<'a, T> {
            server: &'a str,
            email: &'a str,
            user_id: &'a str,
            saved_at: DateTime<Utc>,
            keys: &'a [T],
        }
        let bytes = serde_json::to_vec(&Borrowed {
            server,
            email,
            user_id,
            saved_at,
            keys,
        })
        .map_err(std::io::Error::other)?;
        crate::files::write_atomic(&self.path(server), &bytes)
    }

    /// Forgets `server`'s list (on sign-out). A list that is not there is already forgotten.
    pub fn remove(&self, server: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(server)) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i64) -> KeyInfo {
        KeyInfo::sample(id, 30, Utc::now())
    }

    #[test]
    fn a_saved_list_comes_back_for_the_same_server_and_user_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ListCache::new(dir.path());
        let keys = vec![key(1), key(2)];
        let at = Utc::now();
        cache
            .save("https://a.example", ("dev@a", "1"), &keys, at)
            .unwrap();
        cache
            .save("local", ("owner@localhost", "1"), &keys[..1], at)
            .unwrap();

        let back = cache.load::<KeyInfo>("https://a.example", "dev@a").unwrap();
        assert_eq!(back.keys, keys);
        assert_eq!(back.saved_at, at);
        assert_eq!(back.user_id.as_deref(), Some("1"));
        assert_eq!(
            cache
                .load::<KeyInfo>("local", "owner@localhost")
                .unwrap()
                .keys
                .len(),
            1
        );
        assert_eq!(cache.load::<KeyInfo>("https://a.example", "other@a"), None);
        assert_eq!(cache.load::<KeyInfo>("https://b.example", "dev@a"), None);

        cache.remove("https://a.example").unwrap();
        cache.remove("https://a.example").unwrap();
        assert_eq!(cache.load::<KeyInfo>("https://a.example", "dev@a"), None);
        assert!(cache.load::<KeyInfo>("local", "owner@localhost").is_some());
    }

    #[test]
    fn a_damaged_file_is_no_list_and_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ListCache::new(dir.path());
        cache
            .save("local", ("me", "1"), &[key(1)], Utc::now())
            .unwrap();
        let path = cache.path("local");
        std::fs::write(&path, b"{\"server\": \"local\", \"keys\": [").unwrap();
        assert_eq!(cache.load::<KeyInfo>("local", "me"), None);
        assert!(!path.exists());
    }
}
