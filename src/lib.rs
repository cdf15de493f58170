//! Keywarden: an API-key manager for developers (desktop app, key-management server, command line).

pub mod api;
pub mod cli;
pub mod client;
pub mod dotenv;
pub mod files;
pub mod gui;
pub mod key;
pub mod local;
pub mod net;
pub mod project;
pub mod reminders;
pub mod secret;
pub mod server;
pub mod settings;
pub mod sources;
pub mod text;
pub mod transfer;
pub mod vault;
