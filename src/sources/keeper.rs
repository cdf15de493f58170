//! The one place that decides what the keychain holds when a key is created, renewed, revoked or
//! deleted, whatever its source; the desktop app and the command line both go through it.
//!
//! - A new secret goes into the keychain (unless the user turned that off). When it cannot be kept
//!   and will not be shown either, the new key is useless: it is deleted again and the error says so.
//! - A renewal keeps the new secret; the old one is removed when the old key stops working: at
//!   once without overlap, else when a later listing sees the overlap has ended.
//! - ThingsBoard has no rotate: the old key is deleted by Keywarden when the overlap ends, and an
//!   overlap that ended while nothing ran is finished at the next listing (`pending.json` in the
//!   data directory remembers it; no secret).
//! - Revoke and delete remove the secret. A removal that fails is reported, never ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Created, KeyRef, KeySource, NewKey, Renewal, Renewed, SourceError, SourceKey, SourceKind,
};
use crate::api::KeyStatus;
use crate::secret::Secret;
use crate::vault::{self, Vault, VaultError};

/// What happened in the keychain alongside an action on a source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Kept {
    /// The new secret was put into the keychain (`Ok(false)`: keeping secrets is turned off).
    pub stored: Option<Result<bool, VaultError>>,
    /// Secrets removed, and any removal that failed.
    pub removed: Vec<(KeyRef, Result<(), VaultError>)>,
}

impl Kept {
    pub fn stored(&self) -> bool {
        matches!(self.stored, Some(Ok(true)))
    }

    pub fn store_error(&self) -> Option<&VaultError> {
        self.stored.as_ref()?.as_ref().err()
    }

    /// A sentence for every keychain step that failed, to show or print as a warning.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(err) = self.store_error() {
            problems.push(format!("the new secret could not be kept: {err}"));
        }
        for (key, result) in &self.removed {
            if let Err(err) = result {
                problems.push(format!(
                    "the secret of key {} on {} could not be removed from the keychain: {err}",
                    key.id, key.source
                ));
            }
        }
        problems
    }
}

/// An old ThingsBoard key to delete when its renewal's overlap ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    kind: SourceKind,
    source: String,
    id: String,
    at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Keeper {
    vault: Arc<dyn Vault>,
    store_secrets: bool,
    /// `pending.json` lives here; `None` keeps pending deletions in memory only (tests).
    data_dir: Option<PathBuf>,
    memory: Arc<std::sync::Mutex<Vec<Pending>>>,
}

impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("store_secrets", &self.store_secrets)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VaultError> + Send + 'static,
) -> Result<T, VaultError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| VaultError::Failed(err.to_string()))?
}

impl Keeper {
    pub fn new(vault: Arc<dyn Vault>, store_secrets: bool, data_dir: Option<PathBuf>) -> Keeper {
        Keeper {
            vault,
            store_secrets,
            data_dir,
            memory: Arc::default(),
        }
    }

    /// A key's secret from the keychain. One kept under the name earlier versions used is moved
    /// to the current name on the way.
    pub async fn secret(&self, key: &KeyRef) -> Result<Option<Secret>, VaultError> {
        let vault = self.vault.clone();
        let account = account(key);
        let legacy = (key.kind == SourceKind::Keywarden)
            .then(|| vault::legacy_key_account(&key.source, &key.id));
        blocking(move || {
            if let Some(secret) = vault.get(&account)? {
                return Ok(Some(secret));
            }
            let Some(legacy) = legacy else {
                return Ok(None);
            };
            let Some(secret) = vault.get(&legacy)? else {
                return Ok(None);
            };
            if vault.set(&account, &secret).is_ok()
                && let Err(err) = vault.delete(&legacy)
            {
                tracing::warn!("a secret moved to its new keychain name, the old one stays: {err}");
            }
            Ok(Some(secret))
        })
        .await
    }

    /// The ids of each source's keys whose secrets the keychain holds.
    pub async fn held(
        &self,
        sources: &[(SourceKind, String)],
    ) -> Result<BTreeMap<String, BTreeSet<String>>, VaultError> {
        let vault = self.vault.clone();
        let accounts = blocking(move || vault.accounts()).await?;
        Ok(sources
            .iter()
            .map(|(kind, name)| {
                (
                    name.clone(),
                    vault::held_key_ids(&accounts, kind.as_str(), name),
                )
            })
            .collect())
    }

    /// The keys of these accounts whose secrets the keychain holds.
    pub async fn held_keys(
        &self,
        sources: &[(SourceKind, String)],
    ) -> Result<BTreeSet<KeyRef>, VaultError> {
        let held = self.held(sources).await?;
        Ok(sources
            .iter()
            .flat_map(|(kind, name)| {
                held.get(name).into_iter().flatten().map(|id| KeyRef {
                    kind: *kind,
                    source: name.clone(),
                    id: id.clone(),
                })
            })
            .collect())
    }

    /// Puts a secret into the keychain; `Ok(false)` when keeping secrets is turned off.
    pub async fn keep(&self, key: &KeyRef, secret: &Secret) -> Result<bool, VaultError> {
        if !self.store_secrets {
            return Ok(false);
        }
        let (vault, account, secret) = (self.vault.clone(), account(key), secret.clone());
        blocking(move || vault.set(&account, &secret).map(|()| true)).await
    }

    /// Keeps a secret the user gave (a tracked key): unlike a new key's, it cannot be shown again,
    /// so it is kept whatever the setting says.
    pub async fn keep_given(&self, key: &KeyRef, secret: &Secret) -> Result<(), VaultError> {
        let (vault, account, secret) = (self.vault.clone(), account(key), secret.clone());
        blocking(move || vault.set(&account, &secret)).await
    }

    /// Removes a key's secret, under its current and its earlier name.
    pub async fn forget(&self, key: &KeyRef) -> Result<(), VaultError> {
        let vault = self.vault.clone();
        let names = [
            Some(account(key)),
            (key.kind == SourceKind::Keywarden)
                .then(|| vault::legacy_key_account(&key.source, &key.id)),
        ];
        blocking(move || {
            for name in names.into_iter().flatten() {
                vault.delete(&name)?;
            }
            Ok(())
        })
        .await
    }

    async fn forget_reported(&self, key: KeyRef) -> (KeyRef, Result<(), VaultError>) {
        let result = self.forget(&key).await;
        (key, result)
    }

    /// Makes a key and keeps its secret. `shown`: the secret is shown to the user whatever
    /// happens; when it is not and the keychain refuses it, the new key is deleted again.
    pub async fn create(
        &self,
        source: &dyn KeySource,
        new: &NewKey,
        shown: bool,
    ) -> Result<(Created, Kept), SourceError> {
        let created = source.create(new).await?;
        let stored = self.keep(&created.key.key_ref(), &created.secret).await;
        if let (Err(err), false) = (&stored, shown) {
            return Err(undo_new_key(source, &created.key.id, err, "").await);
        }
        Ok((
            created,
            Kept {
                stored: Some(stored),
                removed: Vec::new(),
            },
        ))
    }

    /// Renews a key: keeps the new secret, and removes the old one when the old key stops working
    /// now (no overlap). Where the source leaves the old key to the client (ThingsBoard), it is
    /// deleted now or remembered for when the overlap ends.
    pub async fn renew(
        &self,
        source: &dyn KeySource,
        id: &str,
        renewal: &Renewal,
        shown: bool,
    ) -> Result<(Renewed, Kept), SourceError> {
        if let Some(secret) = &renewal.secret {
            return self.renew_by_paste(source, id, renewal, secret).await;
        }
        let mut renewed = source.renew(id, renewal).await?;
        if let Some(renewals) = self.renewals()
            && let Err(err) = renewals.renewed(&renewed.old.key_ref(), &renewed.key.id)
        {
            tracing::warn!("the renewal could not be remembered: {err}");
        }
        let stored = self.keep(&renewed.key.key_ref(), &renewed.secret).await;
        // Where the old key stopped already (GitLab), the new one is the only one that works:
        // it is never undone, and the error says the secret could not be kept.
        let undo = !source.capabilities().renew_revokes_old;
        if let (Err(err), false, true) = (&stored, shown, undo) {
            // The old key still works; only the new one is undone.
            let why = undo_new_key(source, &renewed.key.id, err, ", the old one is unchanged");
            return Err(why.await);
        }
        let mut kept = Kept {
            stored: Some(stored),
            removed: Vec::new(),
        };
        let now = Utc::now();
        if source.capabilities().overlap_by_client {
            // ThingsBoard: Keywarden deletes the old key itself.
            if renewal.overlap <= chrono::Duration::zero() {
                source.delete(&renewed.old.id).await?;
                renewed.old.revoked_at = Some(now);
                kept.removed
                    .push(self.forget_reported(renewed.old.key_ref()).await);
            } else {
                let at = now + renewal.overlap;
                self.add_pending(Pending {
                    kind: renewed.old.kind,
                    source: renewed.old.source.clone(),
                    id: renewed.old.id.clone(),
                    at,
                })
                .map_err(SourceError::Storage)?;
                renewed.old.revoked_at = Some(at);
            }
        } else if renewed.old.status_at(now) == KeyStatus::Revoked {
            kept.removed
                .push(self.forget_reported(renewed.old.key_ref()).await);
        }
        Ok((renewed, kept))
    }

    /// A tracked key renewed with the secret the service made: the secret is kept first, under the
    /// new key's id, and the record written after; when the keychain refuses, nothing changes.
    async fn renew_by_paste(
        &self,
        source: &dyn KeySource,
        id: &str,
        renewal: &Renewal,
        secret: &Secret,
    ) -> Result<(Renewed, Kept), SourceError> {
        let new_id = super::tracked::new_id();
        let new_key = KeyRef {
            kind: source.kind(),
            source: source.name().to_string(),
            id: new_id.clone(),
        };
        self.keep_given(&new_key, secret).await?;
        let renewal = Renewal {
            new_id: Some(new_id),
            ..renewal.clone()
        };
        match source.renew(id, &renewal).await {
            Ok(renewed) => Ok((
                renewed,
                Kept {
                    stored: Some(Ok(true)),
                    removed: Vec::new(),
                },
            )),
            Err(err) => {
                if let Err(forget) = self.forget(&new_key).await {
                    tracing::warn!("cannot remove the secret of a renewal that failed: {forget}");
                }
                Err(err)
            }
        }
    }

    /// Keeps a key the developer already has (a tracked key): the secret first, then the record,
    /// so a key is never listed without its secret.
    pub async fn add_tracked(
        &self,
        tracked: &super::tracked::TrackedSource,
        new: super::tracked::NewTracked,
        secret: &Secret,
    ) -> Result<SourceKey, SourceError> {
        self.add_tracked_many(tracked, vec![(new, secret.clone())])
            .await
            .map_err(|(_, err)| err)?
            .pop()
            .ok_or_else(|| SourceError::Storage("the key was not added".into()))
    }

    /// Adds tracked keys all together: every secret goes into the keychain, then the records
    /// are written at once. On an error (with the index of the key it is about) nothing stays:
    /// the secrets kept so far are removed again.
    pub async fn add_tracked_many(
        &self,
        tracked: &super::tracked::TrackedSource,
        keys: Vec<(super::tracked::NewTracked, Secret)>,
    ) -> Result<Vec<SourceKey>, (usize, SourceError)> {
        for (index, (new, _)) in keys.iter().enumerate() {
            tracked.validate(new).map_err(|err| (index, err))?;
        }
        let refs: Vec<KeyRef> = keys
            .iter()
            .map(|_| KeyRef {
                kind: SourceKind::Tracked,
                source: tracked.name().to_string(),
                id: super::tracked::new_id(),
            })
            .collect();
        let mut kept = 0;
        let mut result = Ok(());
        for (index, (key, (_, secret))) in refs.iter().zip(&keys).enumerate() {
            if let Err(err) = self.keep_given(key, secret).await {
                result = Err((index, SourceError::from(err)));
                break;
            }
            kept += 1;
        }
        let result = result.and_then(|()| {
            let records = refs
                .iter()
                .zip(&keys)
                .map(|(key, (new, secret))| (key.id.clone(), new.clone(), secret))
                .collect();
            tracked.add_many(records).map_err(|err| (0, err))
        });
        if result.is_err() {
            for key in &refs[..kept] {
                if let Err(forget) = self.forget(key).await {
                    tracing::warn!("cannot remove the secret of a key not added: {forget}");
                }
            }
        }
        result
    }

    pub async fn revoke(
        &self,
        source: &dyn KeySource,
        id: &str,
    ) -> Result<(SourceKey, Kept), SourceError> {
        let key = source.revoke(id).await?;
        let removed = vec![self.forget_reported(key.key_ref()).await];
        Ok((
            key,
            Kept {
                stored: None,
                removed,
            },
        ))
    }

    /// Deletes a key on its source (ThingsBoard: revokes it; tracked: forgets it) and its secret.
    pub async fn delete(&self, source: &dyn KeySource, id: &str) -> Result<Kept, SourceError> {
        source.delete(id).await?;
        self.drop_pending(source.name(), id)
            .map_err(SourceError::Storage)?;
        let key = KeyRef {
            kind: source.kind(),
            source: source.name().to_string(),
            id: id.to_string(),
        };
        Ok(Kept {
            stored: None,
            removed: vec![self.forget_reported(key).await],
        })
    }

    /// The source's keys: renewals whose overlap ended are finished first (the old ThingsBoard
    /// key deleted), keys still in an overlap carry its end as `revoked_at`, and secrets of keys
    /// that stopped working are removed from the keychain (reported in `Kept`).
    pub async fn list(
        &self,
        source: &dyn KeySource,
    ) -> Result<(Vec<SourceKey>, Kept), SourceError> {
        let now = Utc::now();
        let mut kept = Kept::default();
        // A damaged file is left as it is (a renewal that would add to it says so): the listing
        // goes on, and the deletions it holds wait until the file is mended.
        let pending: Vec<Pending> = self
            .pending()
            .unwrap_or_else(|err| {
                tracing::warn!("{err}");
                Vec::new()
            })
            .into_iter()
            .filter(|p| p.source == source.name() && p.kind == source.kind())
            .collect();
        for due in pending.iter().filter(|p| p.at <= now) {
            match source.delete(&due.id).await {
                Ok(()) | Err(SourceError::NotFound(_)) => {
                    self.drop_pending(&due.source, &due.id)
                        .map_err(SourceError::Storage)?;
                    let key = KeyRef {
                        kind: due.kind,
                        source: due.source.clone(),
                        id: due.id.clone(),
                    };
                    kept.removed.push(self.forget_reported(key).await);
                }
                Err(err) if err.is_unreachable() || err.needs_sign_in() => return Err(err),
                Err(err) => tracing::warn!("cannot finish a renewal yet: {err}"),
            }
        }
        let mut keys = source.list().await?;
        if let Some(renewals) = self.renewals() {
            renewals.link(&mut keys);
        }
        if source.kind() != SourceKind::Tracked {
            self.join_tracked(&keys, &mut kept).await;
        }
        for key in &mut keys {
            if let Some(p) = pending.iter().find(|p| p.id == key.id && p.at > now) {
                key.revoked_at = Some(p.at);
            }
        }
        let held = self
            .held(&[(source.kind(), source.name().to_string())])
            .await
            .ok()
            .and_then(|mut held| held.remove(source.name()))
            .unwrap_or_default();
        for key in &keys {
            if held.contains(&key.id) && key.status_at(now) == KeyStatus::Revoked {
                kept.removed.push(self.forget_reported(key.key_ref()).await);
            }
        }
        Ok((keys, kept))
    }

    /// A tracked key that a test showed to be one of these keys (same service and base URL, its
    /// id on the service) joins the account's entry: its secret moves to the account's key and
    /// the tracked record goes, so the key is listed once. A step that fails leaves both.
    async fn join_tracked(&self, keys: &[SourceKey], kept: &mut Kept) {
        let Some(dir) = &self.data_dir else {
            return;
        };
        let tracked = super::tracked::TrackedSource::new(dir);
        let Ok(known) = tracked.known() else {
            return;
        };
        for known in known {
            let Some(key) = keys.iter().find(|k| {
                k.id == known.remote_id
                    && k.service == known.service
                    && k.base_url.as_deref().map(|u| u.trim_end_matches('/'))
                        == known.base_url.as_deref()
            }) else {
                continue;
            };
            let from = KeyRef {
                kind: SourceKind::Tracked,
                source: super::TRACKED.to_string(),
                id: known.id.clone(),
            };
            let moved = async {
                if let Some(secret) = self.secret(&from).await? {
                    self.keep_given(&key.key_ref(), &secret).await?;
                }
                Ok::<_, VaultError>(())
            }
            .await;
            if let Err(err) = moved {
                tracing::warn!("a tracked key could not join its account: {err}");
                continue;
            }
            if let Err(err) = tracked.delete(&known.id).await {
                tracing::warn!("a tracked key joined its account but stays listed: {err}");
                continue;
            }
            kept.removed.push(self.forget_reported(from).await);
        }
    }

    /// What this computer remembers of renewals; `None` without a data directory.
    pub fn renewals(&self) -> Option<super::renewals::Renewals> {
        self.data_dir.as_deref().map(super::renewals::Renewals::new)
    }

    /// `pending.json`, changed under the same lock and damage rules as the other files of this
    /// computer (`files::JsonFile`); `None` without a data directory.
    fn pending_file(&self) -> Option<crate::files::JsonFile<Vec<Pending>>> {
        let dir = self.data_dir.as_ref()?;
        Some(crate::files::JsonFile::new(dir.join("pending.json")))
    }

    fn pending(&self) -> Result<Vec<Pending>, String> {
        match self.pending_file() {
            Some(file) => file.read(),
            None => Ok(self.memory.lock().map(|m| m.clone()).unwrap_or_default()),
        }
    }

    fn change_pending(&self, change: impl FnOnce(&mut Vec<Pending>)) -> Result<(), String> {
        match self.pending_file() {
            Some(file) => file.change(
                |err| err,
                |pending| {
                    change(pending);
                    Ok(())
                },
            ),
            None => {
                if let Ok(mut memory) = self.memory.lock() {
                    change(&mut memory);
                }
                Ok(())
            }
        }
    }

    fn add_pending(&self, entry: Pending) -> Result<(), String> {
        self.change_pending(|pending| {
            pending.retain(|p| !(p.source == entry.source && p.id == entry.id));
            pending.push(entry);
        })
    }

    fn drop_pending(&self, source: &str, id: &str) -> Result<(), String> {
        self.change_pending(|pending| pending.retain(|p| !(p.source == source && p.id == id)))
    }
}

/// A new key whose secret the keychain refused and that is not shown either is useless: it is
/// deleted again, and the error says what happened to it.
async fn undo_new_key(
    source: &dyn KeySource,
    id: &str,
    err: &VaultError,
    more: &str,
) -> SourceError {
    let undone = match source.delete(id).await {
        Ok(()) => "was deleted again".to_string(),
        Err(undo) => format!("could not be deleted ({undo}): delete it"),
    };
    SourceError::Vault(VaultError::Failed(format!(
        "{err}; the new key {undone}{more}"
    )))
}

fn account(key: &KeyRef) -> String {
    vault::key_account(key.kind.as_str(), &key.source, &key.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::MemoryVault;

    /// Found: pending.json was read and written without a lock (two processes renewing at once
    /// lost one's entry) and a damaged file read as empty and was then overwritten.
    #[test]
    fn pending_deletions_are_changed_under_a_lock_and_a_damaged_file_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let keeper = Keeper::new(
            Arc::new(MemoryVault::default()),
            true,
            Some(dir.path().to_path_buf()),
        );
        let threads: Vec<_> = (0..8)
            .map(|n| {
                let keeper = keeper.clone();
                std::thread::spawn(move || {
                    keeper
                        .add_pending(Pending {
                            kind: SourceKind::Thingsboard,
                            source: "tb".into(),
                            id: format!("old-{n}"),
                            at: Utc::now(),
                        })
                        .unwrap()
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(keeper.pending().unwrap().len(), 8, "no entry lost");
        keeper.drop_pending("tb", "old-3").unwrap();
        assert_eq!(keeper.pending().unwrap().len(), 7);

        let path = dir.path().join("pending.json");
        std::fs::write(&path, b"{ not json").unwrap();
        let err = keeper.drop_pending("tb", "old-4").unwrap_err();
        assert!(err.contains("damaged"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"{ not json",
            "left as it is"
        );
    }

    #[tokio::test]
    async fn a_secret_under_the_earlier_name_is_found_and_moved() {
        let vault = Arc::new(MemoryVault::default());
        vault
            .set(
                &vault::legacy_key_account("local", "12"),
                &Secret::new("kw_old"),
            )
            .unwrap();
        let keeper = Keeper::new(vault.clone(), true, None);
        let key = KeyRef {
            kind: SourceKind::Keywarden,
            source: "local".into(),
            id: "12".into(),
        };
        assert_eq!(
            keeper.secret(&key).await.unwrap(),
            Some(Secret::new("kw_old"))
        );
        let accounts = vault.accounts().unwrap();
        assert!(
            accounts.contains("keywarden key 12 on local"),
            "{accounts:?}"
        );
        assert!(!accounts.contains("key 12 on local"), "{accounts:?}");
        keeper.forget(&key).await.unwrap();
        assert!(vault.accounts().unwrap().is_empty());
    }

    /// A source that makes keys and remembers which were deleted.
    #[derive(Default)]
    struct Maker {
        deleted: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl KeySource for Maker {
        fn name(&self) -> &str {
            "maker"
        }
        fn kind(&self) -> SourceKind {
            SourceKind::Keywarden
        }
        fn capabilities(&self) -> super::super::Capabilities {
            super::super::Capabilities::default()
        }
        fn who(&self) -> String {
            String::new()
        }
        fn user_id(&self) -> Option<String> {
            None
        }
        async fn list(&self) -> Result<Vec<SourceKey>, SourceError> {
            Ok(Vec::new())
        }
        async fn create(&self, _new: &NewKey) -> Result<Created, SourceError> {
            Ok(Created {
                key: crate::sources::sample_key("maker", "n1", Some(30)),
                secret: Secret::new("kw_new"),
            })
        }
        async fn edit(
            &self,
            _id: &str,
            _edit: &super::super::Edit,
        ) -> Result<SourceKey, SourceError> {
            unimplemented!("not used here")
        }
        async fn delete(&self, id: &str) -> Result<(), SourceError> {
            self.deleted.lock().unwrap().push(id.to_string());
            Ok(())
        }
        async fn renew(&self, _id: &str, _renewal: &Renewal) -> Result<Renewed, SourceError> {
            unimplemented!("not used here")
        }
    }

    /// A new key whose secret the keychain refuses is kept only when it is shown; otherwise it is
    /// deleted again and the error says so.
    #[tokio::test]
    async fn a_new_key_the_keychain_refuses_is_undone_unless_shown() {
        let keeper = Keeper::new(Arc::new(MemoryVault::unavailable()), true, None);
        let source = Maker::default();
        let err = keeper
            .create(&source, &NewKey::default(), false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("was deleted again"), "{err}");
        assert_eq!(*source.deleted.lock().unwrap(), ["n1"]);

        let (created, kept) = keeper
            .create(&source, &NewKey::default(), true)
            .await
            .unwrap();
        assert_eq!(created.key.id, "n1");
        assert!(kept.store_error().is_some() && !kept.stored());
        assert_eq!(source.deleted.lock().unwrap().len(), 1, "shown: kept");
    }

    #[tokio::test]
    async fn a_failed_removal_is_reported() {
        let keeper = Keeper::new(Arc::new(MemoryVault::unavailable()), true, None);
        let key = KeyRef {
            kind: SourceKind::Tracked,
            source: "tracked".into(),
            id: "a".into(),
        };
        let kept = Kept {
            stored: None,
            removed: vec![keeper.forget_reported(key).await],
        };
        let problems = kept.problems();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("could not be removed"), "{problems:?}");
    }
}
