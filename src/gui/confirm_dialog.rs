//! Confirmations that name the key: revoke, delete for good.

use super::modal::dialog_ui;
use super::state::Action;
use crate::api::KeyInfo;

#[derive(Debug, Clone, Copy)]
pub enum Confirm {
    Revoke,
    Delete,
}

pub fn confirm_dialog_ui(ctx: &egui::Context, what: Confirm, key: &KeyInfo) -> Option<Action> {
    let (title, text, button, action) = match what {
        Confirm::Revoke => (
            "Revoke key",
            format!(
                "Revoke \"{}\"? It stops working at once and cannot be enabled again.",
                key.name
            ),
            "Yes, revoke",
            Action::Revoke(key.id),
        ),
        Confirm::Delete => (
            "Delete key",
            format!(
                "Delete \"{}\" for good? It stops working and disappears from the list.",
                key.name
            ),
            "Yes, delete for good",
            Action::Delete(key.id),
        ),
    };
    dialog_ui(ctx, title, |ui| {
        ui.label(text);
        ui.add_space(6.0);
        let mut chosen = None;
        ui.horizontal(|ui| {
            if ui.button(button).clicked() {
                chosen = Some(action);
            }
            if ui.button("Cancel").clicked() {
                chosen = Some(Action::CloseDialog);
            }
        });
        chosen
    })
}
