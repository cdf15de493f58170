//! Where keys come from. One trait, [`KeySource`], hides whether a key was issued by a Keywarden
//! server, by a ThingsBoard server, or is a tracked key of a service with no key API; the app, the
//! command line and the reminders speak only to it. Ids are strings and expiry is optional.
//!
//! What a source can do is a [`Capabilities`] value: asked, never assumed. What the keychain holds
//! when keys are created, renewed, revoked or deleted is decided in one place, [`keeper`].

pub mod accounts;
pub mod copy;
pub mod gitlab;
pub mod http;
pub mod keeper;
pub mod keywarden;
pub mod list_cache;
pub mod reference;
pub mod renewals;
pub mod services;
pub mod thingsboard;
pub mod tracked;
pub mod wording;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::api::KeyStatus;
use crate::client::ClientError;
use crate::secret::Secret;
use crate::vault::VaultError;

pub use crate::settings::SourceKind;

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Keywarden => "keywarden",
            SourceKind::Thingsboard => "thingsboard",
            SourceKind::Gitlab => "gitlab",
            SourceKind::Tracked => "tracked",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Keywarden => "Keywarden",
            SourceKind::Thingsboard => "ThingsBoard",
            SourceKind::Gitlab => "GitLab",
            SourceKind::Tracked => "Tracked",
        }
    }

    pub fn parse(text: &str) -> Option<SourceKind> {
        match text {
            "keywarden" => Some(SourceKind::Keywarden),
            "thingsboard" => Some(SourceKind::Thingsboard),
            "gitlab" => Some(SourceKind::Gitlab),
            "tracked" => Some(SourceKind::Tracked),
            _ => None,
        }
    }
}

/// The name of the one account that holds tracked keys.
pub const TRACKED: &str = "tracked";

/// A key as every source reports it. No secret: `hint` is enough to recognise it, not to use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceKey {
    /// The account the key belongs to (`local`, a server's name, `tracked`).
    pub source: String,
    pub kind: SourceKind,
    /// The service from [`services`] whose header style and check the key uses.
    pub service: String,
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub hint: String,
    /// The owner's id on the source, when the source has users.
    #[serde(default)]
    pub owner: Option<String>,
    pub created_at: DateTime<Utc>,
    /// `None`: the key never expires (a ThingsBoard key may not), and needs no reminder.
    pub expires_at: Option<DateTime<Utc>>,
    pub enabled: bool,
    /// When the key stops or stopped working before its expiry: revoked, or the end of a renewal's
    /// overlap (the old key is deleted or retired then).
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The key may manage keys and accounts like a session (Keywarden's `keywarden:manage`).
    #[serde(default)]
    pub manages: bool,
    /// A Keywarden key's scopes; empty elsewhere.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The key this one renewed.
    #[serde(default)]
    pub replaces: Option<String>,
    /// Set on a tracked key that was renewed: it stays until the developer says it is retired.
    #[serde(default)]
    pub replaced_by: Option<String>,
    /// Where the key is used (a Keywarden or ThingsBoard server, a service's API).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The workspace or account id a service needs beside the key (SmartSuite's `Account-Id`,
    /// smenso's workspace); a Keywarden key's workspace id.
    #[serde(default)]
    pub workspace: Option<String>,
    /// The workspace's name, where the source tells it (a Keywarden workspace), to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_name: Option<String>,
}

impl SourceKey {
    /// The one definition of a key's status at `now` on the client.
    pub fn status_at(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked_at.is_some_and(|at| at <= now) {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else if !self.enabled {
            KeyStatus::Disabled
        } else {
            KeyStatus::Active
        }
    }

    /// The one word the app's list and the command line show for the key's status at `now`: a
    /// key that works says "replaced" once it has a successor, else how soon it expires
    /// (expiring, urgent, critical) or "active"; one that stopped working says why (revoked,
    /// expired, disabled).
    pub fn status_word(
        &self,
        now: DateTime<Utc>,
        thresholds: &crate::reminders::Thresholds,
    ) -> &'static str {
        let status = self.status_at(now);
        if status != KeyStatus::Active {
            return status.as_str();
        }
        if self.replaced_by.is_some() {
            return "replaced";
        }
        match crate::reminders::key_class(self, now, thresholds) {
            Some(class) if class.is_soon() => class.as_str(),
            _ => status.as_str(),
        }
    }

    /// Whether reminders and `check` are about this key: the signed-in user's own (`me`, where
    /// the source has users), or one whose secret this computer holds.
    pub fn is_mine_or_held(&self, me: Option<&str>, held: bool) -> bool {
        held || me.is_none() || self.owner.is_none() || self.owner.as_deref() == me
    }

    /// Where the secret lives in the keychain.
    pub fn key_ref(&self) -> KeyRef {
        KeyRef {
            kind: self.kind,
            source: self.source.clone(),
            id: self.id.clone(),
        }
    }

    pub fn service(&self) -> &'static services::Service {
        services::find(&self.service).unwrap_or(&services::OTHER)
    }
}

impl crate::reminders::Reminded for SourceKey {
    fn reminder_id(&self) -> String {
        self.id.clone()
    }

    fn reminder_name(&self) -> &str {
        &self.name
    }

    fn expiry(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }

    fn revoked_by(&self, now: DateTime<Utc>) -> bool {
        self.status_at(now) == KeyStatus::Revoked
    }

    /// Named as the list names its account, with its service.
    fn whereabouts(&self) -> Option<String> {
        let service = self.service().name;
        Some(match self.kind {
            SourceKind::Tracked => format!("A {service} key kept on this computer"),
            _ => format!("A {service} key on {}", accounts::label(&self.source)),
        })
    }

    /// A renewed tracked key waits to be retired on its service, then forgotten here.
    fn renew_command(&self) -> String {
        let verb = if self.replaced_by.is_some() {
            "delete"
        } else {
            "renew"
        };
        format!(
            "keywarden keys {verb} {} --account {}",
            self.id, self.source
        )
    }
}

/// Which secret a key is: the keychain account name is built from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRef {
    pub kind: SourceKind,
    pub source: String,
    pub id: String,
}

impl From<&SourceKey> for KeyRef {
    fn from(key: &SourceKey) -> KeyRef {
        key.key_ref()
    }
}

/// What a source can do. Actions a source cannot do are absent or disabled with [`Capabilities::why_not`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Make a new key on the service (Keywarden, ThingsBoard).
    pub generate: bool,
    /// Keep a key the developer already has (tracked keys).
    pub add: bool,
    pub enable: bool,
    pub edit: bool,
    /// Revoke while keeping the record (Keywarden). ThingsBoard's delete is its revoke.
    pub revoke: bool,
    pub delete: bool,
    pub renew: bool,
    /// Keys that may manage like a session (Keywarden).
    pub manage_scope: bool,
    /// A key may never expire (ThingsBoard).
    pub never_expires: bool,
    /// The source cannot rotate: Keywarden makes the new key and deletes the old one itself when
    /// the overlap ends (ThingsBoard).
    pub overlap_by_client: bool,
    /// Renewal asks for the new secret (tracked keys: the service made it).
    pub renew_by_paste: bool,
    /// Keys have a description apart from their name (Keywarden).
    pub describe: bool,
    /// The source reports when a key was last used.
    pub last_used: bool,
    /// The source keeps an audit trail of each key ([`KeySource::audit`]).
    pub audit: bool,
    /// Keys are made on the service's own page, which the key page opens (tracked keys, GitLab).
    pub key_page: bool,
    /// A renewal revokes the old key at once (GitLab's rotate): said before renewing.
    pub renew_revokes_old: bool,
    /// Why changes the source could otherwise make are off (a token without the scope for them).
    pub limited_by: Option<&'static str>,
}

/// How often the open app lists an account that has nothing cheaper to ask, while it shows.
pub const LIST_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// How the open app notices that an account's list changed elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watch {
    /// Ask [`KeySource::revision`] often; it is cheap.
    Revision,
    /// Nothing cheap to ask: list again this often.
    Every(std::time::Duration),
    /// The keys live in this file: look at its modification time.
    File(std::path::PathBuf),
}

/// One action, to ask a source whether it can do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Generate,
    Add,
    Enable,
    Edit,
    Revoke,
    Delete,
    Renew,
}

impl Capabilities {
    pub fn can(&self, capability: Capability) -> bool {
        match capability {
            Capability::Generate => self.generate,
            Capability::Add => self.add,
            Capability::Enable => self.enable,
            Capability::Edit => self.edit,
            Capability::Revoke => self.revoke,
            Capability::Delete => self.delete,
            Capability::Renew => self.renew,
        }
    }

    /// Why `kind` cannot do `capability`, in a sentence; `None` when it can.
    pub fn why_not(&self, kind: SourceKind, capability: Capability) -> Option<String> {
        if self.can(capability) {
            return None;
        }
        if let (Some(why), Capability::Revoke | Capability::Renew) = (self.limited_by, capability) {
            return Some(why.to_string());
        }
        Some(match (kind, capability) {
            (SourceKind::Tracked, Capability::Generate) => {
                "tracked keys are made on their service's own page; add them here with keys add"
                    .into()
            }
            (SourceKind::Tracked, Capability::Enable) => {
                "a tracked key is enabled or disabled on its service's own page".into()
            }
            (SourceKind::Tracked, Capability::Revoke) => {
                "a tracked key is revoked on its service's own page; delete forgets it here".into()
            }
            (SourceKind::Thingsboard, Capability::Revoke) => {
                "ThingsBoard has no revoke: deleting the key is revoking it".into()
            }
            (SourceKind::Gitlab, Capability::Generate) => {
                "GitLab makes personal access tokens on its own page: Open key page opens it".into()
            }
            (SourceKind::Gitlab, Capability::Enable) => {
                "GitLab has no disable: revoke the token instead".into()
            }
            (SourceKind::Gitlab, Capability::Edit) => {
                "GitLab does not change a token's name or scopes once made".into()
            }
            (SourceKind::Gitlab, Capability::Delete) => {
                "GitLab keeps revoked tokens: revoke it instead".into()
            }
            (_, Capability::Add) => format!(
                "a {} account issues its own keys; add keys of other services to `tracked`",
                kind.label()
            ),
            (kind, capability) => format!("a {} account cannot {capability:?}", kind.label()),
        })
    }
}

/// A key to make.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    pub name: String,
    pub description: String,
    /// `None`: never expires (only where [`Capabilities::never_expires`]).
    pub expires_at: Option<DateTime<Utc>>,
    pub manage: bool,
    /// Another user of the source (an administrator's view); `None` = me.
    pub owner: Option<String>,
}

/// A key made, with its secret, shown once.
#[derive(Debug, Clone)]
pub struct Created {
    pub key: SourceKey,
    pub secret: Secret,
}

/// Renewing a key: the new one keeps name, description and rights.
#[derive(Debug, Clone)]
pub struct Renewal {
    /// The new key's expiry; `None` keeps the old key's lifetime (or never, where it never expired).
    pub expires_at: Option<DateTime<Utc>>,
    /// How long the old key keeps working.
    pub overlap: Duration,
    /// The new secret, for sources whose keys are made elsewhere (tracked keys).
    pub secret: Option<Secret>,
    /// The new key's id, where the client chooses it (tracked keys: the secret is kept under it
    /// before the record is written).
    pub new_id: Option<String>,
}

/// A renewal done: the new key and its secret, and the old key as it is now.
#[derive(Debug, Clone)]
pub struct Renewed {
    pub key: SourceKey,
    pub secret: Secret,
    pub old: SourceKey,
}

/// A change to a key's name and description.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// What can go wrong with a source, in words a user can act on. Never holds a secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// Sign in again (the session or its refresh ended).
    #[error("sign in to {account} again: {reason}")]
    NeedsSignIn { account: String, reason: String },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the server failed: {0}")]
    Server(String),
    #[error("unexpected response: {0}")]
    Protocol(String),
    #[error("{0}")]
    Vault(VaultError),
    #[error("{0}")]
    Storage(String),
    /// Could not be asked, in the words of whatever failed (a session that could not be opened).
    #[error("{0}")]
    Failed(String),
}

impl SourceError {
    /// The source could not be asked at all (as opposed to answering no).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            SourceError::Unreachable { .. }
                | SourceError::Server(_)
                | SourceError::Storage(_)
                | SourceError::Failed(_)
        )
    }

    pub fn needs_sign_in(&self) -> bool {
        matches!(self, SourceError::NeedsSignIn { .. })
    }
}

impl From<VaultError> for SourceError {
    fn from(err: VaultError) -> Self {
        SourceError::Vault(err)
    }
}

impl SourceError {
    /// A Keywarden client error, for `source`.
    pub fn from_client(source: &str, err: ClientError) -> SourceError {
        match err {
            ClientError::Unreachable { url, reason } => SourceError::Unreachable { url, reason },
            ClientError::Unauthorized { message, .. } => SourceError::NeedsSignIn {
                account: source.to_string(),
                reason: message,
            },
            ClientError::Forbidden(message) => {
                SourceError::Refused(format!("you lack the right to do this: {message}"))
            }
            ClientError::NotFound(message) => SourceError::NotFound(message),
            ClientError::Conflict(message)
            | ClientError::Invalid(message)
            | ClientError::TooManyRequests(message) => SourceError::Invalid(message),
            ClientError::Server(message) => SourceError::Server(message),
            ClientError::Protocol(message) => SourceError::Protocol(message),
            ClientError::PlainHttp(message) => SourceError::Refused(message),
        }
    }
}

/// A place keys come from. Async, and `Send + Sync`, so the app's background runtime and the
/// command line share one implementation per kind.
#[async_trait::async_trait]
pub trait KeySource: Send + Sync {
    /// The account's name (`local`, a server's name, `tracked`).
    fn name(&self) -> &str;
    fn kind(&self) -> SourceKind;
    fn capabilities(&self) -> Capabilities;
    /// Who is signed in, as the source names them (an email; empty for tracked keys).
    fn who(&self) -> String;
    /// The signed-in user's id on the source, to tell their own keys from others'.
    fn user_id(&self) -> Option<String>;
    /// The role or authority on the account, as the source names it (`owner`, `TENANT_ADMIN`).
    fn role(&self) -> String {
        String::new()
    }
    /// An administrator sees, and may make, other users' keys.
    fn is_admin(&self) -> bool {
        false
    }
    /// How the open app notices changes made elsewhere; by default the list is fetched again
    /// every [`LIST_EVERY`].
    fn watch(&self) -> Watch {
        Watch::Every(LIST_EVERY)
    }
    /// Ends the session on the service (the account layer removes it from the keychain).
    async fn sign_out(&self) -> Result<(), SourceError> {
        Ok(())
    }
    /// The audit events of a key, newest first, where [`Capabilities::audit`].
    async fn audit(&self, _id: &str) -> Result<Vec<crate::api::AuditEvent>, SourceError> {
        Ok(Vec::new())
    }
    /// Records what a test learnt of a key (its real expiry); `None` when nothing changed here.
    async fn tested(
        &self,
        _key: &SourceKey,
        _outcome: &services::TestOutcome,
    ) -> Result<Option<SourceKey>, SourceError> {
        Ok(None)
    }

    /// Every key of the account (an administrator's view includes other users' keys).
    async fn list(&self) -> Result<Vec<SourceKey>, SourceError>;
    /// A cheap token that changes whenever the list may have changed; `None` when the source has
    /// no such thing (the list is then polled).
    async fn revision(&self) -> Result<Option<String>, SourceError> {
        Ok(None)
    }
    /// The users an administrator of the account may make keys for, as (id, email); empty for
    /// anyone else.
    async fn users(&self) -> Result<Vec<(String, String)>, SourceError> {
        Ok(Vec::new())
    }
    async fn create(&self, _new: &NewKey) -> Result<Created, SourceError> {
        Err(self.unsupported(Capability::Generate))
    }
    async fn set_enabled(&self, _id: &str, _enabled: bool) -> Result<SourceKey, SourceError> {
        Err(self.unsupported(Capability::Enable))
    }
    async fn edit(&self, id: &str, edit: &Edit) -> Result<SourceKey, SourceError>;
    async fn revoke(&self, _id: &str) -> Result<SourceKey, SourceError> {
        Err(self.unsupported(Capability::Revoke))
    }
    async fn delete(&self, id: &str) -> Result<(), SourceError>;
    async fn renew(&self, id: &str, renewal: &Renewal) -> Result<Renewed, SourceError>;

    fn unsupported(&self, capability: Capability) -> SourceError {
        SourceError::Unsupported(
            self.capabilities()
                .why_not(self.kind(), capability)
                .unwrap_or_else(|| format!("{capability:?} is not available here")),
        )
    }
}

/// One way the code of a second sign-in step reaches the user (an authenticator app, an email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeProvider {
    /// The service's name for it (`TOTP`, `EMAIL`, `SMS`), as `login --code-by` takes it.
    pub id: String,
    /// In words, with where a sent code goes (`email to ab***@example.com`).
    pub label: String,
    /// The code is sent when asked for ([`SecondFactor::send_code`]); else the user has it.
    pub sends: bool,
    /// The one the user chose as their default.
    pub default: bool,
}

/// The second step of a sign-in the service asked for: a code from one of its providers.
#[async_trait::async_trait]
pub trait SecondFactor: Send + Sync {
    fn providers(&self) -> &[CodeProvider];
    /// Asks the service to send a code by `provider`.
    async fn send_code(&self, provider: &str) -> Result<(), SourceError>;
    /// Checks the code and finishes the sign-in, keeping the session in the keychain. A wrong
    /// code is an error in the service's words; the step may be tried again.
    async fn finish(
        &self,
        provider: &str,
        code: &Secret,
    ) -> Result<std::sync::Arc<dyn KeySource>, SourceError>;

    /// The provider the user chose as default, else the first.
    fn default_provider(&self) -> Option<&CodeProvider> {
        let providers = self.providers();
        providers
            .iter()
            .find(|p| p.default)
            .or_else(|| providers.first())
    }
}

/// The key `name_or_id` names in `keys`: an id, or a name only one key has. Two matches are
/// refused with both listed.
pub fn find<'a>(keys: &'a [SourceKey], name_or_id: &str) -> Result<&'a SourceKey, String> {
    let by_id: Vec<&SourceKey> = keys.iter().filter(|k| k.id == name_or_id).collect();
    let matches = if by_id.is_empty() {
        let by_name: Vec<&SourceKey> = keys.iter().filter(|k| k.name == name_or_id).collect();
        // After a renewal the old key keeps the name: the one still in use is meant.
        let now = Utc::now();
        let current: Vec<&SourceKey> = by_name
            .iter()
            .copied()
            .filter(|k| k.replaced_by.is_none() && k.status_at(now) != KeyStatus::Revoked)
            .collect();
        if current.len() == 1 { current } else { by_name }
    } else {
        by_id
    };
    match matches.as_slice() {
        // A key renewed since (GitLab's rotate gives a new id, a ThingsBoard renewal deletes the
        // old key): the key that replaced it.
        [] => {
            successor_of(keys, name_or_id).ok_or_else(|| format!("no key is named {name_or_id:?}"))
        }
        [key] if key.status_at(Utc::now()) == KeyStatus::Revoked && key.replaced_by.is_some() => {
            Ok(successor_of(keys, &key.id).unwrap_or(key))
        }
        [key] => Ok(key),
        several => {
            let listed: Vec<String> = several
                .iter()
                .map(|k| format!("{} on {}", k.id, k.source))
                .collect();
            Err(format!(
                "{} keys match {name_or_id:?}: {}; name one by id, with --account where ids repeat",
                several.len(),
                listed.join(", ")
            ))
        }
    }
}

/// The key that replaced the key `id`, following renewals to the latest; `None` when none did.
fn successor_of<'a>(keys: &'a [SourceKey], id: &str) -> Option<&'a SourceKey> {
    let mut current: Option<&SourceKey> = None;
    let mut id = id.to_string();
    // Bounded: a loop in what the sources said cannot keep this going.
    for _ in 0..64 {
        let next_id = keys
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| k.replaced_by.clone())
            .or_else(|| {
                keys.iter()
                    .find(|k| k.replaces.as_deref() == Some(id.as_str()))
                    .map(|k| k.id.clone())
            });
        let Some(next) = next_id.and_then(|next| keys.iter().find(|k| k.id == next)) else {
            return current;
        };
        current = Some(next);
        id = next.id.clone();
    }
    current
}

/// A short hint of a secret for the list: the last four characters, after the prefix where the
/// service's format makes it public (`ghp_…wxyz`, `kw_…`); nothing of a short secret. Any other
/// beginning may be part of the secret (a UUID's first group is 32 random bits).
pub fn hint_of(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 20 {
        return "…".to_string();
    }
    let prefix = services::public_prefix(secret).unwrap_or_default();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

#[cfg(test)]
pub(crate) fn sample_key(source: &str, id: &str, days_left: Option<i64>) -> SourceKey {
    let now = Utc::now();
    SourceKey {
        source: source.to_string(),
        kind: SourceKind::Tracked,
        service: "github".into(),
        id: id.to_string(),
        name: format!("key {id}"),
        description: String::new(),
        hint: String::new(),
        owner: None,
        created_at: now - Duration::days(10),
        expires_at: days_left.map(|d| now + Duration::days(d)),
        enabled: true,
        revoked_at: None,
        last_used_at: None,
        manages: false,
        scopes: Vec::new(),
        replaces: None,
        replaced_by: None,
        base_url: None,
        workspace: None,
        workspace_name: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_never_expires_stays_active() {
        let now = Utc::now();
        let mut key = sample_key("tracked", "a", None);
        assert_eq!(key.status_at(now + Duration::days(9999)), KeyStatus::Active);
        key.enabled = false;
        assert_eq!(key.status_at(now), KeyStatus::Disabled);
        key.revoked_at = Some(now);
        assert_eq!(key.status_at(now), KeyStatus::Revoked);
        let key = sample_key("tracked", "b", Some(-1));
        assert_eq!(key.status_at(now), KeyStatus::Expired);
    }

    /// One word per key, whatever shows it: a successor makes a working key "replaced", but a
    /// key that stopped working says why. (The command line's table said "replaced" for a
    /// renewed key revoked after its overlap, where the app said "revoked".)
    #[test]
    fn the_status_word_says_why_a_key_stopped_working_before_it_says_replaced() {
        let now = Utc::now();
        let thresholds = crate::reminders::Thresholds::default();
        let word = |days_left: Option<i64>, change: &dyn Fn(&mut SourceKey)| {
            let mut key = sample_key("local", "1", days_left);
            change(&mut key);
            key.status_word(now, &thresholds)
        };
        let replaced = |key: &mut SourceKey| key.replaced_by = Some("2".into());
        assert_eq!(word(Some(200), &|_| {}), "active");
        assert_eq!(word(None, &|_| {}), "active");
        assert_eq!(word(Some(20), &|_| {}), "expiring");
        assert_eq!(word(Some(200), &replaced), "replaced");
        assert_eq!(word(Some(2), &replaced), "replaced");
        assert_eq!(word(Some(-1), &|_| {}), "expired");
        assert_eq!(word(Some(-1), &replaced), "expired");
        let revoked_and_replaced = |key: &mut SourceKey| {
            key.replaced_by = Some("2".into());
            key.revoked_at = Some(now - Duration::hours(1));
        };
        assert_eq!(word(Some(200), &revoked_and_replaced), "revoked");
        let disabled_and_replaced = |key: &mut SourceKey| {
            key.replaced_by = Some("2".into());
            key.enabled = false;
        };
        assert_eq!(word(Some(200), &disabled_and_replaced), "disabled");
    }

    #[test]
    fn names_that_match_in_two_sources_are_refused_with_both() {
        let mut a = sample_key("local", "1", Some(5));
        a.name = "deploy".into();
        let mut b = sample_key("tracked", "x1", Some(5));
        b.name = "deploy".into();
        let keys = vec![a, b];
        let err = find(&keys, "deploy").unwrap_err();
        assert!(
            err.contains("1 on local") && err.contains("x1 on tracked"),
            "{err}"
        );
        assert_eq!(find(&keys, "x1").unwrap().source, "tracked");
        let mut renewed = keys.clone();
        renewed[0].replaced_by = Some("2".into());
        assert_eq!(find(&renewed, "deploy").unwrap().id, "x1", "the one in use");
        assert!(find(&keys, "nothing").is_err());
    }

    #[test]
    fn reminders_are_about_my_keys_and_the_ones_held_here() {
        let mut key = sample_key("tb", "k", Some(3));
        assert!(
            key.is_mine_or_held(Some("me"), false),
            "no owner: a tracked key"
        );
        key.owner = Some("someone".into());
        assert!(!key.is_mine_or_held(Some("me"), false), "another user's");
        assert!(key.is_mine_or_held(Some("me"), true), "held here");
        assert!(key.is_mine_or_held(None, false), "who I am is not known");
        key.owner = Some("me".into());
        assert!(key.is_mine_or_held(Some("me"), false));
    }

    #[test]
    fn hints_show_the_prefix_and_four_characters() {
        assert_eq!(hint_of("ghp_abcdefghijklmnopqrstuvwxyz"), "ghp_…wxyz");
        assert_eq!(hint_of("glpat-abcdefghijklmnopqrst"), "glpat-…qrst");
        assert_eq!(hint_of("abcdefghijklmnopqrstuvwxyz0123"), "…0123");
        assert_eq!(hint_of("short"), "…");
        // Found: a testo key showed "testo-…7890", a UUID key 48 of its random bits.
        assert_eq!(hint_of("testo-secret-abcdefghij1234567890"), "…7890");
        assert_eq!(hint_of("6f1c2a3b-1234-4abc-9def-0123456789ab"), "…89ab");
        assert_eq!(
            hint_of("kw_tGS25w30Nv1wiQgeMl17Bw9htFWebASz123456"),
            "kw_…3456"
        );
    }
}
