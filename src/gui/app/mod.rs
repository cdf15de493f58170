//! The desktop app, split as rerun splits its viewer: `mod.rs` holds the app and what it owns,
//! `ui.rs` draws a frame, `actions.rs` applies what panels ask for, `effects.rs` starts background
//! work on the sources (through the keeper, which decides the keychain), and `messages.rs` folds
//! the results back into the state.

mod actions;
mod effects;
mod messages;
mod transfer;
mod ui;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use tokio::runtime::Handle;

use super::bridge::Bridge;
use super::state::{AccountView, State, ViewPrefs};
use crate::local::Embedded;
use crate::settings::{Config, ThemeChoice};
use crate::sources::accounts::{self, Env};
use crate::sources::keeper::Keeper;
use crate::sources::list_cache::ListCache;
use crate::sources::{KeySource, TRACKED};
use crate::vault::Vault;
use crate::vault::clipboard::{ClipboardError, ClipboardService};
use messages::Msg;

/// What the app needs from the outside world; tests pass in-memory or real parts.
pub struct AppDeps {
    pub runtime: Handle,
    pub vault: Arc<dyn Vault>,
    pub clipboard: Result<Arc<ClipboardService>, ClipboardError>,
    pub config: Config,
    /// Where settings are saved; `None` keeps them in memory (tests).
    pub config_path: Option<PathBuf>,
    /// Why the config file could not be read (the file is then left untouched).
    pub config_error: Option<String>,
    /// The embedded server's database.
    pub local_database_url: String,
    pub view: Option<ViewPrefs>,
    /// The data directory: tracked keys, renewals to finish, the record of sent reminders. `None`
    /// keeps no tracked keys and sends no reminders.
    pub data_dir: Option<PathBuf>,
    /// The last key list of each account, shown at once on start; `None` keeps no such list.
    pub list_cache: Option<ListCache>,
}

/// What the live-list watcher looks at, shared with its background task.
#[derive(Default)]
struct Watched {
    /// The sources signed in to, by account name.
    sources: std::sync::Mutex<BTreeMap<String, Arc<dyn KeySource>>>,
    /// The revision each account that has one had when its list was last fetched.
    revisions: std::sync::Mutex<BTreeMap<String, String>>,
    /// Cleared while the window is minimised: nothing is polled then.
    visible: AtomicBool,
}

pub struct KeywardenApp {
    pub state: State,
    bridge: Bridge<Msg>,
    keeper: Keeper,
    /// What opening an account needs: the keychain, the data directory, this computer's server.
    env: Env,
    local: Arc<Embedded>,
    /// This computer's server database, copied into backups.
    local_database_url: String,
    /// Whether this start looked yet for a backup that is due.
    backup_checked: bool,
    clipboard: Option<Arc<ClipboardService>>,
    config_path: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    watched: Arc<Watched>,
    search_draft: String,
    list_cache: Option<ListCache>,
    /// Whether the first frame with a key list was logged (start-up time, see BENCHMARKS.md).
    list_shown: bool,
    last_refresh: Option<Instant>,
}

impl KeywardenApp {
    pub fn new(ctx: &egui::Context, deps: AppDeps) -> KeywardenApp {
        let mut state = State {
            config: deps.config,
            view: deps.view.unwrap_or_default(),
            ..State::default()
        };
        if let Some(error) = deps.config_error {
            state.fail(error);
        }
        let clipboard = match deps.clipboard {
            Ok(clipboard) => Some(clipboard),
            Err(err) => {
                state.clipboard_error = Some(err.to_string());
                None
            }
        };
        apply_theme(ctx, state.config.theme);
        let keeper = Keeper::new(
            deps.vault.clone(),
            state.config.store_secrets,
            deps.data_dir.clone(),
        );
        let watched = Arc::new(Watched::default());
        watched
            .visible
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let local = Embedded::new(&deps.local_database_url);
        let env = Env {
            vault: deps.vault,
            data_dir: deps.data_dir.clone(),
            local: local.clone(),
        };
        let mut app = KeywardenApp {
            state,
            bridge: Bridge::new(deps.runtime, ctx.clone()),
            keeper,
            env,
            local,
            local_database_url: deps.local_database_url.clone(),
            backup_checked: false,
            clipboard,
            config_path: deps.config_path,
            data_dir: deps.data_dir,
            watched,
            search_draft: String::new(),
            list_cache: deps.list_cache,
            list_shown: false,
            last_refresh: None,
        };
        app.start_watching();
        app.connect_all();
        app
    }

    /// Base URL of the embedded server, once it runs.
    pub fn local_server_url(&self) -> Option<String> {
        self.local.base_url()
    }

    /// True while background work is in flight.
    pub fn busy(&self) -> bool {
        self.bridge.busy()
    }

    /// The accounts the config names, in order: this computer's, the remote ones, tracked keys
    /// (only with a data directory to keep them in).
    fn configured_accounts(&self) -> Vec<AccountView> {
        accounts::list(&self.state.config)
            .into_iter()
            .filter(|a| a.name != TRACKED || self.data_dir.is_some())
            .map(|a| {
                AccountView::new(
                    &a.name,
                    a.kind,
                    a.url.clone(),
                    a.email.as_deref().unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn apply_theme(ctx: &egui::Context, theme: ThemeChoice) {
    ctx.set_theme(match theme {
        ThemeChoice::System => egui::ThemePreference::System,
        ThemeChoice::Light => egui::ThemePreference::Light,
        ThemeChoice::Dark => egui::ThemePreference::Dark,
    });
}

impl eframe::App for KeywardenApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        KeywardenApp::ui(self, ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, VIEW_KEY, &self.state.view);
    }
}

/// Where the view preferences are kept in eframe's storage.
pub const VIEW_KEY: &str = "keywarden.view";
