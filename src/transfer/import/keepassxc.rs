//! KeePassXC databases (KeePass 2: KDBX 3.1 and 4), read with the `keepass` crate. Every entry
//! outside the recycle bin is a candidate: its title, password, URL, notes, expiry and tags.

use chrono::TimeZone as _;
use keepass::db::GroupRef;
use keepass::{Database, DatabaseKey};

use super::{Candidate, Options};

/// The first four bytes of every KeePass database file.
pub const SIGNATURE: [u8; 4] = [0x03, 0xd9, 0xa2, 0x9a];

pub(super) fn read(bytes: &[u8], options: &Options) -> Result<Vec<Candidate>, String> {
    let mut key = DatabaseKey::new();
    if let Some(password) = &options.password {
        key = key.with_password(password.expose());
    }
    if let Some(key_file) = &options.key_file {
        key = key
            .with_keyfile(&mut key_file.as_slice())
            .map_err(|err| format!("the key file cannot be read: {err}"))?;
    }
    if key.is_empty() {
        return Err("a KeePassXC database opens with its password or key file".into());
    }
    let database = Database::parse(bytes, key).map_err(|err| {
        use keepass::db::DatabaseOpenError as E;
        use keepass::error::DatabaseKeyError as K;
        match err {
            E::Key(K::IncorrectKey) => "the password or key file is wrong".to_string(),
            E::Key(K::InvalidKeyFile | K::Xml(_)) => {
                "the key file is not a KeePass key file".into()
            }
            E::UnsupportedVersion => {
                "this KeePass database's version cannot be read (KeePass 1 .kdb files are not; \
                 KDBX 3.1 and 4 are)"
                    .into()
            }
            E::UnexpectedEof => "the database file is truncated".into(),
            E::Io(err) => format!("the database cannot be read: {err}"),
            // Not the crate's own words: an error in the decrypted XML could quote the entries,
            // passwords among them.
            E::Cryptography(_) => "the database cannot be decrypted (is the file damaged?)".into(),
            _ => "the database's contents are damaged or not KeePass's".into(),
        }
    })?;
    let root = database.root();
    let (start, path) = match options.within.as_deref() {
        None => (root, String::new()),
        Some(within) => {
            let parts: Vec<&str> = within
                .split('/')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            let group = root.group_by_path(&parts).ok_or_else(|| {
                format!(
                    "the database has no group {:?}",
                    crate::text::for_terminal(within)
                )
            })?;
            (group, parts.join("/"))
        }
    };
    let recycle_bin = database.recycle_bin().map(|g| g.id());
    let mut candidates = Vec::new();
    collect(start, &path, recycle_bin, &mut candidates);
    Ok(candidates)
}

/// The candidates of `group` (whose path is `path`) and of its groups, but not the recycle bin's.
fn collect(
    group: GroupRef<'_>,
    path: &str,
    recycle_bin: Option<keepass::db::GroupId>,
    out: &mut Vec<Candidate>,
) {
    if Some(group.id()) == recycle_bin {
        return;
    }
    for entry in group.entries() {
        let title = entry.get_title().unwrap_or_default().to_string();
        let place = if path.is_empty() {
            title.clone()
        } else {
            format!("{path}/{title}")
        };
        let expires_at = (entry.times.expires == Some(true))
            .then(|| chrono::Utc.from_utc_datetime(&entry.times.expiry));
        out.push(Candidate {
            place: format!("entry {:?}", crate::text::for_terminal(&place)),
            title,
            secret: entry.get_password().unwrap_or_default().to_string(),
            url: entry
                .get_url()
                .filter(|u| !u.is_empty())
                .map(str::to_string),
            notes: entry.get(keepass::db::fields::NOTES).map(str::to_string),
            tags: entry.tags.clone(),
            expires_at,
            ..Default::default()
        });
    }
    for child in group.groups() {
        let child_path = if path.is_empty() {
            child.name.clone()
        } else {
            format!("{path}/{}", child.name)
        };
        collect(child, &child_path, recycle_bin, out);
    }
}
