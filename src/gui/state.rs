//! What the app knows and shows: runtime state (not persisted) and the view preferences (persisted).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::loadable::Loadable;
use crate::api::{AuditEvent, KeyStatus};
use crate::reminders::{ExpiryClass, Thresholds, key_class};
use crate::secret::Secret;
use crate::settings::Config;
use crate::sources::copy::CopyFormat;
use crate::sources::tracked::NewTracked;
use crate::sources::{
    Capabilities, Capability, Edit, KeyRef, NewKey, Renewal, SourceKey, SourceKind,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Filter {
    #[default]
    All,
    Active,
    Expiring,
    Expired,
    Revoked,
    Disabled,
}

impl Filter {
    pub const ALL: [Filter; 6] = [
        Filter::All,
        Filter::Active,
        Filter::Expiring,
        Filter::Expired,
        Filter::Revoked,
        Filter::Disabled,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "All",
            Filter::Active => "Active",
            Filter::Expiring => "Expiring",
            Filter::Expired => "Expired",
            Filter::Revoked => "Revoked",
            Filter::Disabled => "Disabled",
        }
    }

    pub fn matches(self, key: &SourceKey, now: DateTime<Utc>, thresholds: &Thresholds) -> bool {
        let status = key.status_at(now);
        match self {
            Filter::All => true,
            Filter::Active => status == KeyStatus::Active,
            Filter::Expiring => key_class(key, now, thresholds).is_some_and(ExpiryClass::is_soon),
            Filter::Expired => status == KeyStatus::Expired,
            Filter::Revoked => status == KeyStatus::Revoked,
            Filter::Disabled => status == KeyStatus::Disabled,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortColumn {
    Name,
    Source,
    Status,
    #[default]
    Expires,
    Created,
    LastUsed,
    Owner,
    Held,
}

/// Persisted across restarts (with the window's size and position, which eframe keeps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewPrefs {
    pub filter: Filter,
    /// Only the keys of this account; `None` shows every account's.
    pub source: Option<String>,
    pub sort: SortColumn,
    pub ascending: bool,
}

impl Default for ViewPrefs {
    fn default() -> Self {
        ViewPrefs {
            filter: Filter::All,
            source: None,
            sort: SortColumn::Expires,
            ascending: true,
        }
    }
}

pub use crate::reminders::relative_time;

pub use super::drafts::*;

#[derive(Debug, Clone)]
pub enum Dialog {
    Generate(GenerateDraft),
    Add(AddDraft),
    Secret(SecretShown),
    ConfirmRevoke(SourceKey),
    ConfirmDelete(SourceKey),
    Renew(RenewDraft),
    Edit(EditDraft),
    SignIn(SignInDraft),
    Servers,
    Settings(Config),
    Transfer(TransferDraft),
    Import(ImportDraft),
    Projects(ProjectsDraft),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
}

/// An account's connection, as the app shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Connecting,
    Connected,
    /// Its session ended: sign in again (the reason says why).
    NeedsSignIn(String),
    Failed(String),
}

/// One account keys come from: the local server, a remote Keywarden or ThingsBoard account, or
/// the tracked keys.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub name: String,
    pub kind: SourceKind,
    pub url: Option<String>,
    /// Who is signed in (an email; empty for tracked keys).
    pub who: String,
    /// The role or authority on the account (`owner`, `member`, `TENANT_ADMIN`, …).
    pub role: String,
    /// Keywarden administrators see their workspace's keys, with owners.
    pub admin: bool,
    pub user_id: Option<String>,
    pub capabilities: Capabilities,
    pub connection: Connection,
    /// The account's keys: the source's answer, or the list saved last time (`saved_at`).
    pub keys: Option<Vec<SourceKey>>,
    pub saved_at: Option<DateTime<Utc>>,
    /// Why the last listing failed.
    pub error: Option<String>,
}

impl AccountView {
    pub fn new(name: &str, kind: SourceKind, url: Option<String>, who: &str) -> AccountView {
        AccountView {
            name: name.to_string(),
            kind,
            url,
            who: who.to_string(),
            role: String::new(),
            admin: false,
            user_id: None,
            capabilities: Capabilities::default(),
            connection: Connection::Connecting,
            keys: None,
            saved_at: None,
            error: None,
        }
    }

    /// How the account is named in the table, the status bar and notifications.
    pub fn label(&self) -> String {
        crate::sources::accounts::label(&self.name)
    }

    /// Where its last key list is kept for the next start; `None`: its keys are on this computer.
    pub fn cache_key(&self) -> Option<String> {
        crate::sources::accounts::cache_key(self.kind, &self.name)
    }

    pub fn is_connected(&self) -> bool {
        self.connection == Connection::Connected
    }
}

/// What the last test of a key found.
#[derive(Debug, Clone, PartialEq)]
pub struct Tested {
    pub ok: bool,
    pub text: String,
}

/// Everything the panels draw from.
#[derive(Debug, Default)]
pub struct State {
    /// Every account, in the order of `servers`: local, the remote ones, tracked.
    pub accounts: Vec<AccountView>,
    /// Every account's keys in one list, rebuilt when one of them changes.
    pub keys: Loadable<Vec<SourceKey>>,
    /// Keys whose secret is in this computer's keychain.
    pub held: BTreeSet<KeyRef>,
    /// Set when the keychain is locked or missing.
    pub vault_error: Option<String>,
    pub clipboard_error: Option<String>,
    pub view: ViewPrefs,
    pub search: String,
    pub selected: Option<KeyRef>,
    pub audit: Loadable<Vec<AuditEvent>>,
    /// For each account an administrator's: its users, as (id, email), for owners' emails and
    /// keys made for others.
    pub owners: BTreeMap<String, Vec<(String, String)>>,
    pub tests: BTreeMap<KeyRef, Tested>,
    pub dialog: Option<Dialog>,
    pub notice: Option<Notice>,
    /// Keys live only here and no backup was made in 30 days (or ever): said once, in a banner.
    pub backup_due: Option<String>,
    /// Whether the desktop has a file chooser (asked when a dialog with a path first opens).
    pub file_chooser: Option<bool>,
    pub clipboard_clears_at: Option<Instant>,
    pub config: Config,
    /// Indices into `keys` of the rows shown, in order; recomputed when `view_dirty`, and each
    /// minute, since filters and expiry classes move with the clock.
    pub visible: Vec<usize>,
    /// Indices into `keys` of the keys the user owns or holds that expire soon, soonest first.
    pub soon: Vec<usize>,
    pub view_dirty: bool,
    /// When `visible` and `soon` were computed.
    pub view_at: Option<DateTime<Utc>>,
    /// Set when the keyboard moved the selection: the table scrolls it into view this frame.
    pub scroll_to_selected: bool,
    pub focus_search: bool,
}

impl State {
    pub fn key(&self, key: &KeyRef) -> Option<&SourceKey> {
        self.keys.value()?.iter().find(|k| k.key_ref() == *key)
    }

    pub fn selected_key(&self) -> Option<&SourceKey> {
        self.key(self.selected.as_ref()?)
    }

    pub fn account(&self, name: &str) -> Option<&AccountView> {
        self.accounts.iter().find(|a| a.name == name)
    }

    pub fn account_mut(&mut self, name: &str) -> Option<&mut AccountView> {
        self.accounts.iter_mut().find(|a| a.name == name)
    }

    /// The account new keys are made on and the status bar names.
    pub fn current_account(&self) -> Option<&AccountView> {
        self.account(&self.config.current_server)
    }

    /// Whether the current account is an administrator's (the Owner column).
    pub fn is_admin(&self) -> bool {
        self.current_account().is_some_and(|a| a.admin)
    }

    /// Accounts that can make keys now.
    pub fn generating_accounts(&self) -> Vec<&AccountView> {
        self.accounts
            .iter()
            .filter(|a| a.is_connected() && a.capabilities.generate)
            .collect()
    }

    /// Whether `key`'s account can do `capability` now, or why not.
    pub fn can(&self, key: &SourceKey, capability: Capability) -> Result<(), String> {
        let Some(account) = self.account(&key.source) else {
            return Err(format!("The account {} is gone", key.source));
        };
        if let Some(why) = account.capabilities.why_not(account.kind, capability) {
            return Err(match account.connection {
                Connection::Connected => capitalised(&why),
                _ => format!("{} is not connected", account.label()),
            });
        }
        if !account.is_connected() {
            return Err(format!("{} is not connected", account.label()));
        }
        Ok(())
    }

    pub fn can_copy(&self, key: &KeyRef) -> Result<(), &'static str> {
        if self.vault_error.is_some() {
            return Err("The keychain is locked or missing, so secrets are unavailable");
        }
        if self.clipboard_error.is_some() {
            return Err("The clipboard is not available");
        }
        if !self.held.contains(key) {
            return Err("This key's secret is not held in this computer's keychain");
        }
        Ok(())
    }

    /// The key the user owns or holds that expires soonest, if one is expiring, and how many are.
    pub fn expiring_soon(&self) -> Option<(&SourceKey, usize)> {
        let first = self.keys.value()?.get(*self.soon.first()?)?;
        Some((first, self.soon.len()))
    }

    /// The user's own keys and those held here: what reminders and the banner are about.
    pub fn is_mine_or_held(&self, key: &SourceKey) -> bool {
        let me = self.account(&key.source).and_then(|a| a.user_id.as_deref());
        key.is_mine_or_held(me, self.held.contains(&key.key_ref()))
    }

    /// An owner's email where the account's users are known, else the id.
    pub fn owner_label(&self, key: &SourceKey) -> String {
        let Some(owner) = &key.owner else {
            return "—".to_string();
        };
        if let Some(account) = self.account(&key.source)
            && account.user_id.as_ref() == Some(owner)
        {
            return account.who.clone();
        }
        self.owner_email(&key.source, owner)
            .unwrap_or_else(|| format!("user {owner}"))
    }

    /// The email of user `id` of `account`, where the account's users are known.
    pub fn owner_email(&self, account: &str, id: &str) -> Option<String> {
        self.owners
            .get(account)?
            .iter()
            .find(|(user, _)| user == id)
            .map(|(_, email)| email.clone())
    }

    pub fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            is_error: false,
        });
    }

    pub fn fail(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            text: text.into(),
            is_error: true,
        });
    }

    /// Rebuilds the one list from the accounts' lists (after one of them changed).
    pub fn rebuild_keys(&mut self) {
        let any = self.accounts.iter().any(|a| a.keys.is_some());
        let keys: Vec<SourceKey> = self
            .accounts
            .iter()
            .filter_map(|a| a.keys.as_ref())
            .flatten()
            .cloned()
            .collect();
        if any {
            let loading = self.keys.is_loading();
            self.keys = Loadable::Ready(keys);
            if loading
                && self
                    .accounts
                    .iter()
                    .any(|a| a.connection == Connection::Connecting)
            {
                self.keys.start();
            }
        }
        if let Some(selected) = &self.selected
            && self.key(selected).is_none()
        {
            self.selected = None;
        }
        self.view_dirty = true;
    }

    /// Recomputes the rows shown and the expiring keys when something changed or a minute passed.
    pub fn refresh_view(&mut self, now: DateTime<Utc>) {
        let minute = |at: DateTime<Utc>| at.timestamp().div_euclid(60);
        if !self.view_dirty && self.view_at.is_some_and(|at| minute(at) == minute(now)) {
            return;
        }
        self.view_dirty = false;
        self.view_at = Some(now);
        let Some(keys) = self.keys.value() else {
            self.visible.clear();
            self.soon.clear();
            return;
        };
        let mut soon: Vec<usize> = (0..keys.len())
            .filter(|&i| {
                let key = &keys[i];
                self.is_mine_or_held(key)
                    && key_class(key, now, &self.config.thresholds)
                        .is_some_and(ExpiryClass::is_soon)
            })
            .collect();
        soon.sort_by(|&a, &b| {
            (keys[a].expires_at, &keys[a].id).cmp(&(keys[b].expires_at, &keys[b].id))
        });
        self.soon = soon;
        let needle = self.search.trim().to_lowercase();
        let mut rows: Vec<usize> = (0..keys.len())
            .filter(|&i| {
                let key = &keys[i];
                self.view.filter.matches(key, now, &self.config.thresholds)
                    && self.view.source.as_ref().is_none_or(|s| *s == key.source)
                    && (needle.is_empty()
                        || key.name.to_lowercase().contains(&needle)
                        || key.description.to_lowercase().contains(&needle))
            })
            .collect();
        let held = &self.held;
        let status = |k: &SourceKey| k.status_at(now);
        // Keys that never expire sort after every date.
        let expiry = |k: &SourceKey| (k.expires_at.is_none(), k.expires_at);
        rows.sort_by(|&a, &b| {
            let (a, b) = (&keys[a], &keys[b]);
            let order = match self.view.sort {
                SortColumn::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                SortColumn::Source => a.source.cmp(&b.source),
                SortColumn::Status => status(a).as_str().cmp(status(b).as_str()),
                SortColumn::Expires => expiry(a).cmp(&expiry(b)),
                SortColumn::Created => a.created_at.cmp(&b.created_at),
                SortColumn::LastUsed => a.last_used_at.cmp(&b.last_used_at),
                SortColumn::Owner => a.owner.cmp(&b.owner),
                SortColumn::Held => held
                    .contains(&a.key_ref())
                    .cmp(&held.contains(&b.key_ref())),
            };
            let order = order.then_with(|| (&a.source, &a.id).cmp(&(&b.source, &b.id)));
            if self.view.ascending {
                order
            } else {
                order.reverse()
            }
        });
        self.visible = rows;
    }
}

pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a panel asks for; the app applies it in one place.
#[derive(Debug, Clone)]
pub enum Action {
    Refresh,
    Reconnect,
    Select(KeyRef),
    MoveSelection(isize),
    SetFilter(Filter),
    SetSource(Option<String>),
    SetSearch(String),
    SetFocusSearch,
    SortBy(SortColumn),
    OpenGenerate,
    Generate(String, NewKey),
    OpenAdd,
    /// Puts the clipboard's text into the add dialog's key field.
    PasteKey,
    Add(NewTracked, Secret),
    Copy(KeyRef, CopyFormat),
    /// The key's `kw://ACCOUNT/KEY` reference (no secret) onto the clipboard.
    CopyReference(KeyRef),
    CopyShown(CopyFormat),
    ToggleReveal,
    Test(KeyRef),
    OpenKeyPage(KeyRef),
    AskRevoke(KeyRef),
    Revoke(KeyRef),
    SetEnabled(KeyRef, bool),
    OpenEdit(KeyRef),
    SaveEdit(KeyRef, Edit),
    AskDelete(KeyRef),
    Delete(KeyRef),
    AskRenew(KeyRef),
    Renew(KeyRef, Renewal),
    CloseDialog,
    OpenServers,
    OpenSignIn,
    SignIn {
        url: String,
        email: String,
        password: Secret,
        kind: SourceKind,
        name: Option<String>,
        allow_http: bool,
    },
    /// Open the backup (`false`) or restore (`true`) dialog.
    OpenTransfer(bool),
    /// Back up to, or restore from, `path`.
    Transfer {
        path: std::path::PathBuf,
        passphrase: Secret,
        restore: bool,
        dry_run: bool,
    },
    /// Open the import dialog.
    OpenImport,
    /// Import the keys of the file at `path`.
    Import(Box<ImportRequest>),
    /// Open Settings → Projects: the files allowed to have keys here.
    OpenProjects,
    /// Take back the consent given to this file.
    RevokeConsent(std::path::PathBuf),
    /// Fill a path field from the desktop's file chooser.
    ChooseFile(PathField),
    /// Not now: the backup reminder is not shown again until the next start.
    DismissBackupReminder,
    /// Renew the key on its own within so many days of its expiry, or (`None`) not.
    SetAutoRenew(KeyRef, Option<i64>),
    /// The second step of a sign-in: send a code by the chosen provider.
    SendCode,
    /// The second step of a sign-in: check the code typed.
    FinishSignIn(Secret),
    SwitchServer(String),
    SignOut(String),
    OpenSettings,
    SaveSettings(Config),
}

/// What to import, from the import dialog.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub path: std::path::PathBuf,
    pub format: Option<crate::transfer::import::Format>,
    pub options: crate::transfer::import::Options,
    /// The KeePassXC database's key file, read in the background.
    pub key_file: Option<std::path::PathBuf>,
    pub dry_run: bool,
    pub rewrite: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account_with(keys: Vec<SourceKey>) -> AccountView {
        let mut account = AccountView::new("tracked", Default::default(), None, "");
        account.connection = Connection::Connected;
        account.keys = Some(keys);
        account
    }

    /// Filters and the expiring banner move with the clock: a minute later the view is computed
    /// again even though nothing marked it dirty, and not before.
    #[test]
    fn the_view_follows_the_clock_once_a_minute() {
        let now = "2026-11-23T12:00:10Z".parse::<DateTime<Utc>>().unwrap();
        // Expiring (within 30 days) from 12:01 on, not at 12:00.
        let mut key = crate::sources::sample_key("tracked", "7", None);
        key.expires_at = Some(now + chrono::Duration::days(30) + chrono::Duration::seconds(30));
        let mut state = State {
            accounts: vec![account_with(vec![key.clone()])],
            held: BTreeSet::from([key.key_ref()]),
            ..Default::default()
        };
        state.rebuild_keys();
        state.view.filter = Filter::Expiring;
        state.refresh_view(now);
        assert!(state.visible.is_empty() && state.expiring_soon().is_none());

        state.refresh_view(now + chrono::Duration::seconds(45));
        assert!(state.visible.is_empty(), "not recomputed within the minute");

        state.refresh_view(now + chrono::Duration::seconds(60));
        assert_eq!(state.visible, vec![0]);
        assert_eq!(
            state.expiring_soon().map(|(k, n)| (k.id.clone(), n)),
            Some(("7".to_string(), 1))
        );
    }

    #[test]
    fn the_source_filter_and_never_expiring_keys() {
        let now = Utc::now();
        let never = crate::sources::sample_key("tracked", "n", None);
        let soon = crate::sources::sample_key("tracked", "s", Some(3));
        let other = crate::sources::sample_key("tb", "t", Some(100));
        let mut tb = AccountView::new("tb", Default::default(), Some("http://tb".into()), "a@b");
        tb.keys = Some(vec![other]);
        let mut state = State {
            accounts: vec![account_with(vec![never, soon]), tb],
            ..Default::default()
        };
        state.rebuild_keys();
        state.refresh_view(now);
        let ids = |state: &State| -> Vec<String> {
            let keys = state.keys.value().unwrap();
            state.visible.iter().map(|&i| keys[i].id.clone()).collect()
        };
        assert_eq!(ids(&state), ["s", "t", "n"], "never sorts last");
        assert_eq!(
            state.soon.len(),
            1,
            "a key that never expires is never expiring"
        );
        state.view.source = Some("tb".into());
        state.view_dirty = true;
        state.refresh_view(now);
        assert_eq!(ids(&state), ["t"]);
    }

    #[test]
    fn a_typed_password_never_reaches_debug_output() {
        let draft = SignInDraft {
            password: "hunter2hunter2".into(),
            ..Default::default()
        };
        let add = AddDraft {
            secret: "ghp_pastedsecretvalue".into(),
            ..Default::default()
        };
        let state = State {
            dialog: Some(Dialog::SignIn(draft)),
            ..Default::default()
        };
        assert!(!format!("{state:?}").contains("hunter2"));
        assert!(!format!("{add:?}").contains("pastedsecret"));
    }
}
