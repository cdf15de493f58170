//! Renew a key. A Keywarden key is rotated by its server; a ThingsBoard key is replaced by a new one
//! with the same name, the old one deleted after the overlap; a tracked key takes the new key made
//! on its service's page (opened from here), and the old one stays, marked replaced, until it is
//! retired there.

use super::modal::{dialog_ui, expiry_ui, text_field_ui};
use super::state::{AUTO_RENEW_DAYS, Action, Overlap, RenewDraft, expiry_from};
use super::theme;
use crate::secret::Secret;
use crate::sources::{Capabilities, Renewal};

pub const RENEW: &str = "Yes, renew";

pub fn renew_dialog_ui(
    ctx: &egui::Context,
    draft: &mut RenewDraft,
    capabilities: Capabilities,
) -> Option<Action> {
    let never_ok = capabilities.never_expires;
    let by_paste = capabilities.renew_by_paste;
    dialog_ui(ctx, "Renew key", |ui| {
        let key = draft.key.clone();
        let service = key.service();
        let mut action = None;
        if by_paste {
            ui.label(format!(
                "Make a new key for \"{}\" on {}, then paste it here. The old key stays, marked \
                 replaced, until you retire it there.",
                key.name, service.name
            ));
            let page = service.key_page_for(key.base_url.as_deref(), key.workspace.as_deref());
            ui.label(format!("Keys are managed at: {page}"));
            if service
                .key_page_url(key.base_url.as_deref(), key.workspace.as_deref())
                .is_some()
                && ui.button("Open key page").clicked()
            {
                action = Some(Action::OpenKeyPage(key.key_ref()));
            }
            text_field_ui(ui, "New key", &mut draft.secret, true);
        } else {
            ui.label(format!(
                "Replace \"{}\" with a new key with the same name and rights.",
                key.name
            ));
        }
        let max = service.max_lifetime_days.filter(|_| !never_ok);
        expiry_ui(
            ui,
            "New key expires in",
            &mut draft.expiry,
            &mut draft.date,
            never_ok,
            "YYYY-MM-DD",
        );
        if !by_paste {
            ui.horizontal_wrapped(|ui| {
                ui.label(key.old_key_fate());
                for overlap in Overlap::ALL {
                    ui.radio_value(&mut draft.overlap, overlap, overlap.label());
                }
            });
        }
        if !by_paste {
            let mut auto = draft.auto.is_some();
            let days = draft.auto.unwrap_or(14);
            ui.horizontal_wrapped(|ui| {
                if ui
                    .checkbox(&mut auto, "Renew on its own before it expires")
                    .on_hover_text(
                        "Keywarden renews the key when it enters this window, while the app is \
                         open or from the reminder timer, and tells you in a notification",
                    )
                    .changed()
                {
                    action = Some(Action::SetAutoRenew(key.key_ref(), auto.then_some(days)));
                }
                if auto {
                    for choice in AUTO_RENEW_DAYS {
                        if ui
                            .radio(days == choice, format!("{choice} days before"))
                            .clicked()
                            && choice != days
                        {
                            action = Some(Action::SetAutoRenew(key.key_ref(), Some(choice)));
                        }
                    }
                }
            });
            if draft.auto.is_some() {
                ui.colored_label(
                    theme::WARNING,
                    super::state::capitalised(&key.auto_renew_warning()),
                );
            }
        }
        if let Some(warning) = key.renew_warning() {
            ui.colored_label(theme::WARNING, warning);
        }
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        ui.horizontal(|ui| {
            if ui.button(RENEW).clicked() {
                let secret = by_paste.then(|| draft.secret.trim().to_string());
                match (
                    expiry_from(draft.expiry, &draft.date, max, never_ok),
                    secret,
                ) {
                    (Err(error), _) => draft.error = Some(error),
                    (Ok(_), Some(secret)) if secret.is_empty() => {
                        draft.error = Some("Paste the new key first.".into())
                    }
                    (Ok(expires_at), secret) => {
                        draft.secret.clear();
                        let renewal = Renewal {
                            expires_at,
                            overlap: draft.overlap.duration(),
                            secret: secret.map(Secret::new),
                            new_id: None,
                        };
                        action = Some(Action::Renew(key.key_ref(), renewal));
                    }
                }
            }
            if ui.button("Cancel").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}
