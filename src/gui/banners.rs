//! Banners over the key list: keys expiring soon (every source), accounts that cannot be reached
//! or need signing in again, and a keychain that cannot be used.

use chrono::{DateTime, Utc};

use super::state::{Action, Connection, Filter, State, relative_time};
use super::theme;
use crate::reminders::{ExpiryClass, key_class};
use crate::sources::Capability;

pub fn banners_ui(ui: &mut egui::Ui, state: &State, now: DateTime<Utc>) -> Option<Action> {
    let mut action = None;
    if let Some((first, count)) = state.expiring_soon() {
        let class =
            key_class(first, now, &state.config.thresholds).unwrap_or(ExpiryClass::Expiring);
        ui.horizontal_wrapped(|ui| {
            let count = match count {
                1 => "1 key expires soon".to_string(),
                n => format!("{n} keys expire soon"),
            };
            let when = first
                .expires_at
                .map_or_else(String::new, |at| relative_time(at, now));
            let source = state
                .account(&first.source)
                .map_or_else(|| first.source.clone(), |a| a.label());
            let text = format!("{count}: \"{}\" expires {when} ({source}).", first.name);
            ui.colored_label(theme::class_color(class), text);
            if ui.button("Show expiring keys").clicked() {
                action = Some(Action::SetFilter(Filter::Expiring));
            }
            if state.can(first, Capability::Renew).is_ok()
                && ui.button(format!("Renew \"{}\"", first.name)).clicked()
            {
                action = Some(Action::AskRenew(first.key_ref()));
            }
        });
    }
    if let Some(reminder) = &state.backup_due {
        ui.horizontal_wrapped(|ui| {
            ui.colored_label(theme::WARNING, crate::gui::state::capitalised(reminder));
            if ui.button("Back up now").clicked() {
                action = Some(Action::OpenTransfer(false));
            }
            if ui.button("Not now").clicked() {
                action = Some(Action::DismissBackupReminder);
            }
        });
    }
    let mut banner = |ui: &mut egui::Ui, text: &str, retry: Option<Action>| {
        ui.horizontal(|ui| {
            ui.colored_label(theme::ERROR, text);
            if let Some(retry) = retry
                && ui.button("Retry").clicked()
            {
                action = Some(retry);
            }
        });
    };
    for account in &state.accounts {
        let saved = account
            .saved_at
            .map(|at| format!(" Showing its list saved {}.", relative_time(at, now)))
            .unwrap_or_default();
        match &account.connection {
            Connection::Failed(reason) => banner(
                ui,
                &format!("{}: {reason}.{saved}", account.label()),
                Some(Action::Reconnect),
            ),
            Connection::NeedsSignIn(reason) => banner(
                ui,
                &format!("{}: {reason}. Sign in again.{saved}", account.label()),
                Some(Action::OpenSignIn),
            ),
            Connection::Connected if account.error.is_some() => banner(
                ui,
                &format!(
                    "{}: {}",
                    account.label(),
                    account.error.as_deref().unwrap_or_default()
                ),
                Some(Action::Refresh),
            ),
            _ => {}
        }
    }
    if let Some(error) = &state.vault_error {
        banner(
            ui,
            &format!("{error}. Key details still work; copying keys does not."),
            None,
        );
    }
    action
}
