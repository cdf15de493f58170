//! The selected key: every field, its audit events, and what can be done with it.

use chrono::{DateTime, Utc};

use super::key_table::status_badge_ui;
use super::state::{Action, State, relative_time};
use crate::api::KeyStatus;
use crate::client::CopyFormat;

pub fn detail_panel_ui(ui: &mut egui::Ui, state: &State, now: DateTime<Utc>) -> Option<Action> {
    let Some(key) = state.selected_key() else {
        ui.label("Select a key to see its details.");
        return None;
    };
    let mut action = None;
    ui.heading(&key.name);
    ui.add_space(4.0);
    egui::Grid::new("key-fields")
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            let field = |ui: &mut egui::Ui, name: &str, value: String| {
                ui.label(name);
                ui.label(value);
                ui.end_row();
            };
            ui.label("Status");
            status_badge_ui(ui, key, now, &state.config.thresholds);
            ui.end_row();
            field(ui, "Key", key.hint.clone());
            field(
                ui,
                "Description",
                if key.description.is_empty() {
                    "—".into()
                } else {
                    key.description.clone()
                },
            );
            field(
                ui,
                "Expires",
                format!(
                    "{} ({})",
                    key.expires_at.format("%Y-%m-%d %H:%M UTC"),
                    relative_time(key.expires_at, now)
                ),
            );
            field(
                ui,
                "Created",
                key.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            );
            field(
                ui,
                "Last used",
                key.last_used_at
                    .map_or_else(|| "never".into(), |at| relative_time(at, now)),
            );
            if let Some(revoked_at) = key.revoked_at {
                let verb = if revoked_at <= now {
                    "Revoked"
                } else {
                    "Revokes"
                };
                field(
                    ui,
                    verb,
                    format!(
                        "{} ({})",
                        revoked_at.format("%Y-%m-%d %H:%M UTC"),
                        relative_time(revoked_at, now)
                    ),
                );
            }
            field(ui, "Owner", state.owner_email(key.user_id));
            field(ui, "Workspace", key.workspace_id.to_string());
            field(
                ui,
                "Scopes",
                if key.scopes.is_empty() {
                    "—".into()
                } else {
                    key.scopes.join(", ")
                },
            );
            field(
                ui,
                "Rights",
                if key.manages() {
                    "manages keys and accounts, like a session".into()
                } else {
                    "reads and verifies only".into()
                },
            );
            field(
                ui,
                "Keychain",
                if state.held.contains(&key.id) {
                    "held on this computer".into()
                } else {
                    "not held here".into()
                },
            );
            if let Some(replaces) = key.replaces {
                field(ui, "Replaces", format!("key {replaces}"));
            }
        });

    ui.separator();
    let copy_allowed = state.can_copy(key.id);
    for format in CopyFormat::ALL {
        let button = ui.add_enabled(copy_allowed.is_ok(), egui::Button::new(format.label()));
        let button = match copy_allowed {
            Err(why) => button.on_disabled_hover_text(why),
            Ok(()) if format == CopyFormat::Plain => button.on_hover_text("Ctrl+C"),
            Ok(()) => button,
        };
        if button.clicked() {
            action = Some(Action::Copy(key.id, format));
        }
    }

    ui.separator();
    let status = key.status_at(now);
    let can_change = state.can_change();
    let why_not = if can_change {
        "This key is revoked"
    } else {
        "Viewers cannot change keys"
    };
    ui.horizontal_wrapped(|ui| {
        let (label, enable) = if key.enabled {
            ("Disable", false)
        } else {
            ("Enable", true)
        };
        let alive = status != KeyStatus::Revoked;
        if ui
            .add_enabled(can_change && alive, egui::Button::new(label))
            .on_disabled_hover_text(why_not)
            .clicked()
        {
            action = Some(Action::SetEnabled(key.id, enable));
        }
        if ui
            .add_enabled(can_change, egui::Button::new("Edit"))
            .on_disabled_hover_text(why_not)
            .clicked()
        {
            action = Some(Action::OpenEdit(key.id));
        }
        let rotatable = alive && key.revoked_at.is_none();
        if ui
            .add_enabled(can_change && rotatable, egui::Button::new("Rotate"))
            .on_disabled_hover_text(why_not)
            .clicked()
        {
            action = Some(Action::AskRenew(key.id));
        }
        if ui
            .add_enabled(can_change && alive, egui::Button::new("Revoke"))
            .on_hover_text("Shortcut: Delete")
            .on_disabled_hover_text(why_not)
            .clicked()
        {
            action = Some(Action::AskRevoke(key.id));
        }
        if ui
            .add_enabled(can_change, egui::Button::new("Delete"))
            .on_disabled_hover_text(why_not)
            .clicked()
        {
            action = Some(Action::AskDelete(key.id));
        }
    });

    ui.separator();
    ui.strong("Audit events");
    match state.audit.value() {
        Some(events) if !events.is_empty() => {
            egui::ScrollArea::vertical()
                .id_salt("audit")
                .max_height(220.0)
                .show(ui, |ui| {
                    for event in events {
                        let who = event
                            .actor_user_id
                            .map_or_else(|| "someone".to_string(), |id| state.owner_email(id));
                        let from = event
                            .ip
                            .as_deref()
                            .map(|ip| format!(" from {ip}"))
                            .unwrap_or_default();
                        let with = event
                            .actor_key_id
                            .map(|id| format!(" with key {id}"))
                            .unwrap_or_default();
                        ui.label(format!(
                            "{}  {} by {who}{with}{from}",
                            event.at.format("%Y-%m-%d %H:%M"),
                            event.action.as_str()
                        ));
                    }
                });
        }
        Some(_) => {
            ui.label("No events.");
        }
        None if state.audit.is_loading() => {
            ui.spinner();
        }
        None => {}
    }
    if let Some(error) = state.audit.error() {
        ui.colored_label(super::theme::ERROR, error);
    }
    action
}
