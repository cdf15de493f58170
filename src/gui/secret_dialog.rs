//! A new secret, shown once: masked with a reveal toggle, copyable, gone after "Got it".

use super::modal::modal_ui;
use super::state::{Action, SecretShown};
use super::theme;
use crate::sources::copy::CopyFormat;

pub const GOT_IT: &str = "Got it, key has been saved";

pub fn secret_dialog_ui(
    ctx: &egui::Context,
    shown: &SecretShown,
    clipboard_ok: bool,
) -> Option<Action> {
    let (action, close) = modal_ui(ctx, "Your new key", |ui| {
        ui.label(format!(
            "This is the only time the secret of \"{}\" is shown.",
            shown.key.name
        ));
        let text = if shown.revealed {
            shown.secret.expose().to_string()
        } else {
            "•".repeat(shown.secret.expose().len())
        };
        ui.add(egui::Label::new(egui::RichText::new(text).monospace()).wrap());
        if shown.stored {
            ui.label("It is stored in this computer's keychain: you can copy it again later.");
        } else if let Some(error) = &shown.store_error {
            ui.colored_label(
                theme::ERROR,
                format!("It could not be stored in the keychain: {error}. Copy it now."),
            );
        } else {
            ui.label("It was not stored in the keychain (see Settings). Copy it now.");
        }
        let mut action = None;
        ui.horizontal(|ui| {
            if ui
                .button(if shown.revealed { "Hide" } else { "Reveal" })
                .clicked()
            {
                action = Some(Action::ToggleReveal);
            }
            let copy = ui.add_enabled(clipboard_ok, egui::Button::new("Copy"));
            if copy
                .on_disabled_hover_text("The clipboard is not available")
                .clicked()
            {
                action = Some(Action::CopyShown(CopyFormat::Plain));
            }
            if ui.button(GOT_IT).clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    });
    // Esc may close it only when the secret is safe in the keychain.
    if close && shown.stored && action.is_none() {
        Some(Action::CloseDialog)
    } else {
        action
    }
}
