//! Every source in the app: a tracked key added by pasting, tested against a loopback stand-in of
//! its service, copied in that service's style and reminded of; a ThingsBoard account against the
//! stand-in of its REST API; the one table mixing sources; and the live list, which shows changes
//! made elsewhere without a refresh.

#[path = "../stand_ins/gitlab.rs"]
mod gitlab;
#[path = "../stand_ins/services.rs"]
mod services;
#[path = "../stand_ins/thingsboard.rs"]
mod thingsboard;

use std::time::{Duration, Instant};

use egui_kittest::kittest::{NodeT as _, Queryable as _};
use keywarden::api::CreateKeyRequest;
use keywarden::gui::state::{Dialog, Tested};
use keywarden::gui::{GOT_IT, RENEW};
use keywarden::secret::Secret;
use keywarden::sources::{SourceKind, TRACKED};

use crate::support::{Fixture, Options, clipboard_lock, real_clipboard, xclip_read};

/// Every file under the fixture's directory, for secrets scans.
fn all_files_text(fx: &Fixture) -> String {
    fn walk(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    let mut text = String::new();
    walk(fx.dir.path(), &mut text);
    text
}

#[test]
fn a_tracked_key_is_added_by_pasting_tested_copied_and_reminded_of() {
    let _clipboard = clipboard_lock();
    let clipboard = real_clipboard();
    let mut fx = Fixture::with(Options {
        clipboard: Ok(clipboard.clone()),
        ..Default::default()
    });
    fx.wait_connected();
    let url = fx.runtime.block_on(services::start());

    // The developer copied the token from GitHub's page.
    clipboard
        .copy(&Secret::new(services::GITHUB_KEY), None)
        .unwrap();
    fx.click("Add key");
    fx.click("Paste from the clipboard");
    fx.wait_until(
        "the key is pasted",
        |app| matches!(&app.state.dialog, Some(Dialog::Add(d)) if !d.secret.is_empty()),
    );
    assert!(
        fx.has_label("recognised: GitHub"),
        "the service from its form"
    );
    fx.type_into("Name", "ci token");
    fx.type_into("Base URL", &url);
    fx.click("7 days");
    fx.click("Add this key");
    fx.wait_until("the key is listed", |app| {
        app.state.keys.value().is_some_and(|keys| {
            keys.iter()
                .any(|k| k.name == "ci token" && k.kind == SourceKind::Tracked)
        })
    });
    let key = fx.key("ci token");
    assert_eq!(
        (key.source.as_str(), key.service.as_str()),
        (TRACKED, "github")
    );
    assert_eq!(
        fx.held_secret(&key)
            .map(|s| s.expose().to_string())
            .as_deref(),
        Some(services::GITHUB_KEY),
        "the secret is in the keychain"
    );
    assert!(
        fx.has_label_containing("1 key expires soon: \"ci token\" expires in"),
        "in the banner like every other key"
    );

    // Copy as a header: in GitHub's style.
    fx.select("ci token");
    fx.click("Copy as header");
    fx.wait_until("copied", |app| app.state.clipboard_clears_at.is_some());
    assert_eq!(
        xclip_read(None).as_deref(),
        Some(format!("Authorization: Bearer {}", services::GITHUB_KEY).as_str())
    );

    // Test: accepted, and GitHub's answer tells the real expiry, which is recorded.
    fx.click("Test");
    fx.wait_until("tested", |app| app.state.tests.contains_key(&key.key_ref()));
    assert_eq!(
        fx.app().state.tests.get(&key.key_ref()),
        Some(&Tested {
            ok: true,
            text: "Accepted by the service".into()
        })
    );
    let tested = fx.key("ci token");
    assert_eq!(
        tested.expires_at.map(|at| at.to_rfc3339()).as_deref(),
        Some(services::GITHUB_EXPIRY)
    );

    // A key the service refuses: its own message.
    fx.click("Add key");
    fx.type_into("Key", "WrongKey0123456789abcdefghij");
    fx.click("Its service");
    fx.click("iottly");
    fx.type_into("Name", "plant floor");
    fx.type_into("Base URL", &url);
    fx.click("does not expire");
    fx.click("Add this key");
    fx.wait_until("added", |app| {
        app.state
            .keys
            .value()
            .is_some_and(|keys| keys.iter().any(|k| k.name == "plant floor"))
    });
    fx.select("plant floor");
    assert!(
        fx.has_label_containing("Authentication: bearer"),
        "its header style"
    );
    fx.click("Test");
    let plant = fx.key("plant floor").key_ref();
    fx.wait_until("tested", |app| app.state.tests.contains_key(&plant));
    assert!(
        fx.has_label_containing("invalid API token"),
        "the service's own message"
    );
    // Revoking is the service's business: the button says why it is off.
    let revoke = fx.harness.get_by_label("Revoke");
    assert!(revoke.accesskit_node().is_disabled());

    let files = all_files_text(&fx);
    assert!(files.contains("plant floor"), "the metadata is kept");
    for secret in [services::GITHUB_KEY, "WrongKey0123456789abcdefghij"] {
        assert!(!files.contains(secret), "no secret in any file");
    }
}

#[test]
fn a_thingsboard_account_signs_in_generates_disables_renews_and_deletes() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let tb = fx.runtime.block_on(thingsboard::ThingsBoard::start());
    fx.click("Accounts");
    fx.click("Add server");
    fx.click("ThingsBoard");
    fx.type_into("Server URL", &tb.url);
    fx.type_into("Email", "admin@tb.example");
    fx.type_into("Password", "tb password");
    fx.type_into("Account name", "tb");
    fx.click("Sign in");
    fx.wait_signed_in_as("admin@tb.example");
    assert_eq!(fx.app().state.config.current_server, "tb");
    fx.wait_until("the tenant's users are known", |app| {
        app.state
            .owners
            .get("tb")
            .is_some_and(|users| users.len() == 3)
    });

    // Generate on the ThingsBoard account: a key that never expires, enabled.
    fx.click("Generate key");
    fx.type_into("Name", "gateway");
    fx.click("does not expire");
    fx.click("Generate");
    fx.wait_until(
        "the new secret is shown",
        |app| matches!(&app.state.dialog, Some(Dialog::Secret(s)) if s.key.name == "gateway"),
    );
    let made = match &fx.app().state.dialog {
        Some(Dialog::Secret(shown)) => shown.key.clone(),
        _ => unreachable!(),
    };
    fx.click(GOT_IT);
    assert_eq!(
        (made.kind, made.expires_at),
        (SourceKind::Thingsboard, None)
    );
    assert!(fx.held_secret(&made).unwrap().expose().starts_with("tb_"));
    let on_server = |id: &str| tb.keys().into_iter().find(|k| k.id == id);
    assert!(on_server(&made.id).unwrap().enabled);
    assert!(fx.has_label("tb"), "the Source column names the account");

    // Disable; revoke is not ThingsBoard's, and says so.
    fx.select("gateway");
    assert!(fx.has_label("Delete (revokes it)"));
    assert!(
        fx.harness
            .get_by_label("Revoke")
            .accesskit_node()
            .is_disabled()
    );
    fx.click("Disable");
    fx.wait_until("disabled", |app| {
        app.state.key(&made.key_ref()).is_some_and(|k| !k.enabled)
    });
    assert!(!on_server(&made.id).unwrap().enabled);
    fx.click("Enable");
    fx.wait_until("enabled", |app| {
        app.state.key(&made.key_ref()).is_some_and(|k| k.enabled)
    });

    // Renew with an overlap of an hour: a new key, the old one kept until then.
    fx.click("Renew");
    fx.click("in 1 hour");
    fx.click(RENEW);
    fx.wait_until(
        "the renewed secret is shown",
        |app| matches!(&app.state.dialog, Some(Dialog::Secret(s)) if s.key.id != made.id),
    );
    let renewed = match &fx.app().state.dialog {
        Some(Dialog::Secret(shown)) => shown.key.clone(),
        _ => unreachable!(),
    };
    fx.click(GOT_IT);
    assert!(on_server(&made.id).is_some() && on_server(&renewed.id).is_some());
    fx.wait_until("the old key shows the end of its overlap", |app| {
        app.state
            .key(&made.key_ref())
            .is_some_and(|k| k.revoked_at.is_some())
    });
    fx.select_id(&made.key_ref());
    assert!(fx.has_label_containing("still valid until"));

    // Delete the new key: deleting is revoking on ThingsBoard.
    fx.select_id(&renewed.key_ref());
    fx.click("Delete (revokes it)");
    assert!(fx.has_label_containing("ThingsBoard has no revoke"));
    fx.click("Yes, delete for good");
    fx.wait_until("deleted", |app| app.state.key(&renewed.key_ref()).is_none());
    assert!(on_server(&renewed.id).is_none());
    assert!(
        fx.held_secret(&renewed).is_none(),
        "its secret left the keychain"
    );
}

/// A GitLab account in the app: signed in with a token (the dialog asks for nothing else), its
/// tokens listed, a renewal warned of before it rotates, and automatic renewal turned on with
/// its warning and kept on the rotated token.
#[test]
fn a_gitlab_account_signs_in_renews_with_a_warning_and_renews_on_its_own() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let gl = fx.runtime.block_on(gitlab::GitLab::start());
    let own = gl.add_token(gitlab::USER_ID, "keywarden", &["api"], Some(300));
    gl.add_token(gitlab::USER_ID, "deploy", &["api"], Some(40));
    fx.click("Accounts");
    fx.click("Add server");
    fx.click("GitLab");
    assert!(
        !fx.has_label("Email"),
        "GitLab asks for a token, not an email"
    );
    fx.type_into("Server URL", &gl.url);
    fx.type_into("Personal access token", &own);
    fx.type_into("Account name", "gl");
    fx.click("Sign in");
    fx.wait_signed_in_as(gitlab::EMAIL);
    fx.wait_until("the tokens are listed", |app| {
        app.state
            .account("gl")
            .and_then(|a| a.keys.as_ref())
            .is_some_and(|keys| keys.len() == 2)
    });
    fx.select("deploy");
    assert!(
        fx.has_label("Open key page"),
        "tokens are made on GitLab's page"
    );

    fx.click("Renew");
    assert!(fx.has_label_containing("stops working at once"));
    fx.click("Renew on its own before it expires");
    fx.wait_until(
        "automatic renewal is on",
        |app| matches!(&app.state.dialog, Some(Dialog::Renew(d)) if d.auto == Some(14)),
    );
    assert!(fx.has_label_containing("stop working at every rotation"));
    fx.click(RENEW);
    fx.wait_until(
        "the rotated secret is shown",
        |app| matches!(&app.state.dialog, Some(Dialog::Secret(s)) if s.key.name == "deploy"),
    );
    let rotated = match &fx.app().state.dialog {
        Some(Dialog::Secret(shown)) => shown.key.clone(),
        _ => unreachable!(),
    };
    fx.click(GOT_IT);
    let tokens = gl.token_named("deploy");
    assert!(tokens[0].revoked && !tokens[1].revoked, "rotated on GitLab");
    assert_eq!(rotated.id, tokens[1].id.to_string());
    assert_eq!(
        fx.held_secret(&rotated).unwrap().expose(),
        tokens[1].secret,
        "the new secret is in the keychain"
    );
    let renewals = keywarden::sources::renewals::Renewals::new(&fx.data_dir());
    assert_eq!(
        renewals.auto(&rotated.key_ref()),
        Some(14),
        "automatic renewal moved to the new token: {}",
        std::fs::read_to_string(fx.data_dir().join("renewals.json")).unwrap_or_default()
    );

    // Once a token that renews on its own comes within its window, the open app rotates it at
    // the next listing and says so.
    gl.set_expiry(tokens[1].id, 10);
    fx.click("Refresh");
    // (The status bar says so too, but a reminder sent in the same frame may say its own.)
    fx.wait_until("the due token was rotated", |app| {
        app.state
            .account("gl")
            .and_then(|a| a.keys.as_ref())
            .is_some_and(|keys| keys.iter().filter(|k| k.name == "deploy").count() == 3)
    });
    let tokens = gl.token_named("deploy");
    assert_eq!(tokens.len(), 3);
    assert!(tokens[1].revoked && !tokens[2].revoked);
    assert_eq!(
        renewals.auto(&keywarden::sources::KeyRef {
            id: tokens[2].id.to_string(),
            ..rotated.key_ref()
        }),
        Some(14)
    );
}

/// A ThingsBoard account with two-factor authentication: after the password the dialog asks for
/// the code; a wrong one shows ThingsBoard's message and keeps the step, a right one signs in.
#[test]
fn a_two_factor_sign_in_asks_for_the_code() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let tb = fx.runtime.block_on(thingsboard::ThingsBoard::start());
    fx.click("Accounts");
    fx.click("Add server");
    fx.click("ThingsBoard");
    fx.type_into("Server URL", &tb.url);
    fx.type_into("Email", "2fa@tb.example");
    fx.type_into("Password", "tb password");
    fx.type_into("Account name", "tb2");
    fx.click("Sign in");
    fx.wait_until(
        "the code step shows",
        |app| matches!(&app.state.dialog, Some(Dialog::SignIn(d)) if d.second.is_some()),
    );
    assert!(fx.has_label_containing("authenticator app"));
    let now = chrono::Utc::now().timestamp();
    let right = thingsboard::totp(thingsboard::TWO_FACTOR_SECRET, now);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    fx.type_into("Verification code", &wrong);
    fx.click("Verify");
    fx.wait_until("the wrong code is refused", |app| {
        matches!(&app.state.dialog, Some(Dialog::SignIn(d))
            if d.error.as_deref() == Some("Verification code is incorrect"))
    });
    assert!(fx.has_label("Verification code is incorrect"));
    let code = thingsboard::totp(
        thingsboard::TWO_FACTOR_SECRET,
        chrono::Utc::now().timestamp(),
    );
    fx.type_into("Verification code", &code);
    fx.click("Verify");
    fx.wait_signed_in_as("2fa@tb.example");
    assert_eq!(fx.app().state.config.current_server, "tb2");
    assert!(fx.app().state.dialog.is_none());
    assert!(
        !format!("{:?}", fx.app().state).contains(&code),
        "the code is not kept in the state"
    );
}

#[test]
fn the_table_mixes_sources_and_filters_by_source() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.generate("on this computer");
    fx.click("Add key");
    fx.type_into("Key", "glpat-abcdefghijklmnopqrstu");
    fx.type_into("Name", "lab token");
    fx.click("does not expire");
    fx.click("Add this key");
    fx.wait_until("both listed", |app| app.state.visible.len() == 2);
    assert!(fx.has_label("this computer") && fx.has_label("tracked"));
    assert_eq!(
        fx.key("lab token").service,
        "gitlab",
        "recognised by its form"
    );
    assert!(fx.has_label("never"), "a key that never expires says so");

    let app = fx.harness.state_mut().app_mut();
    app.state.view.source = Some(TRACKED.into());
    app.state.view_dirty = true;
    fx.settle();
    assert!(fx.has_label("lab token") && !fx.has_label("on this computer"));
}

/// A change made elsewhere (another client of the same server, the command line on the tracked
/// keys' file) shows within three seconds, without Refresh.
#[test]
fn a_change_made_elsewhere_shows_within_three_seconds() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let client = fx.owner_client();
    let started = Instant::now();
    fx.runtime
        .block_on(client.create_key(&CreateKeyRequest {
            name: "made elsewhere".into(),
            expires_in_days: Some(30),
            ..Default::default()
        }))
        .unwrap();
    fx.wait_until("the key made elsewhere shows", |app| {
        app.state
            .keys
            .value()
            .is_some_and(|keys| keys.iter().any(|k| k.name == "made elsewhere"))
    });
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shown after {:?}",
        started.elapsed()
    );

    let tracked =
        keywarden::sources::tracked::TrackedSource::new(&fx.dir.path().join("data/keywarden"));
    let started = Instant::now();
    tracked
        .add(
            "from-the-cli",
            keywarden::sources::tracked::NewTracked {
                service: "other".into(),
                name: "added in a terminal".into(),
                ..Default::default()
            },
            &Secret::new("s"),
        )
        .unwrap();
    fx.wait_until("the tracked key shows", |app| {
        app.state
            .keys
            .value()
            .is_some_and(|keys| keys.iter().any(|k| k.name == "added in a terminal"))
    });
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "shown after {:?}",
        started.elapsed()
    );
}
