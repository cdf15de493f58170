//! Back up and restore from the app, as `keywarden backup` and `restore` do: a path, a passphrase
//! (twice for a backup), and the result in the command line's words.

use super::modal::{dialog_ui, path_field_ui, text_field_ui};
use super::state::{Action, PathField, TransferDraft};
use super::theme;
use crate::secret::Secret;

pub const BACK_UP: &str = "Back up";
pub const RESTORE: &str = "Restore";

pub fn backup_dialog_ui(
    ctx: &egui::Context,
    draft: &mut TransferDraft,
    busy: bool,
    chooser: bool,
) -> Option<Action> {
    let title = if draft.restore {
        "Restore a backup"
    } else {
        "Back up your keys"
    };
    dialog_ui(ctx, title, |ui| {
        ui.label(if draft.restore {
            "Puts a backup's secrets, tracked keys and accounts back on this computer. What is \
             here already stays; accounts come back signed out."
        } else {
            "Writes every secret this computer's keychain holds, the tracked keys, the accounts \
             (no password or session) and this computer's server to one file encrypted with age."
        });
        let mut action = None;
        if path_field_ui(ui, "File", &mut draft.path, chooser) {
            action = Some(Action::ChooseFile(PathField::Transfer));
        }
        text_field_ui(ui, "Passphrase", &mut draft.passphrase, true);
        if draft.restore {
            ui.checkbox(&mut draft.dry_run, "Only say what would change");
        } else {
            text_field_ui(ui, "Repeat the passphrase", &mut draft.repeat, true);
        }
        for line in &draft.result {
            ui.label(line);
        }
        if let Some(error) = &draft.error {
            ui.colored_label(theme::ERROR, error);
        }
        ui.horizontal(|ui| {
            let label = if draft.restore { RESTORE } else { BACK_UP };
            if ui.add_enabled(!busy, egui::Button::new(label)).clicked() {
                let path = expand_home(draft.path.trim());
                if path.is_empty() {
                    draft.error = Some("Give the file's path.".into());
                } else if draft.passphrase.is_empty() {
                    draft.error = Some("Give the passphrase.".into());
                } else if !draft.restore && draft.passphrase != draft.repeat {
                    // Both typed again: neither is shown, so neither can be checked by eye.
                    draft.passphrase.clear();
                    draft.repeat.clear();
                    draft.error = Some("The passphrases do not match.".into());
                } else {
                    draft.error = None;
                    draft.result.clear();
                    draft.repeat.clear();
                    let passphrase = Secret::new(std::mem::take(&mut draft.passphrase));
                    action = Some(Action::Transfer {
                        path: path.into(),
                        passphrase,
                        restore: draft.restore,
                        dry_run: draft.dry_run,
                    });
                }
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

/// `~/x` as the home directory's `x`, as a shell would.
pub(super) fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest).display().to_string(),
        _ => path.to_string(),
    }
}
