//! Add a key you already have (a tracked key): paste it, and the service is recognised from its
//! form where it can be (`kw_`, `tb_`, `ghp_`/`github_pat_`, `glpat-`); otherwise choose it. Then a
//! name, the expiry the service showed, and where the key is used.

use super::modal::{dialog_ui, expiry_ui, text_field_ui};
use super::state::{Action, AddDraft, expiry_from};
use super::theme;
use crate::secret::Secret;
use crate::sources::services::{self, SERVICES};
use crate::sources::tracked::NewTracked;

pub const ADD: &str = "Add this key";
pub const PASTE: &str = "Paste from the clipboard";
pub const IMPORT_FROM_FILE: &str = "Import from a file…";

pub fn add_dialog_ui(
    ctx: &egui::Context,
    draft: &mut AddDraft,
    clipboard_ok: bool,
) -> Option<Action> {
    dialog_ui(ctx, "Add a key you have", |ui| {
        ui.label("The key goes into this computer's keychain; only its name and dates are kept in a file.");
        let mut action = None;
        if ui
            .add_enabled(clipboard_ok, egui::Button::new(PASTE))
            .on_disabled_hover_text("The clipboard is not available")
            .clicked()
        {
            action = Some(Action::PasteKey);
        }
        let pasted = text_field_ui(ui, "Key", &mut draft.secret, true);
        if draft.secret.is_empty() && !pasted.has_focus() && draft.error.is_none() {
            pasted.request_focus();
        }
        let recognised = services::recognise(&draft.secret);
        if let Some(found) = recognised
            && draft.service.is_empty()
        {
            draft.service = found.id.to_string();
        }
        let service = services::find(&draft.service);
        ui.horizontal(|ui| {
            egui::ComboBox::from_label("Its service")
                .selected_text(service.map_or("choose…", |s| s.name))
                .show_ui(ui, |ui| {
                    for s in &SERVICES {
                        ui.selectable_value(&mut draft.service, s.id.to_string(), s.name);
                    }
                });
            if let Some(found) = recognised {
                ui.label(format!("recognised: {}", found.name));
            }
        });
        text_field_ui(ui, "Name", &mut draft.name, false);
        text_field_ui(ui, "Description", &mut draft.description, false);
        let max = service.and_then(|s| s.max_lifetime_days);
        expiry_ui(
            ui,
            "Expires in",
            &mut draft.expiry,
            &mut draft.date,
            max.is_none(),
            "YYYY-MM-DD: the date the service showed",
        );
        let url = text_field_ui(ui, "Base URL", &mut draft.base_url, false);
        if let Some(default) = service.and_then(|s| s.default_base_url) {
            url.on_hover_text(format!("Empty: {default}"));
        }
        if let Some(label) = service.and_then(|s| s.workspace_label) {
            text_field_ui(ui, label, &mut draft.workspace, false);
        }
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        ui.horizontal(|ui| {
            if ui.button(ADD).clicked() {
                match tracked_from(draft, max) {
                    Ok(new) => {
                        let secret =
                            Secret::new(std::mem::take(&mut draft.secret).trim().to_string());
                        action = Some(Action::Add(new, secret));
                    }
                    Err(error) => draft.error = Some(error),
                }
            }
            if ui.button("Cancel").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        ui.separator();
        if ui
            .button(IMPORT_FROM_FILE)
            .on_hover_text("Keys of a .env file, KeePassXC, Bitwarden or 1Password")
            .clicked()
        {
            action = Some(Action::OpenImport);
        }
        action
    })
}

fn tracked_from(draft: &AddDraft, max: Option<i64>) -> Result<NewTracked, String> {
    let secret = draft.secret.trim();
    if secret.is_empty() {
        return Err("Paste the key first.".into());
    }
    if secret.chars().any(char::is_whitespace) {
        return Err("The key contains spaces or line breaks: paste the key alone.".into());
    }
    if services::find(&draft.service).is_none() {
        return Err("Choose the key's service.".into());
    }
    if draft.name.trim().is_empty() {
        return Err("Give the key a name.".into());
    }
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(NewTracked {
        service: draft.service.clone(),
        name: draft.name.trim().to_string(),
        description: draft.description.trim().to_string(),
        expires_at: expiry_from(draft.expiry, &draft.date, max, max.is_none())?,
        base_url: text(&draft.base_url),
        workspace: text(&draft.workspace),
    })
}
