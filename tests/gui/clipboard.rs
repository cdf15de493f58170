//! The real X11 clipboard under Xvfb, read back with xclip: copy, auto-clear, and no clearing of
//! what the user copied meanwhile.

use std::process::{Command, Stdio};
use std::time::Duration;

use keywarden::secret::Secret;
use keywarden::vault::clipboard::copy_and_serve;

use crate::support::{Fixture, Options, clipboard_lock, real_clipboard, xclip_read};

#[test]
fn copy_puts_the_secret_there_marked_for_password_managers_and_clears_it() {
    let _turn = clipboard_lock();
    let clipboard = real_clipboard();
    let secret = Secret::new("kw_clipboardTestSecret0000000000000000");
    clipboard
        .copy(&secret, Some(Duration::from_millis(800)))
        .unwrap();
    assert_eq!(xclip_read(None).as_deref(), Some(secret.expose()));
    let targets = xclip_read(Some("TARGETS")).unwrap_or_default();
    assert!(
        targets.contains("x-kde-passwordManagerHint"),
        "marked so clipboard managers skip it: {targets}"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let after = xclip_read(None).unwrap_or_default();
    assert_ne!(after, secret.expose(), "cleared after the timeout");
}

#[test]
fn what_the_user_copied_meanwhile_is_left_alone() {
    let _turn = clipboard_lock();
    let clipboard = real_clipboard();
    let secret = Secret::new("kw_clipboardTestSecret1111111111111111");
    clipboard
        .copy(&secret, Some(Duration::from_millis(800)))
        .unwrap();
    let mut xclip = Command::new("xclip")
        .args(["-selection", "clipboard", "-i"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut xclip.stdin.take().unwrap(),
        b"something the user copied",
    )
    .unwrap();
    xclip.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        xclip_read(None).as_deref(),
        Some("something the user copied")
    );
}

#[test]
fn the_command_line_serves_the_clipboard_until_the_clear_time() {
    let _turn = clipboard_lock();
    let secret = Secret::new("kw_clipboardTestSecret2222222222222222");
    let serving = std::thread::spawn({
        let secret = secret.clone();
        move || copy_and_serve(&secret, Duration::from_millis(1200))
    });
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        xclip_read(None).as_deref(),
        Some(secret.expose()),
        "served while the process waits"
    );
    assert!(serving.join().unwrap().expect("copy"), "cleared at the end");
    assert_ne!(xclip_read(None).unwrap_or_default(), secret.expose());
}

#[test]
fn the_copy_buttons_copy_each_format_from_the_keychain() {
    let _turn = clipboard_lock();
    let mut fx = Fixture::with(Options {
        clipboard: Ok(real_clipboard()),
        ..Default::default()
    });
    fx.wait_connected();
    let key = fx.generate("Stripe live");
    let secret = fx.held_secret(&key).unwrap();
    let server = fx.app().local_server_url().unwrap();
    for (button, expected) in [
        ("Copy key", secret.expose().to_string()),
        (
            "Copy as header",
            format!("Authorization: Bearer {}", secret.expose()),
        ),
        (
            "Copy as export line",
            format!("export STRIPE_LIVE_API_KEY={}", secret.expose()),
        ),
        (
            "Copy as curl command",
            format!(
                "curl -H 'Authorization: Bearer {}' '{server}/v1/ping'",
                secret.expose()
            ),
        ),
    ] {
        fx.click(button);
        fx.wait_until("copied", |app| app.state.clipboard_clears_at.is_some());
        assert_eq!(
            xclip_read(None).as_deref(),
            Some(expected.as_str()),
            "{button}"
        );
    }
    assert!(
        fx.has_label_containing("Clipboard clears in"),
        "the status bar counts down"
    );
    // Ctrl+C copies the selected key.
    std::process::Command::new("xclip")
        .args(["-selection", "clipboard", "-i", "/dev/null"])
        .status()
        .unwrap();
    fx.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::C);
    fx.settle();
    assert_eq!(xclip_read(None).as_deref(), Some(secret.expose()));
}

/// "Copy reference" puts the key's kw:// reference there, for `keywarden run` and `inject`.
#[test]
fn copy_reference_puts_the_keys_kw_reference_there() {
    let _turn = clipboard_lock();
    let mut fx = Fixture::with(Options {
        clipboard: Ok(real_clipboard()),
        ..Default::default()
    });
    fx.wait_connected();
    fx.generate("Stripe live");
    fx.click("Copy reference");
    fx.wait_until("copied", |app| app.state.clipboard_clears_at.is_some());
    assert_eq!(
        xclip_read(None).as_deref(),
        Some("kw://local/Stripe%20live")
    );
}
