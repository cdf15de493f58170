//! What this computer remembers of renewals, in `renewals.json` in the data directory (no secret):
//!
//! - which key replaced which, when the source does not say it itself after the old key is gone
//!   (GitLab's rotate gives a new id and revokes the old token; a ThingsBoard renewal deletes the
//!   old key), so a `kw://` reference made before a renewal, by name or by id, finds the new key;
//! - which keys renew on their own before they expire (`keys renew NAME --auto 14d`, the renew
//!   dialog's checkbox), and within how many days of their expiry. A renewal moves the setting to
//!   the new key.
//!
//! Written atomically, under a lock file, so the app and a cron job never lose each other's
//! changes; a file that cannot be read is an error, never silently emptied.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::keeper::{Keeper, Kept};
use super::{KeyRef, KeySource, Renewal, Renewed, SourceError, SourceKey, SourceKind};
use crate::api::KeyStatus;

/// How many renewals are remembered; older ones are forgotten first.
const MAX_ROTATIONS: usize = 2_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Rotation {
    kind: SourceKind,
    source: String,
    old: String,
    new: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Auto {
    kind: SourceKind,
    source: String,
    id: String,
    /// Renewed once it expires within this many days.
    within_days: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    rotations: Vec<Rotation>,
    #[serde(default)]
    auto: Vec<Auto>,
}

/// The renewals file of a data directory.
#[derive(Debug, Clone)]
pub struct Renewals {
    file: crate::files::JsonFile<File>,
}

impl Renewals {
    pub fn new(data_dir: &Path) -> Renewals {
        Renewals {
            file: crate::files::JsonFile::new(data_dir.join("renewals.json")),
        }
    }

    fn read(&self) -> Result<File, String> {
        self.file.read()
    }

    fn change<T>(&self, change: impl FnOnce(&mut File) -> T) -> Result<T, String> {
        self.file
            .change(std::convert::identity, |file| Ok(change(file)))
    }

    /// `old` was renewed into the key `new` of the same source: remembered, and an automatic
    /// renewal of `old` moves to `new`.
    pub fn renewed(&self, old: &KeyRef, new: &str) -> Result<(), String> {
        self.change(|file| {
            file.rotations.push(Rotation {
                kind: old.kind,
                source: old.source.clone(),
                old: old.id.clone(),
                new: new.to_string(),
            });
            let excess = file.rotations.len().saturating_sub(MAX_ROTATIONS);
            file.rotations.drain(..excess);
            for auto in &mut file.auto {
                if auto.kind == old.kind && auto.source == old.source && auto.id == old.id {
                    auto.id = new.to_string();
                }
            }
        })
    }

    /// Marks which key replaced which in a source's list, where the source did not say it.
    pub fn link(&self, keys: &mut [SourceKey]) {
        let Ok(file) = self.read() else {
            return;
        };
        for rotation in &file.rotations {
            let same = |k: &SourceKey| k.kind == rotation.kind && k.source == rotation.source;
            if let Some(old) = keys.iter_mut().find(|k| same(k) && k.id == rotation.old) {
                old.replaced_by.get_or_insert_with(|| rotation.new.clone());
            }
            if let Some(new) = keys.iter_mut().find(|k| same(k) && k.id == rotation.new) {
                new.replaces.get_or_insert_with(|| rotation.old.clone());
            }
        }
    }

    /// Turns automatic renewal of `key` on (within so many days of its expiry) or off.
    pub fn set_auto(&self, key: &KeyRef, within_days: Option<i64>) -> Result<(), String> {
        self.change(|file| {
            file.auto
                .retain(|a| !(a.kind == key.kind && a.source == key.source && a.id == key.id));
            if let Some(within_days) = within_days {
                file.auto.push(Auto {
                    kind: key.kind,
                    source: key.source.clone(),
                    id: key.id.clone(),
                    within_days,
                });
            }
        })
    }

    /// Within how many days of its expiry `key` renews on its own; `None`: it does not.
    pub fn auto(&self, key: &KeyRef) -> Option<i64> {
        self.read().ok()?.auto.into_iter().find_map(|a| {
            (a.kind == key.kind && a.source == key.source && a.id == key.id)
                .then_some(a.within_days)
        })
    }

    /// The keys that renew on their own and are due now: working, and expiring within their
    /// window.
    pub fn due<'a>(&self, keys: &'a [SourceKey], now: DateTime<Utc>) -> Vec<&'a SourceKey> {
        let Ok(file) = self.read() else {
            return Vec::new();
        };
        keys.iter()
            .filter(|key| {
                let Some(expires_at) = key.expires_at else {
                    return false;
                };
                key.status_at(now) == KeyStatus::Active
                    && key.replaced_by.is_none()
                    && file.auto.iter().any(|a| {
                        a.kind == key.kind
                            && a.source == key.source
                            && a.id == key.id
                            && expires_at - now <= Duration::days(a.within_days)
                    })
            })
            .collect()
    }
}

/// An automatic renewal done, or why it failed.
pub struct AutoRenewed {
    /// The key as it was before.
    pub key: SourceKey,
    pub result: Result<(Renewed, Kept), SourceError>,
}

impl AutoRenewed {
    /// The notification: a summary and a body, naming the account as lists do.
    pub fn notice(&self) -> (String, String) {
        let account = super::accounts::label(&self.key.source);
        match &self.result {
            Ok((renewed, kept)) => (
                format!("API key \"{}\" was renewed", self.key.name),
                format!(
                    "On {account}: it now expires {}.{}",
                    renewed
                        .key
                        .expires_at
                        .map_or_else(|| "never".into(), |at| at.format("%Y-%m-%d").to_string()),
                    match kept.store_error() {
                        Some(err) => format!(" The new secret could not be kept: {err}"),
                        None => String::new(),
                    }
                ),
            ),
            Err(err) => (
                format!("API key \"{}\" could not be renewed", self.key.name),
                format!(
                    "On {account}: {err}. Renew it with: {}",
                    crate::reminders::Reminded::renew_command(&self.key)
                ),
            ),
        }
    }

    pub fn failed(&self) -> bool {
        self.result.is_err()
    }
}

/// Renews, through the keeper, the keys of `source` that renew on their own and are due at
/// `now`: each with the old key's lifetime and no overlap. The reminder run and the open app call
/// this after listing.
pub async fn renew_due(
    keeper: &Keeper,
    source: &dyn KeySource,
    keys: &[SourceKey],
    now: DateTime<Utc>,
) -> Vec<AutoRenewed> {
    let Some(renewals) = keeper.renewals() else {
        return Vec::new();
    };
    let due: Vec<SourceKey> = renewals
        .due(keys, now)
        .into_iter()
        .filter(|k| k.source == source.name() && k.kind == source.kind())
        .cloned()
        .collect();
    let mut done = Vec::new();
    for key in due {
        let renewal = Renewal {
            expires_at: None,
            overlap: Duration::zero(),
            secret: None,
            new_id: None,
        };
        // Nobody sees the secret here: it must be kept (where the source allows, a renewal
        // whose secret the keychain refuses is undone).
        let result = keeper.renew(source, &key.id, &renewal, false).await;
        done.push(AutoRenewed { key, result });
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An automatic renewal that failed says why and how to renew by hand.
    #[test]
    fn a_failed_automatic_renewal_says_why_and_what_to_run() {
        let mut key = crate::sources::sample_key("gl", "101", Some(3));
        key.kind = SourceKind::Gitlab;
        key.name = "deploy".into();
        let failed = AutoRenewed {
            key,
            result: Err(SourceError::Refused("the token lacks api".into())),
        };
        let (summary, body) = failed.notice();
        assert!(failed.failed());
        assert_eq!(summary, "API key \"deploy\" could not be renewed");
        assert!(body.starts_with("On gl: the token lacks api."), "{body}");
        assert!(
            body.contains("keywarden keys renew 101 --account gl"),
            "{body}"
        );
    }

    #[test]
    fn a_renewal_links_the_keys_and_moves_the_automatic_renewal() {
        let dir = tempfile::tempdir().unwrap();
        let renewals = Renewals::new(dir.path());
        let mut old = crate::sources::sample_key("gl", "101", Some(10));
        old.kind = SourceKind::Gitlab;
        let old_ref = old.key_ref();
        renewals.set_auto(&old_ref, Some(14)).unwrap();
        let now = Utc::now();
        assert_eq!(renewals.due(std::slice::from_ref(&old), now).len(), 1);
        old.expires_at = Some(now + Duration::days(20));
        assert!(
            renewals.due(std::slice::from_ref(&old), now).is_empty(),
            "not yet in the window"
        );

        renewals.renewed(&old_ref, "102").unwrap();
        let mut new = old.clone();
        new.id = "102".into();
        let mut keys = vec![old, new];
        renewals.link(&mut keys);
        assert_eq!(keys[0].replaced_by.as_deref(), Some("102"));
        assert_eq!(keys[1].replaces.as_deref(), Some("101"));
        assert_eq!(renewals.auto(&old_ref), None);
        assert_eq!(renewals.auto(&keys[1].key_ref()), Some(14));
        renewals.set_auto(&keys[1].key_ref(), None).unwrap();
        assert_eq!(renewals.auto(&keys[1].key_ref()), None);

        std::fs::write(dir.path().join("renewals.json"), "{broken").unwrap();
        assert!(renewals.set_auto(&old_ref, Some(3)).is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("renewals.json")).unwrap(),
            "{broken",
            "a damaged file is left as it is"
        );
    }
}
