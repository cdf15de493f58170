//! Tracked keys: keys of services with no key API (testo, smenso, SmartSuite, iottly, GitHub,
//! GitLab, any other) that the developer already has. Their metadata (service, name, description,
//! expiry, base URL, workspace, dates; never the secret) lives in `tracked.json` in the data
//! directory, mode 600, shared by the app and the command line: every change is read, changed and
//! written atomically under an exclusive lock, so two processes never lose each other's change.
//! The secret is in the keychain (see `keeper`).

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    Capabilities, Edit, KeySource, Renewal, Renewed, SourceError, SourceKey, SourceKind, TRACKED,
    services,
};
use crate::secret::Secret;

/// A key to keep.
#[derive(Debug, Clone, Default)]
pub struct NewTracked {
    pub service: String,
    pub name: String,
    pub description: String,
    /// What the service showed; `None`: it does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    pub base_url: Option<String>,
    pub workspace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: String,
    service: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    hint: String,
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    workspace: Option<String>,
    added_at: DateTime<Utc>,
    #[serde(default)]
    renewed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    replaces: Option<String>,
    #[serde(default)]
    replaced_by: Option<String>,
    /// The key's id on its service, learnt when it was tested (a GitLab token's id): with it the
    /// key joins the entry of a signed-in account that lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    remote_id: Option<String>,
}

/// What merging a backup's tracked keys did (or would do).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Merged {
    /// Names of the records added.
    pub added: Vec<String>,
    pub unchanged: usize,
    /// Names of the records that differ here: kept, or replaced where asked.
    pub conflicts: Vec<String>,
}

/// A tracked key that is also one of a signed-in account's keys (found by a test).
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub id: String,
    pub service: String,
    /// Where the key is used: its own base URL or the service's default.
    pub base_url: Option<String>,
    pub remote_id: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    keys: Vec<Record>,
}

/// The tracked keys of this computer.
#[derive(Debug, Clone)]
pub struct TrackedSource {
    file: crate::files::JsonFile<File>,
}

/// A new random id: 12 hex characters.
pub fn new_id() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TrackedSource {
    pub fn new(data_dir: &Path) -> TrackedSource {
        TrackedSource {
            file: crate::files::JsonFile::new(data_dir.join("tracked.json")),
        }
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    fn read(&self) -> Result<File, SourceError> {
        self.file.read().map_err(SourceError::Storage)
    }

    /// Reads, changes and writes the file under an exclusive lock.
    fn change<T>(
        &self,
        change: impl FnOnce(&mut File) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        self.file.change(SourceError::Storage, change)
    }

    /// Refuses what would make a bad record: an unknown service, a name that is empty or holds
    /// control characters, an expiry past the service's maximum, a base URL that is no URL.
    pub fn validate(&self, new: &NewTracked) -> Result<(), SourceError> {
        let service = services::find(&new.service).ok_or_else(|| {
            SourceError::Invalid(format!(
                "{:?} is not a known service; choose one of {}",
                new.service,
                services::ids()
            ))
        })?;
        check_name(&new.name)?;
        check_description(&new.description)?;
        if let Some(url) = &new.base_url {
            check_url(url)?;
        }
        if let Some(workspace) = &new.workspace {
            crate::text::check_field("workspace", workspace).map_err(SourceError::Invalid)?;
            service
                .check_workspace(workspace)
                .map_err(SourceError::Invalid)?;
        }
        service
            .check_expiry(new.expires_at, Utc::now())
            .map_err(SourceError::Invalid)
    }

    /// Writes the record of a key whose secret is already in the keychain under `id`.
    pub fn add(
        &self,
        id: &str,
        new: NewTracked,
        secret: &Secret,
    ) -> Result<SourceKey, SourceError> {
        self.add_many(vec![(id.to_string(), new, secret)])?
            .pop()
            .ok_or_else(|| SourceError::Storage("the key was not added".into()))
    }

    /// Writes the records of keys whose secrets are already in the keychain, in one write:
    /// either all of them are added or, on any error, none.
    pub fn add_many(
        &self,
        keys: Vec<(String, NewTracked, &Secret)>,
    ) -> Result<Vec<SourceKey>, SourceError> {
        let now = Utc::now();
        let mut records = Vec::with_capacity(keys.len());
        for (id, new, secret) in keys {
            self.validate(&new)?;
            records.push(Record {
                id,
                service: new.service,
                name: new.name.trim().to_string(),
                description: new.description,
                hint: super::hint_of(secret.expose()),
                expires_at: new.expires_at,
                base_url: new
                    .base_url
                    .map(|u| u.trim().trim_end_matches('/').to_string()),
                workspace: new.workspace.filter(|w| !w.trim().is_empty()),
                added_at: now,
                renewed_at: None,
                replaces: None,
                replaced_by: None,
                remote_id: None,
            });
        }
        let keys = records.iter().map(|r| self.to_key(r)).collect();
        self.change(|file| {
            file.keys.extend(records);
            Ok(())
        })?;
        Ok(keys)
    }

    /// Records what the service itself reported when a key was tested: its real expiry (GitHub,
    /// GitLab), its id there (GitLab).
    pub fn record_test(
        &self,
        id: &str,
        expires_at: Option<Option<DateTime<Utc>>>,
        remote_id: Option<&str>,
    ) -> Result<SourceKey, SourceError> {
        self.change(|file| {
            let record = find_mut(file, id)?;
            if let Some(expires_at) = expires_at {
                record.expires_at = expires_at;
            }
            if let Some(remote_id) = remote_id {
                record.remote_id = Some(remote_id.to_string());
            }
            Ok(self.to_key(record))
        })
    }

    /// Every record as it is kept (no secrets), for a backup.
    pub fn export(&self) -> Result<serde_json::Value, SourceError> {
        serde_json::to_value(&self.read()?.keys)
            .map_err(|err| SourceError::Storage(err.to_string()))
    }

    /// Merges records from a backup by id: a missing one is added, an identical one left, a
    /// different one kept as it is here unless `replace` (its id is then listed). With `write`
    /// false nothing is written: the report says what would change.
    pub fn merge(
        &self,
        records: &serde_json::Value,
        replace: bool,
        write: bool,
    ) -> Result<Merged, SourceError> {
        let incoming: Vec<Record> = serde_json::from_value(records.clone()).map_err(|err| {
            SourceError::Invalid(format!("the backup's tracked keys are not readable: {err}"))
        })?;
        for record in &incoming {
            check_name(&record.name)?;
            if services::find(&record.service).is_none() {
                return Err(SourceError::Invalid(format!(
                    "the backup names an unknown service {:?}",
                    crate::text::for_terminal(&record.service)
                )));
            }
        }
        let apply = |file: &mut File| {
            let mut merged = Merged::default();
            for record in incoming {
                match file.keys.iter_mut().find(|r| r.id == record.id) {
                    None => {
                        merged.added.push(record.name.clone());
                        file.keys.push(record);
                    }
                    Some(same) if *same == record => merged.unchanged += 1,
                    Some(existing) => {
                        merged.conflicts.push(record.name.clone());
                        if replace {
                            *existing = record;
                        }
                    }
                }
            }
            merged
        };
        if write {
            self.change(|file| Ok(apply(file)))
        } else {
            Ok(apply(&mut self.read()?))
        }
    }

    /// The tracked keys whose id on their service is known.
    pub fn known(&self) -> Result<Vec<Known>, SourceError> {
        Ok(self
            .read()?
            .keys
            .into_iter()
            .filter_map(|r| {
                let service = services::find(&r.service)?;
                Some(Known {
                    base_url: service.base_url(r.base_url.as_deref(), r.workspace.as_deref()),
                    remote_id: r.remote_id?,
                    id: r.id,
                    service: r.service,
                })
            })
            .collect())
    }

    fn to_key(&self, record: &Record) -> SourceKey {
        SourceKey {
            source: TRACKED.to_string(),
            kind: SourceKind::Tracked,
            service: record.service.clone(),
            id: record.id.clone(),
            name: record.name.clone(),
            description: record.description.clone(),
            hint: record.hint.clone(),
            owner: None,
            created_at: record.renewed_at.unwrap_or(record.added_at),
            expires_at: record.expires_at,
            enabled: true,
            revoked_at: None,
            last_used_at: None,
            manages: false,
            scopes: Vec::new(),
            replaces: record.replaces.clone(),
            replaced_by: record.replaced_by.clone(),
            base_url: record.base_url.clone(),
            workspace: record.workspace.clone(),
            workspace_name: None,
        }
    }
}

fn find_mut<'a>(file: &'a mut File, id: &str) -> Result<&'a mut Record, SourceError> {
    file.keys
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| SourceError::NotFound(format!("no tracked key has the id {id:?}")))
}

fn check_name(name: &str) -> Result<(), SourceError> {
    crate::api::limits::key_name(name)
        .map(drop)
        .map_err(SourceError::Invalid)
}

fn check_description(description: &str) -> Result<(), SourceError> {
    crate::api::limits::key_description(description)
        .map(drop)
        .map_err(SourceError::Invalid)
}

fn check_url(url: &str) -> Result<(), SourceError> {
    services::check_base_url(url).map_err(SourceError::Invalid)?;
    crate::text::check_field("base URL", url).map_err(SourceError::Invalid)
}

#[async_trait::async_trait]
impl KeySource for TrackedSource {
    fn name(&self) -> &str {
        TRACKED
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Tracked
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            add: true,
            edit: true,
            delete: true,
            renew: true,
            never_expires: true,
            renew_by_paste: true,
            key_page: true,
            ..Capabilities::default()
        }
    }

    fn who(&self) -> String {
        String::new()
    }

    fn user_id(&self) -> Option<String> {
        None
    }

    fn role(&self) -> String {
        "tracked".into()
    }

    fn watch(&self) -> super::Watch {
        super::Watch::File(self.file.path().to_path_buf())
    }

    /// GitHub and GitLab report a key's real expiry when it is tested, GitLab its id: recorded.
    async fn tested(
        &self,
        key: &SourceKey,
        outcome: &super::services::TestOutcome,
    ) -> Result<Option<SourceKey>, SourceError> {
        let super::services::TestOutcome::Accepted {
            expires_at,
            remote_id,
        } = outcome
        else {
            return Ok(None);
        };
        let expiry = expires_at.filter(|real| *real != key.expires_at);
        if expiry.is_none() && remote_id.is_none() {
            return Ok(None);
        }
        self.record_test(&key.id, expiry, remote_id.as_deref())
            .map(Some)
    }

    async fn list(&self) -> Result<Vec<SourceKey>, SourceError> {
        Ok(self.read()?.keys.iter().map(|r| self.to_key(r)).collect())
    }

    async fn edit(&self, id: &str, edit: &Edit) -> Result<SourceKey, SourceError> {
        if let Some(name) = &edit.name {
            check_name(name)?;
        }
        if let Some(description) = &edit.description {
            check_description(description)?;
        }
        self.change(|file| {
            let record = find_mut(file, id)?;
            if let Some(name) = &edit.name {
                record.name = name.trim().to_string();
            }
            if let Some(description) = &edit.description {
                record.description = description.clone();
            }
            Ok(self.to_key(record))
        })
    }

    /// Forgets the key here (retires a replaced one). It is revoked on the service's own page.
    async fn delete(&self, id: &str) -> Result<(), SourceError> {
        self.change(|file| {
            find_mut(file, id)?;
            file.keys.retain(|r| r.id != id);
            for record in &mut file.keys {
                if record.replaced_by.as_deref() == Some(id) {
                    record.replaced_by = None;
                }
                if record.replaces.as_deref() == Some(id) {
                    record.replaces = None;
                }
            }
            Ok(())
        })
    }

    /// Records the new key the developer made on the service (its secret is already kept under
    /// `renewal.new_id`); the old one stays, marked replaced, until it is retired.
    async fn renew(&self, id: &str, renewal: &Renewal) -> Result<Renewed, SourceError> {
        let (Some(secret), Some(new_id)) = (&renewal.secret, &renewal.new_id) else {
            return Err(SourceError::Invalid(
                "a tracked key is renewed with the new key the service made: paste it".into(),
            ));
        };
        let now = Utc::now();
        self.change(|file| {
            let old = find_mut(file, id)?;
            if let Some(newer) = &old.replaced_by {
                return Err(SourceError::Invalid(format!(
                    "this key was renewed already (into {newer}); renew that one"
                )));
            }
            let expires_at = match renewal.expires_at {
                Some(at) => Some(at),
                // The lifetime the old key had.
                None => old
                    .expires_at
                    .map(|at| now + (at - old.renewed_at.unwrap_or(old.added_at))),
            };
            let service = services::find(&old.service).unwrap_or(&services::OTHER);
            service
                .check_expiry(expires_at, now)
                .map_err(SourceError::Invalid)?;
            old.replaced_by = Some(new_id.clone());
            let new = Record {
                id: new_id.clone(),
                hint: super::hint_of(secret.expose()),
                expires_at,
                renewed_at: Some(now),
                replaces: Some(old.id.clone()),
                replaced_by: None,
                // A new secret: what its service calls it is learnt at its own test.
                remote_id: None,
                ..old.clone()
            };
            let old = self.to_key(old);
            let key = self.to_key(&new);
            file.keys.push(new);
            Ok(Renewed {
                key,
                secret: secret.clone(),
                old,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(name: &str) -> NewTracked {
        NewTracked {
            service: "github".into(),
            name: name.into(),
            expires_at: Some(Utc::now() + chrono::Duration::days(30)),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn records_survive_and_carry_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let source = TrackedSource::new(dir.path());
        let secret = Secret::new("ghp_0123456789abcdefghijklmnopqrstuv");
        source.add("a1", github("ci"), &secret).unwrap();
        source.add("b2", github("deploy"), &secret).unwrap();
        let keys = TrackedSource::new(dir.path()).list().await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].hint, "ghp_…stuv");
        let text = std::fs::read_to_string(source.path()).unwrap();
        assert!(!text.contains("0123456789abcdef"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(source.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn a_damaged_file_is_an_error_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let source = TrackedSource::new(dir.path());
        std::fs::write(source.path(), "{\"keys\": [").unwrap();
        assert!(matches!(source.list().await, Err(SourceError::Storage(_))));
        let secret = Secret::new("x");
        assert!(source.add("a", github("x"), &secret).is_err());
        assert_eq!(
            std::fs::read_to_string(source.path()).unwrap(),
            "{\"keys\": ["
        );
    }

    #[tokio::test]
    async fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let source = TrackedSource::new(dir.path());
                std::thread::spawn(move || {
                    for j in 0..10 {
                        source
                            .add(&format!("{i}-{j}"), github("k"), &Secret::new("s"))
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(
            TrackedSource::new(dir.path()).list().await.unwrap().len(),
            80
        );
    }

    #[tokio::test]
    async fn renewal_keeps_the_old_key_marked_replaced_until_retired() {
        let dir = tempfile::tempdir().unwrap();
        let source = TrackedSource::new(dir.path());
        source.add("old", github("ci"), &Secret::new("s")).unwrap();
        let renewal = Renewal {
            expires_at: None,
            overlap: chrono::Duration::zero(),
            secret: Some(Secret::new("ghp_new_secret_value_0000000000")),
            new_id: Some("new".into()),
        };
        let renewed = source.renew("old", &renewal).await.unwrap();
        assert_eq!(renewed.old.replaced_by.as_deref(), Some("new"));
        assert_eq!(renewed.key.replaces.as_deref(), Some("old"));
        let days = (renewed.key.expires_at.unwrap() - Utc::now()).num_days();
        assert!((29..=30).contains(&days), "the old lifetime: {days}");
        assert!(
            source.renew("old", &renewal).await.is_err(),
            "renewed twice"
        );
        source.delete("old").await.unwrap();
        let keys = source.list().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].replaces, None);
    }

    #[test]
    fn bad_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let source = TrackedSource::new(dir.path());
        let secret = Secret::new("s");
        let mut bad = github("x");
        bad.service = "nope".into();
        assert!(source.add("a", bad, &secret).is_err());
        assert!(
            source
                .add("a", github("evil\u{202e}name"), &secret)
                .is_err()
        );
        let mut testo = github("t");
        testo.service = "testo".into();
        testo.expires_at = Some(Utc::now() + chrono::Duration::days(400));
        let err = source.add("a", testo, &secret).unwrap_err().to_string();
        assert!(err.contains("at most 365 days"), "{err}");
        let mut url = github("u");
        url.base_url = Some("ftp://x".into());
        assert!(source.add("a", url, &secret).is_err());
        assert!(!source.path().exists(), "nothing was written");
    }

    /// Found: a tracked key's description had no length limit, where the server's is 500.
    #[test]
    fn names_and_descriptions_follow_the_servers_limits() {
        use crate::api::limits;
        let source = TrackedSource::new(std::path::Path::new("/nonexistent"));
        for name in limits::boundary_texts(limits::KEY_NAME_MAX_CHARS) {
            assert_eq!(
                source.validate(&github(&name)).is_ok(),
                limits::key_name(&name).is_ok(),
                "name {name:?}"
            );
        }
        for description in limits::boundary_texts(limits::KEY_DESCRIPTION_MAX_CHARS) {
            let new = NewTracked {
                description: description.clone(),
                ..github("d")
            };
            assert_eq!(
                source.validate(&new).is_ok(),
                limits::key_description(&description).is_ok(),
                "description {description:?}"
            );
        }
    }
}
