//! Confirmations that name the key: revoke, delete for good.

use super::modal::dialog_ui;
use super::state::Action;
use crate::sources::{SourceKey, SourceKind};

#[derive(Debug, Clone, Copy)]
pub enum Confirm {
    Revoke,
    Delete,
}

pub fn confirm_dialog_ui(ctx: &egui::Context, what: Confirm, key: &SourceKey) -> Option<Action> {
    let (title, text, button, action) = match what {
        Confirm::Revoke => (
            "Revoke key",
            format!(
                "Revoke \"{}\"? It stops working at once and cannot be enabled again.",
                key.name
            ),
            "Yes, revoke",
            Action::Revoke(key.key_ref()),
        ),
        Confirm::Delete => (
            "Delete key",
            match key.kind {
                SourceKind::Thingsboard => format!(
                    "Delete \"{}\" on ThingsBoard? ThingsBoard has no revoke: deleting it is \
                     revoking it, at once and for good.",
                    key.name
                ),
                SourceKind::Tracked => format!(
                    "Forget \"{}\" here? Its secret leaves this computer's keychain. Revoke it \
                     on {} itself if it still works.",
                    key.name,
                    key.service().name
                ),
                SourceKind::Keywarden => format!(
                    "Delete \"{}\" for good? It stops working and disappears from the list.",
                    key.name
                ),
            },
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
