//! A titled modal dialog; Esc or a click beside it asks to close.

use super::state::Action;
use super::theme;

/// Shows a modal; returns what `add` returned and whether the user asked to close it.
pub fn modal_ui<R>(
    ctx: &egui::Context,
    title: &str,
    add: impl FnOnce(&mut egui::Ui) -> R,
) -> (R, bool) {
    let response = egui::Modal::new(egui::Id::unique(("modal", title))).show(ctx, |ui| {
        ui.set_width(theme::DIALOG_WIDTH);
        ui.heading(title);
        ui.add_space(6.0);
        add(ui)
    });
    let close = response.should_close();
    (response.inner, close)
}

/// A modal whose `add` returns the action chosen; Esc or a click beside it means "close".
pub fn dialog_ui(
    ctx: &egui::Context,
    title: &str,
    add: impl FnOnce(&mut egui::Ui) -> Option<Action>,
) -> Option<Action> {
    let (action, close) = modal_ui(ctx, title, add);
    action.or(close.then_some(Action::CloseDialog))
}

/// A labelled single-line text field, findable by its label.
pub fn text_field_ui(
    ui: &mut egui::Ui,
    label: &str,
    text: &mut String,
    password: bool,
) -> egui::Response {
    ui.horizontal(|ui| {
        let label = ui.add_sized([110.0, 20.0], egui::Label::new(label));
        ui.add(
            egui::TextEdit::singleline(text)
                .password(password)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id)
    })
    .inner
}

/// The button beside a path field that opens the desktop's file chooser.
pub const CHOOSE: &str = "Choose…";

/// A labelled path field; with `chooser` (the desktop has a file chooser) a [`CHOOSE`] button
/// beside it, whose click is returned.
pub fn path_field_ui(ui: &mut egui::Ui, label: &str, text: &mut String, chooser: bool) -> bool {
    if !chooser {
        text_field_ui(ui, label, text, false);
        return false;
    }
    ui.horizontal(|ui| {
        let label = ui.add_sized([110.0, 20.0], egui::Label::new(label));
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let clicked = ui
                .button(CHOOSE)
                .on_hover_text("Choose the file in the desktop's file chooser")
                .clicked();
            ui.add(egui::TextEdit::singleline(text).desired_width(f32::INFINITY))
                .labelled_by(label.id);
            clicked
        })
        .inner
    })
    .inner
}

/// The expiry choice of the generate, add and renew dialogs: the presets, a date (its field shown
/// when chosen, with `date_hint` as hover text), and "does not expire" where `never_ok`.
pub fn expiry_ui(
    ui: &mut egui::Ui,
    label: &str,
    choice: &mut super::state::ExpiryChoice,
    date: &mut String,
    never_ok: bool,
    date_hint: &str,
) {
    use super::state::{EXPIRY_DAYS, ExpiryChoice, NEVER};
    ui.horizontal_wrapped(|ui| {
        ui.label(label);
        for days in EXPIRY_DAYS {
            ui.radio_value(choice, ExpiryChoice::Days(days), format!("{days} days"));
        }
        ui.radio_value(choice, ExpiryChoice::Date, "on a date");
        if never_ok {
            ui.radio_value(choice, ExpiryChoice::Never, NEVER);
        }
    });
    if *choice == ExpiryChoice::Date {
        text_field_ui(ui, "Expiry date", date, false).on_hover_text(date_hint);
    }
}
