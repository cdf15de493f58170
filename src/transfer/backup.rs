//! The backup file: versioned JSON encrypted with age (a passphrase, or X25519 recipients), so the
//! standard `age` command opens it and a person can read it without Keywarden. What is inside is
//! [`Contents`]; the README documents it.

use std::io::{Read as _, Write as _};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::settings::{Config, ServerEntry};
use crate::sources::{SourceKey, SourceKind};

/// What the JSON says it is.
pub const FORMAT: &str = "keywarden-backup";
/// The version written; a file of a later one is refused.
pub const VERSION: u32 = 1;
/// A file larger than this is not a backup Keywarden wrote (1,000 keys take well under 1 MiB,
/// and a local database a few).
const MAX_BYTES: u64 = 256 << 20;

/// Everything a backup holds. Secrets appear only in `secrets`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Contents {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    pub created_at: DateTime<Utc>,
    /// The preferences (`servers` empty: the accounts are below).
    pub settings: Config,
    /// The accounts signed in to: kind, URL, email or user, name. No password, session or token.
    pub accounts: Vec<ServerEntry>,
    /// The secret of every key held in this computer's keychain, with where it belongs.
    pub secrets: Vec<HeldSecret>,
    /// Each account's last key list (names, ids, dates; no secret), so a `kw://` reference finds
    /// its key before the account is signed in again.
    pub lists: Vec<SavedList>,
    /// The tracked keys' records, as `tracked.json` keeps them.
    pub tracked: serde_json::Value,
    /// `renewals.json`: which key replaced which, which renew on their own.
    #[serde(default)]
    pub renewals: Option<serde_json::Value>,
    /// This computer's server database (SQLite), base64: the keys made here keep working.
    #[serde(default)]
    pub local_database: Option<String>,
}

/// One key's secret and where it belongs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldSecret {
    pub kind: SourceKind,
    pub account: String,
    pub id: String,
    /// The key's name, to say what was restored.
    pub name: String,
    pub secret: Secret,
}

/// An account's last key list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedList {
    /// Where the list is kept in the cache (`KIND:ACCOUNT`).
    pub cache_key: String,
    pub email: String,
    #[serde(default)]
    pub user_id: String,
    pub saved_at: DateTime<Utc>,
    pub keys: Vec<SourceKey>,
}

/// How a backup is encrypted, or opened.
pub enum Key {
    Passphrase(Secret),
    /// Encrypt to these `age1…` recipients.
    Recipients(Vec<String>),
    /// Open with the X25519 identities of an age identity file's text (`AGE-SECRET-KEY-1…`).
    Identities(Secret),
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0:?} is not an age recipient (age1…)")]
    BadRecipient(String),
    #[error("the identity file holds no age identity (AGE-SECRET-KEY-1…)")]
    BadIdentity,
    #[error("the passphrase is wrong, or the file was made for another key: nothing was restored")]
    WrongKey,
    #[error("the file is not an age-encrypted backup: nothing was restored")]
    NotAge,
    #[error("the file is truncated or was altered after it was written: nothing was restored")]
    Damaged,
    #[error("the file is not a Keywarden backup: nothing was restored")]
    NotABackup,
    #[error(
        "the backup is of format version {0}, newer than this Keywarden reads ({VERSION}): update \
         Keywarden, nothing was restored"
    )]
    Newer(u32),
    #[error("the file is larger than a backup can be: nothing was restored")]
    TooLarge,
    #[error("cannot encrypt the backup: {0}")]
    Encrypt(String),
}

impl Contents {
    pub fn new(settings: &Config, created_at: DateTime<Utc>) -> Contents {
        Contents {
            format: FORMAT.to_string(),
            version: VERSION,
            created_at,
            settings: Config {
                servers: Vec::new(),
                current_server: Config::default().current_server,
                ..settings.clone()
            },
            accounts: settings.servers.clone(),
            secrets: Vec::new(),
            lists: Vec::new(),
            tracked: serde_json::Value::Array(Vec::new()),
            renewals: None,
            local_database: None,
        }
    }

    /// What the backup holds, in a line.
    pub fn summary(&self) -> String {
        format!(
            "backed up {} secret(s), {} tracked key(s), {} account(s){}",
            self.secrets.len(),
            self.tracked.as_array().map_or(0, Vec::len),
            self.accounts.len(),
            if self.local_database.is_some() {
                " and this computer's server"
            } else {
                ""
            }
        )
    }

    pub fn set_local_database(&mut self, bytes: &[u8]) {
        self.local_database = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
    }

    pub fn local_database(&self) -> Result<Option<Vec<u8>>, BackupError> {
        self.local_database
            .as_deref()
            .map(|text| base64::engine::general_purpose::STANDARD.decode(text))
            .transpose()
            .map_err(|_| BackupError::NotABackup)
    }

    /// The encrypted file.
    pub fn seal(&self, key: &Key) -> Result<Vec<u8>, BackupError> {
        let json = zeroize::Zeroizing::new(
            serde_json::to_vec_pretty(self).map_err(|e| BackupError::Encrypt(e.to_string()))?,
        );
        let encryptor = match key {
            Key::Passphrase(passphrase) => age::Encryptor::with_user_passphrase(
                age::secrecy::SecretString::from(passphrase.expose().to_string()),
            ),
            Key::Recipients(recipients) => {
                let parsed: Vec<age::x25519::Recipient> = recipients
                    .iter()
                    .map(|r| {
                        r.trim()
                            .parse()
                            .map_err(|_| BackupError::BadRecipient(r.clone()))
                    })
                    .collect::<Result<_, _>>()?;
                age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| BackupError::Encrypt(e.to_string()))?
            }
            Key::Identities(_) => {
                return Err(BackupError::Encrypt(
                    "a backup is encrypted to recipients or a passphrase".into(),
                ));
            }
        };
        let mut out = Vec::new();
        let mut writer = encryptor
            .wrap_output(&mut out)
            .map_err(|e| BackupError::Encrypt(e.to_string()))?;
        writer
            .write_all(&json)
            .and_then(|()| writer.finish().map(drop))
            .map_err(|e| BackupError::Encrypt(e.to_string()))?;
        Ok(out)
    }

    /// Opens an encrypted file. Every way it can be wrong is one sentence; nothing is written.
    pub fn open(file: &[u8], key: &Key) -> Result<Contents, BackupError> {
        if file.len() as u64 > MAX_BYTES {
            return Err(BackupError::TooLarge);
        }
        let decryptor = age::Decryptor::new(file).map_err(|_| BackupError::NotAge)?;
        let mut reader = match key {
            Key::Passphrase(passphrase) => {
                let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(
                    passphrase.expose().to_string(),
                ));
                decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
            }
            Key::Identities(text) => {
                let identities: Vec<age::x25519::Identity> = text
                    .expose()
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
                    .filter_map(|l| l.parse().ok())
                    .collect();
                if identities.is_empty() {
                    return Err(BackupError::BadIdentity);
                }
                decryptor.decrypt(identities.iter().map(|i| i as &dyn age::Identity))
            }
            Key::Recipients(_) => return Err(BackupError::WrongKey),
        }
        .map_err(|err| match err {
            age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed => {
                BackupError::WrongKey
            }
            _ => BackupError::Damaged,
        })?;
        let mut json = zeroize::Zeroizing::new(Vec::new());
        (&mut reader)
            .take(MAX_BYTES)
            .read_to_end(&mut json)
            .map_err(|_| BackupError::Damaged)?;
        #[derive(Deserialize)]
        struct Header {
            format: String,
            version: u32,
        }
        let header: Header = serde_json::from_slice(&json).map_err(|_| BackupError::NotABackup)?;
        if header.format != FORMAT {
            return Err(BackupError::NotABackup);
        }
        if header.version > VERSION {
            return Err(BackupError::Newer(header.version));
        }
        serde_json::from_slice(&json).map_err(|_| BackupError::NotABackup)
    }
}

/// A backup is due when the last was made longer ago than this (or never).
pub const BACKUP_EVERY_DAYS: i64 = 30;

/// The reminder to make a backup when keys live only on this computer and none was made in
/// [`BACKUP_EVERY_DAYS`]; `None` when one was. Said once where reminders are shown.
pub fn backup_reminder(data_dir: &std::path::Path, now: DateTime<Utc>) -> Option<String> {
    let last = std::fs::read_to_string(data_dir.join("last-backup"))
        .ok()
        .and_then(|text| DateTime::parse_from_rfc3339(text.trim()).ok())
        .map(|at| at.with_timezone(&Utc));
    match last {
        Some(at) if now - at < chrono::Duration::days(BACKUP_EVERY_DAYS) => None,
        Some(at) => Some(format!(
            "the last backup of your keys was made {}: make one with keywarden backup FILE",
            crate::reminders::relative_time(at, now)
        )),
        None => Some(
            "no backup of your keys was ever made, and they live only in this computer's \
             keychain: make one with keywarden backup FILE"
                .to_string(),
        ),
    }
}

/// Remembers when the last backup was made (`last-backup` in the data directory), for the
/// reminder to make one.
pub fn record_backup(data_dir: &std::path::Path, at: DateTime<Utc>) -> Result<(), String> {
    crate::files::create_private_dir_all(data_dir).map_err(|e| e.to_string())?;
    crate::files::write_atomic(&data_dir.join("last-backup"), at.to_rfc3339().as_bytes())
        .map_err(|err| format!("cannot record the backup: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Contents {
        let mut contents = Contents::new(&Config::default(), Utc::now());
        contents.secrets.push(HeldSecret {
            kind: Default::default(),
            account: "tracked".into(),
            id: "a1".into(),
            name: "gh".into(),
            secret: Secret::new("ghp_secretsecretsecret"),
        });
        contents.set_local_database(b"SQLite format 3\0...");
        contents
    }

    #[test]
    fn a_backup_opens_with_its_passphrase_and_only_with_it() {
        let file = sample()
            .seal(&Key::Passphrase(Secret::new("correct horse")))
            .unwrap();
        assert!(!String::from_utf8_lossy(&file).contains("ghp_secret"));
        let opened = Contents::open(&file, &Key::Passphrase(Secret::new("correct horse"))).unwrap();
        assert_eq!(opened.secrets[0].secret.expose(), "ghp_secretsecretsecret");
        assert_eq!(
            opened.local_database().unwrap().unwrap(),
            b"SQLite format 3\0..."
        );
        assert!(matches!(
            Contents::open(&file, &Key::Passphrase(Secret::new("wrong"))),
            Err(BackupError::WrongKey)
        ));
        let mut flipped = file.clone();
        let at = flipped.len() - 20;
        flipped[at] ^= 1;
        assert!(matches!(
            Contents::open(&flipped, &Key::Passphrase(Secret::new("correct horse"))),
            Err(BackupError::Damaged)
        ));
        let truncated = &file[..file.len() - 10];
        assert!(matches!(
            Contents::open(truncated, &Key::Passphrase(Secret::new("correct horse"))),
            Err(BackupError::Damaged)
        ));
        assert!(matches!(
            Contents::open(b"not age at all", &Key::Passphrase(Secret::new("x"))),
            Err(BackupError::NotAge)
        ));
    }

    #[test]
    fn a_backup_is_due_after_thirty_days_or_when_never_made() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        assert!(
            backup_reminder(dir.path(), now)
                .unwrap()
                .contains("ever made")
        );
        record_backup(dir.path(), now - chrono::Duration::days(29)).unwrap();
        assert_eq!(backup_reminder(dir.path(), now), None);
        record_backup(dir.path(), now - chrono::Duration::days(31)).unwrap();
        assert!(
            backup_reminder(dir.path(), now)
                .unwrap()
                .contains("last backup")
        );
    }

    #[test]
    fn a_newer_version_is_refused_with_the_reason() {
        let mut contents = sample();
        contents.version = VERSION + 1;
        let file = contents.seal(&Key::Passphrase(Secret::new("p"))).unwrap();
        assert!(matches!(
            Contents::open(&file, &Key::Passphrase(Secret::new("p"))),
            Err(BackupError::Newer(v)) if v == VERSION + 1
        ));
    }

    #[test]
    fn recipients_and_identities() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let file = sample().seal(&Key::Recipients(vec![recipient])).unwrap();
        let text = {
            use age::secrecy::ExposeSecret as _;
            format!("# a comment\n{}\n", identity.to_string().expose_secret())
        };
        let opened = Contents::open(&file, &Key::Identities(Secret::new(text))).unwrap();
        assert_eq!(opened.secrets.len(), 1);
        let other = age::x25519::Identity::generate();
        let text = {
            use age::secrecy::ExposeSecret as _;
            other.to_string().expose_secret().to_string()
        };
        assert!(matches!(
            Contents::open(&file, &Key::Identities(Secret::new(text))),
            Err(BackupError::WrongKey)
        ));
        assert!(matches!(
            sample().seal(&Key::Recipients(vec!["age1nope".into()])),
            Err(BackupError::BadRecipient(_))
        ));
    }
}
