//! Test fixture: the real app state, driven by egui_kittest, against a real embedded server on
//! loopback with a SQLite file in a temporary directory.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use keywarden::api::LOCAL_OWNER_EMAIL;
use keywarden::api::Role;
use keywarden::client::ApiClient;
use keywarden::gui::state::Connection;
use keywarden::gui::{AppDeps, KeywardenApp};
use keywarden::secret::Secret;
use keywarden::server::{self, accounts};
use keywarden::settings::Config;
use keywarden::sources::list_cache::ListCache;
use keywarden::sources::{KeyRef, SourceKey};
use keywarden::vault::clipboard::{ClipboardError, ClipboardService};
use keywarden::vault::{self, LOCAL_OWNER_ACCOUNT, MemoryVault, Vault};
use tempfile::TempDir;

/// The app is built on its first frame, with the harness's egui context.
pub struct TestApp {
    deps: Option<AppDeps>,
    pub app: Option<KeywardenApp>,
}

impl TestApp {
    pub fn app(&self) -> &KeywardenApp {
        self.app
            .as_ref()
            .expect("the app is built on the first frame")
    }
    pub fn app_mut(&mut self) -> &mut KeywardenApp {
        self.app
            .as_mut()
            .expect("the app is built on the first frame")
    }
}

pub struct Fixture {
    pub harness: Harness<'static, TestApp>,
    pub vault: Arc<dyn Vault>,
    pub dir: TempDir,
    pub runtime: tokio::runtime::Runtime,
}

pub struct Options {
    pub vault: Arc<dyn Vault>,
    pub clipboard: Result<Arc<ClipboardService>, ClipboardError>,
    pub config: Config,
    pub dir: Option<TempDir>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            vault: Arc::new(MemoryVault::default()),
            clipboard: Err(ClipboardError::Unavailable(
                "no clipboard in this test".into(),
            )),
            config: Config::default(),
            dir: None,
        }
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with(Options::default())
    }

    pub fn with(options: Options) -> Fixture {
        let dir = options.dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let deps = AppDeps {
            runtime: runtime.handle().clone(),
            vault: options.vault.clone(),
            clipboard: options.clipboard,
            config: options.config,
            config_path: Some(dir.path().join("config/keywarden/config.toml")),
            config_error: None,
            local_database_url: format!(
                "sqlite://{}",
                dir.path().join("data/keywarden/server.db").display()
            ),
            view: None,
            data_dir: Some(dir.path().join("data/keywarden")),
            list_cache: Some(ListCache::new(dir.path().join("cache/keywarden/lists"))),
        };
        let state = TestApp {
            deps: Some(deps),
            app: None,
        };
        let harness = Harness::builder()
            .with_size([1280.0, 800.0])
            .build_ui_state(
                |ui, test: &mut TestApp| {
                    if test.app.is_none() {
                        let deps = test.deps.take().expect("deps");
                        test.app = Some(KeywardenApp::new(ui.ctx(), deps));
                    }
                    test.app_mut().ui(ui);
                },
                state,
            );
        Fixture {
            harness,
            vault: options.vault,
            dir,
            runtime,
        }
    }

    pub fn app(&self) -> &KeywardenApp {
        self.harness.state().app()
    }

    /// Steps frames until `done` holds and no background work is in flight (10 s at most).
    pub fn wait_until(&mut self, what: &str, done: impl Fn(&KeywardenApp) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.harness.step();
            if let Some(app) = &self.harness.state().app
                && done(app)
                && !app.busy()
            {
                break;
            }
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Two more frames: one to lay out what arrived, one for egui's sizing passes.
        self.harness.step();
        self.harness.step();
    }

    /// Waits for background work to finish.
    pub fn settle(&mut self) {
        self.wait_until("background work finished", |_| true);
    }

    /// Waits until every account answered (signed in or failed) and the list is shown.
    pub fn wait_connected(&mut self) {
        self.wait_until("the key list is loaded", |app| {
            app.state.keys.value().is_some()
                && app
                    .state
                    .accounts
                    .iter()
                    .all(|a| a.connection != Connection::Connecting)
        });
    }

    pub fn click(&mut self, label: &str) {
        self.harness.get_by_label(label).click();
        self.settle();
    }

    pub fn type_into(&mut self, label: &str, text: &str) {
        let field = self
            .harness
            .query_by_role_and_label(egui::accesskit::Role::TextInput, label)
            .or_else(|| {
                self.harness
                    .query_by_role_and_label(egui::accesskit::Role::PasswordInput, label)
            })
            .unwrap_or_else(|| panic!("no text field labelled {label:?}"));
        field.click();
        field.type_text(text);
        self.harness.step();
    }

    pub fn has_label(&self, label: &str) -> bool {
        self.harness.query_all_by_label(label).next().is_some()
    }

    pub fn has_label_containing(&self, text: &str) -> bool {
        self.harness
            .query_all_by_label_contains(text)
            .next()
            .is_some()
    }

    /// Generates a key through the dialog and closes the secret with "Got it"; returns the key.
    pub fn generate(&mut self, name: &str) -> SourceKey {
        self.click("Generate key");
        self.type_into("Name", name);
        self.click("Generate");
        self.wait_until("the new secret is shown", |app| {
            matches!(&app.state.dialog, Some(keywarden::gui::state::Dialog::Secret(s)) if s.key.name == name)
        });
        let key = match &self.app().state.dialog {
            Some(keywarden::gui::state::Dialog::Secret(shown)) => shown.key.clone(),
            _ => unreachable!(),
        };
        self.click(keywarden::gui::GOT_IT);
        key
    }

    pub fn key(&self, name: &str) -> SourceKey {
        self.app()
            .state
            .keys
            .value()
            .and_then(|keys| keys.iter().find(|k| k.name == name).cloned())
            .unwrap_or_else(|| panic!("no key named {name:?} in the list"))
    }

    pub fn select(&mut self, name: &str) {
        let key = self.key(name).key_ref();
        self.harness
            .get_all_by_label(name)
            .next()
            .expect("row")
            .click();
        self.wait_until("the key is selected", |app| {
            app.state.selected.as_ref() == Some(&key)
        });
    }

    /// Selects a key with the arrow keys, as a keyboard user would.
    pub fn select_id(&mut self, key: &KeyRef) {
        let rows = self.app().state.visible.len();
        for _ in 0..rows {
            self.harness.key_press(egui::Key::ArrowUp);
            self.settle();
        }
        for _ in 0..rows {
            if self.app().state.selected.as_ref() == Some(key) {
                return;
            }
            self.harness.key_press(egui::Key::ArrowDown);
            self.settle();
        }
        assert_eq!(
            self.app().state.selected.as_ref(),
            Some(key),
            "could not select key {key:?}"
        );
    }

    /// The secret the keychain holds for `key`, under the name that carries its source.
    pub fn held_secret(&self, key: impl Into<KeyRef>) -> Option<Secret> {
        let key = key.into();
        self.vault
            .get(&vault::key_account(key.kind.as_str(), &key.source, &key.id))
            .unwrap()
    }

    /// The account the app shows.
    pub fn account(&self, name: &str) -> keywarden::gui::state::AccountView {
        self.app()
            .state
            .account(name)
            .unwrap_or_else(|| panic!("no account {name:?}"))
            .clone()
    }

    /// A client signed in as the local owner, for setting up data behind the app's back.
    pub fn owner_client(&self) -> ApiClient {
        let url = self
            .app()
            .local_server_url()
            .expect("the embedded server runs");
        let password = self
            .vault
            .get(LOCAL_OWNER_ACCOUNT)
            .unwrap()
            .expect("local owner password");
        self.runtime.block_on(async {
            let login = ApiClient::new(&url)
                .unwrap()
                .login(LOCAL_OWNER_EMAIL, &password)
                .await
                .unwrap();
            ApiClient::new(&url).unwrap().with_credential(login.token)
        })
    }

    /// Adds a remote server through the Servers dialog and signs in to it as `email`.
    pub fn sign_in(&mut self, url: &str, email: &str, password: &str) {
        self.click("Accounts");
        self.click("Add server");
        self.type_into("Server URL", url);
        self.type_into("Email", email);
        self.type_into("Password", password);
        self.click("Sign in");
        self.wait_signed_in_as(email);
    }

    /// Signs out of the current remote account through the Accounts dialog, back to this
    /// computer's server.
    pub fn sign_out(&mut self) {
        let name = self.app().state.config.current_server.clone();
        self.click("Accounts");
        self.click(&format!("Sign out of {name}"));
        self.wait_signed_in_as(LOCAL_OWNER_EMAIL);
    }

    /// Waits until the current account is connected as `email`.
    pub fn wait_signed_in_as(&mut self, email: &str) {
        self.wait_until(&format!("signed in as {email}"), |app| {
            app.state
                .current_account()
                .is_some_and(|a| a.is_connected() && a.who == email)
        });
    }

    /// The app's data directory (tracked keys, renewals, sent reminders).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data/keywarden")
    }
}

/// A key of this computer's server, by its id there.
pub fn local_key(id: i64) -> KeyRef {
    KeyRef {
        kind: keywarden::sources::SourceKind::Keywarden,
        source: "local".into(),
        id: id.to_string(),
    }
}

/// A remote server in the test's runtime, with one user: (url, the server, its store).
pub fn remote_server(fx: &Fixture, email: &str, role: Role) -> (String, server::LocalServer) {
    remote_server_at(fx, "127.0.0.1:0", email, role)
}

/// [`remote_server`] listening on `listen` (another address than loopback, say).
pub fn remote_server_at(
    fx: &Fixture,
    listen: &str,
    email: &str,
    role: Role,
) -> (String, server::LocalServer) {
    fx.runtime.block_on(async {
        let url = format!("sqlite://{}", fx.dir.path().join("remote.db").display());
        let store = server::open_store(&url).await.unwrap();
        let workspace = accounts::ensure_workspace(store.as_ref(), "team")
            .await
            .unwrap();
        accounts::create_user(
            store.as_ref(),
            "admin@example.com",
            &Secret::new("admin password"),
            Role::Admin,
            workspace,
            &keywarden::server::store::AuditContext::system(chrono::Utc::now()),
        )
        .await
        .unwrap();
        accounts::create_user(
            store.as_ref(),
            email,
            &Secret::new("member password"),
            role,
            workspace,
            &keywarden::server::store::AuditContext::system(chrono::Utc::now()),
        )
        .await
        .unwrap();
        let running = server::spawn_at(listen, store, Default::default())
            .await
            .unwrap();
        (running.base_url(), running)
    })
}

/// The X11 clipboard is one per display: tests that use it take turns.
pub fn clipboard_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The real clipboard, or a failure that says what is missing.
pub fn real_clipboard() -> Arc<ClipboardService> {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "this test needs an X11 display for the real clipboard: run it through tests/run.sh (Xvfb)"
    );
    Arc::new(ClipboardService::start().expect("the X11 clipboard is available"))
}

/// What `xclip` reads from the clipboard (None when it is empty).
pub fn xclip_read(target: Option<&str>) -> Option<String> {
    let mut command = std::process::Command::new("xclip");
    command.args(["-selection", "clipboard", "-o"]);
    if let Some(target) = target {
        command.args(["-t", target]);
    }
    let output = command
        .output()
        .expect("xclip is installed (tests/run.sh installs it)");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}
