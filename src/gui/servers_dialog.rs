//! The accounts: this computer's server, the Keywarden and ThingsBoard accounts signed in to, and
//! the tracked keys; which one new keys are made on; add, sign out.

use super::modal::dialog_ui;
use super::state::{Action, Connection, State};

pub fn servers_dialog_ui(ctx: &egui::Context, state: &State) -> Option<Action> {
    dialog_ui(ctx, "Accounts", |ui| {
        let mut action = None;
        let current = &state.config.current_server;
        for account in &state.accounts {
            ui.horizontal(|ui| {
                let who = if account.who.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", account.who)
                };
                let status = match &account.connection {
                    Connection::Connected | Connection::Connecting => String::new(),
                    Connection::NeedsSignIn(_) => " — sign in again".to_string(),
                    Connection::Failed(_) => " — unreachable".to_string(),
                };
                let is_current = *current == account.name;
                ui.label(format!(
                    "{} [{}]{who}{status}{}",
                    account.label(),
                    account.kind.label(),
                    if is_current { " (current)" } else { "" }
                ));
                if account.kind.info().makes_keys
                    && !is_current
                    && ui.button(format!("Use {}", account.label())).clicked()
                {
                    action = Some(Action::SwitchServer(account.name.clone()));
                }
                if account.url.is_some()
                    && account.kind.signs_in()
                    && ui
                        .button(format!("Sign out of {}", account.label()))
                        .clicked()
                {
                    action = Some(Action::SignOut(account.name.clone()));
                }
            });
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button("Add server").clicked() {
                action = Some(Action::OpenSignIn);
            }
            if ui.button("Close").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}
