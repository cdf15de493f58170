//! Settings → *Projects…*: each file allowed to have keys on this computer (a project file, a
//! `.env` file, a template), the keys it may use and what it steers, when it last used them, and
//! *Revoke consent*, as `keywarden allow --list` and `keywarden deny` do.

use chrono::Utc;

use super::modal::dialog_ui;
use super::state::{Action, ProjectsDraft};
use super::theme;
use crate::reminders::relative_time;

pub const REVOKE_CONSENT: &str = "Revoke consent";

pub fn projects_dialog_ui(ctx: &egui::Context, draft: &ProjectsDraft) -> Option<Action> {
    dialog_ui(ctx, "Projects", |ui| {
        ui.label(
            "Files allowed to have keys here (keywarden allow). An edit to one asks again; \
             revoking consent makes it ask again too.",
        );
        let mut action = None;
        match &draft.consents {
            None if draft.error.is_none() => {
                ui.spinner();
            }
            None => {}
            Some(consents) if consents.is_empty() => {
                ui.label("No project is allowed on this computer.");
            }
            Some(consents) => {
                let now = Utc::now();
                egui::ScrollArea::vertical()
                    .max_height(360.0)
                    .show(ui, |ui| {
                        for consent in consents {
                            ui.separator();
                            ui.strong(consent.path.display().to_string());
                            for (variable, reference) in &consent.asks.references {
                                ui.label(format!("{variable} = {reference}"));
                            }
                            for (variable, value) in &consent.asks.steering {
                                ui.colored_label(
                                    theme::WARNING,
                                    format!("sets {variable} = {value}"),
                                );
                            }
                            ui.horizontal(|ui| {
                                ui.weak(format!(
                                    "allowed {}; {}",
                                    relative_time(consent.allowed_at, now),
                                    consent.last_used_at.map_or_else(
                                        || "not used since".to_string(),
                                        |at| format!("last used {}", relative_time(at, now))
                                    )
                                ));
                                if ui.button(REVOKE_CONSENT).clicked() {
                                    action = Some(Action::RevokeConsent(consent.path.clone()));
                                }
                            });
                        }
                    });
            }
        }
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        ui.separator();
        if ui.button("Close").clicked() {
            action = Some(Action::CloseDialog);
        }
        action
    })
}
