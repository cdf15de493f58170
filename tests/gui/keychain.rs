//! The real OS keychain: gnome-keyring's Secret Service on a private D-Bus session (tests/run.sh).
//! What the app stores is checked with `secret-tool`, as a user would.

use std::process::Command;
use std::sync::Arc;

use keywarden::gui::state::Dialog;
use keywarden::vault::{KeyringVault, Vault};

use crate::support::{Fixture, Options};

fn secret_tool(args: &[&str]) -> String {
    let output = Command::new("secret-tool")
        .args(args)
        .output()
        .expect("secret-tool is installed (libsecret-tools)");
    // secret-tool prints the secrets on stdout and the attributes on stderr.
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if args[0] == "search" {
        text.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    text
}

#[test]
fn secrets_go_into_the_real_keychain_and_leave_it_on_revoke() {
    let vault = KeyringVault::new().unwrap_or_else(|err| {
        panic!("this test needs a Secret Service (gnome-keyring) on the D-Bus session bus; run it through tests/run.sh: {err}")
    });
    let vault: Arc<dyn Vault> = Arc::new(vault);
    let mut fx = Fixture::with(Options {
        vault: vault.clone(),
        ..Default::default()
    });
    fx.wait_connected();
    fx.click("Generate key");
    fx.type_into("Name", "keychain check");
    fx.click("Generate");
    fx.wait_until("the secret dialog", |app| {
        matches!(app.state.dialog, Some(Dialog::Secret(_)))
    });
    let key = fx.key("keychain check");
    let account = format!("keywarden key {} on local", key.id);
    fx.click(keywarden::gui::GOT_IT);

    let listing = secret_tool(&["search", "--all", "service", "keywarden"]);
    assert!(
        listing.contains(&format!("attribute.username = {account}")),
        "secret-tool lists the key: {listing}"
    );
    assert!(
        listing.contains("attribute.username = local owner password"),
        "and the local owner's credential"
    );
    let stored = secret_tool(&["lookup", "service", "keywarden", "username", &account]);
    assert!(
        stored.starts_with("kw_")
            && keywarden::key::parse(keywarden::key::TokenKind::ApiKey, stored.trim()).is_ok()
    );
    assert_eq!(
        fx.held_secret(&key).map(|s| s.expose().to_string()),
        Some(stored.trim().to_string())
    );

    fx.select("keychain check");
    fx.click("Revoke");
    fx.click("Yes, revoke");
    fx.wait_until("revoked", |app| {
        app.state
            .key(&key.key_ref())
            .is_some_and(|k| k.revoked_at.is_some())
    });
    let after = secret_tool(&["lookup", "service", "keywarden", "username", &account]);
    assert!(
        after.is_empty(),
        "the secret is gone from the keychain after revoke"
    );
    assert!(!secret_tool(&["search", "--all", "service", "keywarden"]).contains(&account));
}

/// Secrets kept by earlier versions, under `key ID on SERVER`, are found after the upgrade and
/// moved to the name that carries the source's kind.
#[test]
fn secrets_kept_by_earlier_versions_are_found_and_moved() {
    use keywarden::sources::keeper::Keeper;
    use keywarden::sources::{KeyRef, SourceKind};
    let vault: Arc<dyn Vault> = Arc::new(KeyringVault::new().unwrap_or_else(|err| {
        panic!("this test needs a Secret Service (gnome-keyring) on the D-Bus session bus; run it through tests/run.sh: {err}")
    }));
    let server = format!("https://upgrade-{}.example", std::process::id());
    vault
        .set(
            &keywarden::vault::legacy_key_account(&server, "77"),
            &keywarden::secret::Secret::new("kw_kept_before_the_upgrade"),
        )
        .unwrap();
    let keeper = Keeper::new(vault.clone(), true, None);
    let key = KeyRef {
        kind: SourceKind::Keywarden,
        source: server.clone(),
        id: "77".into(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let found = runtime.block_on(keeper.secret(&key)).unwrap();
    assert_eq!(
        found.map(|s| s.expose().to_string()).as_deref(),
        Some("kw_kept_before_the_upgrade")
    );
    let listing = secret_tool(&["search", "--all", "service", "keywarden"]);
    assert!(
        listing.contains(&format!(
            "attribute.username = keywarden key 77 on {server}"
        )),
        "moved to the new name: {listing}"
    );
    assert!(
        !listing.contains(&format!("attribute.username = key 77 on {server}")),
        "and gone from the old one: {listing}"
    );
    runtime.block_on(keeper.forget(&key)).unwrap();
    assert!(!secret_tool(&["search", "--all", "service", "keywarden"]).contains(&server));
}
