//! Generate a key: name, description, expiry (preset or date, at most a year) and, for admins, the owner.

use chrono::{NaiveDate, Utc};

use super::modal::{dialog_ui, text_field_ui};
use super::state::{Action, EXPIRY_DAYS, ExpiryChoice, GenerateDraft, State};
use super::theme;
use crate::api::{CreateKeyRequest, MANAGE_SCOPE};

pub fn generate_dialog_ui(
    ctx: &egui::Context,
    draft: &mut GenerateDraft,
    state: &State,
) -> Option<Action> {
    dialog_ui(ctx, "Generate a key", |ui| {
        let name = text_field_ui(ui, "Name", &mut draft.name, false);
        if draft.name.is_empty() && !name.has_focus() && draft.error.is_none() {
            name.request_focus();
        }
        text_field_ui(ui, "Description", &mut draft.description, false);
        ui.horizontal_wrapped(|ui| {
            ui.label("Expires in");
            for days in EXPIRY_DAYS {
                ui.radio_value(
                    &mut draft.expiry,
                    ExpiryChoice::Days(days),
                    format!("{days} days"),
                );
            }
            ui.radio_value(&mut draft.expiry, ExpiryChoice::Date, "on a date");
        });
        if draft.expiry == ExpiryChoice::Date {
            text_field_ui(ui, "Expiry date", &mut draft.date, false)
                .on_hover_text("YYYY-MM-DD, at most a year away");
        }
        if state.is_admin() && !state.members.is_empty() {
            let me = state.my_user_id();
            let selected = draft
                .owner
                .or(me)
                .map_or_else(|| "me".to_string(), |id| state.owner_email(id));
            egui::ComboBox::from_label("Owner")
                .selected_text(selected)
                .show_ui(ui, |ui| {
                    for member in &state.members {
                        let value = if Some(member.user_id) == me {
                            None
                        } else {
                            Some(member.user_id)
                        };
                        ui.selectable_value(&mut draft.owner, value, &member.email);
                    }
                });
        }
        ui.checkbox(
            &mut draft.manage,
            "May manage keys and accounts, like a session (keywarden:manage)",
        )
        .on_hover_text(
            "Without this the key only reads its owner's keys and, for admins, verifies keys. \
             A key that manages can create, rotate and revoke keys: keep it as safe as a password.",
        );
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        ui.add_space(6.0);
        let mut action = None;
        ui.horizontal(|ui| {
            let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Generate").clicked() || enter {
                match request_from(draft) {
                    Ok(request) => action = Some(Action::Generate(request)),
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

/// Checks the draft before anything is sent: the server checks again.
fn request_from(draft: &GenerateDraft) -> Result<CreateKeyRequest, String> {
    let name = draft.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("Give the key a name of 1 to 100 characters.".into());
    }
    if draft.description.chars().count() > 500 {
        return Err("The description can have at most 500 characters.".into());
    }
    let mut request = CreateKeyRequest {
        name: name.to_string(),
        description: Some(draft.description.trim().to_string()).filter(|d| !d.is_empty()),
        user_id: draft.owner,
        scopes: draft.manage.then(|| vec![MANAGE_SCOPE.to_string()]),
        ..Default::default()
    };
    match draft.expiry {
        ExpiryChoice::Days(days) => request.expires_in_days = Some(days),
        ExpiryChoice::Date => {
            let date = NaiveDate::parse_from_str(draft.date.trim(), "%Y-%m-%d")
                .map_err(|_| "Write the expiry date as YYYY-MM-DD.".to_string())?;
            let at = date
                .and_hms_opt(23, 59, 59)
                .map(|t| t.and_utc())
                .ok_or("That date does not exist.")?;
            let now = Utc::now();
            if at <= now {
                return Err("The expiry date must be in the future.".into());
            }
            if at > now + chrono::Duration::days(365) {
                return Err("A key can live at most one year.".into());
            }
            request.expires_at = Some(at);
        }
    }
    Ok(request)
}
