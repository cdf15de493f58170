//! The key list: a virtualised table (only visible rows are laid out), sortable by every column.

use chrono::{DateTime, Utc};
use egui_extras::{Column, TableBuilder};

use super::state::{Action, SortColumn, State, relative_time};
use super::theme;
use crate::reminders::{ExpiryClass, Thresholds, key_class};
use crate::sources::SourceKey;

pub fn key_table_ui(ui: &mut egui::Ui, state: &State, now: DateTime<Utc>) -> Option<Action> {
    let Some(keys) = state.keys.value() else {
        ui.centered_and_justified(|ui| {
            if state.keys.is_loading() {
                ui.spinner();
            } else {
                ui.label("No keys loaded.");
            }
        });
        return None;
    };
    if state.visible.is_empty() {
        ui.add_space(24.0);
        ui.vertical_centered(|ui| {
            if keys.is_empty() {
                ui.label(
                    "No keys yet. Generate your first key with \"Generate key\" (Ctrl+N), or add \
                     one you have with \"Add key\".",
                );
            } else {
                ui.label("No key matches this filter and search.");
            }
        });
        return None;
    }
    let mut action = None;
    let owners = state.is_admin();
    // A click anywhere on a row selects it; selectable labels would swallow the click.
    ui.style_mut().interaction.selectable_labels = false;
    let selected_row = state.selected.as_ref().and_then(|selected| {
        state
            .visible
            .iter()
            .position(|&i| keys[i].source == selected.source && keys[i].id == selected.id)
    });
    // The columns keep their widths; a window narrowed by the detail panel scrolls sideways
    // rather than clipping the last columns.
    egui::ScrollArea::horizontal()
        .id_salt("key-table-sideways")
        .show(ui, |ui| {
            let mut table = TableBuilder::new(ui)
                .striped(true)
                .sense(egui::Sense::click())
                .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
                .column(
                    Column::initial(200.0)
                        .at_least(120.0)
                        .clip(true)
                        .resizable(true),
                )
                .column(Column::auto().at_least(110.0).clip(true))
                .column(Column::auto().at_least(70.0))
                .column(Column::auto().at_least(150.0))
                .column(Column::auto().at_least(80.0))
                .column(Column::auto().at_least(80.0));
            if owners {
                table = table.column(Column::auto().at_least(110.0).clip(true));
            }
            table = table.column(Column::remainder().at_least(60.0));
            if let Some(row) = selected_row.filter(|_| state.scroll_to_selected) {
                table = table.scroll_to_row(row, None);
            }
            let mut columns = vec![
                (SortColumn::Name, "Name"),
                (SortColumn::Source, "Source"),
                (SortColumn::Status, "Status"),
                (SortColumn::Expires, "Expires"),
                (SortColumn::Created, "Created"),
                (SortColumn::LastUsed, "Last used"),
            ];
            if owners {
                columns.push((SortColumn::Owner, "Owner"));
            }
            columns.push((SortColumn::Held, "Keychain"));
            table
                .header(24.0, |mut header| {
                    for (column, title) in &columns {
                        header.col(|ui| {
                            if ui.add(egui::Button::new(*title).frame(false)).clicked() {
                                action = Some(Action::SortBy(*column));
                            }
                            if state.view.sort == *column {
                                sort_arrow_ui(ui, state.view.ascending);
                            }
                        });
                    }
                })
                .body(|body| {
                    body.rows(theme::ROW_HEIGHT, state.visible.len(), |mut row| {
                        let key = &keys[state.visible[row.index()]];
                        let key_ref = key.key_ref();
                        row.set_selected(state.selected.as_ref() == Some(&key_ref));
                        row.col(|ui| {
                            ui.label(&key.name);
                            if key.manages {
                                ui.label(
                                    egui::RichText::new("manages").small().color(theme::MANAGES),
                                )
                                .on_hover_text(
                                    "This key may manage keys and accounts like a session \
                                         (keywarden:manage)",
                                );
                            }
                        });
                        row.col(|ui| {
                            let account = state.account(&key.source);
                            let label = account.map_or_else(|| key.source.clone(), |a| a.label());
                            ui.label(label).on_hover_text(format!(
                                "{} key on {}",
                                key.service().name,
                                key.source
                            ));
                        });
                        row.col(|ui| {
                            status_badge_ui(ui, key, now, &state.config.thresholds);
                        });
                        row.col(|ui| match key.expires_at {
                            Some(expires_at) => {
                                let class = key_class(key, now, &state.config.thresholds)
                                    .unwrap_or(ExpiryClass::Ok);
                                let text = format!(
                                    "{} ({})",
                                    expires_at.format("%Y-%m-%d"),
                                    relative_time(expires_at, now)
                                );
                                match class {
                                    ExpiryClass::Ok => ui.label(text),
                                    _ => ui.label(
                                        egui::RichText::new(text).color(theme::class_color(class)),
                                    ),
                                };
                            }
                            None => {
                                ui.label("never");
                            }
                        });
                        row.col(|ui| {
                            ui.label(key.created_at.format("%Y-%m-%d").to_string());
                        });
                        row.col(|ui| {
                            ui.label(
                                key.last_used_at.map_or_else(
                                    || "never".to_string(),
                                    |at| relative_time(at, now),
                                ),
                            );
                        });
                        if owners {
                            row.col(|ui| {
                                ui.label(state.owner_label(key));
                            });
                        }
                        row.col(|ui| {
                            ui.label(if state.held.contains(&key_ref) {
                                "held"
                            } else {
                                "—"
                            });
                        });
                        let response = row.response();
                        if response.clicked() {
                            action = Some(Action::Select(key_ref.clone()));
                        }
                        response.context_menu(|ui| {
                            if ui.button("Renew…").clicked() {
                                action = Some(Action::AskRenew(key_ref.clone()));
                            }
                            if ui.button("Copy key").clicked() {
                                action = Some(Action::Copy(
                                    key_ref.clone(),
                                    crate::sources::copy::CopyFormat::Plain,
                                ));
                            }
                            if ui.button("Copy reference").clicked() {
                                action = Some(Action::CopyReference(key_ref.clone()));
                            }
                        });
                    });
                });
        });
    action
}

/// A small triangle beside the sorted column's title, pointing up when ascending.
fn sort_arrow_ui(ui: &mut egui::Ui, ascending: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    let (top, bottom) = (rect.top() + 2.0, rect.bottom() - 2.0);
    let points = if ascending {
        vec![
            egui::pos2(rect.center().x, top),
            egui::pos2(rect.right(), bottom),
            egui::pos2(rect.left(), bottom),
        ]
    } else {
        vec![
            egui::pos2(rect.left(), top),
            egui::pos2(rect.right(), top),
            egui::pos2(rect.center().x, bottom),
        ]
    };
    let color = ui.visuals().text_color();
    ui.painter().add(egui::Shape::convex_polygon(
        points,
        color,
        egui::Stroke::NONE,
    ));
}

/// The status, or for a live key its expiry class, in its colour.
pub fn status_badge_ui(
    ui: &mut egui::Ui,
    key: &SourceKey,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) {
    let status = key.status_at(now);
    let class = key_class(key, now, thresholds).unwrap_or(ExpiryClass::Ok);
    ui.label(
        egui::RichText::new(key.status_word(now, thresholds))
            .color(theme::status_color(status, class))
            .strong(),
    );
}
