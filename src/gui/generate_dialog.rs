//! Generate a key on an account that makes keys (a Keywarden server, a ThingsBoard account): name,
//! description, expiry (preset, date, or never where the account allows it) and, for
//! administrators (of a Keywarden workspace, of a ThingsBoard tenant), the owner.

use super::modal::{dialog_ui, expiry_ui, text_field_ui};
use super::state::{Action, GenerateDraft, State, expiry_from};
use super::theme;
use crate::api::limits;
use crate::sources::NewKey;

pub fn generate_dialog_ui(
    ctx: &egui::Context,
    draft: &mut GenerateDraft,
    state: &State,
) -> Option<Action> {
    dialog_ui(ctx, "Generate a key", |ui| {
        let accounts = state.generating_accounts();
        if accounts.len() > 1 {
            let selected = state
                .account(&draft.account)
                .map_or_else(|| draft.account.clone(), |a| a.label());
            egui::ComboBox::from_label("Account")
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    for account in &accounts {
                        ui.selectable_value(
                            &mut draft.account,
                            account.name.clone(),
                            format!("{} ({})", account.label(), account.kind.label()),
                        );
                    }
                });
        }
        let account = state.account(&draft.account);
        let describe = account.is_some_and(|a| a.capabilities.describe);
        let never_ok = account.is_some_and(|a| a.capabilities.never_expires);
        let name = text_field_ui(ui, "Name", &mut draft.name, false);
        if draft.name.is_empty() && !name.has_focus() && draft.error.is_none() {
            name.request_focus();
        }
        if describe {
            text_field_ui(ui, "Description", &mut draft.description, false);
        }
        expiry_ui(
            ui,
            "Expires in",
            &mut draft.expiry,
            &mut draft.date,
            never_ok,
            "YYYY-MM-DD, at most a year away",
        );
        let users = state.owners.get(&draft.account).filter(|u| !u.is_empty());
        if let (Some(users), Some(account)) = (users, account) {
            let me = account.user_id.clone();
            let selected = draft.owner.clone().or(me.clone()).map_or_else(
                || "me".to_string(),
                |id| state.owner_email(&draft.account, &id).unwrap_or(id),
            );
            egui::ComboBox::from_label("Owner")
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    for (id, email) in users {
                        let value = (Some(id) != me.as_ref()).then(|| id.clone());
                        ui.selectable_value(&mut draft.owner, value, email);
                    }
                });
        }
        if account.is_some_and(|a| a.capabilities.manage_scope) {
            ui.checkbox(
                &mut draft.manage,
                "May manage keys and accounts, like a session (keywarden:manage)",
            )
            .on_hover_text(
                "Without this the key only reads its owner's keys and, for admins, verifies keys. \
                 A key that manages can create, rotate and revoke keys: keep it as safe as a \
                 password.",
            );
        }
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        ui.add_space(6.0);
        let mut action = None;
        ui.horizontal(|ui| {
            let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Generate").clicked() || enter {
                match new_key(draft, never_ok) {
                    Ok(new) => action = Some(Action::Generate(draft.account.clone(), new)),
                    Err(error) => draft.error = Some(error),
                }
            }
            if ui.button("Cancel").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}

/// Checks the draft before anything is sent: the source checks again.
fn new_key(draft: &GenerateDraft, never_ok: bool) -> Result<NewKey, String> {
    let name = limits::key_name(&draft.name)?;
    let description = limits::key_description(&draft.description)?;
    let max = (!never_ok).then_some(limits::MAX_KEY_DAYS);
    Ok(NewKey {
        name,
        description,
        expires_at: expiry_from(draft.expiry, &draft.date, max, never_ok)?,
        manage: draft.manage,
        owner: draft.owner.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::limits;
    use crate::gui::drafts::ExpiryChoice;

    fn draft(name: &str, description: &str) -> GenerateDraft {
        GenerateDraft {
            account: "local".into(),
            name: name.into(),
            description: description.into(),
            expiry: ExpiryChoice::Days(30),
            date: String::new(),
            owner: None,
            manage: false,
            error: None,
        }
    }

    /// The dialog refuses exactly what the server refuses, and keeps what the server keeps, for
    /// names and descriptions at and beside the limits.
    #[test]
    fn the_dialog_and_the_server_agree_on_names_and_descriptions() {
        for name in limits::boundary_texts(limits::KEY_NAME_MAX_CHARS) {
            let dialog = new_key(&draft(&name, ""), false).map(|key| key.name);
            let server = crate::server::validate_name(&name).map_err(|err| err.to_string());
            assert_eq!(
                dialog.is_ok(),
                server.is_ok(),
                "{name:?}: {dialog:?} / {server:?}"
            );
            if let (Ok(dialog), Ok(server)) = (&dialog, &server) {
                assert_eq!(dialog, server, "{name:?}");
            }
        }
        for description in limits::boundary_texts(limits::KEY_DESCRIPTION_MAX_CHARS) {
            let dialog = new_key(&draft("n", &description), false).map(|key| key.description);
            let server =
                crate::server::validate_description(&description).map_err(|err| err.to_string());
            assert_eq!(
                dialog.is_ok(),
                server.is_ok(),
                "{description:?}: {dialog:?} / {server:?}"
            );
            if let (Ok(dialog), Ok(server)) = (&dialog, &server) {
                assert_eq!(dialog, server, "{description:?}");
            }
        }
    }
}
