//! Edit a key's name and description, checked as the server checks them before anything is sent.

use super::modal::{dialog_ui, text_field_ui};
use super::state::{Action, EditDraft};
use super::theme;
use crate::api::limits;
use crate::sources::Edit;

pub fn edit_dialog_ui(ctx: &egui::Context, draft: &mut EditDraft) -> Option<Action> {
    dialog_ui(ctx, "Edit key", |ui| {
        text_field_ui(ui, "Name", &mut draft.name, false);
        text_field_ui(ui, "Description", &mut draft.description, false);
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        let mut action = None;
        ui.horizontal(|ui| {
            if ui.button("Save").clicked() {
                match edit(draft) {
                    Ok(edit) => action = Some(Action::SaveEdit(draft.key.clone(), edit)),
                    Err(error) => draft.error = Some(error),
                }
            }
            if ui.button("Cancel").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}

fn edit(draft: &EditDraft) -> Result<Edit, String> {
    Ok(Edit {
        name: Some(limits::key_name(&draft.name)?),
        description: Some(limits::key_description(&draft.description)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edit dialog refuses what the server refuses and keeps what it keeps (it sent anything
    /// before, and the server's refusal came back after the round trip).
    #[test]
    fn the_edit_dialog_and_the_server_agree() {
        let draft = |name: &str, description: &str| EditDraft {
            key: crate::sources::sample_key("local", "1", None).key_ref(),
            name: name.into(),
            description: description.into(),
            error: None,
        };
        for name in limits::boundary_texts(limits::KEY_NAME_MAX_CHARS) {
            let dialog = edit(&draft(&name, "")).map(|edit| edit.name);
            let server = crate::server::validate_name(&name).map_err(|err| err.to_string());
            assert_eq!(dialog, server.map(Some), "{name:?}");
        }
        for description in limits::boundary_texts(limits::KEY_DESCRIPTION_MAX_CHARS) {
            let dialog = edit(&draft("n", &description)).map(|edit| edit.description);
            let server =
                crate::server::validate_description(&description).map_err(|err| err.to_string());
            assert_eq!(dialog, server.map(Some), "{description:?}");
        }
    }
}
