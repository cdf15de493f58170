//! The desktop app (eframe/egui). Panels draw from `State` and return `Action`s; the app applies
//! them and runs network and keychain work on a background runtime.

mod add_dialog;
pub mod app;
mod backup_dialog;
mod banners;
mod bridge;
mod confirm_dialog;
mod detail_panel;
mod drafts;
mod edit_dialog;
pub mod file_chooser;
mod generate_dialog;
mod import_dialog;
mod key_table;
pub mod loadable;
mod modal;
mod projects_dialog;
mod renew_dialog;
mod secret_dialog;
mod servers_dialog;
mod settings_screen;
mod shortcuts;
mod sign_in_dialog;
pub mod state;
mod status_bar;
pub mod theme;
mod toolbar;

pub use add_dialog::IMPORT_FROM_FILE;
pub use app::{AppDeps, KeywardenApp, VIEW_KEY};

/// The app's ID: its window's Wayland app_id and X11 WM_CLASS, and the name of its desktop entry,
/// icon and AppStream data (`assets/dev.keywarden.Keywarden.*`).
pub const APP_ID: &str = "dev.keywarden.Keywarden";

pub use backup_dialog::{BACK_UP, RESTORE};
pub use import_dialog::IMPORT;
pub use modal::CHOOSE;
pub use projects_dialog::REVOKE_CONSENT;
pub use renew_dialog::RENEW;
pub use secret_dialog::GOT_IT;
