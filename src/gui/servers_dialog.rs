//! The servers: the embedded one on this computer and the remote ones signed in to; switch, add,
//! sign out.

use super::modal::dialog_ui;
use super::state::{Action, State};
use crate::client::config::LOCAL_SERVER;

pub fn servers_dialog_ui(ctx: &egui::Context, state: &State) -> Option<Action> {
    dialog_ui(ctx, "Servers", |ui| {
        let mut action = None;
        let current = &state.config.current_server;
        let mut row = |ui: &mut egui::Ui, id: &str, title: String| {
            ui.horizontal(|ui| {
                let is_current = current == id;
                ui.label(if is_current {
                    format!("{title} (current)")
                } else {
                    title.clone()
                });
                if !is_current && ui.button(format!("Use {title}")).clicked() {
                    action = Some(Action::SwitchServer(id.to_string()));
                }
            });
        };
        row(ui, LOCAL_SERVER, "this computer".to_string());
        for server in &state.config.servers {
            row(
                ui,
                &server.url,
                format!("{} ({})", server.url, server.email),
            );
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button("Add server").clicked() {
                action = Some(Action::OpenSignIn);
            }
            if !state.config.is_local() && ui.button("Sign out").clicked() {
                action = Some(Action::SignOut);
            }
            if ui.button("Close").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}
