//! One frame: panels draw from the state and return actions, which are applied at the end.

use std::time::{Duration, Instant};

use chrono::Utc;

use super::KeywardenApp;
use crate::gui::add_dialog::add_dialog_ui;
use crate::gui::backup_dialog::backup_dialog_ui;
use crate::gui::banners::banners_ui;
use crate::gui::confirm_dialog::{Confirm, confirm_dialog_ui};
use crate::gui::detail_panel::detail_panel_ui;
use crate::gui::edit_dialog::edit_dialog_ui;
use crate::gui::generate_dialog::generate_dialog_ui;
use crate::gui::import_dialog::import_dialog_ui;
use crate::gui::key_table::key_table_ui;
use crate::gui::projects_dialog::projects_dialog_ui;
use crate::gui::renew_dialog::renew_dialog_ui;
use crate::gui::secret_dialog::secret_dialog_ui;
use crate::gui::servers_dialog::servers_dialog_ui;
use crate::gui::settings_screen::settings_screen_ui;
use crate::gui::shortcuts::shortcuts;
use crate::gui::sign_in_dialog::sign_in_dialog_ui;
use crate::gui::state::{Action, Connection, Dialog};
use crate::gui::status_bar::status_bar_ui;
use crate::gui::theme;
use crate::gui::toolbar::toolbar_ui;

/// How often an open app reloads every list by itself, beside the live changes it is told of.
const AUTO_REFRESH: Duration = Duration::from_secs(10 * 60);

impl KeywardenApp {
    /// Draws one frame and applies what the user did.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.receive();
        let minimized = ui.ctx().input(|i| i.viewport().minimized.unwrap_or(false));
        self.watched
            .visible
            .store(!minimized, std::sync::atomic::Ordering::Relaxed);
        let now = Utc::now();
        self.state.refresh_view(now);
        let mut actions = Vec::new();
        actions.extend(shortcuts(ui.ctx(), &self.state));

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
            actions.extend(banners_ui(ui, &self.state, now));
            actions.extend(key_table_ui(ui, &self.state, now));
        });
        self.state.scroll_to_selected = false;
        self.state.focus_search = false;
        self.log_first_list();
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

    /// Logs the first frame that shows every account's list, fresh or saved (an account that
    /// cannot be reached and has no saved list counts as shown): start-up time, see BENCHMARKS.md.
    fn log_first_list(&mut self) {
        if self.list_shown {
            return;
        }
        let all_shown = self.state.accounts.iter().all(|a| {
            a.keys.is_some()
                || matches!(
                    a.connection,
                    Connection::Failed(_) | Connection::NeedsSignIn(_)
                )
        });
        let Some(keys) = self.state.keys.value().filter(|_| all_shown) else {
            return;
        };
        self.list_shown = true;
        let source = if self.state.accounts.iter().any(|a| a.saved_at.is_some()) {
            "the cache"
        } else {
            "the server"
        };
        tracing::info!(
            "first frame with the key list: {} keys from {source}",
            keys.len()
        );
    }

    fn dialog_ui(&mut self, ctx: &egui::Context) -> Option<Action> {
        let busy = self.bridge.busy();
        let chooser = self.state.file_chooser == Some(true);
        let clipboard_ok = self.clipboard.is_some();
        let mut dialog = self.state.dialog.take()?;
        let state = &self.state;
        let action = match &mut dialog {
            Dialog::Generate(draft) => generate_dialog_ui(ctx, draft, state),
            Dialog::Add(draft) => add_dialog_ui(ctx, draft, clipboard_ok),
            Dialog::Secret(shown) => secret_dialog_ui(ctx, shown, clipboard_ok),
            Dialog::ConfirmRevoke(key) => confirm_dialog_ui(ctx, Confirm::Revoke, key),
            Dialog::ConfirmDelete(key) => confirm_dialog_ui(ctx, Confirm::Delete, key),
            Dialog::Renew(draft) => {
                let capabilities = state
                    .account(&draft.key.source)
                    .map(|a| a.capabilities)
                    .unwrap_or_default();
                renew_dialog_ui(ctx, draft, capabilities)
            }
            Dialog::Edit(draft) => edit_dialog_ui(ctx, draft),
            Dialog::SignIn(draft) => sign_in_dialog_ui(ctx, draft, busy),
            Dialog::Servers => servers_dialog_ui(ctx, state),
            Dialog::Settings(draft) => settings_screen_ui(ctx, draft),
            Dialog::Transfer(draft) => backup_dialog_ui(ctx, draft, busy, chooser),
            Dialog::Import(draft) => import_dialog_ui(ctx, draft, busy, chooser),
            Dialog::Projects(draft) => projects_dialog_ui(ctx, draft),
        };
        self.state.dialog = Some(dialog);
        action
    }

    /// Repaints only when something will change: a countdown each second, relative times each
    /// minute. Changes made elsewhere arrive from the watcher, which repaints when it has one.
    fn schedule_repaint(&mut self, ctx: &egui::Context) {
        // An app kept open all day reloads now and then, so thresholds crossed meanwhile are
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
}
