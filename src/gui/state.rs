//! What the app knows and shows: runtime state (not persisted) and the view preferences (persisted).

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::loadable::Loadable;
use crate::api::{AuditEvent, KeyInfo, KeyStatus, MeResponse, MemberInfo, Role};
use crate::client::CopyFormat;
use crate::client::config::Config;
use crate::reminders::{ExpiryClass, Thresholds, key_class};
use crate::secret::Secret;

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

    pub fn matches(self, key: &KeyInfo, now: DateTime<Utc>, thresholds: &Thresholds) -> bool {
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
    pub sort: SortColumn,
    pub ascending: bool,
}

impl Default for ViewPrefs {
    fn default() -> Self {
        ViewPrefs {
            filter: Filter::All,
            sort: SortColumn::Expires,
            ascending: true,
        }
    }
}

pub use crate::reminders::relative_time;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryChoice {
    Days(i64),
    Date,
}

pub const EXPIRY_DAYS: [i64; 6] = [7, 30, 60, 90, 180, 365];

#[derive(Debug, Clone)]
pub struct GenerateDraft {
    pub name: String,
    pub description: String,
    pub expiry: ExpiryChoice,
    /// `YYYY-MM-DD` when `expiry` is `Date`.
    pub date: String,
    /// For admins: the owner; `None` = me.
    pub owner: Option<i64>,
    /// The key may manage keys and accounts like a session (scope `keywarden:manage`).
    pub manage: bool,
    pub error: Option<String>,
}

impl Default for GenerateDraft {
    fn default() -> Self {
        GenerateDraft {
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

    pub fn grace_seconds(self) -> i64 {
        match self {
            Overlap::Now => 0,
            Overlap::Hour => 3600,
            Overlap::Day => 24 * 3600,
            Overlap::Week => 7 * 24 * 3600,
        }
    }
}

/// Renewing (rotating) a key: the new key keeps name, description and scopes.
#[derive(Debug, Clone)]
pub struct RenewDraft {
    pub key: KeyInfo,
    pub expires_in_days: i64,
    pub overlap: Overlap,
}

#[derive(Debug, Clone)]
pub struct EditDraft {
    pub id: i64,
    pub name: String,
    pub description: String,
}

/// A secret shown once: after "Got it" it is dropped from memory.
#[derive(Debug, Clone)]
pub struct SecretShown {
    pub key: KeyInfo,
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
    /// Why sign-in is asked for (session expired, new server).
    pub reason: Option<String>,
    pub error: Option<String>,
}

/// Written out so the password being typed never reaches a debug print.
impl std::fmt::Debug for SignInDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInDraft")
            .field("url", &self.url)
            .field("email", &self.email)
            .field("password", &"***")
            .field("reason", &self.reason)
            .field("error", &self.error)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub enum Dialog {
    Generate(GenerateDraft),
    Secret(SecretShown),
    ConfirmRevoke(KeyInfo),
    ConfirmDelete(KeyInfo),
    Renew(RenewDraft),
    Edit(EditDraft),
    SignIn(SignInDraft),
    Servers,
    Settings(Config),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
}

/// The signed-in session, as far as the UI needs it.
#[derive(Debug, Clone)]
pub struct Connected {
    pub me: MeResponse,
    pub server_url: String,
}

/// Everything the panels draw from.
#[derive(Debug, Default)]
pub struct State {
    /// `local` or the remote server's URL: names the server in keychain accounts.
    pub server: String,
    /// The email of the account on `server` whose keys are shown.
    pub account: String,
    pub connection: Loadable<Connected>,
    pub keys: Loadable<Vec<KeyInfo>>,
    /// Set while `keys` is the list saved at that time (the cache), not the server's answer.
    pub keys_saved_at: Option<DateTime<Utc>>,
    /// Keys whose secret is in this computer's keychain.
    pub held: BTreeSet<i64>,
    /// Set when the keychain is locked or missing.
    pub vault_error: Option<String>,
    pub clipboard_error: Option<String>,
    pub view: ViewPrefs,
    pub search: String,
    pub selected: Option<i64>,
    pub audit: Loadable<Vec<AuditEvent>>,
    pub members: Vec<MemberInfo>,
    pub dialog: Option<Dialog>,
    pub notice: Option<Notice>,
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
    pub fn key(&self, id: i64) -> Option<&KeyInfo> {
        self.keys.value()?.iter().find(|k| k.id == id)
    }

    pub fn selected_key(&self) -> Option<&KeyInfo> {
        self.key(self.selected?)
    }

    pub fn role(&self) -> Option<Role> {
        Some(self.connection.value()?.me.role)
    }

    pub fn is_admin(&self) -> bool {
        self.role() >= Some(Role::Admin)
    }

    pub fn my_user_id(&self) -> Option<i64> {
        Some(self.connection.value()?.me.user.id)
    }

    pub fn can_copy(&self, id: i64) -> Result<(), &'static str> {
        if self.vault_error.is_some() {
            return Err("The keychain is locked or missing, so secrets are unavailable");
        }
        if self.clipboard_error.is_some() {
            return Err("The clipboard is not available");
        }
        if !self.held.contains(&id) {
            return Err("This key's secret is not held in this computer's keychain");
        }
        Ok(())
    }

    pub fn can_change(&self) -> bool {
        self.role() >= Some(Role::Member)
    }

    /// The key the user owns or holds that expires soonest, if one is expiring, and how many are.
    pub fn expiring_soon(&self) -> Option<(&KeyInfo, usize)> {
        let first = self.keys.value()?.get(*self.soon.first()?)?;
        Some((first, self.soon.len()))
    }

    pub fn owner_email(&self, user_id: i64) -> String {
        self.members
            .iter()
            .find(|m| m.user_id == user_id)
            .map_or_else(|| format!("user {user_id}"), |m| m.email.clone())
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

    /// Recomputes the visible rows from keys, filter, search and sort.
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
        let me = self.my_user_id();
        let mut soon: Vec<usize> = (0..keys.len())
            .filter(|&i| {
                let key = &keys[i];
                (Some(key.user_id) == me || self.held.contains(&key.id))
                    && key_class(key, now, &self.config.thresholds)
                        .is_some_and(ExpiryClass::is_soon)
            })
            .collect();
        soon.sort_by_key(|&i| (keys[i].expires_at, keys[i].id));
        self.soon = soon;
        let needle = self.search.trim().to_lowercase();
        let mut rows: Vec<usize> = (0..keys.len())
            .filter(|&i| {
                let key = &keys[i];
                self.view.filter.matches(key, now, &self.config.thresholds)
                    && (needle.is_empty()
                        || key.name.to_lowercase().contains(&needle)
                        || key.description.to_lowercase().contains(&needle))
            })
            .collect();
        let held = &self.held;
        let status = |k: &KeyInfo| k.status_at(now);
        rows.sort_by(|&a, &b| {
            let (a, b) = (&keys[a], &keys[b]);
            let order = match self.view.sort {
                SortColumn::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                SortColumn::Status => status(a).as_str().cmp(status(b).as_str()),
                SortColumn::Expires => a.expires_at.cmp(&b.expires_at),
                SortColumn::Created => a.created_at.cmp(&b.created_at),
                SortColumn::LastUsed => a.last_used_at.cmp(&b.last_used_at),
                SortColumn::Owner => a.user_id.cmp(&b.user_id),
                SortColumn::Held => held.contains(&a.id).cmp(&held.contains(&b.id)),
            };
            let order = order.then(a.id.cmp(&b.id));
            if self.view.ascending {
                order
            } else {
                order.reverse()
            }
        });
        self.visible = rows;
    }
}

/// What a panel asks for; the app applies it in one place.
#[derive(Debug, Clone)]
pub enum Action {
    Refresh,
    Reconnect,
    Select(i64),
    MoveSelection(isize),
    SetFilter(Filter),
    SetSearch(String),
    SetFocusSearch,
    SortBy(SortColumn),
    OpenGenerate,
    Generate(crate::api::CreateKeyRequest),
    Copy(i64, CopyFormat),
    CopyShown(CopyFormat),
    ToggleReveal,
    AskRevoke(i64),
    Revoke(i64),
    SetEnabled(i64, bool),
    OpenEdit(i64),
    SaveEdit(i64, crate::api::UpdateKeyRequest),
    AskDelete(i64),
    Delete(i64),
    AskRenew(i64),
    Renew(i64, crate::api::RotateKeyRequest),
    CloseDialog,
    OpenServers,
    OpenSignIn,
    SignIn {
        url: String,
        email: String,
        password: Secret,
    },
    SwitchServer(String),
    SignOut,
    OpenSettings,
    SaveSettings(Config),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Filters and the expiring banner move with the clock: a minute later the view is computed
    /// again even though nothing marked it dirty, and not before.
    #[test]
    fn the_view_follows_the_clock_once_a_minute() {
        let now = "2026-11-23T12:00:10Z".parse::<DateTime<Utc>>().unwrap();
        // Expiring (within 30 days) from 12:01 on, not at 12:00.
        let key = KeyInfo {
            expires_at: now + chrono::Duration::days(30) + chrono::Duration::seconds(30),
            ..KeyInfo::sample(7, 0, now)
        };
        let mut state = State {
            keys: Loadable::Ready(vec![key]),
            held: BTreeSet::from([7]),
            view_dirty: true,
            ..Default::default()
        };
        state.view.filter = Filter::Expiring;
        state.refresh_view(now);
        assert!(state.visible.is_empty() && state.expiring_soon().is_none());

        state.refresh_view(now + chrono::Duration::seconds(45));
        assert!(state.visible.is_empty(), "not recomputed within the minute");

        state.refresh_view(now + chrono::Duration::seconds(60));
        assert_eq!(state.visible, vec![0]);
        assert_eq!(state.expiring_soon().map(|(k, n)| (k.id, n)), Some((7, 1)));
    }

    #[test]
    fn a_typed_password_never_reaches_debug_output() {
        let draft = SignInDraft {
            password: "hunter2hunter2".into(),
            ..Default::default()
        };
        let state = State {
            dialog: Some(Dialog::SignIn(draft)),
            ..Default::default()
        };
        assert!(!format!("{state:?}").contains("hunter2"));
    }
}
