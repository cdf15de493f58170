//! Applies what panels ask for: view changes at once, work on keys through `effects`.

use chrono::Utc;

use super::{KeywardenApp, apply_theme};
use crate::api::KeyStatus;
use crate::gui::state::{
    Action, AddDraft, Dialog, EXPIRY_DAYS, EditDraft, ExpiryChoice, GenerateDraft, ImportDraft,
    Overlap, ProjectsDraft, RenewDraft, SignInDraft, TransferDraft,
};
use crate::secret::Secret;
use crate::sources::Capability;
use crate::sources::keeper::Keeper;
use crate::sources::reference::Reference;

impl KeywardenApp {
    pub(super) fn apply(&mut self, action: Action) {
        let state = &mut self.state;
        match action {
            Action::Refresh => self.refresh(),
            Action::Reconnect => {
                let failed: Vec<String> = state
                    .accounts
                    .iter()
                    .filter(|a| !a.is_connected())
                    .map(|a| a.name.clone())
                    .collect();
                for name in failed {
                    self.connect(&name);
                }
            }
            Action::Select(key) => self.select(key),
            Action::MoveSelection(delta) => {
                let Some(keys) = state.keys.value() else {
                    return;
                };
                if state.visible.is_empty() {
                    return;
                }
                let current = state.selected.as_ref().and_then(|selected| {
                    state
                        .visible
                        .iter()
                        .position(|&i| keys[i].key_ref() == *selected)
                });
                let next = match current {
                    Some(row) => row
                        .saturating_add_signed(delta)
                        .min(state.visible.len() - 1),
                    None => 0,
                };
                let key = keys[state.visible[next]].key_ref();
                state.scroll_to_selected = true;
                self.select(key);
            }
            Action::SetFilter(filter) => {
                state.view.filter = filter;
                state.view_dirty = true;
            }
            Action::SetSource(source) => {
                state.view.source = source;
                state.view_dirty = true;
            }
            Action::SetSearch(text) => {
                state.search = text;
                state.view_dirty = true;
            }
            Action::SetFocusSearch => state.focus_search = true,
            Action::SortBy(column) => {
                if state.view.sort == column {
                    state.view.ascending = !state.view.ascending;
                } else {
                    state.view.sort = column;
                    state.view.ascending = true;
                }
                state.view_dirty = true;
            }
            Action::OpenGenerate => {
                let accounts = state.generating_accounts();
                let current = &state.config.current_server;
                let account = accounts
                    .iter()
                    .find(|a| a.name == *current)
                    .or(accounts.first())
                    .map(|a| a.name.clone());
                if let Some(account) = account {
                    state.dialog = Some(Dialog::Generate(GenerateDraft::new(&account)));
                }
            }
            Action::Generate(account, new) => self.generate(&account, new),
            Action::OpenAdd => state.dialog = Some(Dialog::Add(AddDraft::default())),
            Action::PasteKey => self.paste(),
            Action::Add(new, secret) => self.add(new, secret),
            Action::Copy(key, format) => self.copy(key, format),
            Action::CopyReference(key) => {
                let reference = match (self.state.key(&key), self.state.keys.value()) {
                    (Some(found), Some(keys)) => Some(Reference::of(found, keys).to_string()),
                    _ => None,
                };
                if let Some(reference) = reference {
                    self.copy_text(Secret::new(reference));
                }
            }
            Action::CopyShown(format) => {
                if let Some(Dialog::Secret(shown)) = &self.state.dialog {
                    let text = format.render_for(&shown.secret, &shown.key);
                    self.copy_text(text);
                }
            }
            Action::ToggleReveal => {
                if let Some(Dialog::Secret(shown)) = &mut state.dialog {
                    shown.revealed = !shown.revealed;
                }
            }
            Action::Test(key) => self.test(key),
            Action::OpenKeyPage(key) => {
                if let Some(key) = state.key(&key) {
                    let service = key.service();
                    if let Some(url) =
                        service.key_page_url(key.base_url.as_deref(), key.workspace.as_deref())
                    {
                        self.bridge.ctx().open_url(egui::OpenUrl::new_tab(url));
                    }
                }
            }
            Action::AskRevoke(key) => {
                if let Some(key) = state.key(&key).filter(|k| {
                    k.status_at(Utc::now()) != KeyStatus::Revoked
                        && state.can(k, Capability::Revoke).is_ok()
                }) {
                    state.dialog = Some(Dialog::ConfirmRevoke(key.clone()));
                }
            }
            Action::AskDelete(key) => {
                if let Some(key) = state.key(&key) {
                    state.dialog = Some(Dialog::ConfirmDelete(key.clone()));
                }
            }
            Action::AskRenew(key) => {
                let found = state
                    .key(&key)
                    .filter(|k| k.replaced_by.is_none() && state.can(k, Capability::Renew).is_ok())
                    .cloned();
                if let Some(key) = found {
                    // The preset closest to the old key's lifetime; never for a key that never
                    // expired.
                    let expiry = match key.expires_at {
                        Some(at) => {
                            let lifetime = crate::api::limits::lifetime_days(key.created_at, at);
                            ExpiryChoice::Days(
                                EXPIRY_DAYS
                                    .into_iter()
                                    .min_by_key(|d| (d - lifetime).abs())
                                    .unwrap_or(90),
                            )
                        }
                        None => ExpiryChoice::Never,
                    };
                    state.dialog = Some(Dialog::Renew(RenewDraft {
                        key: key.clone(),
                        expiry,
                        date: String::new(),
                        overlap: Overlap::Now,
                        secret: String::new(),
                        error: None,
                        auto: None,
                    }));
                    let key = key.key_ref();
                    self.load_auto_renew(key);
                }
            }
            Action::OpenEdit(key) => {
                if let Some(found) = state.key(&key) {
                    let draft = EditDraft {
                        key,
                        name: found.name.clone(),
                        description: found.description.clone(),
                        error: None,
                    };
                    state.dialog = Some(Dialog::Edit(draft));
                }
            }
            Action::Revoke(key) => {
                state.dialog = None;
                self.revoke(key);
            }
            Action::Delete(key) => {
                state.dialog = None;
                self.delete(key);
            }
            Action::SetAutoRenew(key, within) => self.set_auto_renew(key, within),
            Action::OpenTransfer(restore) => {
                state.dialog = Some(Dialog::Transfer(TransferDraft {
                    restore,
                    ..Default::default()
                }));
                self.look_for_file_chooser();
            }
            Action::Transfer {
                path,
                passphrase,
                restore,
                dry_run,
            } => self.transfer(path, passphrase, restore, dry_run),
            Action::OpenImport => {
                state.dialog = Some(Dialog::Import(ImportDraft::default()));
                self.look_for_file_chooser();
            }
            Action::ChooseFile(field) => self.choose_file(field),
            Action::OpenProjects => {
                state.dialog = Some(Dialog::Projects(ProjectsDraft::default()));
                self.load_projects(None);
            }
            Action::RevokeConsent(path) => self.load_projects(Some(path)),
            Action::Import(request) => self.import(*request),
            Action::DismissBackupReminder => state.backup_due = None,
            Action::Renew(key, renewal) => {
                // The dialog stays until the renewal is done, to show its error if it fails.
                self.renew(key, renewal);
            }
            Action::SetEnabled(key, enabled) => self.set_enabled(key, enabled),
            Action::SaveEdit(key, edit) => {
                state.dialog = None;
                self.edit(key, edit);
            }
            Action::CloseDialog => state.dialog = None,
            Action::OpenServers => state.dialog = Some(Dialog::Servers),
            Action::OpenSignIn => {
                // An account whose session ended is signed in to again; else a new one.
                let ended = state.accounts.iter().find(|a| {
                    matches!(a.connection, crate::gui::state::Connection::NeedsSignIn(_))
                });
                let draft = match ended {
                    Some(account) => SignInDraft {
                        url: account.url.clone().unwrap_or_default(),
                        email: account.who.clone(),
                        kind: account.kind,
                        name: state
                            .config
                            .entry(&account.name)
                            .and_then(|e| e.name.clone())
                            .unwrap_or_default(),
                        ..Default::default()
                    },
                    None => SignInDraft::default(),
                };
                state.dialog = Some(Dialog::SignIn(draft));
            }
            Action::SignIn {
                url,
                email,
                password,
                kind,
                name,
                allow_http,
            } => {
                let draft = SignInDraft {
                    url,
                    email,
                    kind,
                    name: name.unwrap_or_default(),
                    allow_http,
                    ..Default::default()
                };
                self.sign_in(draft, password);
            }
            Action::SendCode => {
                if let Some(Dialog::SignIn(draft)) = &state.dialog {
                    let draft = draft.clone();
                    self.send_code(draft);
                }
            }
            Action::FinishSignIn(code) => {
                if let Some(Dialog::SignIn(draft)) = &state.dialog {
                    let draft = draft.clone();
                    self.finish_sign_in(draft, code);
                }
            }
            Action::SwitchServer(name) => {
                state.dialog = None;
                state.config.current_server = name;
                self.save_config();
            }
            Action::SignOut(name) => self.sign_out(&name),
            Action::OpenSettings => state.dialog = Some(Dialog::Settings(state.config.clone())),
            Action::SaveSettings(config) => {
                state.dialog = None;
                state.config.take_preferences(&config);
                state.view_dirty = true;
                apply_theme(self.bridge.ctx(), state.config.theme);
                self.keeper = Keeper::new(
                    self.env.vault.clone(),
                    self.state.config.store_secrets,
                    self.data_dir.clone(),
                );
                self.save_config();
            }
        }
    }
}
