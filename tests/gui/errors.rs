//! The error states: keychain locked, server unreachable, session expired (401), right lost (403).
//! Each is a sentence in the window; nothing is lost and nothing crashes.

use std::sync::Arc;

use egui_kittest::kittest::{NodeT as _, Queryable as _};
use keywarden::api::{Role, SetMemberRequest};
use keywarden::client::ApiClient;
use keywarden::gui::state::{Connection, Dialog};
use keywarden::secret::Secret;
use keywarden::settings::{Config, ServerEntry};
use keywarden::vault::{self, MemoryVault, Vault};

use crate::support::{Fixture, Options, remote_server, remote_server_at};

#[test]
fn a_locked_keychain_leaves_metadata_working_and_says_why() {
    let mut fx = Fixture::with(Options {
        vault: Arc::new(MemoryVault::unavailable()),
        ..Default::default()
    });
    fx.wait_connected();
    assert!(
        fx.has_label_containing("keychain is locked or missing"),
        "the banner says secrets are unavailable"
    );
    fx.click("Generate key");
    fx.type_into("Name", "no vault");
    fx.click("Generate");
    fx.wait_until("the secret dialog", |app| {
        matches!(app.state.dialog, Some(Dialog::Secret(_)))
    });
    assert!(fx.has_label_containing("could not be stored in the keychain"));
    fx.harness.key_press(egui::Key::Escape);
    fx.settle();
    assert!(
        matches!(fx.app().state.dialog, Some(Dialog::Secret(_))),
        "Esc does not throw away an unsaved secret"
    );
    fx.click(keywarden::gui::GOT_IT);
    fx.select("no vault");
    assert!(fx.has_label("not held here"));
    let copy = fx.harness.get_by_label("Copy key");
    assert!(
        copy.accesskit_node().is_disabled(),
        "copy is disabled when the secret is not held here"
    );
}

#[test]
fn unreachable_server_offers_retry() {
    let vault = Arc::new(MemoryVault::default());
    let url = "http://127.0.0.1:9".to_string();
    vault
        .set(&vault::session_account(&url), &Secret::new("kws_whatever"))
        .unwrap();
    let mut config = Config::default();
    config.use_server(ServerEntry {
        url: url.clone(),
        email: "me@example.com".into(),
        kind: Default::default(),
        name: None,
        allow_http: false,
    });
    let mut fx = Fixture::with(Options {
        vault,
        config,
        ..Default::default()
    });
    let failed = |app: &keywarden::gui::KeywardenApp| {
        app.state
            .account("http://127.0.0.1:9")
            .is_some_and(|a| matches!(a.connection, Connection::Failed(_)))
    };
    fx.wait_until("the connection failed", failed);
    assert!(
        fx.has_label_containing("cannot reach the server at http://127.0.0.1:9"),
        "says which server"
    );
    fx.click("Retry");
    fx.wait_until("the retry failed too", failed);
    assert!(fx.has_label("Retry"));
}

#[test]
fn sign_in_to_a_remote_server_then_expired_session_asks_again_keeping_the_window() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let (url, _remote) = remote_server(&fx, "dev@example.com", Role::Member);

    fx.sign_in(&url, "dev@example.com", "member password");
    let token = fx
        .vault
        .get(&vault::session_account(&url))
        .unwrap()
        .expect("the session token is in the keychain");
    let config =
        std::fs::read_to_string(fx.dir.path().join("config/keywarden/config.toml")).unwrap();
    assert!(
        config.contains(&url) && config.contains("dev@example.com"),
        "the server list is saved: {config}"
    );
    assert!(
        !config.contains(&token.expose()[4..]),
        "no token in the config"
    );

    let key = fx.generate("remote key");
    assert!(
        fx.vault
            .get(&vault::key_account("keywarden", &url, &key.id.to_string()))
            .unwrap()
            .is_some(),
        "held under the remote server's name"
    );

    // The session ends behind the app's back (expired or logged out elsewhere).
    fx.runtime
        .block_on(
            ApiClient::new(&url)
                .unwrap()
                .with_credential(token)
                .logout(),
        )
        .unwrap();
    fx.click("Refresh");
    fx.wait_until("asked to sign in again", |app| {
        matches!(app.state.dialog, Some(Dialog::SignIn(_)))
    });
    assert!(fx.has_label_containing("Sign in again"));
    assert!(
        fx.app()
            .state
            .keys
            .value()
            .is_some_and(|keys| keys.iter().any(|k| k.id == key.id)),
        "the list stays"
    );
    fx.type_into("Password", "member password");
    fx.click("Sign in");
    fx.wait_until("signed in again", |app| {
        app.state.dialog.is_none()
            && app
                .state
                .current_account()
                .is_some_and(|a| a.is_connected())
    });
    assert!(fx.app().state.key(&key.key_ref()).is_some());

    // Switching back to this computer and signing out of the remote.
    fx.sign_out();
    assert!(
        fx.vault
            .get(&vault::session_account(&url))
            .unwrap()
            .is_none(),
        "signing out forgets the session"
    );
}

#[test]
fn a_lost_right_is_a_sentence_not_a_crash() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let (url, remote) = remote_server(&fx, "dev@example.com", Role::Member);
    fx.sign_in(&url, "dev@example.com", "member password");
    fx.generate("mine");
    fx.select("mine");

    // An admin demotes the user to viewer while the app is open.
    let user_id = fx.account(&url).user_id.unwrap();
    let workspace_id = fx.key("mine").workspace.unwrap();
    fx.runtime.block_on(async {
        let login = ApiClient::new(&url)
            .unwrap()
            .login("admin@example.com", &Secret::new("admin password"))
            .await
            .unwrap();
        let response = reqwest::Client::new()
            .put(format!(
                "{url}/v1/workspaces/{workspace_id}/members/{user_id}"
            ))
            .bearer_auth(login.token.expose())
            .json(&SetMemberRequest { role: Role::Viewer })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    });
    fx.click("Disable");
    fx.wait_until("the refusal arrived", |app| {
        app.state.notice.as_ref().is_some_and(|n| n.is_error)
    });
    assert!(fx.has_label_containing("you lack the right"), "403 says so");
    assert!(
        fx.app()
            .state
            .key(&fx.key("mine").key_ref())
            .is_some_and(|k| k.enabled),
        "nothing changed"
    );
    drop(remote);
}

#[test]
fn a_failed_sign_in_to_another_server_keeps_the_current_one() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.generate("stays here");
    let (url, _remote) = remote_server(&fx, "dev@example.com", Role::Member);
    fx.click("Accounts");
    fx.click("Add server");
    fx.type_into("Server URL", &url);
    fx.type_into("Email", "dev@example.com");
    fx.type_into("Password", "wrong password");
    fx.click("Sign in");
    fx.wait_until(
        "the sign-in was refused",
        |app| matches!(&app.state.dialog, Some(Dialog::SignIn(d)) if d.error.is_some()),
    );
    fx.click("Cancel");
    let state = &fx.app().state;
    assert_eq!(state.config.current_server, "local");
    assert!(
        state
            .current_account()
            .is_some_and(|a| a.is_connected() && a.who == "owner@localhost"),
        "still signed in to this computer's server"
    );
    assert!(fx.has_label("stays here"), "its keys are still listed");
}

#[test]
fn signing_in_as_another_user_of_the_same_server_drops_the_previous_view() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let (url, _remote) = remote_server(&fx, "dev@example.com", Role::Member);
    fx.sign_in(&url, "dev@example.com", "member password");
    let key = fx.generate("dev's key");
    fx.select("dev's key");

    // The admin of the same server signs in on this computer; the admin sees the key too.
    fx.sign_in(&url, "admin@example.com", "admin password");
    fx.wait_until("the admin's list", |app| {
        app.state.key(&key.key_ref()).is_some()
    });
    assert_eq!(
        fx.app().state.selected,
        None,
        "nothing chosen in another user's view stays selected"
    );
}

/// The sign-in dialog sends no password over plain HTTP to another machine: it says why, and
/// signs in once "Allow plain HTTP" is ticked (remembered for the account).
#[test]
fn plain_http_to_another_machine_needs_allow_plain_http() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let address = socket
        .connect("192.0.2.1:9")
        .and_then(|()| socket.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .expect("this machine has no network address besides loopback: the test needs one");
    let listen = format!("{address}:0");
    let (url, _remote) = remote_server_at(&fx, &listen, "dev@example.com", Role::Member);
    fx.click("Accounts");
    fx.click("Add server");
    fx.type_into("Server URL", &url);
    // A plain http:// URL brings up the "Allow plain HTTP" box below it.
    fx.settle();
    assert!(fx.has_label("Allow plain HTTP"));
    fx.type_into("Email", "dev@example.com");
    fx.type_into("Password", "member password");
    fx.click("Sign in");
    fx.wait_until(
        "the sign-in was refused",
        |app| matches!(&app.state.dialog, Some(Dialog::SignIn(d)) if d.error.is_some()),
    );
    let error = match &fx.app().state.dialog {
        Some(Dialog::SignIn(draft)) => draft.error.clone().unwrap(),
        _ => unreachable!(),
    };
    assert!(
        error.contains("plain HTTP") && error.contains("Allow plain HTTP"),
        "{error}"
    );
    assert_eq!(fx.app().state.config.current_server, "local");

    fx.click("Allow plain HTTP");
    fx.type_into("Password", "member password");
    fx.click("Sign in");
    fx.wait_signed_in_as("dev@example.com");
    let entry = fx
        .app()
        .state
        .config
        .entry(&url)
        .expect("the account is kept");
    assert!(entry.allow_http, "remembered for the account");
}
