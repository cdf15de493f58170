//! What a backup is made from on this computer, and how it is put back: the keychain (through the
//! keeper), the tracked keys, the saved key lists, the settings and this computer's server
//! database (as bytes: the caller copies and places the file). The app and the command line both
//! call this.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::backup::{Contents, HeldSecret, SavedList};
use crate::settings::Config;
use crate::sources::keeper::Keeper;
use crate::sources::list_cache::ListCache;
use crate::sources::tracked::TrackedSource;
use crate::sources::{KeyRef, KeySource as _, SourceKey, accounts};

/// This computer, as a backup sees it.
pub struct Here<'a> {
    pub keeper: &'a Keeper,
    pub data_dir: &'a Path,
    /// Where the saved key lists are; `None` keeps none.
    pub cache: Option<&'a ListCache>,
}

/// How a restore goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Restore {
    /// Replace what differs here.
    pub force: bool,
    /// `false`: say what would change, change nothing.
    pub write: bool,
    /// This computer has no settings yet: the backup's are taken.
    pub fresh_config: bool,
}

impl Restore {
    /// What becomes of what differs here, for the report.
    fn conflicts_are(self) -> &'static str {
        match (self.force, self.write) {
            (true, true) => "were replaced",
            (true, false) => "would be replaced",
            (false, _) => "were kept (--force replaces them)",
        }
    }
}

impl Here<'_> {
    /// Everything a backup holds, with `local_database` (this computer's server, copied by the
    /// caller) if there is one.
    pub async fn collect(
        &self,
        config: &Config,
        local_database: Option<Vec<u8>>,
        now: DateTime<Utc>,
    ) -> Result<Contents, String> {
        let mut contents = Contents::new(config, now);
        let accounts = accounts::list(config);
        let mut names = std::collections::BTreeMap::new();
        for account in &accounts {
            let (Some(cache), Some(cache_key)) = (self.cache, account.cache_key()) else {
                continue;
            };
            let email = account.email.clone().unwrap_or_default();
            if let Some(saved) = cache.load::<SourceKey>(&cache_key, &email) {
                for key in &saved.keys {
                    names.insert(KeyRef::from(key), key.name.clone());
                }
                contents.lists.push(SavedList {
                    cache_key,
                    email,
                    user_id: saved.user_id.unwrap_or_default(),
                    saved_at: saved.saved_at,
                    keys: saved.keys,
                });
            }
        }
        let tracked = TrackedSource::new(self.data_dir);
        for key in tracked.list().await.map_err(|e| e.to_string())? {
            names.insert(key.key_ref(), key.name.clone());
        }
        contents.tracked = tracked.export().map_err(|e| e.to_string())?;
        let pairs: Vec<_> = accounts.iter().map(|a| (a.kind, a.name.clone())).collect();
        let held = self
            .keeper
            .held_keys(&pairs)
            .await
            .map_err(|e| e.to_string())?;
        // The accounts whose list is here: a secret the keychain holds under one of them for a key
        // that list does not name is left over from a key gone (or another user of the same
        // keychain's), and no reference could find it.
        // (An account with no saved list keeps its list itself: the tracked keys' file, read
        // above.)
        let listed: std::collections::BTreeSet<String> = accounts
            .iter()
            .filter(|a| match a.cache_key() {
                Some(key) => contents.lists.iter().any(|l| l.cache_key == key),
                None => true,
            })
            .map(|a| a.name.clone())
            .collect();
        for key in held {
            if listed.contains(&key.source) && !names.contains_key(&key) {
                continue;
            }
            let Some(secret) = self.keeper.secret(&key).await.map_err(|e| e.to_string())? else {
                continue;
            };
            contents.secrets.push(HeldSecret {
                name: names.get(&key).cloned().unwrap_or_default(),
                kind: key.kind,
                account: key.source,
                id: key.id,
                secret,
            });
        }
        if let Ok(bytes) = std::fs::read(self.data_dir.join("renewals.json")) {
            contents.renewals = serde_json::from_slice(&bytes).ok();
        }
        if let Some(database) = local_database {
            contents.set_local_database(&database);
        }
        Ok(contents)
    }

    /// Puts a backup back: missing secrets, tracked keys, lists and accounts are added (accounts
    /// signed out), what is here already is left, and what differs is kept and listed unless
    /// `force`. `local_database` is where this computer's server keeps its file. Returns a line
    /// for each kind of thing, as the command line prints it and the app shows it.
    pub async fn restore(
        &self,
        contents: &Contents,
        config: &mut Config,
        local_database: &Path,
        how: Restore,
    ) -> Result<Vec<String>, String> {
        let verb = if how.write { "" } else { "would be " };
        let mut report = Vec::new();

        let (mut added, mut same, mut conflicts) = (0, 0, Vec::new());
        for held in &contents.secrets {
            let key = KeyRef {
                kind: held.kind,
                source: held.account.clone(),
                id: held.id.clone(),
            };
            match self.keeper.secret(&key).await.map_err(|e| e.to_string())? {
                None => added += 1,
                Some(current) if current == held.secret => {
                    same += 1;
                    continue;
                }
                Some(_) => {
                    conflicts.push(format!("{} on {}", held.name, held.account));
                    if !how.force {
                        continue;
                    }
                }
            }
            if how.write {
                self.keeper
                    .keep_given(&key, &held.secret)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        report.push(format!(
            "{added} secret(s) {verb}added, {same} already here"
        ));
        if !conflicts.is_empty() {
            report.push(format!(
                "{} secret(s) differ here and {}: {}",
                conflicts.len(),
                how.conflicts_are(),
                conflicts.join(", ")
            ));
        }

        let merged = TrackedSource::new(self.data_dir)
            .merge(&contents.tracked, how.force, how.write)
            .map_err(|e| e.to_string())?;
        report.push(format!(
            "{} tracked key(s) {verb}added, {} already here",
            merged.added.len(),
            merged.unchanged
        ));
        if !merged.conflicts.is_empty() {
            report.push(format!(
                "{} tracked key(s) differ here and {}: {}",
                merged.conflicts.len(),
                how.conflicts_are(),
                merged.conflicts.join(", ")
            ));
        }

        // The saved lists, so references resolve before the accounts are signed in again.
        if let (Some(cache), true) = (self.cache, how.write) {
            for list in &contents.lists {
                let here = cache.load::<SourceKey>(&list.cache_key, &list.email);
                if here.is_none() || how.force {
                    cache
                        .save(
                            &list.cache_key,
                            (&list.email, &list.user_id),
                            &list.keys,
                            list.saved_at,
                        )
                        .map_err(|err| format!("cannot save a key list: {err}"))?;
                }
            }
        }
        let renewals = self.data_dir.join("renewals.json");
        if let (Some(value), false, true) = (&contents.renewals, renewals.exists(), how.write) {
            let bytes = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
            crate::files::create_private_dir_all(self.data_dir)
                .and_then(|()| crate::files::write_atomic(&renewals, &bytes))
                .map_err(|err| format!("cannot write {}: {err}", renewals.display()))?;
        }

        if let Some(database) = contents.local_database().map_err(|e| e.to_string())? {
            match std::fs::read(local_database).ok() {
                Some(bytes) if bytes == database => {}
                Some(_) if !how.force => report.push(
                    "this computer's server database differs and was kept (--force replaces it, \
                     with the keys made here since)"
                        .to_string(),
                ),
                _ => {
                    report.push(format!("this computer's server database {verb}restored"));
                    if how.write {
                        crate::files::write_atomic(local_database, &database).map_err(|err| {
                            format!("cannot write {}: {err}", local_database.display())
                        })?;
                    }
                }
            }
        }

        let mut accounts_added = 0;
        for entry in &contents.accounts {
            if config.entry(entry.name()).is_none() {
                accounts_added += 1;
                if how.write {
                    config.servers.push(entry.clone());
                }
            }
        }
        report.push(format!(
            "{accounts_added} account(s) {verb}added, signed out: sign in when you choose"
        ));
        if how.fresh_config && how.write {
            config.take_preferences(&contents.settings);
        }
        Ok(report)
    }
}

/// Writes a sealed backup to `file` (mode 600), over an existing one only when `force`, and
/// notes when it was made.
pub fn write_backup(
    file: &Path,
    sealed: &[u8],
    force: bool,
    data_dir: &Path,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let written = if force {
        crate::files::write_atomic(file, sealed)
    } else {
        crate::files::write_new_atomic(file, sealed)
    };
    written.map_err(|err| match err.kind() {
        std::io::ErrorKind::AlreadyExists => {
            format!("{} exists: give --force to replace it", file.display())
        }
        _ => format!("cannot write {}: {err}", file.display()),
    })?;
    super::backup::record_backup(data_dir, now)
}
