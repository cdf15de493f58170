//! Preferences: clipboard clearing, keeping secrets in the keychain, reminders, theme; and the
//! way to back up and restore the keys.

use super::modal::dialog_ui;
use super::state::Action;
use crate::settings::{Config, ThemeChoice};

pub fn settings_screen_ui(ctx: &egui::Context, draft: &mut Config) -> Option<Action> {
    dialog_ui(ctx, "Settings", |ui| {
        ui.horizontal(|ui| {
            let label = ui.label("Clear the clipboard after (seconds, 0 = never)");
            ui.add(egui::DragValue::new(&mut draft.clipboard_clear_secs).range(0..=3600))
                .labelled_by(label.id);
        });
        ui.checkbox(
            &mut draft.store_secrets,
            "Store new secrets in the OS keychain",
        );
        ui.checkbox(
            &mut draft.notifications,
            "Desktop notifications when a key nears its expiry",
        );
        ui.horizontal(|ui| {
            let thresholds = &mut draft.thresholds;
            let label = ui.label("Remind at (days before expiry): expiring");
            ui.add(egui::DragValue::new(&mut thresholds.expiring_days).range(1..=365))
                .labelled_by(label.id);
            let label = ui.label("urgent");
            ui.add(egui::DragValue::new(&mut thresholds.urgent_days).range(1..=365))
                .labelled_by(label.id);
            let label = ui.label("critical");
            ui.add(egui::DragValue::new(&mut thresholds.critical_days).range(0..=365))
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            ui.label("Theme");
            ui.radio_value(&mut draft.theme, ThemeChoice::System, "Follow the system");
            ui.radio_value(&mut draft.theme, ThemeChoice::Light, "Light");
            ui.radio_value(&mut draft.theme, ThemeChoice::Dark, "Dark");
        });
        let mut action = None;
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Keys");
            if ui.button("Back up…").clicked() {
                action = Some(Action::OpenTransfer(false));
            }
            if ui.button("Restore…").clicked() {
                action = Some(Action::OpenTransfer(true));
            }
            if ui
                .button("Projects…")
                .on_hover_text("The projects allowed to have keys here")
                .clicked()
            {
                action = Some(Action::OpenProjects);
            }
        });
        ui.separator();
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                action = Some(Action::SaveSettings(draft.clone()));
            }
            if ui.button("Cancel").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}
