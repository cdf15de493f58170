//! Edit a key's name and description.

use super::modal::{dialog_ui, text_field_ui};
use super::state::{Action, EditDraft};
use crate::sources::Edit;

pub fn edit_dialog_ui(ctx: &egui::Context, draft: &mut EditDraft) -> Option<Action> {
    dialog_ui(ctx, "Edit key", |ui| {
        text_field_ui(ui, "Name", &mut draft.name, false);
        text_field_ui(ui, "Description", &mut draft.description, false);
        let mut action = None;
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                let edit = Edit {
                    name: Some(draft.name.trim().to_string()),
                    description: Some(draft.description.trim().to_string()),
                };
                action = Some(Action::SaveEdit(draft.key.clone(), edit));
            }
            if ui.button("Cancel").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}
