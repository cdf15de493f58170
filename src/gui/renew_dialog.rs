//! Renew (rotate) a key: prefilled from the old key, with a new expiry and how long the old key
//! keeps working. The server's rotate does it; the new secret is shown once and kept.

use super::modal::dialog_ui;
use super::state::{Action, EXPIRY_DAYS, Overlap, RenewDraft};
use crate::api::RotateKeyRequest;

pub const RENEW: &str = "Yes, rotate";

pub fn renew_dialog_ui(ctx: &egui::Context, draft: &mut RenewDraft) -> Option<Action> {
    dialog_ui(ctx, "Rotate or renew key", |ui| {
        let key = &draft.key;
        ui.label(format!(
            "Replace \"{}\" with a new key with the same name, description and scopes.",
            key.name
        ));
        if !key.description.is_empty() {
            ui.label(format!("Description: {}", key.description));
        }
        if !key.scopes.is_empty() {
            ui.label(format!("Scopes: {}", key.scopes.join(", ")));
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("New key expires in");
            for days in EXPIRY_DAYS {
                ui.radio_value(&mut draft.expires_in_days, days, format!("{days} days"));
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label("Revoke the old key");
            for overlap in Overlap::ALL {
                ui.radio_value(&mut draft.overlap, overlap, overlap.label());
            }
        });
        let mut action = None;
        ui.horizontal(|ui| {
            if ui.button(RENEW).clicked() {
                let request = RotateKeyRequest {
                    expires_in_days: Some(draft.expires_in_days),
                    grace_seconds: Some(draft.overlap.grace_seconds()),
                };
                action = Some(Action::Renew(draft.key.id, request));
            }
            if ui.button("Cancel").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}
