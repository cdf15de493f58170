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
        let server = if state.config.is_local() {
            "this computer".to_string()
        } else {
            state.server.clone()
        };
        match state.connection.value() {
            Some(connected) => ui.label(format!(
                "{} on {server} ({})",
                connected.me.user.email,
                connected.me.role.as_str()
            )),
            None => ui.label(format!("Not signed in to {server}")),
        };
        if busy {
            ui.spinner();
        }
        if let Some(saved_at) = state.keys_saved_at {
            ui.separator();
            ui.label(format!(
                "Showing the list saved {}",
                relative_time(saved_at, utc_now)
            ))
            .on_hover_text("The server has not sent a fresh list yet.");
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
