//! The bar over the key list, in two rows: generate, add, refresh, accounts and settings; then
//! the filter chips, the source filter and the search.

use super::state::{Action, Filter, State};

pub fn toolbar_ui(ui: &mut egui::Ui, state: &State, search: &mut String) -> Option<Action> {
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        let can_generate = !state.generating_accounts().is_empty();
        let generate = ui.add_enabled(can_generate, egui::Button::new("Generate key"));
        if generate
            .on_hover_text("Ctrl+N")
            .on_disabled_hover_text("No account you are signed in to lets you make keys")
            .clicked()
        {
            action = Some(Action::OpenGenerate);
        }
        if ui
            .button("Add key")
            .on_hover_text("Keep a key you already have, of any service")
            .clicked()
        {
            action = Some(Action::OpenAdd);
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("Settings").clicked() {
                action = Some(Action::OpenSettings);
            }
            if ui.button("Accounts").clicked() {
                action = Some(Action::OpenServers);
            }
            if ui.button("Refresh").clicked() {
                action = Some(Action::Refresh);
            }
        });
    });
    ui.horizontal_wrapped(|ui| {
        for filter in Filter::ALL {
            if ui
                .selectable_label(state.view.filter == filter, filter.label())
                .clicked()
            {
                action = Some(Action::SetFilter(filter));
            }
        }
        ui.separator();
        let selected = state.view.source.as_ref().map_or_else(
            || "All sources".to_string(),
            |name| {
                state
                    .account(name)
                    .map_or_else(|| name.clone(), |a| a.label())
            },
        );
        let mut choice = state.view.source.clone();
        egui::ComboBox::from_label("Source")
            .selected_text(selected)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut choice, None, "All sources");
                for account in &state.accounts {
                    ui.selectable_value(&mut choice, Some(account.name.clone()), account.label());
                }
            });
        if choice != state.view.source {
            action = Some(Action::SetSource(choice));
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
    });
    action
}
