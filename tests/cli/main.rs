//! The command line, run as a user runs it: the built binary against a real server on loopback,
//! with the real keychain, clipboard and notification daemon of the private session tests/run.sh
//! sets up, and its own config and data directories.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use chrono::{Duration, Utc};
use keywarden::api::Role;
use keywarden::key::{self, TokenKind};
use keywarden::secret::Secret;
use keywarden::server::store::{AuditContext, NewKey, Store};
use keywarden::server::{self, LocalServer, accounts};
use serde_json::{Value, json};
use tempfile::TempDir;

mod assets;
mod backup;
mod import;
mod project;
mod run;
mod sources;
mod wayland;

const BIN: &str = env!("CARGO_BIN_EXE_keywarden");
const PASSWORD: &str = "cli test password";

/// A remote server with one member, and a home (config and data directories) for the command line.
struct Setup {
    runtime: tokio::runtime::Runtime,
    server: Option<LocalServer>,
    store: Arc<dyn Store>,
    url: String,
    user_id: i64,
    workspace_id: i64,
    home: TempDir,
    /// Where this "computer" keeps its config, data and cache (XDG directories): the home, until
    /// a test moves to a new computer.
    computer: std::path::PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let home = tempfile::tempdir().unwrap();
        let (server, store, user) = runtime.block_on(async {
            let url = format!("sqlite://{}", home.path().join("remote.db").display());
            let store = server::open_store(&url).await.unwrap();
            let workspace = accounts::ensure_workspace(store.as_ref(), "team")
                .await
                .unwrap();
            let user = accounts::create_user(
                store.as_ref(),
                "dev@example.com",
                &Secret::new(PASSWORD),
                Role::Member,
                workspace,
                &keywarden::server::store::AuditContext::system(chrono::Utc::now()),
            )
            .await
            .unwrap();
            (
                server::spawn_local(store.clone(), Default::default())
                    .await
                    .unwrap(),
                store,
                user,
            )
        });
        let url = server.base_url();
        Setup {
            runtime,
            server: Some(server),
            store,
            url,
            user_id: user.id,
            workspace_id: user.default_workspace_id,
            computer: home.path().to_path_buf(),
            home,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("XDG_CONFIG_HOME", self.computer.join("config"))
            .env("XDG_DATA_HOME", self.computer.join("data"))
            .env("XDG_CACHE_HOME", self.computer.join("cache"))
            .stdin(Stdio::null());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// From now on the command line runs on a new computer: config, data and cache directories
    /// that are new and empty (the remote server stays).
    fn new_computer(&mut self) {
        self.computer = self.home.path().join("new-computer");
        std::fs::create_dir_all(&self.computer).unwrap();
    }

    fn login(&self) {
        let out = self.run_with_stdin(
            &["login", &self.url, "--email", "dev@example.com"],
            &format!("{PASSWORD}\n"),
        );
        assert!(out.status.success(), "login: {}", stderr(&out));
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{args:?} printed no JSON: {}", stdout(&out)))
    }

    /// A key straight into the database, for expiries the API refuses (already past).
    fn insert_key(&self, name: &str, expires_in: Duration) -> i64 {
        let secret = key::generate(TokenKind::ApiKey);
        let now = Utc::now();
        let new = NewKey {
            hash: key::hash(secret.expose()),
            hint: key::display_hint(secret.expose()),
            name: name.into(),
            description: String::new(),
            workspace_id: self.workspace_id,
            user_id: self.user_id,
            created_at: now - Duration::days(300),
            expires_at: now + expires_in,
            scopes: vec![],
            replaces: None,
        };
        let audit = AuditContext {
            actor_user_id: Some(self.user_id),
            actor_key_id: None,
            ip: None,
            at: now,
        };
        self.runtime
            .block_on(self.store.insert_key(new, audit))
            .unwrap()
            .id
    }

    fn data_dir(&self) -> PathBuf {
        self.computer.join("data/keywarden")
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server.shutdown());
        }
    }
}

/// The X11 clipboard is one for the whole session: tests that copy take turns.
static CLIPBOARD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The clipboard's text once it is `expected`, asked every 100 ms for up to ten seconds (a
/// command signs in to its accounts before it copies); otherwise what it held last.
fn clipboard_once(expected: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let held = Command::new("xclip")
            .args(["-selection", "clipboard", "-o"])
            .output()
            .expect("xclip is installed by tests/session.sh");
        let held = stdout(&held);
        if held == expected || std::time::Instant::now() > deadline {
            return held;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_one_line_error(out: &Output, contains: &str) {
    assert!(
        !out.status.success(),
        "expected a failure, got: {}",
        stdout(out)
    );
    let err = stderr(out);
    assert!(
        err.contains(contains),
        "stderr should say {contains:?}: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        stdout(out).is_empty(),
        "nothing printed half: {}",
        stdout(out)
    );
}

#[test]
fn login_servers_and_logout() {
    let setup = Setup::new();
    let wrong = setup.run_with_stdin(
        &["login", &setup.url, "--email", "dev@example.com"],
        "wrong password\n",
    );
    assert_one_line_error(&wrong, "wrong email or password");
    setup.login();
    let servers = setup.json(&["servers", "--json"]);
    assert_eq!(servers[0]["name"], "local");
    assert_eq!(servers[1]["name"], setup.url.as_str());
    assert_eq!(servers[1]["email"], "dev@example.com");
    assert_eq!(servers[1]["current"], true);
    let config =
        std::fs::read_to_string(setup.home.path().join("config/keywarden/config.toml")).unwrap();
    assert!(
        config.contains(&setup.url) && !config.contains("kws_"),
        "server list without secrets: {config}"
    );

    let use_local = setup.run(&["servers", "use", "local"]);
    assert!(use_local.status.success());
    assert_eq!(setup.json(&["servers", "--json"])[0]["current"], true);
    assert_one_line_error(
        &setup.run(&["servers", "use", "http://nowhere.example"]),
        "not a known server",
    );
    assert!(setup.run(&["servers", "use", &setup.url]).status.success());

    let out = setup.run(&["logout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("signed out"));
    assert_eq!(
        setup.json(&["servers", "--json"])[0]["current"],
        true,
        "back on the local server"
    );
    // The session is gone and the account forgotten, as the app's sign-out does.
    assert_one_line_error(
        &setup.run(&["servers", "use", &setup.url]),
        "not a known server",
    );
}

#[test]
fn every_keys_subcommand_with_json_shapes() {
    let setup = Setup::new();
    setup.login();

    let created = setup.json(&[
        "keys",
        "generate",
        "--name",
        "billing",
        "--description",
        "invoices",
        "--expires",
        "20d",
        "--json",
    ]);
    assert_eq!(created["stored"], true);
    assert!(created.get("secret").is_none(), "no secret without --print");
    // Ids are strings, whatever the source.
    let id = created["key"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["key"]["name"], "billing");
    assert_eq!(created["key"]["source"], setup.url.as_str());
    assert_eq!(created["key"]["kind"], "keywarden");
    let printed = setup.json(&[
        "keys",
        "generate",
        "--name",
        "printed",
        "--expires",
        "2027-01-15",
        "--print",
        "--json",
    ]);
    let secret = printed["secret"].as_str().unwrap();
    assert!(key::parse(TokenKind::ApiKey, secret).is_ok());
    assert!(
        printed["key"]["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2027-01-15T23:59:59")
    );
    let human = setup.run(&["keys", "generate", "--name", "quiet"]);
    assert!(
        stdout(&human).contains("generated key"),
        "{}",
        stdout(&human)
    );
    assert!(
        !stdout(&human)
            .lines()
            .any(|l| key::parse(TokenKind::ApiKey, l.trim()).is_ok()),
        "no secret printed"
    );

    let list = setup.json(&["keys", "list", "--json"]);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 3);
    for field in [
        "id",
        "name",
        "description",
        "status",
        "expires_at",
        "created_at",
        "hint",
        "held",
        "class",
        "scopes",
        "source",
        "kind",
        "service",
    ] {
        assert!(
            items[0].get(field).is_some(),
            "keys list --json has {field}: {}",
            items[0]
        );
    }
    let billing = items.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert_eq!(
        (
            billing["source"].as_str(),
            billing["kind"].as_str(),
            billing["service"].as_str()
        ),
        (
            Some(setup.url.as_str()),
            Some("keywarden"),
            Some("keywarden")
        )
    );
    assert_eq!(
        (billing["held"].as_bool(), billing["class"].as_str()),
        (Some(true), Some("expiring"))
    );
    assert_eq!(
        setup
            .json(&["keys", "list", "--expiring", "30", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let table = stdout(&setup.run(&["keys", "list"]));
    assert!(
        table.starts_with("ID") && table.contains("billing") && table.contains("expiring"),
        "{table}"
    );

    assert_eq!(
        setup.json(&["keys", "show", "billing", "--json"])["id"],
        id.as_str()
    );
    assert_eq!(
        setup.json(&["keys", "show", &id, "--json"])["description"],
        "invoices"
    );
    assert_one_line_error(&setup.run(&["keys", "show", "nope"]), "no key is named");

    assert!(stdout(&setup.run(&["keys", "disable", "billing"])).contains("disabled key"));
    assert_eq!(
        setup
            .json(&["keys", "list", "--status", "disabled", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(stdout(&setup.run(&["keys", "enable", "billing"])).contains("enabled key"));

    let rotated = setup.json(&["keys", "rotate", "billing", "--grace", "1h", "--json"]);
    let new_id = rotated["key"]["id"].as_str().unwrap().to_string();
    assert_eq!(rotated["key"]["replaces"], id.as_str());
    let old = setup.json(&["keys", "show", &id, "--json"]);
    assert_eq!(
        old["status"], "active",
        "the old key works during the overlap"
    );
    let revokes_at: chrono::DateTime<Utc> = old["revoked_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (revokes_at - Utc::now() - Duration::hours(1))
            .num_seconds()
            .abs()
            < 60
    );

    let refused = setup.run(&["keys", "revoke", &new_id]);
    assert_one_line_error(&refused, "without --yes");
    assert_eq!(
        setup.json(&["keys", "show", &new_id, "--json"])["status"],
        "active",
        "nothing changed"
    );
    let revoked = setup.run(&["keys", "revoke", &new_id, "--yes"]);
    assert!(
        stdout(&revoked).contains("revoked key"),
        "{}",
        stderr(&revoked)
    );
    assert_eq!(
        setup.json(&["keys", "show", &new_id, "--json"])["held"],
        false,
        "secret left the keychain"
    );
    assert_one_line_error(&setup.run(&["keys", "delete", "printed"]), "without --yes");
    assert!(
        setup
            .run(&["keys", "delete", "printed", "--yes"])
            .status
            .success()
    );
    assert_one_line_error(&setup.run(&["keys", "show", "printed"]), "no key is named");
    assert_one_line_error(&setup.run(&["keys", "copy", "printed"]), "no key is named");
}

#[test]
fn copy_serves_the_clipboard_then_clears_it() {
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "this test needs an X11 display: run it through tests/run.sh"
    );
    let _clipboard = CLIPBOARD.lock().unwrap_or_else(|e| e.into_inner());
    let setup = Setup::new();
    setup.login();
    let printed = setup.json(&["keys", "generate", "--name", "stripe", "--print", "--json"]);
    let secret = printed["secret"].as_str().unwrap().to_string();
    let child = setup
        .command(&[
            "keys",
            "copy",
            "stripe",
            "--as",
            "header",
            "--clear-after",
            "2",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(
        clipboard_once(&format!("Authorization: Bearer {secret}")),
        format!("Authorization: Bearer {secret}"),
        "served while the command waits"
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("cleared the clipboard"),
        "and says so: {}",
        stderr(&out)
    );
    let after = Command::new("xclip")
        .args(["-selection", "clipboard", "-o"])
        .output()
        .unwrap();
    assert_ne!(stdout(&after), format!("Authorization: Bearer {secret}"));
}

#[test]
fn check_exit_codes_and_json() {
    let setup = Setup::new();
    setup.login();
    let fine = setup.run(&["check"]);
    assert_eq!(fine.status.code(), Some(0), "{}", stderr(&fine));
    assert!(stdout(&fine).contains("no key expires"));
    setup.json(&[
        "keys",
        "generate",
        "--name",
        "far",
        "--expires",
        "200d",
        "--json",
    ]);
    assert_eq!(setup.run(&["check"]).status.code(), Some(0));
    assert_eq!(
        setup.run(&["check", "--within", "250d"]).status.code(),
        Some(1),
        "--within widens the window"
    );

    setup.json(&[
        "keys",
        "generate",
        "--name",
        "soon",
        "--expires",
        "10d",
        "--json",
    ]);
    let expiring = setup.run(&["check", "--json"]);
    assert_eq!(expiring.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&expiring.stdout).unwrap();
    assert_eq!(report["expiring"][0]["name"], "soon");
    assert_eq!(report["expiring"][0]["class"], "expiring");
    assert_eq!(report["expired"].as_array().unwrap().len(), 0);

    // Found on an earlier version: `--within 1d` reported a key that expires in three days,
    // because the window was raised to the 7-day threshold. It means what it says now.
    setup.insert_key("in three days", Duration::days(3));
    let narrow = setup.run(&["check", "--within", "1d", "--json"]);
    let report: Value = serde_json::from_slice(&narrow.stdout).unwrap();
    assert_eq!(report["expiring"], serde_json::json!([]), "{report}");
    assert_eq!(narrow.status.code(), Some(0));
    let report = setup.run(&["check", "--within", "4d", "--json"]);
    assert_eq!(report.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["expiring"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["expiring"][0]["name"], "in three days");
    setup.insert_key("in ten hours", Duration::hours(10));
    let hours = setup.run(&["check", "--within", "12h", "--json"]);
    let report: Value = serde_json::from_slice(&hours.stdout).unwrap();
    assert_eq!(report["expiring"][0]["name"], "in ten hours", "{report}");
    assert_eq!(report["expiring"].as_array().unwrap().len(), 1, "{report}");

    setup.insert_key("gone", -Duration::days(2));
    let expired = setup.run(&["check"]);
    assert_eq!(expired.status.code(), Some(2));
    assert!(stdout(&expired).contains("expired") && stdout(&expired).contains("gone"));
}

/// Found on an earlier version: a check that could not reach its server exited 1, which cron
/// cannot tell from "a key is expiring". With the list saved by the last check (or the app) it
/// checks that list and says so; with none it exits 3, as monitoring plugins do, and says why.
#[test]
fn check_without_its_server_uses_the_saved_list_or_exits_3() {
    let mut setup = Setup::new();
    setup.login();
    setup.insert_key("soon", Duration::days(5));
    let online = setup.run(&["check"]);
    assert_eq!(online.status.code(), Some(1), "{}", stderr(&online));
    let server = setup.server.take().unwrap();
    setup.runtime.block_on(server.shutdown()).unwrap();

    let out = setup.run(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("using the list saved"),
        "{}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["expiring"][0]["name"], "soon");

    std::fs::remove_dir_all(setup.home.path().join("cache")).unwrap();
    let out = setup.run(&["check"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("could not check") && message.contains("cannot reach"),
        "{message}"
    );
    assert!(stdout(&out).is_empty());
}

fn notifications_about(name: &str) -> usize {
    let runtime_dir =
        std::env::var("XDG_RUNTIME_DIR").expect("XDG_RUNTIME_DIR is set by tests/run.sh");
    let log = std::fs::read_to_string(PathBuf::from(runtime_dir).join("dunst.log"))
        .expect("this test needs the dunst notification daemon started by tests/run.sh");
    log.lines()
        .filter(|l| l.trim_start().starts_with("summary:") && l.contains(&format!("\"{name}\"")))
        .count()
}

#[test]
fn check_notify_tells_once_per_threshold_across_runs() {
    let setup = Setup::new();
    setup.login();
    let name = format!("notify-{}", std::process::id());
    let id = setup.insert_key(&name, Duration::days(20));
    let critical = format!("{name}-critical");
    setup.insert_key(&critical, Duration::hours(12));
    for _ in 0..3 {
        let out = setup.run(&["check", "--notify"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        notifications_about(&name),
        1,
        "one notification for the expiring key over three runs"
    );
    assert_eq!(
        notifications_about(&critical),
        1,
        "a key found already critical is reported once"
    );
    let log = std::fs::read_to_string(setup.data_dir().join("reminders.json")).unwrap();
    assert!(
        log.contains(&format!("{id} on {}", setup.url)) && !log.contains("kw_"),
        "{log}"
    );
}

/// Found by the five-source start-up benchmark: a start with many keys due sent one notification
/// per key (170 on that run), kept the app busy for seconds, and, stopped meanwhile, sent them all
/// again next time. More than three due at once are one notification now, recorded first.
#[test]
fn many_due_keys_are_one_notification() {
    let setup = Setup::new();
    setup.login();
    let tag = format!("bulk-{}", std::process::id());
    for i in 0..5 {
        setup.insert_key(&format!("{tag}-{i}"), Duration::days(5 + i));
    }
    let out = setup.run(&["check", "--notify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    std::thread::sleep(std::time::Duration::from_millis(500));
    let runtime_dir =
        std::env::var("XDG_RUNTIME_DIR").expect("XDG_RUNTIME_DIR is set by tests/run.sh");
    let log = std::fs::read_to_string(PathBuf::from(runtime_dir).join("dunst.log"))
        .expect("this test needs the dunst notification daemon started by tests/run.sh");
    let bodies = log
        .lines()
        .filter(|l| l.trim_start().starts_with("body:") && l.contains(&format!("{tag}-0")))
        .count();
    assert_eq!(bodies, 1, "one notification names the soonest: {log}");
    for i in 0..5 {
        assert_eq!(
            notifications_about(&format!("{tag}-{i}")),
            0,
            "none per key"
        );
    }
    let again = setup.run(&["check", "--notify"]);
    assert_eq!(again.status.code(), Some(1));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = std::fs::read_to_string(
        PathBuf::from(std::env::var("XDG_RUNTIME_DIR").unwrap()).join("dunst.log"),
    )
    .unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.trim_start().starts_with("body:") && l.contains(&format!("{tag}-0")))
            .count(),
        1,
        "not again"
    );
}

#[test]
fn the_local_server_works_from_the_command_line_on_the_apps_database() {
    let setup = Setup::new();
    let created = setup.json(&["keys", "generate", "--name", "local one", "--json"]);
    assert_eq!(created["stored"], true);
    let list = setup.json(&["keys", "list", "--json"]);
    assert_eq!(
        list[0]["name"], "local one",
        "a second process finds it in the same database"
    );
    assert!(
        setup.data_dir().join("server.db").exists(),
        "the app's database: {:?}",
        setup.data_dir()
    );
}

#[test]
fn remind_install_and_uninstall() {
    let setup = Setup::new();
    let out = setup.run(&["remind", "install", "--autostart"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let entry = setup
        .home
        .path()
        .join("config/autostart/keywarden-check.desktop");
    let text = std::fs::read_to_string(&entry).unwrap();
    assert!(
        text.contains("check --notify") && text.contains(BIN),
        "{text}"
    );
    let out = setup.run(&["remind", "uninstall"]);
    assert!(out.status.success() && stdout(&out).contains("removed"));
    assert!(!entry.exists());
    assert!(stdout(&setup.run(&["remind", "uninstall"])).contains("no daily check"));
}

/// Found on an earlier server: a member's key name could write escape sequences into an admin's
/// terminal through `keys list`. The server refuses such names now; one already stored (from before)
/// is printed escaped, in the table, the details, `check` and JSON alike.
#[test]
fn server_strings_never_reach_the_terminal_raw() {
    let setup = Setup::new();
    setup.login();
    let hostile = "deploy\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}gpj.exe\u{9b}31m";
    setup.insert_key(hostile, Duration::days(2));
    for args in [
        &["keys", "list"][..],
        &["keys", "list", "--json"],
        &["keys", "show", "1", "--json"],
        &["keys", "show", "1"],
        &["check"],
        &["check", "--json"],
    ] {
        let out = setup.run(args);
        let printed = stdout(&out) + &stderr(&out);
        assert!(
            !printed
                .chars()
                .any(|c| c != '\n' && keywarden::text::is_unsafe(c)),
            "{args:?} printed a control or bidi character raw: {printed:?}"
        );
        assert!(printed.contains("deploy"), "{args:?}: {printed}");
    }
    let json = setup.json(&["keys", "list", "--json"]);
    assert_eq!(
        json[0]["name"], hostile,
        "JSON escapes it, and a parser gets the name back"
    );
}

/// `keys generate --manage` asks for a key that may manage; `keys list` and `keys show` say which
/// keys may.
#[test]
fn a_managing_key_is_asked_for_and_shown() {
    let setup = Setup::new();
    setup.login();
    let made = setup.json(&[
        "keys",
        "generate",
        "--name",
        "ci manager",
        "--manage",
        "--json",
    ]);
    assert_eq!(
        made["key"]["scopes"],
        serde_json::json!(["keywarden:manage"])
    );
    let plain = setup.json(&["keys", "generate", "--name", "reader", "--json"]);
    assert_eq!(plain["key"]["scopes"], serde_json::json!([]));
    let out = setup.run(&["keys", "list"]);
    let table = stdout(&out);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in {table}"))
            .to_string()
    };
    assert!(table.lines().next().unwrap().contains("RIGHTS"), "{table}");
    assert!(line("ci manager").contains("manage"), "{table}");
    assert!(line("reader").contains("read"), "{table}");
    let out = setup.run(&["keys", "show", "ci manager"]);
    assert!(
        stdout(&out).contains("manages keys and accounts, like a session"),
        "{}",
        stdout(&out)
    );
}

/// Found on an earlier version: without a keychain the command line said "the test keychain is
/// locked", the words of a test stand-in. Now it says what the keychain library found.
#[test]
fn a_missing_keychain_is_named_for_what_it_is() {
    let setup = Setup::new();
    setup.login();
    // The session on the server is in the keychain, which this run cannot reach.
    let out = setup
        .command(&["keys", "list"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("keychain is locked or missing") && !message.contains("test keychain"),
        "{message}"
    );
}

/// This machine's address other than loopback (the one a route out would use; nothing is sent).
fn non_loopback_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    socket
        .connect("192.0.2.1:9")
        .and_then(|()| socket.local_addr())
        .map(|addr| addr.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .expect(
            "this machine has no network address besides loopback: the test needs one to reach \
             a server the way another machine would",
        )
}

/// A password, session token or key never crosses the network in plain HTTP unless the user said
/// so for that server (`--allow-http`, remembered); loopback stays allowed.
#[test]
fn plain_http_to_another_machine_is_refused_unless_allowed() {
    use std::io::BufRead as _;
    let setup = Setup::new();
    let listen = format!("{}:0", non_loopback_address());
    let database = format!("sqlite://{}", setup.home.path().join("remote.db").display());
    let mut serve = Command::new(BIN)
        .args(["serve", "--listen", &listen, "--database-url", &database])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = std::io::BufReader::new(serve.stderr.take().unwrap());
    let mut line = String::new();
    let address = loop {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "serve exited");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let url = format!("http://{address}");
    let logins = || {
        let filter = keywarden::server::store::AuditFilter {
            workspace_id: setup.workspace_id,
            involving_user: None,
            key_id: None,
            before_id: None,
            limit: 100,
        };
        let events = setup
            .runtime
            .block_on(setup.store.list_audit(filter))
            .unwrap();
        events
            .iter()
            .filter(|e| e.action == keywarden::api::AuditAction::Login)
            .count()
    };

    let refused = setup.run_with_stdin(
        &["login", &url, "--email", "dev@example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert_one_line_error(&refused, "refusing to send a password");
    assert!(
        stderr(&refused).contains("--allow-http"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(logins(), 0, "nothing was sent");

    let allowed = setup.run_with_stdin(
        &["login", &url, "--email", "dev@example.com", "--allow-http"],
        &format!("{PASSWORD}\n"),
    );
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    assert_eq!(logins(), 1);
    let config =
        std::fs::read_to_string(setup.home.path().join("config/keywarden/config.toml")).unwrap();
    assert!(config.contains("allow_http = true"), "{config}");
    // Remembered for the account: the session is used over plain HTTP from now on.
    let listed = setup.run(&["keys", "list", "--account", &url]);
    assert!(listed.status.success(), "{}", stderr(&listed));

    // Loopback needs no permission.
    let local = setup.run_with_stdin(
        &["login", &setup.url, "--email", "dev@example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert!(local.status.success(), "{}", stderr(&local));
    let _ = serve.kill();
    let _ = serve.wait();
}

/// Found in review: the plain-HTTP refusal looked at the first URL only, and a redirect (307
/// keeps the body) could lead the password to another host over plain HTTP. No redirect is
/// followed with a credential now.
#[test]
fn a_redirect_never_leads_a_password_elsewhere() {
    use std::io::{BufRead as _, Write as _};
    let setup = Setup::new();
    let elsewhere = std::net::TcpListener::bind((non_loopback_address(), 0)).unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let target = format!("http://{}/v1/auth/login", elsewhere.local_addr().unwrap());
    let redirector = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", redirector.local_addr().unwrap());
    let answering = std::thread::spawn(move || {
        let (stream, _) = redirector.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n"
        )
        .unwrap();
    });
    let out = setup.run_with_stdin(
        &["login", &url, "--email", "dev@example.com"],
        &format!("{PASSWORD}\n"),
    );
    answering.join().unwrap();
    assert!(!out.status.success(), "{}", stdout(&out));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        matches!(elsewhere.accept(), Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
        "the password was sent on to {}",
        elsewhere.local_addr().unwrap()
    );
}

/// Revoke, enable, disable and delete print JSON with `--json`, as every command that prints data
/// does: the changed key as `keys show --json` prints it (delete: the key as it was).
#[test]
fn revoke_enable_disable_and_delete_print_json() {
    let setup = Setup::new();
    setup.login();
    setup.json(&["keys", "generate", "--name", "json-one", "--json"]);
    let id = setup.json(&["keys", "show", "json-one", "--json"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let disabled = setup.json(&["keys", "disable", "json-one", "--json"]);
    assert_eq!(
        (&disabled["id"], &disabled["status"]),
        (&json!(id), &json!("disabled"))
    );
    let enabled = setup.json(&["keys", "enable", "json-one", "--json"]);
    assert_eq!(enabled["status"], "active");
    let revoked = setup.json(&["keys", "revoke", "json-one", "--yes", "--json"]);
    assert_eq!(
        (&revoked["id"], &revoked["status"]),
        (&json!(id), &json!("revoked"))
    );
    assert_eq!(revoked["held"], false, "its secret left the keychain");
    let deleted = setup.json(&["keys", "delete", &id, "--yes", "--json"]);
    assert_eq!(deleted["deleted"]["id"], id.as_str());
    assert_eq!(deleted["deleted"]["name"], "json-one");
    assert_one_line_error(&setup.run(&["keys", "show", &id]), "no key is named");
}
