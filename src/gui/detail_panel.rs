//! The selected key: every field, what can be done with it (what its source cannot do is disabled,
//! with the reason), its last test, and for Keywarden keys the audit events.

use chrono::{DateTime, Utc};

use super::key_table::status_badge_ui;
use super::state::{Action, State, relative_time};
use crate::api::KeyStatus;
use crate::settings::LOCAL_SERVER;
use crate::sources::copy::CopyFormat;
use crate::sources::{Capability, SourceKey};

pub fn detail_panel_ui(ui: &mut egui::Ui, state: &State, now: DateTime<Utc>) -> Option<Action> {
    let Some(key) = state.selected_key() else {
        ui.label("Select a key to see its details.");
        return None;
    };
    let key_ref = key.key_ref();
    let service = key.service();
    // What the key's account can do (nothing while it is not reached).
    let capabilities = state
        .account(&key.source)
        .map(|a| a.capabilities)
        .unwrap_or_default();
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
            let source = state
                .account(&key.source)
                .map_or_else(|| key.source.clone(), |a| a.label());
            let kind = key.kind.label();
            field(
                ui,
                "Source",
                if source.eq_ignore_ascii_case(kind) {
                    source
                } else {
                    format!("{source} ({kind})")
                },
            );
            field(ui, "Service", service.name.to_string());
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
                match key.expires_at {
                    Some(at) => format!(
                        "{} ({})",
                        at.format("%Y-%m-%d %H:%M UTC"),
                        relative_time(at, now)
                    ),
                    None => "never".into(),
                },
            );
            field(
                ui,
                "Created",
                key.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            );
            if capabilities.last_used || key.last_used_at.is_some() {
                field(
                    ui,
                    "Last used",
                    key.last_used_at
                        .map_or_else(|| "never".into(), |at| relative_time(at, now)),
                );
            }
            if let Some(revoked_at) = key.revoked_at {
                let (verb, text) = match (revoked_at <= now, capabilities.overlap_by_client) {
                    (true, _) => ("Revoked", relative_time(revoked_at, now)),
                    (false, true) => (
                        "Old key",
                        format!("still valid until {}", revoked_at.format("%Y-%m-%d %H:%M")),
                    ),
                    (false, _) => ("Revokes", relative_time(revoked_at, now)),
                };
                field(ui, verb, text);
            }
            if key.owner.is_some() {
                field(ui, "Owner", state.owner_label(key));
            }
            if let Some(place) = used_at(key) {
                field(ui, "Used at", place);
            }
            if let Some(workspace) = &key.workspace {
                field(
                    ui,
                    service.workspace_label.unwrap_or("Workspace"),
                    key.workspace_name
                        .clone()
                        .unwrap_or_else(|| workspace.clone()),
                );
            }
            field(
                ui,
                "Header",
                format!("{}: {}…", service.header.name, service.header.scheme),
            );
            if let Some(rights) = key.rights_sentence() {
                field(ui, "Rights", rights.to_string());
            }
            field(
                ui,
                "Keychain",
                if state.held.contains(&key_ref) {
                    "held on this computer".into()
                } else {
                    "not held here".into()
                },
            );
            if let Some(replaces) = &key.replaces {
                field(ui, "Replaces", format!("key {replaces}"));
            }
            if let Some(newer) = &key.replaced_by {
                field(
                    ui,
                    "Replaced by",
                    format!("key {newer}: delete this one once it is retired on the service"),
                );
            }
        });

    ui.separator();
    let copy_allowed = state.can_copy(&key_ref);
    ui.horizontal_wrapped(|ui| {
        for format in CopyFormat::ALL {
            let button = ui.add_enabled(copy_allowed.is_ok(), egui::Button::new(format.label()));
            let button = match copy_allowed {
                Err(why) => button.on_disabled_hover_text(why),
                Ok(()) if format == CopyFormat::Plain => button.on_hover_text("Ctrl+C"),
                Ok(()) => button.on_hover_text(format!(
                    "In {}'s style: {}: {}…",
                    service.name, service.header.name, service.header.scheme
                )),
            };
            if button.clicked() {
                action = Some(Action::Copy(key_ref.clone(), format));
            }
        }
        if ui
            .button("Copy reference")
            .on_hover_text("kw://ACCOUNT/KEY, for keywarden run and inject: no secret")
            .clicked()
        {
            action = Some(Action::CopyReference(key_ref.clone()));
        }
    });
    ui.horizontal_wrapped(|ui| {
        let testable = match (service.check, copy_allowed) {
            (None, _) => Err(format!(
                "{} has no request that only reads, so its keys cannot be tested",
                service.name
            )),
            (_, Err(why)) if !state.held.contains(&key_ref) => Err(why.to_string()),
            _ => Ok(()),
        };
        let host = test_target(key);
        let button = ui
            .add_enabled(testable.is_ok(), egui::Button::new("Test"))
            .on_hover_text(match &host {
                Some(host) => format!("Send the key's own check request to {host}, once"),
                None => "Send the key's own check request to its service, once".to_string(),
            });
        let button = match &testable {
            Err(why) => button.on_disabled_hover_text(why),
            Ok(()) => button,
        };
        if button.clicked() {
            action = Some(Action::Test(key_ref.clone()));
        }
        if capabilities.key_page
            && service
                .key_page_url(key.base_url.as_deref(), key.workspace.as_deref())
                .is_some()
            && ui.button("Open key page").clicked()
        {
            action = Some(Action::OpenKeyPage(key_ref.clone()));
        }
    });
    // Where a test sends the key, said before the first one: a tracked key's fields choose it.
    if let (Some(host), Some(_)) = (test_target(key), service.check) {
        ui.label(format!("Test sends the key to {host}"));
    }
    if let Some(tested) = state.tests.get(&key_ref) {
        let color = if tested.ok {
            super::theme::OK
        } else {
            super::theme::ERROR
        };
        ui.colored_label(color, &tested.text);
    }

    ui.separator();
    let status = key.status_at(now);
    let alive = status != KeyStatus::Revoked;
    ui.horizontal_wrapped(|ui| {
        let button =
            |ui: &mut egui::Ui, label: &str, capability: Capability, extra: Result<(), &str>| {
                let allowed = state
                    .can(key, capability)
                    .and_then(|()| extra.map_err(String::from));
                let response = ui.add_enabled(allowed.is_ok(), egui::Button::new(label));
                match allowed {
                    Err(why) => response.on_disabled_hover_text(why).clicked(),
                    Ok(()) => response.clicked(),
                }
            };
        let (label, enable) = if key.enabled {
            ("Disable", false)
        } else {
            ("Enable", true)
        };
        let revoked = if alive {
            Ok(())
        } else {
            Err("This key is revoked")
        };
        if button(ui, label, Capability::Enable, revoked) {
            action = Some(Action::SetEnabled(key_ref.clone(), enable));
        }
        if button(ui, "Edit", Capability::Edit, Ok(())) {
            action = Some(Action::OpenEdit(key_ref.clone()));
        }
        let renewable = match (alive, key.replaced_by.is_some(), key.revoked_at.is_some()) {
            (false, _, _) => Err("This key is revoked"),
            (_, true, _) => Err("This key was renewed already; renew the new one"),
            (_, _, true) if !capabilities.renew_by_paste => {
                Err("This key is being replaced already")
            }
            _ => Ok(()),
        };
        if button(ui, "Renew", Capability::Renew, renewable) {
            action = Some(Action::AskRenew(key_ref.clone()));
        }
        if button(ui, "Revoke", Capability::Revoke, revoked) {
            action = Some(Action::AskRevoke(key_ref.clone()));
        }
        if button(ui, key.delete_label(), Capability::Delete, Ok(())) {
            action = Some(Action::AskDelete(key_ref.clone()));
        }
    });

    if !capabilities.audit {
        return action;
    }
    ui.separator();
    ui.strong("Audit events");
    match state.audit.value() {
        Some(events) if !events.is_empty() => {
            egui::ScrollArea::vertical()
                .id_salt("audit")
                .max_height(220.0)
                .show(ui, |ui| {
                    for event in events {
                        let who = event.actor_user_id.map_or_else(
                            || "someone".to_string(),
                            |id| {
                                state
                                    .owner_email(&key.source, &id.to_string())
                                    .unwrap_or_else(|| format!("user {id}"))
                            },
                        );
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

/// This computer's server listens on a port that changes at every start: it is named instead.
const THIS_SERVER: &str = "this computer's server";

/// Where the key is used, as the detail panel says it.
fn used_at(key: &SourceKey) -> Option<String> {
    if key.source == LOCAL_SERVER {
        return Some(THIS_SERVER.to_string());
    }
    key.base_url.clone()
}

/// Where a test of the key sends it.
fn test_target(key: &SourceKey) -> Option<String> {
    if key.source == LOCAL_SERVER {
        return Some(THIS_SERVER.to_string());
    }
    key.service()
        .test_host(key.base_url.as_deref(), key.workspace.as_deref())
}
