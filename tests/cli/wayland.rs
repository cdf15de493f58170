//! On a real Wayland compositor: the headless sway tests/wayland.sh starts (wlroots, with the
//! data-control clipboard protocol that KDE has too), read with wl-clipboard and swaymsg. The app's
//! window carries the app ID as its app_id, and `keys copy` serves the key on the Wayland clipboard
//! until the delay is over, then clears it.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use keywarden::gui::APP_ID;

use super::{Setup, stderr, stdout};

/// The Wayland clipboard is one for the whole compositor: tests that copy take turns.
static WAYLAND_CLIPBOARD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The socket of the compositor tests/wayland.sh started, and its IPC socket.
fn compositor() -> (String, String) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: this test needs the headless Wayland compositor (sway) that \
                 tests/wayland.sh starts; run it through tests/run.sh"
            )
        })
    };
    (var("KW_WAYLAND_DISPLAY"), var("KW_SWAYSOCK"))
}

/// `command` as a Wayland client of the test compositor, with no X display to fall back to.
fn on_wayland(command: &mut Command) -> &mut Command {
    let (display, _) = compositor();
    command
        .env("WAYLAND_DISPLAY", display)
        .env_remove("DISPLAY")
}

fn run(program: &str, args: &[&str]) -> Output {
    on_wayland(Command::new(program).args(args))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| {
            panic!("{program} (installed by tests/wayland.sh) cannot start: {err}")
        })
}

/// Runs wl-copy; whether it succeeded.
fn wl_copy(args: &[&str]) -> bool {
    on_wayland(Command::new("wl-copy").args(args))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("wl-copy is installed by tests/wayland.sh")
        .success()
}

/// What the Wayland clipboard holds as text; `None` when it holds nothing.
fn clipboard() -> Option<String> {
    let out = run("wl-paste", &["--no-newline"]);
    out.status.success().then(|| stdout(&out))
}

/// The clipboard once it is `expected`, asked every 50 ms for up to 30 s (the command starts
/// this computer's server and reads the keychain first, slowly while the other tests run);
/// otherwise what it held last.
fn clipboard_once(expected: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held = clipboard();
        if held.as_deref() == Some(expected) || Instant::now() > deadline {
            return held;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A tracked GitHub key named `name` held in the keychain; its secret.
fn tracked_key(setup: &Setup, name: &str) -> String {
    let secret = format!("ghp_{}", "wAyLaNd7".repeat(4) + "q9Zx");
    let out = setup.run_with_stdin(
        &[
            "keys",
            "add",
            "--service",
            "github",
            "--name",
            name,
            "--expires",
            "30d",
        ],
        &format!("{secret}\n"),
    );
    assert!(out.status.success(), "keys add: {}", stderr(&out));
    secret
}

/// Waits until the clipboard holds `secret`, which `copy` put there; else ends `copy` and fails
/// with what it said.
fn served(copy: Child, secret: &str) -> Child {
    if clipboard_once(secret).as_deref() == Some(secret) {
        return copy;
    }
    let mut copy = copy;
    let _ = copy.kill();
    let out = copy.wait_with_output().unwrap();
    panic!(
        "the key never showed on the Wayland clipboard; keys copy said: {}",
        stderr(&out)
    );
}

fn copy(setup: &Setup, name: &str, seconds: &str) -> Child {
    on_wayland(&mut setup.command(&["keys", "copy", name, "--clear-after", seconds]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The key stays on the clipboard for the whole delay and is gone after it. Before, on a
/// compositor with the data-control protocol the copy returned at once and the command cleared
/// the clipboard straight away: the key was never there to paste.
#[test]
fn keys_copy_serves_the_wayland_clipboard_until_the_delay_then_clears_it() {
    let _turn = WAYLAND_CLIPBOARD
        .lock()
        .unwrap_or_else(|err| err.into_inner());
    let setup = Setup::new();
    let secret = tracked_key(&setup, "wayland");
    let child = served(copy(&setup, "wayland", "3"), &secret);
    let served_at = Instant::now();
    let types = stdout(&run("wl-paste", &["--list-types"]));
    assert!(
        types.contains("x-kde-passwordManagerHint"),
        "marked for clipboard managers: {types}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        clipboard().as_deref(),
        Some(secret.as_str()),
        "still there 1.5 s later, before the delay is over"
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        served_at.elapsed() >= Duration::from_millis(1500),
        "the command waited for the delay"
    );
    assert!(
        stderr(&out).contains("cleared the clipboard"),
        "and says so: {}",
        stderr(&out)
    );
    assert_eq!(clipboard(), None, "cleared once the delay is over");
}

/// Something copied meanwhile is left alone, and the command ends at once instead of waiting.
#[test]
fn keys_copy_on_wayland_leaves_a_newer_copy_alone() {
    let _turn = WAYLAND_CLIPBOARD
        .lock()
        .unwrap_or_else(|err| err.into_inner());
    let setup = Setup::new();
    let secret = tracked_key(&setup, "replaced");
    let child = served(copy(&setup, "replaced", "30"), &secret);
    // wl-copy serves from a process of its own (it forks, keeping what it inherited open: so
    // no pipes to it), as another program would.
    assert!(wl_copy(&["something else"]), "wl-copy failed");
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the command ended when the key was replaced, not after 30 s"
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("left the clipboard alone"),
        "{}",
        stderr(&out)
    );
    assert_eq!(clipboard().as_deref(), Some("something else"));
    assert!(wl_copy(&["--clear"]), "wl-copy --clear failed");
}

/// The window's app_id is the app's ID, as the desktop entry names it: on Wayland this is what
/// finds the entry and its icon (egui sets none of its own).
#[test]
fn the_window_on_wayland_carries_the_app_id() {
    let (_, swaysock) = compositor();
    let setup = Setup::new();
    let mut app = on_wayland(&mut setup.command(&[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let app_ids = loop {
        let out = Command::new("swaymsg")
            .args(["--raw", "-t", "get_tree"])
            .env("SWAYSOCK", &swaysock)
            .output()
            .expect("swaymsg comes with sway (tests/wayland.sh)");
        let tree: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("swaymsg printed no tree: {}", stderr(&out)));
        let mut app_ids = Vec::new();
        windows(&tree, &mut app_ids);
        if !app_ids.is_empty() {
            break app_ids;
        }
        if let Ok(Some(status)) = app.try_wait() {
            panic!("the app exited ({status}) before its window showed on Wayland");
        }
        assert!(Instant::now() < deadline, "no window on Wayland in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = app.kill();
    let _ = app.wait();
    assert_eq!(app_ids, [APP_ID], "the windows' app_id");
}

/// The app_id of every window in sway's tree.
fn windows(node: &serde_json::Value, app_ids: &mut Vec<String>) {
    if let Some(id) = node["app_id"].as_str() {
        app_ids.push(id.to_string());
    }
    for child in ["nodes", "floating_nodes"] {
        for node in node[child].as_array().into_iter().flatten() {
            windows(node, app_ids);
        }
    }
}
