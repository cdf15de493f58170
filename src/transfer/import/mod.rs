//! Keys from where they live today into tracked keys: `.env` files, KeePassXC databases,
//! Bitwarden's JSON export and 1Password's 1PUX export. Each reader turns its file into
//! [`Candidate`]s; one rule ([`take`]) decides which are API keys and maps them to tracked keys;
//! [`Here::import`] stores them all or none. The app and the command line both call this.

pub mod bitwarden;
pub mod env_file;
pub mod keepassxc;
pub mod onepassword;

use chrono::{DateTime, Utc};

use super::local::Here;
use crate::secret::Secret;
use crate::settings::Config;
use crate::sources::reference::Reference;
use crate::sources::services::{self, Service};
use crate::sources::tracked::{NewTracked, TrackedSource};
use crate::sources::{KeyRef, KeySource as _, accounts};
use crate::text;

/// No file to import is larger (an export of ten thousand entries is a few MiB).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

// A key's name is at most this long; a longer title is cut.
use crate::api::limits::{KEY_DESCRIPTION_MAX_CHARS, KEY_NAME_MAX_CHARS as MAX_NAME_CHARS};

/// What a file to import is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A `.env` file: `NAME=value` lines.
    Dotenv,
    /// A KeePassXC (KeePass 2, KDBX) database.
    Keepassxc,
    /// Bitwarden's JSON export.
    Bitwarden,
    /// 1Password's 1PUX export.
    #[value(name = "1password")]
    OnePassword,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Dotenv,
        Format::Keepassxc,
        Format::Bitwarden,
        Format::OnePassword,
    ];

    /// What the file is, in words.
    pub fn label(self) -> &'static str {
        match self {
            Format::Dotenv => ".env file",
            Format::Keepassxc => "KeePassXC database",
            Format::Bitwarden => "Bitwarden JSON export",
            Format::OnePassword => "1Password export (1PUX)",
        }
    }

    /// What one thing in the file is called.
    fn item(self) -> &'static str {
        match self {
            Format::Dotenv => "variable",
            Format::Keepassxc => "entry",
            Format::Bitwarden | Format::OnePassword => "item",
        }
    }

    /// The format of a file, from its first bytes: KDBX's signature, a ZIP archive (1PUX), a
    /// JSON object (Bitwarden); anything else is read as a `.env` file.
    pub fn detect(bytes: &[u8]) -> Format {
        if bytes.starts_with(&keepassxc::SIGNATURE) {
            Format::Keepassxc
        } else if bytes.starts_with(b"PK\x03\x04") {
            Format::OnePassword
        } else if bytes.trim_ascii_start().starts_with(b"{") {
            Format::Bitwarden
        } else {
            Format::Dotenv
        }
    }

    /// Only a `.env` file's values can be replaced by their references.
    pub fn check_rewrite(self) -> Result<(), String> {
        match self {
            Format::Dotenv => Ok(()),
            other => Err(format!(
                "only a .env file's values can be replaced by references; this is a {}",
                other.label()
            )),
        }
    }

    /// Whether opening the file needs a password.
    pub fn needs_password(self) -> bool {
        self == Format::Keepassxc
    }
}

/// How to read a file (the password and key file are redacted in debug output).
#[derive(Default, Clone)]
pub struct Options {
    /// The KeePassXC database's password.
    pub password: Option<Secret>,
    /// The KeePassXC database's key file, read.
    pub key_file: Option<Vec<u8>>,
    /// Only this KeePassXC group (`Dev/APIs`) or Bitwarden folder.
    pub within: Option<String>,
    /// Every entry with a secret, not only those that are API keys.
    pub all: bool,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("key_file", &self.key_file.as_ref().map(|_| "***"))
            .field("within", &self.within)
            .field("all", &self.all)
            .finish()
    }
}

/// A file read whole, at most [`MAX_FILE_BYTES`]; the error names the file.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|err| format!("cannot read {shown}: {err}"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "{shown} is larger than 64 MiB, more than any file to import: nothing was imported"
        ));
    }
    std::fs::read(path).map_err(|err| format!("cannot read {shown}: {err}"))
}

/// A secret as a file holds it, with what describes it, before [`take`] decides on it.
#[derive(Default)]
pub struct Candidate {
    /// Where it is, for messages: `line 3`, `entry "Dev/GitHub CI"`.
    pub place: String,
    pub title: String,
    pub secret: String,
    pub url: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// More to say in the description (`valid from 2021-04-04`).
    pub more: Vec<String>,
    /// The file itself says this is an API key (1Password's *API Credential*).
    pub is_key: bool,
    /// The line it is on (`.env` files), to write it back.
    pub line: Option<usize>,
}

/// A key found in a file, as it will be stored.
pub struct Found {
    pub place: String,
    pub new: NewTracked,
    pub secret: Secret,
    pub line: Option<usize>,
}

/// What a file holds.
pub struct Read {
    pub format: Format,
    pub found: Vec<Found>,
    /// Entries with no key in them, left alone.
    pub left: usize,
}

/// Reads `bytes` (the file `origin`) as `format`, or as what it looks like.
pub fn read(
    bytes: &[u8],
    origin: &str,
    format: Option<Format>,
    options: &Options,
) -> Result<Read, String> {
    let guessed = format.is_none();
    let format = format.unwrap_or_else(|| Format::detect(bytes));
    if options.within.is_some() && !matches!(format, Format::Keepassxc | Format::Bitwarden) {
        return Err(format!(
            "a {} has no groups or folders to choose from",
            format.label()
        ));
    }
    let candidates = match format {
        Format::Dotenv => env_file::read(bytes),
        Format::Keepassxc => keepassxc::read(bytes, options),
        Format::Bitwarden => bitwarden::read(bytes, options),
        Format::OnePassword => onepassword::read(bytes, options.all),
    }
    .map_err(|err| match format {
        // A file that was only guessed to be a .env file says what else it could have been.
        Format::Dotenv if guessed => format!(
            "{err}; it is not a .env file, nor a KeePassXC database, a Bitwarden JSON export or \
             a 1Password 1PUX export"
        ),
        _ => err,
    })?;
    let total = candidates.len();
    let found: Vec<Found> = candidates
        .into_iter()
        .filter_map(|c| take(c, origin, options.all))
        .collect();
    Ok(Read {
        format,
        left: total - found.len(),
        found,
    })
}

/// Whether a name says it is a key's: one of its words is `key`, `token`, `secret`, `api`…
/// (`GITHUB_TOKEN`, `STRIPE_API_KEY`, `testo API key`).
fn named_as_key(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .any(|word| {
            matches!(
                word.as_str(),
                "key" | "token" | "secret" | "api" | "apikey" | "pat" | "credential"
            )
        })
}

/// Whether a value is long and random enough to be a key: 16 characters or more, letters and
/// digits, ten different characters, no spaces, no URL or `${…}`.
fn random_enough(value: &str) -> bool {
    let distinct: std::collections::BTreeSet<char> = value.chars().collect();
    value.len() >= 16
        && !value.contains(char::is_whitespace)
        && !value.contains("://")
        && !value.contains("${")
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && distinct.len() >= 10
}

/// The service a named value is a key of, if it is one: recognised by its form, or named as a
/// key and random enough.
pub fn key_service(name: &str, value: &str) -> Option<&'static Service> {
    services::recognise(value)
        .or_else(|| (named_as_key(name) && random_enough(value)).then_some(&services::OTHER))
}

/// The tracked key a candidate becomes, if it is an API key: the file says so, its form is a
/// service's, or its title or a tag names it a key and it is random enough (with `all`, every
/// secret). The service is recognised from the secret, then from the URL.
fn take(candidate: Candidate, origin: &str, all: bool) -> Option<Found> {
    let secret = candidate.secret.trim();
    if secret.is_empty() {
        return None;
    }
    let named = named_as_key(&candidate.title) || candidate.tags.iter().any(|t| named_as_key(t));
    let recognised = services::recognise(secret);
    if !(all || candidate.is_key || recognised.is_some() || named && random_enough(secret)) {
        return None;
    }
    let at_url = candidate.url.as_deref().and_then(services::from_url);
    let service = recognised
        .or(at_url.as_ref().map(|(s, _)| *s))
        .unwrap_or(&services::OTHER);
    let workspace = at_url
        .as_ref()
        .filter(|(s, _)| s.id == service.id)
        .and_then(|(_, w)| w.clone());
    // An address that is not a service's own is where this key is used (a self-hosted GitLab,
    // a Keywarden server): kept as the key's base URL.
    let base_url = candidate
        .url
        .as_deref()
        .filter(|_| at_url.is_none())
        .and_then(origin_of);
    let name: String = match candidate.title.trim() {
        "" => candidate.place.clone(),
        title => title.chars().take(MAX_NAME_CHARS).collect(),
    };
    let mut description: Vec<String> = Vec::new();
    if let Some(first) = candidate
        .notes
        .as_deref()
        .and_then(|n| n.lines().map(str::trim).find(|l| !l.is_empty()))
    {
        description.push(
            first
                .chars()
                .filter(|&c| !text::is_unsafe(c))
                .take(200)
                .collect(),
        );
    }
    if !candidate.tags.is_empty() {
        description.push(format!("tags: {}", candidate.tags.join(", ")));
    }
    description.extend(candidate.more);
    let description = within_limit(&description.join(" · "), &format!("imported from {origin}"));
    Some(Found {
        place: candidate.place,
        new: NewTracked {
            service: service.id.to_string(),
            name,
            description,
            expires_at: candidate.expires_at,
            base_url,
            workspace,
        },
        secret: Secret::new(secret.to_string()),
        line: candidate.line,
    })
}

/// `head · tail` within a key's description limit: `head` shortened (ending in `…`) to make room
/// for `tail`, or `tail` alone, shortened too, when there is no room beside it.
fn within_limit(head: &str, tail: &str) -> String {
    const SEPARATOR: &str = " · ";
    let max = KEY_DESCRIPTION_MAX_CHARS;
    let shorten = |text: &str, chars: usize| -> String {
        if text.chars().count() <= chars {
            text.to_string()
        } else {
            let kept: String = text.chars().take(chars.saturating_sub(1)).collect();
            format!("{}…", kept.trim_end())
        }
    };
    let room = max.saturating_sub(tail.chars().count() + SEPARATOR.chars().count());
    if head.is_empty() || room < 2 {
        return shorten(tail, max);
    }
    format!("{}{SEPARATOR}{tail}", shorten(head, room))
}

/// `https://host[:port]` of a URL (or of a bare host name), if it is one a key may be sent to.
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim();
    let parsed = reqwest::Url::parse(url)
        .ok()
        .filter(|u| u.has_host())
        .or_else(|| reqwest::Url::parse(&format!("https://{url}")).ok())?;
    let origin = parsed.origin().ascii_serialization();
    services::check_base_url(&origin).ok().map(|()| origin)
}

/// What an import did (or, in a dry run, would do), as the command line prints it and the app
/// shows it.
pub struct Report {
    pub lines: Vec<String>,
    /// Each key of the file that is now held (added, or held before), by its place in
    /// [`Read::found`].
    pub held: Vec<Stored>,
}

impl Here<'_> {
    /// Stores what `read` found as tracked keys, all of them or none; a secret held already (by
    /// any key here) is skipped. With `write` false nothing is stored.
    pub async fn import(
        &self,
        config: &Config,
        read: &Read,
        write: bool,
    ) -> Result<Report, String> {
        let tracked = TrackedSource::new(self.data_dir);
        for found in &read.found {
            tracked
                .validate(&found.new)
                .map_err(|err| nothing(&found.place, &err.to_string()))?;
        }
        let held = self.held_secrets(config, &tracked).await?;
        let mut lines = Vec::new();
        let mut references = Vec::new();
        let mut new = Vec::new();
        for (index, found) in read.found.iter().enumerate() {
            let name = text::for_terminal(&found.new.name);
            if let Some(before) = held.iter().find(|h| h.secret == found.secret) {
                lines.push(format!(
                    "skipped {name:?}: held already as {:?}",
                    text::for_terminal(&before.name)
                ));
                references.push(Stored {
                    index,
                    key: before.key.clone(),
                    reference: before.reference.clone(),
                });
            } else if let Some(&(_, first)) = new
                .iter()
                .find(|(s, _): &&(&Secret, usize)| *s == &found.secret)
            {
                lines.push(format!(
                    "skipped {name:?}: the same secret as {:?}",
                    text::for_terminal(&read.found[first].new.name)
                ));
            } else {
                new.push((&found.secret, index));
            }
        }
        let service_name =
            |found: &Found| services::find(&found.new.service).map_or("?", |s| s.name);
        if write {
            let keys = new
                .iter()
                .map(|&(secret, index)| (read.found[index].new.clone(), secret.clone()))
                .collect();
            let added =
                self.keeper
                    .add_tracked_many(&tracked, keys)
                    .await
                    .map_err(|(at, err)| {
                        let place = new.get(at).map_or("", |&(_, i)| &read.found[i].place);
                        nothing(place, &err.to_string())
                    })?;
            let all = tracked.list().await.map_err(|e| e.to_string())?;
            for (&(_, index), key) in new.iter().zip(&added) {
                let found = &read.found[index];
                lines.push(format!(
                    "imported {:?} as tracked key {} ({})",
                    text::for_terminal(&found.new.name),
                    key.id,
                    service_name(found)
                ));
                references.push(Stored {
                    index,
                    key: key.key_ref(),
                    reference: Reference::of(key, &all),
                });
            }
        } else {
            for &(_, index) in &new {
                let found = &read.found[index];
                lines.push(format!(
                    "would import {:?} ({})",
                    text::for_terminal(&found.new.name),
                    service_name(found)
                ));
            }
        }
        let skipped = read.found.len() - new.len();
        lines.push(format!(
            "{} key(s) {}imported, {skipped} held already, {} other {}(s) left alone",
            new.len(),
            if write { "" } else { "would be " },
            read.left,
            read.format.item()
        ));
        Ok(Report {
            lines,
            held: references,
        })
    }

    /// Every secret held here, with its key's name and reference: the tracked keys' and the
    /// accounts' keys'.
    async fn held_secrets(
        &self,
        config: &Config,
        tracked: &TrackedSource,
    ) -> Result<Vec<Held>, String> {
        let mut held = Vec::new();
        let keys = tracked.list().await.map_err(|e| e.to_string())?;
        for key in &keys {
            let secret = self.keeper.secret(&key.key_ref()).await;
            if let Some(secret) = secret.map_err(|e| e.to_string())? {
                held.push(Held {
                    secret,
                    name: key.name.clone(),
                    key: key.key_ref(),
                    reference: Reference::of(key, &keys),
                });
            }
        }
        // The accounts' keys; the tracked keys were read above.
        let pairs: Vec<_> = accounts::list(config)
            .iter()
            .filter(|a| a.name != tracked.name())
            .map(|a| (a.kind, a.name.clone()))
            .collect();
        let account_keys = self.keeper.held_keys(&pairs).await;
        for key in account_keys.map_err(|e| e.to_string())? {
            let secret = self.keeper.secret(&key).await;
            if let Some(secret) = secret.map_err(|e| e.to_string())? {
                held.push(Held {
                    secret,
                    name: format!("{} on {}", key.id, key.source),
                    reference: Reference {
                        account: key.source.clone(),
                        key: key.id.clone(),
                    },
                    key,
                });
            }
        }
        Ok(held)
    }
}

/// A secret held here already.
struct Held {
    secret: Secret,
    name: String,
    key: KeyRef,
    reference: Reference,
}

/// A key of the file as it is held now.
pub struct Stored {
    /// Its place in [`Read::found`].
    pub index: usize,
    pub key: KeyRef,
    pub reference: Reference,
}

/// The error of an import that stored nothing.
fn nothing(place: &str, err: &str) -> String {
    let err = text::for_terminal(err);
    if place.is_empty() {
        format!("{err}; nothing was imported")
    } else {
        format!("{place}: {err}; nothing was imported")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::limits;

    #[test]
    fn keys_are_told_from_other_values() {
        assert_eq!(
            key_service("ANY", "ghp_abcdefghijklmnopqrstuvwxyz0123").map(|s| s.id),
            Some("github")
        );
        assert_eq!(
            key_service("STRIPE_API_KEY", "sk9aQ2xL7pR4vT1mN8bC").map(|s| s.id),
            Some("other")
        );
        assert_eq!(
            key_service("testo API key", "sk9aQ2xL7pR4vT1mN8bC").map(|s| s.id),
            Some("other")
        );
        for (name, value) in [
            ("DATABASE_URL", "postgres://u:p@h/db"),
            ("API_KEY", "short1"),
            ("SECRET_KEY", "${OTHER_SECRET}"),
            ("TOKEN", "aaaaaaaaaaaaaaaaaaaa"),
            ("REGION", "eu-west-1xxxxxxxxxxxxx9"),
            ("KEY", "kw://tracked/testo"),
            ("KEYCLOAK_REALM", "q8Zr2Lm5Vx9Tb3Nc7Kd1"),
        ] {
            assert_eq!(
                key_service(name, value).map(|s| s.id),
                None,
                "{name}={value}"
            );
        }
    }

    #[test]
    fn formats_are_recognised_by_their_first_bytes() {
        assert_eq!(
            Format::detect(&[0x03, 0xd9, 0xa2, 0x9a, 0x67, 0xfb, 0x4b, 0xb5, 0, 0]),
            Format::Keepassxc
        );
        assert_eq!(Format::detect(b"PK\x03\x04rest"), Format::OnePassword);
        assert_eq!(Format::detect(b"\n  {\"items\": []}"), Format::Bitwarden);
        assert_eq!(Format::detect(b"A=1\n"), Format::Dotenv);
    }

    #[test]
    fn a_candidate_becomes_a_tracked_key_with_its_service_and_address() {
        let candidate = |title: &str, secret: &str, url: Option<&str>| Candidate {
            place: "entry".into(),
            title: title.into(),
            secret: secret.into(),
            url: url.map(str::to_string),
            notes: Some("\n  first line\u{202e}\nsecond".into()),
            tags: vec!["prod".into()],
            ..Default::default()
        };
        let found = take(
            candidate(
                "CI",
                "glpat-abcdefghijklmnopqrst",
                Some("https://git.example:8443/x"),
            ),
            "db.kdbx",
            false,
        )
        .unwrap();
        assert_eq!(found.new.service, "gitlab");
        assert_eq!(
            found.new.base_url.as_deref(),
            Some("https://git.example:8443")
        );
        assert_eq!(
            found.new.description,
            "first line · tags: prod · imported from db.kdbx"
        );
        // Found: many tags made a description past the limit, which the tracked source refuses.
        let mut tagged = candidate("CI", "glpat-abcdefghijklmnopqrst", None);
        tagged.tags = (0..100).map(|n| format!("tag number {n}")).collect();
        let found = take(tagged, "db.kdbx", false).unwrap();
        let kept = &found.new.description;
        assert_eq!(kept.chars().count(), limits::KEY_DESCRIPTION_MAX_CHARS);
        assert!(
            kept.starts_with("first line · tags: tag number 0, "),
            "{kept}"
        );
        assert!(kept.ends_with("… · imported from db.kdbx"), "{kept}");
        assert_eq!(limits::key_description(kept).as_ref(), Ok(kept));
        let far = "d".repeat(600);
        assert_eq!(within_limit("x", &far).chars().count(), 500);
        assert_eq!(within_limit("", "imported from x"), "imported from x");
        let found = take(
            candidate(
                "smenso token",
                "q8Zr2Lm5Vx9Tb3Nc7Kd1",
                Some("acme.smenso.cloud"),
            ),
            "x",
            false,
        )
        .unwrap();
        assert_eq!(
            (
                found.new.service.as_str(),
                found.new.workspace.as_deref(),
                found.new.base_url
            ),
            ("smenso", Some("acme"), None)
        );
        assert!(
            take(
                candidate("bank", "hunter2", Some("https://github.com")),
                "x",
                false
            )
            .is_none(),
            "a website's password is no key"
        );
        assert!(
            take(candidate("bank", "hunter2", None), "x", true).is_some(),
            "--all"
        );
        assert!(
            take(candidate("API", "  ", None), "x", true).is_none(),
            "no secret"
        );
    }
}
