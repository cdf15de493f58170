//! Sign in to a Keywarden or ThingsBoard server: URL, email, password, and a name for the account.
//! Also shown when a session expires.

use super::modal::{dialog_ui, text_field_ui};
use super::state::{Action, SignInDraft};
use super::theme;
use crate::secret::Secret;
use crate::sources::SourceKind;

pub fn sign_in_dialog_ui(
    ctx: &egui::Context,
    draft: &mut SignInDraft,
    busy: bool,
) -> Option<Action> {
    dialog_ui(ctx, "Sign in to a server", |ui| {
        if let Some(reason) = &draft.reason {
            ui.label(reason);
        }
        ui.horizontal(|ui| {
            ui.label("Kind");
            ui.radio_value(&mut draft.kind, SourceKind::Keywarden, "Keywarden");
            ui.radio_value(&mut draft.kind, SourceKind::Thingsboard, "ThingsBoard");
        });
        text_field_ui(ui, "Server URL", &mut draft.url, false);
        text_field_ui(ui, "Email", &mut draft.email, false);
        let password = text_field_ui(ui, "Password", &mut draft.password, true);
        text_field_ui(ui, "Account name", &mut draft.name, false)
            .on_hover_text("How the account is named in the list; empty: its URL");
        // Only for plain http:// to another machine, which is refused unless ticked.
        if crate::client::plain_http_refusal(draft.url.trim(), false).is_some() {
            ui.checkbox(&mut draft.allow_http, "Allow plain HTTP")
                .on_hover_text(
                    "Send the password and the session unencrypted to a server on another \
                     machine: only on a network you trust",
                );
        }
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        let mut action = None;
        ui.horizontal(|ui| {
            let submit = password.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .add_enabled(!busy, egui::Button::new("Sign in"))
                .clicked()
                || (submit && !busy)
            {
                let url = draft.url.trim().trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    draft.error = Some("The server URL starts with http:// or https://.".into());
                } else if draft.email.trim().is_empty() || draft.password.is_empty() {
                    draft.error = Some("Enter your email and password.".into());
                } else {
                    let password = Secret::new(std::mem::take(&mut draft.password));
                    let name = Some(draft.name.trim().to_string()).filter(|n| !n.is_empty());
                    action = Some(Action::SignIn {
                        url,
                        email: draft.email.trim().to_string(),
                        password,
                        kind: draft.kind,
                        name,
                        allow_http: draft.allow_http,
                    });
                }
            }
            if busy {
                ui.spinner();
            }
            if ui.button("Cancel").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}
