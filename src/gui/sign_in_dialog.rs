//! Sign in to a server: its kind, its URL, what that kind asks for (built from the account
//! layer's description of its sign-in, never from which kind it is), and a name for the account.
//! Also shown when a session expires. When the server asks for a second factor, the dialog turns
//! to a code step: the ways the server offers to give a code, and the code.

use super::modal::{dialog_ui, text_field_ui};
use super::state::{Action, SignInDraft};
use super::theme;
use crate::secret::Secret;
use crate::sources::accounts;

pub fn sign_in_dialog_ui(
    ctx: &egui::Context,
    draft: &mut SignInDraft,
    busy: bool,
) -> Option<Action> {
    if draft.second.is_some() {
        return code_step_ui(ctx, draft, busy);
    }
    dialog_ui(ctx, "Sign in to a server", |ui| {
        if let Some(reason) = &draft.reason {
            ui.label(reason);
        }
        ui.horizontal(|ui| {
            ui.label("Kind");
            for kind in accounts::sign_in_kinds() {
                ui.radio_value(&mut draft.kind, kind, kind.label());
            }
        });
        text_field_ui(ui, "Server URL", &mut draft.url, false);
        let fields = draft.kind.info().sign_in;
        let mut last = None;
        for &field in fields {
            let value = draft.field_mut(field);
            last = Some(text_field_ui(ui, field.label(), value, field.is_secret()));
        }
        text_field_ui(ui, "Account name", &mut draft.name, false)
            .on_hover_text("How the account is named in the list; empty: its URL");
        // Only for plain http:// to another machine, which is refused unless ticked.
        if crate::net::plain_http_refusal(draft.url.trim(), false).is_some() {
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
            let submit = last.is_some_and(|field| field.lost_focus())
                && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui
                .add_enabled(!busy, egui::Button::new("Sign in"))
                .clicked()
                || (submit && !busy)
            {
                let url = draft.url.trim().trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    draft.error = Some("The server URL starts with http:// or https://.".into());
                } else if let Some(missing) = fields
                    .iter()
                    .find(|&&field| draft.field_mut(field).trim().is_empty())
                {
                    draft.error = Some(format!("Enter your {}.", missing.label().to_lowercase()));
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

/// The second step: which way the code comes (where the server offers several), the code.
fn code_step_ui(ctx: &egui::Context, draft: &mut SignInDraft, busy: bool) -> Option<Action> {
    let url = draft.url.clone();
    let error = draft.error.clone();
    let second = draft.second.as_mut()?;
    dialog_ui(ctx, "Two-factor sign-in", |ui| {
        ui.label(format!("{url} asks for a verification code."));
        let providers = second.step.providers().to_vec();
        if providers.len() > 1 {
            for provider in &providers {
                ui.radio_value(&mut second.provider, provider.id.clone(), &provider.label);
            }
        }
        let chosen = providers.iter().find(|p| p.id == second.provider);
        if let Some(notice) = &second.notice {
            ui.label(notice);
        }
        let mut action = None;
        if chosen.is_some_and(|p| p.sends)
            && ui
                .add_enabled(!busy, egui::Button::new("Send code"))
                .clicked()
        {
            action = Some(Action::SendCode);
        }
        let field = text_field_ui(ui, "Verification code", &mut second.code, false);
        if second.code.is_empty() && !field.has_focus() && error.is_none() {
            field.request_focus();
        }
        if let Some(error) = &error {
            ui.colored_label(theme::ERROR, error);
        }
        ui.horizontal(|ui| {
            let submit = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.add_enabled(!busy, egui::Button::new("Verify")).clicked() || (submit && !busy))
                && !second.code.trim().is_empty()
            {
                let code = std::mem::take(&mut second.code);
                action = Some(Action::FinishSignIn(Secret::new(code.trim().to_string())));
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
