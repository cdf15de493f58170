//! Results of background work, folded into the state at the start of each frame.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::KeywardenApp;
use crate::api::AuditEvent;
use crate::gui::state::{Connection, Dialog, SecretShown, SignInDraft, Tested};
use crate::secret::Secret;
use crate::settings::ServerEntry;
pub use crate::sources::accounts::Opened;
use crate::sources::keeper::Kept;
use crate::sources::list_cache::CachedList;
use crate::sources::services::TestOutcome;
use crate::sources::{Created, KeyRef, Renewed, SourceError, SourceKey, TRACKED};
use crate::vault::VaultError;

/// A sign-in from the dialog: where, as whom, under which name.
pub struct SignedIn {
    pub entry: ServerEntry,
    pub opened: Opened,
}

pub enum Msg {
    Opened {
        name: String,
        result: Result<Opened, SourceError>,
    },
    /// A sign-in done, or the dialog again: with the reason, or at its code step.
    SignedIn(Result<SignedIn, Box<SignInDraft>>),
    /// Whether a key renews on its own, for the renew dialog.
    AutoRenewSetting(KeyRef, Option<i64>),
    /// Automatic renewal turned on (within so many days) or off, or why not.
    AutoRenewSet(KeyRef, Result<Option<i64>, String>),
    /// Keys renewed on their own after a listing.
    AutoRenewed(Vec<crate::sources::renewals::AutoRenewed>),
    /// What a backup or restore did, a line each (and the config a restore wrote), or why not.
    Transferred(Result<(Vec<String>, Option<crate::settings::Config>), String>),
    /// The files allowed to have keys here (after revoking one, when asked).
    Projects(Result<Vec<crate::project::Consent>, String>),
    /// Whether the desktop has a file chooser.
    FileChooser(bool),
    /// The file chosen for a path field; `None`: the user cancelled.
    FileChosen(
        crate::gui::state::PathField,
        Result<Option<std::path::PathBuf>, String>,
    ),
    /// What an import did (lines to show), and whether it stored anything.
    Imported(Result<(Vec<String>, bool), String>),
    /// Whether a backup is due (keys live only here and none was made in 30 days).
    BackupDue(Option<String>),
    /// What sending a second factor's code did, for the dialog.
    CodeSent(String),
    Listed {
        name: String,
        result: Result<(Vec<SourceKey>, Kept), SourceError>,
    },
    /// The watcher saw an account's list change elsewhere.
    Changed(String),
    Cached {
        name: String,
        list: Option<CachedList<SourceKey>>,
    },
    /// What signing out could not do (the session left the keychain all the same).
    SignedOut(Result<Vec<String>, SourceError>),
    Held(Result<BTreeSet<KeyRef>, VaultError>),
    Owners(String, Result<Vec<(String, String)>, SourceError>),
    Audit(KeyRef, Result<Vec<AuditEvent>, SourceError>),
    Created(Box<Result<(Created, Kept), SourceError>>),
    Added(Result<SourceKey, SourceError>),
    Renewed(Box<Result<(Renewed, Kept, bool), SourceError>>),
    KeyChanged(Result<(SourceKey, Kept), SourceError>, &'static str),
    Deleted(KeyRef, Result<Kept, SourceError>),
    Tested(KeyRef, TestOutcome, Option<SourceKey>),
    Pasted(Result<Option<Secret>, String>),
    Copied(Result<Option<Duration>, String>),
    Notified(Result<usize, String>),
    /// Background work with nothing to report.
    Idle,
    ConfigSaved(Result<(), String>),
}

impl KeywardenApp {
    /// Folds finished background work into the state.
    pub(super) fn receive(&mut self) {
        for message in self.bridge.drain() {
            self.handle(message);
        }
    }

    fn handle(&mut self, message: Msg) {
        match message {
            Msg::Opened { name, result } => self.opened(&name, result),
            Msg::SignedIn(result) => match result {
                Ok(signed_in) => {
                    let name = signed_in.entry.name().to_string();
                    let state = &mut self.state;
                    state.config.use_server(signed_in.entry.clone());
                    if let Some(account) = state.account_mut(&name)
                        && account.who != signed_in.entry.email
                    {
                        // Another user of the same account: nothing of the previous view stays.
                        account.keys = None;
                        account.saved_at = None;
                        account.who = signed_in.entry.email.clone();
                        if state.selected.as_ref().is_some_and(|k| k.source == name) {
                            state.selected = None;
                            state.audit = Default::default();
                        }
                        state.tests.retain(|k, _| k.source != name);
                        state.owners.remove(&name);
                        state.rebuild_keys();
                    }
                    if state.account(&name).is_none() {
                        let tracked_at = state
                            .accounts
                            .iter()
                            .position(|a| a.name == TRACKED)
                            .unwrap_or(state.accounts.len());
                        state.accounts.insert(
                            tracked_at,
                            crate::gui::state::AccountView::new(
                                &name,
                                signed_in.entry.kind,
                                Some(signed_in.entry.url.clone()),
                                &signed_in.entry.email,
                            ),
                        );
                    }
                    if matches!(state.dialog, Some(Dialog::SignIn(_))) {
                        state.dialog = None;
                    }
                    self.save_config();
                    self.opened(&name, Ok(signed_in.opened));
                }
                Err(draft) => self.state.dialog = Some(Dialog::SignIn(*draft)),
            },
            Msg::Listed { name, result } => self.listed(&name, result),
            Msg::Changed(name) => self.list_account(&name),
            Msg::Cached { name, list } => {
                let Some(list) = list else {
                    return;
                };
                let Some(account) = self.state.account_mut(&name) else {
                    return;
                };
                if account.keys.is_none() {
                    account.keys = Some(list.keys);
                    account.saved_at = Some(list.saved_at);
                    self.state.rebuild_keys();
                }
            }
            Msg::Held(result) => {
                let first = !self.backup_checked && result.as_ref().is_ok_and(|h| !h.is_empty());
                let state = &mut self.state;
                match result {
                    Ok(held) => {
                        state.held = held;
                        state.vault_error = None;
                    }
                    Err(err) => state.vault_error = Some(err.to_string()),
                }
                state.view_dirty = true;
                // Once a start: is a backup due for the keys that live only here?
                if first {
                    self.backup_checked = true;
                    self.check_backup_due();
                }
            }
            Msg::Owners(account, Ok(users)) => {
                self.state.owners.insert(account, users);
                self.state.view_dirty = true;
            }
            // Shown as the error it is, not as an empty list of members.
            Msg::Owners(account, Err(err)) => self.state.fail(format!(
                "The members of {} could not be loaded: {err}",
                crate::sources::accounts::label(&account)
            )),
            Msg::Audit(key, result) => {
                if self.state.selected.as_ref() == Some(&key) {
                    self.state.audit.finish(result);
                }
            }
            Msg::Created(result) => match *result {
                Ok((created, kept)) => {
                    let key = created.key.key_ref();
                    self.report(&kept);
                    self.show_secret(created.key, created.secret, &kept);
                    self.select(key);
                }
                Err(err) => {
                    if let Some(Dialog::Generate(draft)) = &mut self.state.dialog {
                        draft.error = Some(err.to_string());
                    }
                    self.source_error(err);
                }
            },
            Msg::Added(result) => match result {
                Ok(key) => {
                    let key_ref = key.key_ref();
                    let name = key.name.clone();
                    self.put_key(key);
                    self.state.held.insert(key_ref.clone());
                    self.state.dialog = None;
                    self.state.notify(format!("\"{name}\" added"));
                    self.select(key_ref);
                }
                Err(err) => match &mut self.state.dialog {
                    Some(Dialog::Add(draft)) => draft.error = Some(err.to_string()),
                    _ => self.state.fail(err.to_string()),
                },
            },
            Msg::Renewed(result) => match *result {
                Ok((renewed, kept, pasted)) => {
                    let key = renewed.key.key_ref();
                    let name = renewed.key.name.clone();
                    self.report(&kept);
                    self.put_key(renewed.old);
                    if pasted {
                        self.put_key(renewed.key);
                        self.state.held.insert(key.clone());
                        self.state.notify(format!(
                            "\"{name}\" renewed; forget the old key once it is retired on its \
                             service"
                        ));
                    } else {
                        self.show_secret(renewed.key, renewed.secret, &kept);
                        self.state.notify(format!("\"{name}\" renewed"));
                    }
                    self.list_account(&key.source);
                    self.select(key);
                }
                Err(err) => match &mut self.state.dialog {
                    Some(Dialog::Renew(draft)) => draft.error = Some(err.to_string()),
                    _ => self.source_error(err),
                },
            },
            Msg::KeyChanged(result, done) => match result {
                Ok((key, kept)) => {
                    self.report(&kept);
                    let key_ref = key.key_ref();
                    self.state.notify(format!("\"{}\" {done}", key.name));
                    if kept.removed.iter().any(|(_, r)| r.is_ok()) {
                        self.state.held.remove(&key_ref);
                    }
                    self.put_key(key);
                    if self.state.selected.as_ref() == Some(&key_ref) {
                        self.select(key_ref);
                    }
                }
                Err(err) => self.source_error(err),
            },
            Msg::Deleted(key, result) => match result {
                Ok(kept) => {
                    self.report(&kept);
                    let state = &mut self.state;
                    state.held.remove(&key);
                    if let Some(account) = state.account_mut(&key.source)
                        && let Some(keys) = &mut account.keys
                    {
                        keys.retain(|k| k.id != key.id);
                    }
                    state.rebuild_keys();
                    self.save_cached_list(&key.source);
                    self.state.notify("Key deleted");
                }
                Err(err) => self.source_error(err),
            },
            Msg::Tested(key, outcome, updated) => {
                let tested = match outcome {
                    TestOutcome::Accepted { .. } => Tested {
                        ok: true,
                        text: "Accepted by the service".to_string(),
                    },
                    TestOutcome::Refused { status, message } => Tested {
                        ok: false,
                        text: format!("Refused (HTTP {status}): {message}"),
                    },
                    TestOutcome::Unreachable(why) => Tested {
                        ok: false,
                        text: format!("Could not test: {why}"),
                    },
                };
                self.state.tests.insert(key, tested);
                if let Some(updated) = updated {
                    self.put_key(updated);
                }
            }
            Msg::Pasted(result) => match result {
                Ok(Some(text)) => {
                    if let Some(Dialog::Add(draft)) = &mut self.state.dialog {
                        draft.secret = text.expose().trim().to_string();
                    }
                }
                Ok(None) => self.state.fail("The clipboard holds no text"),
                Err(err) => self.state.fail(err),
            },
            Msg::Idle => {}
            Msg::AutoRenewSetting(key, within) => {
                if let Some(Dialog::Renew(draft)) = &mut self.state.dialog
                    && draft.key.key_ref() == key
                {
                    draft.auto = within;
                }
            }
            Msg::AutoRenewSet(key, result) => match result {
                Ok(within) => {
                    if let Some(Dialog::Renew(draft)) = &mut self.state.dialog
                        && draft.key.key_ref() == key
                    {
                        draft.auto = within;
                    }
                    let name = self
                        .state
                        .key(&key)
                        .map(|k| k.name.clone())
                        .unwrap_or_default();
                    self.state.notify(match within {
                        Some(days) => format!(
                            "\"{name}\" renews on its own once it expires within {days} days"
                        ),
                        None => format!("\"{name}\" no longer renews on its own"),
                    });
                }
                Err(err) => self.state.fail(err),
            },
            Msg::AutoRenewed(done) => {
                for item in done {
                    let (summary, body) = item.notice();
                    match item.result {
                        Ok((renewed, kept)) => {
                            self.report(&kept);
                            if kept.stored() {
                                self.state.held.insert(renewed.key.key_ref());
                            }
                            self.state.held.remove(&renewed.old.key_ref());
                            self.put_key(renewed.old);
                            self.put_key(renewed.key);
                            self.state.notify(summary);
                        }
                        Err(_) => self.state.fail(format!("{summary}: {body}")),
                    }
                }
            }
            Msg::BackupDue(reminder) => self.state.backup_due = reminder,
            Msg::Transferred(result) => {
                let Some(Dialog::Transfer(draft)) = &mut self.state.dialog else {
                    return;
                };
                match result {
                    Ok((lines, config)) => {
                        draft.result = lines;
                        draft.error = None;
                        if !draft.restore {
                            self.state.backup_due = None;
                        }
                        if let Some(config) = config {
                            // Accounts came back (signed out): they show, asking to sign in.
                            self.state.config.servers = config.servers;
                            self.connect_all();
                        }
                    }
                    Err(err) => draft.error = Some(err),
                }
            }
            Msg::FileChooser(available) => self.state.file_chooser = Some(available),
            Msg::Projects(result) => {
                if let Some(Dialog::Projects(draft)) = &mut self.state.dialog {
                    match result {
                        Ok(consents) => {
                            draft.consents = Some(consents);
                            draft.error = None;
                        }
                        Err(err) => draft.error = Some(err),
                    }
                }
            }
            Msg::FileChosen(field, result) => {
                use crate::gui::state::PathField;
                let chosen = match result {
                    Ok(Some(path)) => path.display().to_string(),
                    Ok(None) => return,
                    Err(err) => return self.state.fail(err),
                };
                match (&mut self.state.dialog, field) {
                    (Some(Dialog::Transfer(draft)), PathField::Transfer) => draft.path = chosen,
                    (Some(Dialog::Import(draft)), PathField::Import) => draft.path = chosen,
                    (Some(Dialog::Import(draft)), PathField::KeyFile) => draft.key_file = chosen,
                    // The dialog was closed meanwhile.
                    _ => {}
                }
            }
            Msg::Imported(result) => {
                if let Ok((_, true)) = &result {
                    self.refresh();
                    self.load_held();
                }
                let Some(Dialog::Import(draft)) = &mut self.state.dialog else {
                    return;
                };
                match result {
                    Ok((lines, _)) => {
                        draft.result = lines;
                        draft.error = None;
                    }
                    Err(err) => draft.error = Some(err),
                }
            }
            Msg::CodeSent(notice) => {
                if let Some(Dialog::SignIn(draft)) = &mut self.state.dialog
                    && let Some(second) = &mut draft.second
                {
                    second.notice = Some(notice);
                }
            }
            Msg::SignedOut(result) => match result {
                Ok(warnings) if warnings.is_empty() => self.state.notify("Signed out"),
                Ok(warnings) => self
                    .state
                    .fail(format!("Signed out here; {}", warnings.join("; "))),
                Err(err) => self.state.fail(format!("Signing out failed: {err}")),
            },
            Msg::Notified(result) => match result {
                Ok(0) => {}
                Ok(shown) => self
                    .state
                    .notify(format!("{shown} expiry reminder(s) sent")),
                Err(err) => self.state.fail(err),
            },
            Msg::Copied(result) => match result {
                Ok(clear_after) => {
                    self.state.clipboard_clears_at =
                        clear_after.map(|after| Instant::now() + after);
                    self.state.notify("Copied to the clipboard");
                }
                Err(err) => self.state.fail(err),
            },
            Msg::ConfigSaved(result) => {
                if let Err(err) = result {
                    self.state.fail(err);
                }
            }
        }
    }

    fn opened(&mut self, name: &str, result: Result<Opened, SourceError>) {
        let is_current = self.state.config.current_server == name;
        match result {
            Ok(opened) => {
                let source = opened.source.clone();
                let admin = source.is_admin();
                if let Some(account) = self.state.account_mut(name) {
                    account.connection = Connection::Connected;
                    account.who = source.who();
                    account.role = source.role();
                    account.admin = admin;
                    account.user_id = source.user_id();
                    account.capabilities = source.capabilities();
                }
                if let Some(warning) = opened.warning {
                    self.state.fail(warning);
                }
                if admin {
                    let (source, account) = (source.clone(), name.to_string());
                    self.bridge
                        .spawn(async move { Msg::Owners(account, source.users().await) });
                }
                self.watched
                    .sources
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.to_string(), source);
                self.state.view_dirty = true;
                self.list_account(name);
            }
            Err(err) => {
                let needs_sign_in = err.needs_sign_in();
                let reason = match &err {
                    SourceError::NeedsSignIn { reason, .. } => reason.clone(),
                    other => other.to_string(),
                };
                let Some(account) = self.state.account_mut(name) else {
                    return;
                };
                let (url, who) = (account.url.clone(), account.who.clone());
                account.connection = if needs_sign_in {
                    Connection::NeedsSignIn(reason.clone())
                } else {
                    Connection::Failed(reason)
                };
                if needs_sign_in && is_current && self.state.dialog.is_none() {
                    self.state.dialog = Some(Dialog::SignIn(self.sign_in_draft(
                        name,
                        url.unwrap_or_default(),
                        who,
                        &err,
                    )));
                }
                self.state.rebuild_keys();
            }
        }
    }

    /// A sign-in dialog for an account whose session ended.
    pub(super) fn sign_in_draft(
        &self,
        name: &str,
        url: String,
        email: String,
        err: &SourceError,
    ) -> SignInDraft {
        let reason = match err {
            SourceError::NeedsSignIn { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        let entry = self.state.config.entry(name);
        SignInDraft {
            url,
            email,
            kind: entry.map(|e| e.kind).unwrap_or_default(),
            name: entry.and_then(|e| e.name.clone()).unwrap_or_default(),
            allow_http: entry.is_some_and(|e| e.allow_http),
            reason: Some(format!("{reason}. Sign in again.")),
            ..Default::default()
        }
    }

    fn listed(&mut self, name: &str, result: Result<(Vec<SourceKey>, Kept), SourceError>) {
        match result {
            Ok((keys, kept)) => {
                self.report(&kept);
                if let Some(account) = self.state.account_mut(name) {
                    account.keys = Some(keys);
                    account.saved_at = None;
                    account.error = None;
                }
                self.state.rebuild_keys();
                self.save_cached_list(name);
                self.load_held();
                self.auto_renew(name);
                self.send_reminders(name);
            }
            Err(err) if err.needs_sign_in() => self.opened(name, Err(err)),
            Err(err) => {
                if let Some(account) = self.state.account_mut(name) {
                    account.error = Some(err.to_string());
                }
                self.state.rebuild_keys();
            }
        }
    }

    /// Puts a changed or new key into its account's list.
    pub(super) fn put_key(&mut self, key: SourceKey) {
        let source = key.source.clone();
        if let Some(account) = self.state.account_mut(&source) {
            let keys = account.keys.get_or_insert_with(Vec::new);
            match keys.iter_mut().find(|k| k.id == key.id) {
                Some(existing) => *existing = key,
                None => keys.push(key),
            }
        }
        self.state.rebuild_keys();
        self.save_cached_list(&source);
    }

    fn show_secret(&mut self, key: SourceKey, secret: Secret, kept: &Kept) {
        let stored = kept.stored();
        if stored {
            self.state.held.insert(key.key_ref());
        }
        let store_error = kept.store_error().map(ToString::to_string);
        self.put_key(key.clone());
        self.state.dialog = Some(Dialog::Secret(SecretShown {
            key,
            secret,
            revealed: false,
            store_error,
            stored,
        }));
    }

    /// Keychain steps that failed, said in the status bar (never ignored).
    fn report(&mut self, kept: &Kept) {
        let problems = kept.problems();
        if !problems.is_empty() {
            self.state.fail(problems.join("; "));
        }
    }

    /// Turns a source's error into what the user sees: a session that ended asks to sign in again
    /// (the window keeps its state), anything else is a sentence in the status bar.
    pub(super) fn source_error(&mut self, err: SourceError) {
        if let SourceError::NeedsSignIn { account, .. } = &err {
            let account = account.clone();
            if account == crate::settings::LOCAL_SERVER {
                self.connect(&account);
            } else {
                self.opened(&account, Err(err));
                if self.state.dialog.is_none()
                    && let Some(view) = self.state.account(&account)
                {
                    let draft = self.sign_in_draft(
                        &account,
                        view.url.clone().unwrap_or_default(),
                        view.who.clone(),
                        &SourceError::Refused("the session has ended".into()),
                    );
                    self.state.dialog = Some(Dialog::SignIn(draft));
                }
            }
            return;
        }
        self.state.fail(err.to_string());
    }
}
