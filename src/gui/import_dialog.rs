//! *Add key → Import…*: keys from a `.env` file, a KeePassXC database, a Bitwarden or a
//! 1Password export, as `keywarden import` takes them, with the result in its words.

use super::modal::{dialog_ui, path_field_ui, text_field_ui};
use super::state::{Action, ImportDraft, ImportRequest, PathField};
use super::theme;
use crate::secret::Secret;
use crate::transfer::import::{Format, Options};

pub const IMPORT: &str = "Import";

pub fn import_dialog_ui(
    ctx: &egui::Context,
    draft: &mut ImportDraft,
    busy: bool,
    chooser: bool,
) -> Option<Action> {
    dialog_ui(ctx, "Import keys from a file", |ui| {
        ui.label(
            "Takes the API keys of a .env file, a KeePassXC database, a Bitwarden JSON export or \
             a 1Password export (1PUX) as tracked keys; keys held already are skipped.",
        );
        let mut action = None;
        if path_field_ui(ui, "File", &mut draft.path, chooser) {
            action = Some(Action::ChooseFile(PathField::Import));
        }
        egui::ComboBox::from_label("Format")
            .selected_text(
                draft
                    .format
                    .map_or("recognised from the file", Format::label),
            )
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut draft.format, None, "recognised from the file");
                for format in Format::ALL {
                    ui.selectable_value(&mut draft.format, Some(format), format.label());
                }
            });
        let path = draft.path.trim().to_ascii_lowercase();
        let keepassxc = draft.format == Some(Format::Keepassxc)
            || draft.format.is_none() && path.ends_with(".kdbx");
        let dotenv = draft.format == Some(Format::Dotenv)
            || draft.format.is_none() && (path.ends_with(".env") || path.contains("/.env"));
        if keepassxc {
            text_field_ui(ui, "Database password", &mut draft.password, true);
            if path_field_ui(ui, "Key file (if any)", &mut draft.key_file, chooser) {
                action = Some(Action::ChooseFile(PathField::KeyFile));
            }
        }
        text_field_ui(ui, "Group or folder", &mut draft.within, false)
            .on_hover_text("A KeePassXC group (Dev/APIs) or a Bitwarden folder; empty: all");
        ui.checkbox(
            &mut draft.all,
            "Every entry with a secret, not only API keys",
        );
        if dotenv {
            ui.checkbox(
                &mut draft.rewrite,
                "Then replace the values in the file with their kw:// references",
            );
        }
        ui.checkbox(&mut draft.dry_run, "Only say what would be imported");
        for line in &draft.result {
            ui.label(line);
        }
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        ui.horizontal(|ui| {
            if ui.add_enabled(!busy, egui::Button::new(IMPORT)).clicked() {
                action = request(draft, keepassxc, dotenv);
            }
            if busy {
                ui.spinner();
            }
            if ui.button("Close").clicked() {
                action = Some(Action::CloseDialog);
            }
        });
        action
    })
}

fn request(draft: &mut ImportDraft, keepassxc: bool, dotenv: bool) -> Option<Action> {
    let path = super::backup_dialog::expand_home(draft.path.trim());
    if path.is_empty() {
        draft.error = Some("Give the file's path.".into());
        return None;
    }
    let mut options = Options {
        within: Some(draft.within.trim().to_string()).filter(|w| !w.is_empty()),
        all: draft.all,
        ..Options::default()
    };
    let mut key_file = None;
    if keepassxc {
        let path = super::backup_dialog::expand_home(draft.key_file.trim());
        key_file = Some(path).filter(|p| !p.is_empty()).map(Into::into);
        if !draft.password.is_empty() {
            options.password = Some(Secret::new(std::mem::take(&mut draft.password)));
        }
    }
    draft.error = None;
    draft.result.clear();
    Some(Action::Import(Box::new(ImportRequest {
        path: path.into(),
        format: draft.format,
        options,
        key_file,
        dry_run: draft.dry_run,
        rewrite: dotenv && draft.rewrite && !draft.dry_run,
    })))
}
