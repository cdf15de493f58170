//! The desktop app: applies the actions panels return, starts background work through the bridge,
//! and folds the results back into the state.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::runtime::Handle;
use tokio::sync::OnceCell;

use super::bridge::Bridge;
use super::confirm_dialog::{Confirm, confirm_dialog_ui};
use super::detail_panel::detail_panel_ui;
use super::edit_dialog::edit_dialog_ui;
use super::generate_dialog::generate_dialog_ui;
use super::key_table::key_table_ui;
use super::renew_dialog::renew_dialog_ui;
use super::secret_dialog::secret_dialog_ui;
use super::servers_dialog::servers_dialog_ui;
use super::settings_screen::settings_screen_ui;
use super::sign_in_dialog::sign_in_dialog_ui;
use super::state::{
    Action, Connected, Dialog, EXPIRY_DAYS, EditDraft, Filter, GenerateDraft, Overlap, RenewDraft,
    SecretShown, SignInDraft, State, ViewPrefs, relative_time,
};
use super::status_bar::status_bar_ui;
use super::theme;
use super::toolbar::toolbar_ui;
use crate::api::{
    AuditEvent, AuditQuery, CreatedKey, KeyInfo, ListKeysQuery, MemberInfo, RotateKeyRequest,
    RotatedKey, UpdateKeyRequest,
};
use crate::client::config::{Config, LOCAL_SERVER, ServerEntry, ThemeChoice};
use crate::client::list_cache::{CachedList, ListCache};
use crate::client::session::{self, Session, SessionError};
use crate::client::{ApiClient, ClientError, CopyFormat};
use crate::reminders::{ExpiryClass, key_class, notify};
use crate::secret::Secret;
use crate::server::LocalServer;
use crate::sources::keeper::Keeper;
use crate::sources::{KeyRef, SourceKind};
use crate::vault::clipboard::{ClipboardError, ClipboardService};
use crate::vault::{self, Vault, VaultError};

/// What the app needs from the outside world; tests pass in-memory or real parts.
pub struct AppDeps {
    pub runtime: Handle,
    pub vault: Arc<dyn Vault>,
    pub clipboard: Result<Arc<ClipboardService>, ClipboardError>,
    pub config: Config,
    /// Where settings are saved; `None` keeps them in memory (tests).
    pub config_path: Option<PathBuf>,
    /// Why the config file could not be read (the file is then left untouched).
    pub config_error: Option<String>,
    /// The embedded server's database.
    pub local_database_url: String,
    pub view: Option<ViewPrefs>,
    /// Where the record of sent expiry reminders lives (data directory); `None` sends none.
    pub reminders_path: Option<PathBuf>,
    /// The last key list of each server, shown at once on start; `None` keeps no such list.
    pub list_cache: Option<ListCache>,
}

/// Results of background work.
enum Msg {
    Connected {
        server: String,
        result: Result<(ApiClient, Connected, Option<String>), ConnectError>,
        /// The user signed in to `server` from the dialog: it becomes current once that succeeds.
        signed_in: bool,
    },
    Keys {
        server: String,
        result: Result<Vec<KeyInfo>, ClientError>,
    },
    Cached {
        server: String,
        list: Option<CachedList>,
    },
    Held {
        server: String,
        result: Result<BTreeSet<i64>, VaultError>,
    },
    Members(Vec<MemberInfo>),
    Audit(i64, Result<Vec<AuditEvent>, ClientError>),
    Created(Result<(CreatedKey, Result<bool, VaultError>), ClientError>),
    Rotated(Result<(RotatedKey, Result<bool, VaultError>), ClientError>),
    KeyChanged(Result<KeyInfo, ClientError>, &'static str),
    Deleted(i64, Result<(), ClientError>),
    Copied(Result<Option<Duration>, String>),
    Notified(Result<usize, String>),
    /// Background work with nothing to report.
    Idle,
    ConfigSaved(Result<(), String>),
}

enum ConnectError {
    NeedsSignIn(SignInDraft),
    Failed(String),
}

impl ConnectError {
    fn from_session(err: SessionError, email: &str) -> ConnectError {
        match err {
            SessionError::NeedsSignIn { url, reason } => ConnectError::NeedsSignIn(SignInDraft {
                url,
                email: email.to_string(),
                reason: reason.map(|r| format!("{r}. Sign in again.")),
                ..Default::default()
            }),
            SessionError::Failed(reason) => ConnectError::Failed(reason),
        }
    }
}

fn connected(session: Session, server_url: String) -> (ApiClient, Connected, Option<String>) {
    (
        session.client,
        Connected {
            me: session.me,
            server_url,
        },
        session.warning,
    )
}

pub struct KeywardenApp {
    pub state: State,
    bridge: Bridge<Msg>,
    vault: Arc<dyn Vault>,
    clipboard: Option<Arc<ClipboardService>>,
    config_path: Option<PathBuf>,
    local_database_url: String,
    local: Arc<OnceCell<LocalServer>>,
    client: Option<ApiClient>,
    search_draft: String,
    reminders_path: Option<PathBuf>,
    list_cache: Option<ListCache>,
    /// Set when the server changed the list shown: it is saved for the next start.
    list_changed: bool,
    /// Whether the first frame with a key list was logged (start-up time, see BENCHMARKS.md).
    list_shown: bool,
    /// Set when a fresh key list arrived and reminders were not checked against it yet.
    reminders_due: bool,
    held_loaded: bool,
    last_refresh: Option<Instant>,
}

/// How often an open app reloads the key list by itself.
const AUTO_REFRESH: Duration = Duration::from_secs(10 * 60);

impl KeywardenApp {
    pub fn new(ctx: &egui::Context, deps: AppDeps) -> KeywardenApp {
        let mut state = State {
            config: deps.config,
            view: deps.view.unwrap_or_default(),
            ..State::default()
        };
        if let Some(error) = deps.config_error {
            state.fail(error);
        }
        let clipboard = match deps.clipboard {
            Ok(clipboard) => Some(clipboard),
            Err(err) => {
                state.clipboard_error = Some(err.to_string());
                None
            }
        };
        apply_theme(ctx, state.config.theme);
        let mut app = KeywardenApp {
            state,
            bridge: Bridge::new(deps.runtime, ctx.clone()),
            vault: deps.vault,
            clipboard,
            config_path: deps.config_path,
            local_database_url: deps.local_database_url,
            local: Arc::new(OnceCell::new()),
            client: None,
            search_draft: String::new(),
            reminders_path: deps.reminders_path,
            list_cache: deps.list_cache,
            list_shown: false,
            list_changed: false,
            reminders_due: false,
            held_loaded: false,
            last_refresh: None,
        };
        app.connect();
        app
    }

    /// Base URL of the embedded server, once it runs.
    pub fn local_server_url(&self) -> Option<String> {
        self.local.get().map(LocalServer::base_url)
    }

    /// True while background work is in flight.
    pub fn busy(&self) -> bool {
        self.bridge.busy()
    }

    /// Draws one frame and applies what the user did.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.receive();
        let now = Utc::now();
        self.state.refresh_view(now);
        let mut actions = Vec::new();
        actions.extend(self.shortcuts(ui.ctx()));

        egui::Panel::top("toolbar").show(ui, |ui| {
            ui.add_space(4.0);
            actions.extend(toolbar_ui(ui, &self.state, &mut self.search_draft));
            ui.add_space(2.0);
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            status_bar_ui(ui, &self.state, self.bridge.busy(), Instant::now(), now);
        });
        if self.state.selected_key().is_some() {
            egui::Panel::right("detail")
                .default_size(theme::DETAIL_WIDTH)
                .resizable(true)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical()
                        .id_salt("detail-scroll")
                        .show(ui, |ui| {
                            actions.extend(detail_panel_ui(ui, &self.state, now));
                        });
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            actions.extend(self.banners_ui(ui, now));
            actions.extend(key_table_ui(ui, &self.state, now));
        });
        self.state.scroll_to_selected = false;
        self.state.focus_search = false;
        if !self.list_shown
            && let Some(keys) = self.state.keys.value()
        {
            self.list_shown = true;
            let source = match self.state.keys_saved_at {
                Some(_) => "the cache",
                None => "the server",
            };
            tracing::info!(
                "first frame with the key list: {} keys from {source}",
                keys.len()
            );
        }
        actions.extend(self.dialog_ui(ui.ctx()));
        if !actions.is_empty() {
            // What the actions changed is drawn in the next frame.
            ui.ctx().request_repaint();
        }
        for action in actions {
            self.apply(action);
        }
        self.schedule_repaint(ui.ctx());
    }

    fn banners_ui(&self, ui: &mut egui::Ui, now: chrono::DateTime<Utc>) -> Option<Action> {
        let mut action = None;
        if let Some((first, count)) = self.state.expiring_soon() {
            let class = key_class(first, now, &self.state.config.thresholds)
                .unwrap_or(ExpiryClass::Expiring);
            ui.horizontal_wrapped(|ui| {
                let count = match count {
                    1 => "1 key expires soon".to_string(),
                    n => format!("{n} keys expire soon"),
                };
                let text = format!(
                    "{count}: \"{}\" expires {}.",
                    first.name,
                    relative_time(first.expires_at, now)
                );
                ui.colored_label(theme::class_color(class), text);
                if ui.button("Show expiring keys").clicked() {
                    action = Some(Action::SetFilter(Filter::Expiring));
                }
                if self.state.can_change()
                    && ui.button(format!("Renew \"{}\"", first.name)).clicked()
                {
                    action = Some(Action::AskRenew(first.id));
                }
            });
        }
        let mut banner = |ui: &mut egui::Ui, text: &str, retry: Option<Action>| {
            ui.horizontal(|ui| {
                ui.colored_label(theme::ERROR, text);
                if let Some(retry) = retry
                    && ui.button("Retry").clicked()
                {
                    action = Some(retry);
                }
            });
        };
        if let Some(error) = self.state.connection.error() {
            banner(ui, error, Some(Action::Reconnect));
        } else if let Some(error) = self.state.keys.error() {
            banner(ui, error, Some(Action::Refresh));
        }
        if let Some(error) = &self.state.vault_error {
            banner(
                ui,
                &format!("{error}. Key details still work; copying keys does not."),
                None,
            );
        }
        action
    }

    fn dialog_ui(&mut self, ctx: &egui::Context) -> Option<Action> {
        let busy = self.bridge.busy();
        let clipboard_ok = self.clipboard.is_some();
        let mut dialog = self.state.dialog.take()?;
        let state = &self.state;
        let action = match &mut dialog {
            Dialog::Generate(draft) => generate_dialog_ui(ctx, draft, state),
            Dialog::Secret(shown) => secret_dialog_ui(ctx, shown, clipboard_ok),
            Dialog::ConfirmRevoke(key) => confirm_dialog_ui(ctx, Confirm::Revoke, key),
            Dialog::ConfirmDelete(key) => confirm_dialog_ui(ctx, Confirm::Delete, key),
            Dialog::Renew(draft) => renew_dialog_ui(ctx, draft),
            Dialog::Edit(draft) => edit_dialog_ui(ctx, draft),
            Dialog::SignIn(draft) => sign_in_dialog_ui(ctx, draft, busy),
            Dialog::Servers => servers_dialog_ui(ctx, state),
            Dialog::Settings(draft) => settings_screen_ui(ctx, draft),
        };
        self.state.dialog = Some(dialog);
        action
    }

    fn shortcuts(&mut self, ctx: &egui::Context) -> Vec<Action> {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let mut actions = Vec::new();
        if self.state.dialog.is_some() {
            return actions;
        }
        let typing = ctx.memory(|m| m.focused().is_some());
        ctx.input_mut(|i| {
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::N)) {
                actions.push(Action::OpenGenerate);
            }
            if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::F)) {
                actions.push(Action::SetFocusSearch);
            }
            if typing {
                return;
            }
            let copy_event = i.events.iter().any(|e| matches!(e, egui::Event::Copy));
            if copy_event || i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::C))
            {
                if let Some(id) = self.state.selected {
                    actions.push(Action::Copy(id, CopyFormat::Plain));
                }
            }
            if i.consume_key(Modifiers::NONE, Key::Delete) {
                if let Some(id) = self.state.selected {
                    actions.push(Action::AskRevoke(id));
                }
            }
            if i.consume_key(Modifiers::NONE, Key::ArrowDown) {
                actions.push(Action::MoveSelection(1));
            }
            if i.consume_key(Modifiers::NONE, Key::ArrowUp) {
                actions.push(Action::MoveSelection(-1));
            }
        });
        actions
    }

    /// Repaints only when something will change: a countdown each second, relative times each minute.
    fn schedule_repaint(&mut self, ctx: &egui::Context) {
        // An app kept open all day refreshes now and then, so thresholds crossed meanwhile are
        // noticed (banner, notification) and secrets of keys whose overlap ended leave the keychain.
        let stale = self
            .last_refresh
            .is_some_and(|at| at.elapsed() >= AUTO_REFRESH);
        if stale && self.state.dialog.is_none() && !self.bridge.busy() {
            self.refresh();
        }
        if let Some(at) = self.state.clipboard_clears_at {
            if at <= Instant::now() {
                self.state.clipboard_clears_at = None;
            } else {
                ctx.request_repaint_after(Duration::from_secs(1));
                return;
            }
        }
        ctx.request_repaint_after(Duration::from_secs(60));
    }

    fn apply(&mut self, action: Action) {
        let state = &mut self.state;
        match action {
            Action::Refresh => self.refresh(),
            Action::Reconnect => self.connect(),
            Action::Select(id) => self.select(id),
            Action::MoveSelection(delta) => {
                let Some(keys) = state.keys.value() else {
                    return;
                };
                if state.visible.is_empty() {
                    return;
                }
                let current = state
                    .selected
                    .and_then(|id| state.visible.iter().position(|&i| keys[i].id == id));
                let next = match current {
                    Some(row) => row
                        .saturating_add_signed(delta)
                        .min(state.visible.len() - 1),
                    None => 0,
                };
                let id = keys[state.visible[next]].id;
                state.scroll_to_selected = true;
                self.select(id);
            }
            Action::SetFilter(filter) => {
                state.view.filter = filter;
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
                if state.can_change() {
                    state.dialog = Some(Dialog::Generate(GenerateDraft::default()));
                }
            }
            Action::Generate(request) => self.generate(request),
            Action::Copy(id, format) => self.copy(id, format),
            Action::CopyShown(format) => {
                if let Some(Dialog::Secret(shown)) = &self.state.dialog {
                    let text = format.render(&shown.secret, &shown.key.name, self.server_url());
                    self.copy_text(text);
                }
            }
            Action::ToggleReveal => {
                if let Some(Dialog::Secret(shown)) = &mut state.dialog {
                    shown.revealed = !shown.revealed;
                }
            }
            Action::AskRevoke(id) => {
                if let Some(key) = state
                    .key(id)
                    .filter(|k| k.status_at(Utc::now()) != crate::api::KeyStatus::Revoked)
                {
                    state.dialog = Some(Dialog::ConfirmRevoke(key.clone()));
                }
            }
            Action::AskDelete(id) => {
                if let Some(key) = state.key(id) {
                    state.dialog = Some(Dialog::ConfirmDelete(key.clone()));
                }
            }
            Action::AskRenew(id) => {
                if let Some(key) = state
                    .key(id)
                    .filter(|k| k.revoked_at.is_none() && state.can_change())
                {
                    let lifetime = (key.expires_at - key.created_at).num_days();
                    // The preset closest to the old key's lifetime.
                    let expires_in_days = EXPIRY_DAYS
                        .into_iter()
                        .min_by_key(|d| (d - lifetime).abs())
                        .unwrap_or(90);
                    let draft = RenewDraft {
                        key: key.clone(),
                        expires_in_days,
                        overlap: Overlap::Now,
                    };
                    state.dialog = Some(Dialog::Renew(draft));
                }
            }
            Action::OpenEdit(id) => {
                if let Some(key) = state.key(id) {
                    let draft = EditDraft {
                        id,
                        name: key.name.clone(),
                        description: key.description.clone(),
                    };
                    state.dialog = Some(Dialog::Edit(draft));
                }
            }
            Action::Revoke(id) => {
                state.dialog = None;
                self.revoke(id);
            }
            Action::Delete(id) => {
                state.dialog = None;
                self.delete(id);
            }
            Action::Renew(id, request) => {
                state.dialog = None;
                self.rotate(id, request);
            }
            Action::SetEnabled(id, enabled) => {
                let request = UpdateKeyRequest {
                    enabled: Some(enabled),
                    ..Default::default()
                };
                self.update(id, request, if enabled { "enabled" } else { "disabled" });
            }
            Action::SaveEdit(id, request) => {
                state.dialog = None;
                self.update(id, request, "saved");
            }
            Action::CloseDialog => state.dialog = None,
            Action::OpenServers => state.dialog = Some(Dialog::Servers),
            Action::OpenSignIn => state.dialog = Some(Dialog::SignIn(SignInDraft::default())),
            Action::SignIn {
                url,
                email,
                password,
            } => self.sign_in(url, email, password),
            Action::SwitchServer(server) => {
                state.dialog = None;
                state.config.current_server = server;
                self.save_config();
                self.connect();
            }
            Action::SignOut => self.sign_out(),
            Action::OpenSettings => state.dialog = Some(Dialog::Settings(state.config.clone())),
            Action::SaveSettings(config) => {
                state.dialog = None;
                state.config = config;
                apply_theme(self.bridge.ctx(), state.config.theme);
                self.save_config();
            }
        }
    }

    fn server_url(&self) -> &str {
        self.client.as_ref().map_or("", ApiClient::base_url)
    }

    fn select(&mut self, id: i64) {
        self.state.selected = Some(id);
        self.state.audit = Default::default();
        let Some(client) = self.client.clone() else {
            return;
        };
        self.state.audit.start();
        self.bridge.spawn(async move {
            let query = AuditQuery {
                key_id: Some(id),
                limit: Some(50),
                ..Default::default()
            };
            Msg::Audit(id, client.audit(&query).await.map(|page| page.items))
        });
    }

    /// (Re)connects to the current server: the embedded one, started on first use, or a remote one
    /// with the session token from the keychain.
    fn connect(&mut self) {
        let server = self.state.config.current_server.clone();
        let email = self.state.config.current_email();
        self.switch_to(&server, &email);
        self.state.connection.start();
        self.load_cached_list();
        let vault = self.vault.clone();
        if server == LOCAL_SERVER {
            let local = self.local.clone();
            let database_url = self.local_database_url.clone();
            self.bridge.spawn(async move {
                let (kept, warning) = session::kept_local_password(vault.clone()).await;
                let result =
                    match crate::server::open_local(&local, &database_url, kept.as_ref()).await {
                        Ok(opened) => {
                            session::local_session(
                                &opened.base_url,
                                opened.token,
                                opened.new_password,
                                vault,
                                warning,
                            )
                            .await
                        }
                        Err(err) => Err(SessionError::Failed(format!(
                            "cannot start the local server: {err}"
                        ))),
                    };
                let result = result
                    .map(|s| {
                        let url = s.client.base_url().to_string();
                        connected(s, url)
                    })
                    .map_err(|err| ConnectError::from_session(err, ""));
                Msg::Connected {
                    server,
                    result,
                    signed_in: false,
                }
            });
        } else {
            self.bridge.spawn(async move {
                let result = session::open_remote(&server, vault)
                    .await
                    .map(|s| connected(s, server.clone()))
                    .map_err(|err| ConnectError::from_session(err, &email));
                Msg::Connected {
                    server,
                    result,
                    signed_in: false,
                }
            });
        }
    }

    /// Makes `email` on `server` the account shown; another account's keys, selection and keychain
    /// view are dropped.
    fn switch_to(&mut self, server: &str, email: &str) {
        if self.state.server == server && self.state.account == email {
            return;
        }
        let state = &mut self.state;
        state.server = server.to_string();
        state.account = email.to_string();
        state.connection = Default::default();
        state.keys = Default::default();
        state.keys_saved_at = None;
        state.held.clear();
        state.selected = None;
        state.audit = Default::default();
        state.members.clear();
        state.view_dirty = true;
        self.client = None;
        self.held_loaded = false;
    }

    /// Shows the list last seen from the current server while the server is asked for a fresh one.
    fn load_cached_list(&mut self) {
        let (Some(cache), None) = (self.list_cache.clone(), self.state.keys.value()) else {
            return;
        };
        let (server, email) = (self.state.server.clone(), self.state.account.clone());
        self.bridge.spawn_blocking(move || {
            let list = cache.load(&server, &email);
            Msg::Cached { server, list }
        });
    }

    /// Which keys' secrets this computer's keychain holds for the current server.
    fn load_held(&mut self) {
        let vault = self.vault.clone();
        let server = self.state.server.clone();
        self.bridge.spawn_blocking(move || {
            let result = vault.accounts().map(|accounts| {
                vault::held_key_ids(&accounts, SourceKind::Keywarden.as_str(), &server)
                    .iter()
                    .filter_map(|id| id.parse().ok())
                    .collect()
            });
            Msg::Held { server, result }
        });
    }

    fn refresh(&mut self) {
        let Some(client) = self.client.clone() else {
            self.connect();
            return;
        };
        let server = self.state.server.clone();
        self.last_refresh = Some(Instant::now());
        self.state.keys.start();
        self.held_loaded = false;
        let query = ListKeysQuery::default();
        self.bridge.spawn(async move {
            Msg::Keys {
                server,
                result: client.list_all_keys(&query).await,
            }
        });
        self.load_held();
        if let (true, Some(client), Some(connected)) = (
            self.state.is_admin(),
            self.client.clone(),
            self.state.connection.value(),
        ) {
            let workspace_id = connected.me.workspace_id;
            self.bridge.spawn(async move {
                Msg::Members(client.members(workspace_id).await.unwrap_or_default())
            });
        }
    }

    fn generate(&mut self, request: crate::api::CreateKeyRequest) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let vault = self.vault.clone();
        let server = self.state.server.clone();
        let store = self.state.config.store_secrets;
        self.bridge.spawn(async move {
            let result = match client.create_key(&request).await {
                Ok(created) => {
                    let stored =
                        store_secret(vault, &server, created.key.id, &created.secret, store).await;
                    Ok((created, stored))
                }
                Err(err) => Err(err),
            };
            Msg::Created(result)
        });
    }

    fn rotate(&mut self, id: i64, request: RotateKeyRequest) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let vault = self.vault.clone();
        let server = self.state.server.clone();
        let store = self.state.config.store_secrets;
        self.bridge.spawn(async move {
            let revoked_now = request.grace_seconds.unwrap_or(0) == 0;
            let result = match client.rotate_key(id, &request).await {
                Ok(rotated) => {
                    let stored = store_secret(
                        vault.clone(),
                        &server,
                        rotated.key.id,
                        &rotated.secret,
                        store,
                    )
                    .await;
                    // Revoked at once: the old secret is worthless now. With an overlap it stays
                    // until the revocation time; the first refresh after that removes it.
                    if revoked_now {
                        forget_secret(vault, &server, id).await;
                    }
                    Ok((rotated, stored))
                }
                Err(err) => Err(err),
            };
            Msg::Rotated(result)
        });
    }

    fn revoke(&mut self, id: i64) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let vault = self.vault.clone();
        let server = self.state.server.clone();
        self.bridge.spawn(async move {
            let result = client.revoke_key(id).await;
            if result.is_ok() {
                forget_secret(vault, &server, id).await;
            }
            Msg::KeyChanged(result, "revoked")
        });
    }

    fn delete(&mut self, id: i64) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let vault = self.vault.clone();
        let server = self.state.server.clone();
        self.bridge.spawn(async move {
            let result = client.delete_key(id).await;
            if result.is_ok() {
                forget_secret(vault, &server, id).await;
            }
            Msg::Deleted(id, result)
        });
    }

    fn update(&mut self, id: i64, request: UpdateKeyRequest, done: &'static str) {
        let Some(client) = self.client.clone() else {
            return;
        };
        self.bridge
            .spawn(async move { Msg::KeyChanged(client.update_key(id, &request).await, done) });
    }

    fn copy(&mut self, id: i64, format: CopyFormat) {
        if let Err(why) = self.state.can_copy(id) {
            self.state.fail(why);
            return;
        }
        let (Some(key), Some(clipboard)) = (self.state.key(id), self.clipboard.clone()) else {
            return;
        };
        let name = key.name.clone();
        let key = keywarden_key(&self.state.server, id);
        let keeper = Keeper::new(self.vault.clone(), true, None);
        let server_url = self.server_url().to_string();
        let clear_after = self.clear_after();
        self.bridge.spawn(async move {
            let result = match keeper.secret(&key).await {
                Ok(Some(secret)) => {
                    let text = format.render(&secret, &name, &server_url);
                    tokio::task::spawn_blocking(move || clipboard.copy(&text, clear_after))
                        .await
                        .map_err(|err| err.to_string())
                        .and_then(|copied| copied.map_err(|err| err.to_string()))
                        .map(|()| clear_after)
                }
                Ok(None) => Err("This key's secret is no longer in the keychain".to_string()),
                Err(err) => Err(err.to_string()),
            };
            Msg::Copied(result)
        });
    }

    fn copy_text(&mut self, text: Secret) {
        let Some(clipboard) = self.clipboard.clone() else {
            return;
        };
        let clear_after = self.clear_after();
        self.bridge.spawn_blocking(move || {
            Msg::Copied(
                clipboard
                    .copy(&text, clear_after)
                    .map(|()| clear_after)
                    .map_err(|err| err.to_string()),
            )
        });
    }

    fn clear_after(&self) -> Option<Duration> {
        Some(self.state.config.clipboard_clear_secs)
            .filter(|&s| s > 0)
            .map(Duration::from_secs)
    }

    /// Signs in to `url`; the current server and its list stay as they are until that succeeds.
    fn sign_in(&mut self, url: String, email: String, password: Secret) {
        let vault = self.vault.clone();
        self.bridge.spawn(async move {
            let result = match session::sign_in(&url, &email, &password, vault).await {
                Ok(session) => Ok(connected(session, url.clone())),
                Err(err) => Err(ConnectError::NeedsSignIn(SignInDraft {
                    url: url.clone(),
                    email: email.clone(),
                    error: Some(err.to_string()),
                    ..Default::default()
                })),
            };
            Msg::Connected {
                server: url,
                result,
                signed_in: true,
            }
        });
    }

    fn sign_out(&mut self) {
        let server = self.state.config.current_server.clone();
        if let Some(client) = self.client.take() {
            let vault = self.vault.clone();
            let server = server.clone();
            self.bridge.spawn(async move {
                let _ = client.logout().await;
                let account = vault::session_account(&server);
                let _ = tokio::task::spawn_blocking(move || vault.delete(&account)).await;
                Msg::Idle
            });
        }
        if let Some(cache) = self.list_cache.clone() {
            self.bridge.spawn_blocking(move || {
                if let Err(err) = cache.remove(&server) {
                    tracing::warn!("cannot remove the cached key list: {err}");
                }
                Msg::Idle
            });
        }
        self.state.dialog = None;
        self.state.config.current_server = LOCAL_SERVER.to_string();
        self.save_config();
        self.connect();
    }

    fn save_config(&mut self) {
        let Some(path) = self.config_path.clone() else {
            return;
        };
        let config = self.state.config.clone();
        self.bridge.spawn_blocking(move || {
            Msg::ConfigSaved(config.save(&path).map_err(|err| err.to_string()))
        });
    }

    /// Folds finished background work into the state.
    fn receive(&mut self) {
        for message in self.bridge.drain() {
            self.handle(message);
        }
        if std::mem::take(&mut self.list_changed) {
            self.save_cached_list();
        }
    }

    fn handle(&mut self, message: Msg) {
        let state = &mut self.state;
        match message {
            Msg::Connected {
                server,
                result,
                signed_in,
            } => {
                if server != state.server && !signed_in {
                    return;
                }
                match result {
                    Ok((client, connected, warning)) => {
                        self.switch_to(&server, &connected.me.user.email);
                        if !server.eq(LOCAL_SERVER) {
                            let email = connected.me.user.email.clone();
                            self.state.config.use_server(ServerEntry {
                                url: server.clone(),
                                email,
                                kind: SourceKind::Keywarden,
                                name: None,
                            });
                            self.save_config();
                        }
                        let state = &mut self.state;
                        if matches!(state.dialog, Some(Dialog::SignIn(_))) {
                            state.dialog = None;
                        }
                        if let Some(warning) = warning {
                            state.fail(warning);
                        }
                        state.connection.finish::<String>(Ok(connected));
                        // Which keys are the user's own (the expiring banner) depends on who signed in.
                        state.view_dirty = true;
                        self.client = Some(client);
                        self.refresh();
                    }
                    Err(ConnectError::NeedsSignIn(draft)) => {
                        if !signed_in {
                            state.connection = Default::default();
                        }
                        state.dialog = Some(Dialog::SignIn(draft));
                    }
                    Err(ConnectError::Failed(reason)) => state.connection.finish(Err(reason)),
                }
            }
            Msg::Keys { server, result } => {
                if server != state.server {
                    return;
                }
                match result {
                    Ok(keys) => {
                        state.keys.finish::<ClientError>(Ok(keys));
                        state.keys_saved_at = None;
                        self.list_changed = true;
                        self.reminders_due = true;
                    }
                    Err(err) => {
                        state.keys.finish(Err(err.clone()));
                        self.client_error(err);
                    }
                }
                self.state.view_dirty = true;
                self.after_refresh();
            }
            Msg::Cached { server, list } => {
                let Some(list) = list.filter(|_| server == state.server) else {
                    return;
                };
                if state.keys.fill_if_empty(list.keys) {
                    state.keys_saved_at = Some(list.saved_at);
                    state.view_dirty = true;
                    if !self.held_loaded {
                        self.load_held();
                    }
                }
            }
            Msg::Held { server, result } => {
                if server != state.server {
                    return;
                }
                match result {
                    Ok(held) => {
                        state.held = held;
                        state.vault_error = None;
                    }
                    Err(err) => state.vault_error = Some(err.to_string()),
                }
                state.view_dirty = true;
                self.held_loaded = true;
                self.after_refresh();
            }
            Msg::Idle => {}
            Msg::Notified(result) => match result {
                Ok(0) => {}
                Ok(shown) => self
                    .state
                    .notify(format!("{shown} expiry reminder(s) sent")),
                Err(err) => self.state.fail(err),
            },
            Msg::Members(members) => state.members = members,
            Msg::Audit(id, result) => {
                if state.selected == Some(id) {
                    state.audit.finish(result);
                }
            }
            Msg::Created(result) => match result {
                Ok((created, stored)) => {
                    let id = created.key.id;
                    self.show_secret(created.key, created.secret, stored);
                    self.select(id);
                }
                Err(err) => {
                    if let Some(Dialog::Generate(draft)) = &mut state.dialog {
                        draft.error = Some(err.to_string());
                    }
                    self.client_error(err);
                }
            },
            Msg::Rotated(result) => match result {
                Ok((rotated, stored)) => {
                    let id = rotated.key.id;
                    let name = rotated.key.name.clone();
                    self.show_secret(rotated.key, rotated.secret, stored);
                    self.state.notify(format!("\"{name}\" rotated"));
                    self.refresh();
                    self.select(id);
                }
                Err(err) => self.client_error(err),
            },
            Msg::KeyChanged(result, done) => match result {
                Ok(key) => {
                    if done == "revoked" {
                        state.held.remove(&key.id);
                    }
                    state.notify(format!("\"{}\" {done}", key.name));
                    let id = key.id;
                    if let Some(keys) = state.keys.value_mut() {
                        match keys.iter_mut().find(|k| k.id == id) {
                            Some(existing) => *existing = key,
                            None => keys.push(key),
                        }
                    }
                    state.view_dirty = true;
                    self.list_changed = true;
                    if state.selected == Some(id) {
                        self.select(id);
                    }
                }
                Err(err) => self.client_error(err),
            },
            Msg::Deleted(id, result) => match result {
                Ok(()) => {
                    state.held.remove(&id);
                    if let Some(keys) = state.keys.value_mut() {
                        keys.retain(|k| k.id != id);
                    }
                    if state.selected == Some(id) {
                        state.selected = None;
                    }
                    state.view_dirty = true;
                    self.list_changed = true;
                    state.notify("Key deleted");
                }
                Err(err) => self.client_error(err),
            },
            Msg::Copied(result) => match result {
                Ok(clear_after) => {
                    state.clipboard_clears_at = clear_after.map(|after| Instant::now() + after);
                    state.notify("Copied to the clipboard");
                }
                Err(err) => state.fail(err),
            },
            Msg::ConfigSaved(result) => {
                if let Err(err) = result {
                    state.fail(err);
                }
            }
        }
    }

    /// Keeps the list the server gave for the next start, off the UI thread.
    fn save_cached_list(&mut self) {
        let state = &self.state;
        let (Some(cache), Some(connected), Some(keys), None) = (
            self.list_cache.clone(),
            state.connection.value(),
            state.keys.value(),
            state.keys_saved_at,
        ) else {
            return;
        };
        let (server, email, user_id, keys) = (
            state.server.clone(),
            connected.me.user.email.clone(),
            connected.me.user.id,
            keys.clone(),
        );
        self.bridge.spawn_blocking(move || {
            if let Err(err) = cache.save(&server, (&email, &user_id.to_string()), &keys, Utc::now())
            {
                tracing::warn!("cannot save the key list for the next start: {err}");
            }
            Msg::Idle
        });
    }

    /// Once both the keys and the keychain's contents are in: drops held secrets of keys that are
    /// revoked by now (a rotation's overlap ended), and sends the expiry reminders that are due.
    fn after_refresh(&mut self) {
        let (Some(keys), true) = (self.state.keys.value(), self.held_loaded) else {
            return;
        };
        let now = Utc::now();
        let revoked: Vec<i64> = keys
            .iter()
            .filter(|k| self.state.held.contains(&k.id) && k.revoked_at.is_some_and(|at| at <= now))
            .map(|k| k.id)
            .collect();
        let mine_or_held: Vec<KeyInfo> = keys
            .iter()
            .filter(|k| {
                Some(k.user_id) == self.state.my_user_id() || self.state.held.contains(&k.id)
            })
            .cloned()
            .collect();
        for id in revoked {
            self.state.held.remove(&id);
            let (vault, server) = (self.vault.clone(), self.state.server.clone());
            self.bridge.spawn(async move {
                forget_secret(vault, &server, id).await;
                Msg::Idle
            });
        }
        let due = std::mem::take(&mut self.reminders_due);
        let (true, true, Some(path)) = (
            due,
            self.state.config.notifications,
            self.reminders_path.clone(),
        ) else {
            return;
        };
        let server = if self.state.config.is_local() {
            "this computer".to_string()
        } else {
            self.state.server.clone()
        };
        let thresholds = self.state.config.thresholds;
        self.bridge.spawn_blocking(move || {
            let result = notify::notify_due(&path, &server, &mine_or_held, Utc::now(), &thresholds);
            Msg::Notified(result.map_err(|err| err.to_string()))
        });
    }

    fn show_secret(&mut self, key: KeyInfo, secret: Secret, stored: Result<bool, VaultError>) {
        let state = &mut self.state;
        let (stored, store_error) = match stored {
            Ok(stored) => (stored, None),
            Err(err) => (false, Some(err.to_string())),
        };
        if stored {
            state.held.insert(key.id);
        }
        if let Some(keys) = state.keys.value_mut() {
            keys.retain(|k| k.id != key.id);
            keys.push(key.clone());
        }
        state.view_dirty = true;
        self.list_changed = true;
        state.dialog = Some(Dialog::Secret(SecretShown {
            key,
            secret,
            revealed: false,
            store_error,
            stored,
        }));
    }

    /// Turns an API error into what the user sees: 401 asks to sign in again (the window keeps its
    /// state), anything else is a sentence in the status bar.
    fn client_error(&mut self, err: ClientError) {
        if err.is_unauthorized() {
            if self.state.config.is_local() {
                self.connect();
            } else {
                let email = self
                    .state
                    .config
                    .current_entry()
                    .map(|e| e.email.clone())
                    .unwrap_or_default();
                self.state.dialog = Some(Dialog::SignIn(SignInDraft {
                    url: self.state.server.clone(),
                    email,
                    reason: Some(format!("{err}. Sign in again.")),
                    ..Default::default()
                }));
            }
            return;
        }
        self.state.fail(err.to_string());
    }
}

fn apply_theme(ctx: &egui::Context, theme: ThemeChoice) {
    ctx.set_theme(match theme {
        ThemeChoice::System => egui::ThemePreference::System,
        ThemeChoice::Light => egui::ThemePreference::Light,
        ThemeChoice::Dark => egui::ThemePreference::Dark,
    });
}

fn keywarden_key(server: &str, id: i64) -> KeyRef {
    KeyRef {
        kind: SourceKind::Keywarden,
        source: server.to_string(),
        id: id.to_string(),
    }
}

async fn store_secret(
    vault: Arc<dyn Vault>,
    server: &str,
    id: i64,
    secret: &Secret,
    enabled: bool,
) -> Result<bool, VaultError> {
    Keeper::new(vault, enabled, None)
        .keep(&keywarden_key(server, id), secret)
        .await
}

async fn forget_secret(vault: Arc<dyn Vault>, server: &str, id: i64) {
    let keeper = Keeper::new(vault, true, None);
    if let Err(err) = keeper.forget(&keywarden_key(server, id)).await {
        tracing::warn!("cannot remove a key's secret from the keychain: {err}");
    }
}

impl eframe::App for KeywardenApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        KeywardenApp::ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, VIEW_KEY, &self.state.view);
    }
}

/// Where the view preferences are kept in eframe's storage.
pub const VIEW_KEY: &str = "keywarden.view";
