//! The bar over the key list: generate, filter chips, search, refresh, servers and settings.

use super::state::{Action, Filter, State};

pub fn toolbar_ui(ui: &mut egui::Ui, state: &State, search: &mut String) -> Option<Action> {
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        let generate = ui.add_enabled(state.can_change(), egui::Button::new("Generate key"));
        if generate
            .on_hover_text("Ctrl+N")
            .on_disabled_hover_text("Viewers cannot create keys")
            .clicked()
        {
            action = Some(Action::OpenGenerate);
        }
        ui.separator();
        for filter in Filter::ALL {
            if ui
                .selectable_label(state.view.filter == filter, filter.label())
                .clicked()
            {
                action = Some(Action::SetFilter(filter));
            }
        }
        ui.separator();
        let label = ui.label("Search");
        let field = ui
            .add(
                egui::TextEdit::singleline(search)
                    .hint_text("name or description")
                    .desired_width(180.0),
            )
            .labelled_by(label.id);
        if state.focus_search {
            field.request_focus();
        }
        if field.changed() {
            action = Some(Action::SetSearch(search.clone()));
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Settings").clicked() {
                action = Some(Action::OpenSettings);
            }
            if ui.button("Servers").clicked() {
                action = Some(Action::OpenServers);
            }
            if ui.button("Refresh").clicked() {
                action = Some(Action::Refresh);
            }
        });
    });
    action
}
