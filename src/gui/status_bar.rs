//! The bottom line: which server and user, work in progress, the clipboard countdown, the last message.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::state::{State, relative_time};
use super::theme;

pub fn status_bar_ui(
    ui: &mut egui::Ui,
    state: &State,
    busy: bool,
    now: Instant,
    utc_now: DateTime<Utc>,
) {
    ui.horizontal(|ui| {
        match state.current_account() {
            Some(account) if account.is_connected() => ui.label(format!(
                "{} on {} ({})",
                account.who,
                account.label(),
                account.role
            )),
            Some(account) => ui.label(format!("Not signed in to {}", account.label())),
            None => ui.label("No account"),
        };
        let offline: Vec<String> = state
            .accounts
            .iter()
            .filter(|a| a.saved_at.is_some())
            .map(|a| a.label())
            .collect();
        if busy {
            ui.spinner();
        }
        if let Some(saved_at) = state.accounts.iter().filter_map(|a| a.saved_at).min() {
            ui.separator();
            ui.label(format!(
                "Showing the list saved {} for {}",
                relative_time(saved_at, utc_now),
                offline.join(", ")
            ))
            .on_hover_text("These accounts have not sent a fresh list yet.");
        }
        if let Some(at) = state.clipboard_clears_at {
            let left = at.saturating_duration_since(now).as_secs();
            ui.separator();
            ui.label(format!("Clipboard clears in {left} s"));
        }
        if let Some(notice) = &state.notice {
            ui.separator();
            if notice.is_error {
                ui.colored_label(theme::ERROR, &notice.text);
            } else {
                ui.label(&notice.text);
            }
        }
    });
}
