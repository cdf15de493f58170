//! Confirmations that name the key: revoke, delete for good.

use super::modal::dialog_ui;
use super::state::Action;
use crate::sources::SourceKey;

#[derive(Debug, Clone, Copy)]
pub enum Confirm {
    Revoke,
    Delete,
}

pub fn confirm_dialog_ui(ctx: &egui::Context, what: Confirm, key: &SourceKey) -> Option<Action> {
    let (title, text, button, action) = match what {
        Confirm::Revoke => (
            "Revoke key",
            key.revoke_question(),
            "Yes, revoke",
            Action::Revoke(key.key_ref()),
        ),
        Confirm::Delete => (
            "Delete key",
            key.delete_question(),
            "Yes, delete for good",
            Action::Delete(key.key_ref()),
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
