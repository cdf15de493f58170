//! The desktop app, tested for real: egui_kittest drives the app state against the embedded server
//! on loopback; the keychain suite talks to a real Secret Service and the clipboard suite to the real
//! X11 clipboard (both set up by tests/run.sh).

mod support;

mod clipboard;
mod errors;
mod file_chooser;
mod flows;
mod keychain;
mod leaks;
mod list_cache;
mod reminders;
mod sources;
