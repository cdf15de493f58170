//! What the dialogs edit before anything is sent: the drafts of generate, add, renew, edit and
//! sign-in, the secret shown once, and the expiry choices they share. Drafts holding something
//! typed or pasted that is secret print it redacted.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::secret::Secret;
use crate::sources::accounts::Field;
use crate::sources::{KeyRef, SecondFactor, SourceKey, SourceKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryChoice {
    Days(i64),
    Date,
    Never,
}

pub const EXPIRY_DAYS: [i64; 6] = [7, 30, 60, 90, 180, 365];

/// The choice of no expiry, where a service allows it.
pub const NEVER: &str = "does not expire";

/// The expiry a dialog's choice means, or why it is not one. `max_days` is the service's
/// documented maximum (`None`: no maximum, and never is allowed when `never_ok`).
pub fn expiry_from(
    choice: ExpiryChoice,
    date: &str,
    max_days: Option<i64>,
    never_ok: bool,
) -> Result<Option<DateTime<Utc>>, String> {
    let now = Utc::now();
    let at = match choice {
        ExpiryChoice::Never if never_ok => return Ok(None),
        ExpiryChoice::Never => return Err("Keys here must expire: choose an expiry.".into()),
        ExpiryChoice::Days(days) => now + chrono::Duration::days(days),
        ExpiryChoice::Date => {
            let date = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
                .map_err(|_| "Write the expiry date as YYYY-MM-DD.".to_string())?;
            date.and_hms_opt(23, 59, 59)
                .map(|t| t.and_utc())
                .ok_or("That date does not exist.")?
        }
    };
    if at <= now {
        return Err("The expiry date must be in the future.".into());
    }
    if let Some(days) = max_days
        && at > now + chrono::Duration::days(days)
    {
        return Err(format!("A key here can live at most {days} days."));
    }
    Ok(Some(at))
}

#[derive(Debug, Clone)]
pub struct GenerateDraft {
    /// The account the key is made on.
    pub account: String,
    pub name: String,
    pub description: String,
    pub expiry: ExpiryChoice,
    /// `YYYY-MM-DD` when `expiry` is `Date`.
    pub date: String,
    /// For administrators: the owner's id on the account; `None` = me.
    pub owner: Option<String>,
    /// The key may manage keys and accounts like a session (scope `keywarden:manage`).
    pub manage: bool,
    pub error: Option<String>,
}

impl GenerateDraft {
    pub fn new(account: &str) -> GenerateDraft {
        GenerateDraft {
            account: account.to_string(),
            name: String::new(),
            description: String::new(),
            expiry: ExpiryChoice::Days(90),
            date: String::new(),
            owner: None,
            manage: false,
            error: None,
        }
    }
}

/// Adding a key the developer already has (a tracked key).
#[derive(Clone)]
pub struct AddDraft {
    /// What is pasted so far; a plain `String` because the text field edits it in place.
    pub secret: String,
    /// A service id from the table; empty until chosen or recognised.
    pub service: String,
    pub name: String,
    pub description: String,
    pub expiry: ExpiryChoice,
    pub date: String,
    pub base_url: String,
    pub workspace: String,
    pub error: Option<String>,
}

impl Default for AddDraft {
    fn default() -> Self {
        AddDraft {
            secret: String::new(),
            service: String::new(),
            name: String::new(),
            description: String::new(),
            expiry: ExpiryChoice::Days(90),
            date: String::new(),
            base_url: String::new(),
            workspace: String::new(),
            error: None,
        }
    }
}

/// Written out so the pasted key never reaches a debug print.
impl std::fmt::Debug for AddDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddDraft")
            .field("secret", &"***")
            .field("service", &self.service)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How long the old key keeps working after a renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    Now,
    Hour,
    Day,
    Week,
}

impl Overlap {
    pub const ALL: [Overlap; 4] = [Overlap::Now, Overlap::Hour, Overlap::Day, Overlap::Week];

    pub fn label(self) -> &'static str {
        match self {
            Overlap::Now => "now",
            Overlap::Hour => "in 1 hour",
            Overlap::Day => "in 24 hours",
            Overlap::Week => "in 7 days",
        }
    }

    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::seconds(match self {
            Overlap::Now => 0,
            Overlap::Hour => 3600,
            Overlap::Day => 24 * 3600,
            Overlap::Week => 7 * 24 * 3600,
        })
    }
}

/// Renewing a key: the new key keeps name, description and rights.
#[derive(Clone)]
pub struct RenewDraft {
    pub key: SourceKey,
    pub expiry: ExpiryChoice,
    pub date: String,
    pub overlap: Overlap,
    /// A tracked key's new secret, pasted from its service.
    pub secret: String,
    pub error: Option<String>,
    /// Within how many days of its expiry the key renews on its own; `None`: it does not (as
    /// read from this computer's settings when the dialog opened, then as changed in it).
    pub auto: Option<i64>,
}

/// The windows the renew dialog offers for automatic renewal, in days before expiry.
pub const AUTO_RENEW_DAYS: [i64; 3] = [7, 14, 30];

impl std::fmt::Debug for RenewDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenewDraft")
            .field("key", &self.key.id)
            .field("secret", &"***")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct EditDraft {
    pub key: KeyRef,
    pub name: String,
    pub description: String,
    pub error: Option<String>,
}

/// A secret shown once: after "Got it" it is dropped from memory.
#[derive(Debug, Clone)]
pub struct SecretShown {
    pub key: SourceKey,
    pub secret: Secret,
    pub revealed: bool,
    /// Why the secret could not be put in the keychain, if it could not.
    pub store_error: Option<String>,
    pub stored: bool,
}

#[derive(Clone, Default)]
pub struct SignInDraft {
    pub url: String,
    pub email: String,
    /// What is typed so far; a plain `String` because the text field edits it in place.
    pub password: String,
    pub kind: SourceKind,
    /// The account's name; empty: the URL.
    pub name: String,
    /// Plain `http://` to a server on another machine is allowed (a lab network).
    pub allow_http: bool,
    /// Why sign-in is asked for (session expired, new server).
    pub reason: Option<String>,
    pub error: Option<String>,
    /// The second step the server asked for, once the password was accepted.
    pub second: Option<CodeStep>,
}

/// The second step of a sign-in in the dialog: the server's providers, the one chosen, the code.
#[derive(Clone)]
pub struct CodeStep {
    pub step: Arc<dyn SecondFactor>,
    /// The provider's id (`TOTP`, `EMAIL`).
    pub provider: String,
    /// What is typed so far.
    pub code: String,
    /// What the dialog says above the field (a code was sent).
    pub notice: Option<String>,
}

impl SignInDraft {
    /// Where the dialog keeps what is typed for one of the sign-in's fields.
    pub fn field_mut(&mut self, field: Field) -> &mut String {
        match field {
            Field::Email => &mut self.email,
            Field::Password | Field::Token => &mut self.password,
        }
    }
}

/// Written out so the password being typed never reaches a debug print.
impl std::fmt::Debug for SignInDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInDraft")
            .field("url", &self.url)
            .field("email", &self.email)
            .field("password", &"***")
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("error", &self.error)
            .field(
                "second",
                &self.second.as_ref().map(|s| (&s.provider, "code ***")),
            )
            .finish()
    }
}

/// The backup and restore dialog's fields (the passphrases are redacted in debug output).
#[derive(Clone, Default)]
pub struct TransferDraft {
    pub restore: bool,
    pub path: String,
    pub passphrase: String,
    pub repeat: String,
    pub dry_run: bool,
    /// What the last backup or restore did, a line each.
    pub result: Vec<String>,
    pub error: Option<String>,
}

impl std::fmt::Debug for TransferDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferDraft")
            .field("restore", &self.restore)
            .field("path", &self.path)
            .field("passphrase", &"***")
            .field("result", &self.result)
            .field("error", &self.error)
            .finish()
    }
}

/// The import dialog's fields (the database password is redacted in debug output).
#[derive(Clone, Default)]
pub struct ImportDraft {
    pub path: String,
    /// `None`: recognised from the file.
    pub format: Option<crate::transfer::import::Format>,
    pub password: String,
    pub key_file: String,
    /// A KeePassXC group or a Bitwarden folder.
    pub within: String,
    pub all: bool,
    pub dry_run: bool,
    /// A `.env` file's values become their references.
    pub rewrite: bool,
    /// What the last import did (or would do), a line each.
    pub result: Vec<String>,
    pub error: Option<String>,
}

impl std::fmt::Debug for ImportDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportDraft")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("password", &"***")
            .field("key_file", &self.key_file)
            .field("within", &self.within)
            .field("result", &self.result)
            .field("error", &self.error)
            .finish()
    }
}

/// A path field a file chooser can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathField {
    /// The backup dialog's file (to write) or the restore dialog's (to read).
    Transfer,
    /// The file to import.
    Import,
    /// The KeePassXC database's key file.
    KeyFile,
}

/// The Projects dialog: the files allowed to have keys here, once read.
#[derive(Debug, Clone, Default)]
pub struct ProjectsDraft {
    pub consents: Option<Vec<crate::project::Consent>>,
    pub error: Option<String>,
}
