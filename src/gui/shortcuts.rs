//! Keyboard shortcuts: Ctrl+N generate, Ctrl+F search, Ctrl+C copy the selected key, Delete
//! revoke, arrows move the selection. None while a dialog is open.

use super::state::{Action, State};
use crate::sources::copy::CopyFormat;

pub fn shortcuts(ctx: &egui::Context, state: &State) -> Vec<Action> {
    use egui::{Key, KeyboardShortcut, Modifiers};
    let mut actions = Vec::new();
    if state.dialog.is_some() {
        return actions;
    }
    let typing = ctx.memory(|m| m.focused().is_some());
    ctx.input_mut(|i| {
        if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::N)) {
            actions.push(Action::OpenGenerate);
        }
        if i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::F)) {
            actions.push(Action::SetFocusSearch);
        }
        if typing {
            return;
        }
        let copy_event = i.events.iter().any(|e| matches!(e, egui::Event::Copy));
        if (copy_event || i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::C)))
            && let Some(selected) = &state.selected
        {
            actions.push(Action::Copy(selected.clone(), CopyFormat::Plain));
        }
        if i.consume_key(Modifiers::NONE, Key::Delete)
            && let Some(selected) = &state.selected
        {
            actions.push(Action::AskRevoke(selected.clone()));
        }
        if i.consume_key(Modifiers::NONE, Key::ArrowDown) {
            actions.push(Action::MoveSelection(1));
        }
        if i.consume_key(Modifiers::NONE, Key::ArrowUp) {
            actions.push(Action::MoveSelection(-1));
        }
    });
    actions
}
