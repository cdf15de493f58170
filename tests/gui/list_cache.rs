//! The last key list is kept (metadata only) and shown at once on the next start, also when the
//! server cannot be reached; signing out forgets it.

use std::sync::Arc;

use keywarden::api::Role;
use keywarden::settings::Config;
use keywarden::sources::list_cache::ListCache;
use keywarden::vault::{MemoryVault, Vault};

use crate::support::{Fixture, Options, clipboard_lock, real_clipboard, remote_server, xclip_read};

#[test]
fn a_restart_shows_the_last_list_while_the_server_is_down_and_sign_out_forgets_it() {
    let vault: Arc<dyn Vault> = Arc::new(MemoryVault::default());
    let mut fx = Fixture::with(Options {
        vault: vault.clone(),
        ..Default::default()
    });
    fx.wait_connected();
    let (url, remote) = remote_server(&fx, "dev@example.com", Role::Member);
    fx.sign_in(&url, "dev@example.com", "member password");
    let kept = fx.generate("kept offline");
    let disabled = fx.generate("disabled later");
    fx.select("disabled later");
    fx.click("Disable");
    fx.wait_until("the change arrived", |app| {
        app.state
            .key(&disabled.key_ref())
            .is_some_and(|k| !k.enabled)
    });
    let cache = ListCache::new(fx.dir.path().join("cache/keywarden/lists"));
    let cache_key = format!("keywarden:{url}");
    let saved = cache
        .load::<keywarden::sources::SourceKey>(&cache_key, "dev@example.com")
        .expect("the list is saved for the next start");
    let mut names: Vec<_> = saved
        .keys
        .iter()
        .map(|k| (k.name.as_str(), k.enabled))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [("disabled later", false), ("kept offline", true)],
        "the saved list follows every change, not only full reloads"
    );

    // Quit, and the server goes away.
    let config_path = fx.dir.path().join("config/keywarden/config.toml");
    let crate::support::Fixture {
        harness,
        dir,
        runtime,
        ..
    } = fx;
    drop(harness);
    drop(remote);
    drop(runtime);

    let config = Config::load(&config_path).unwrap();
    assert_eq!(config.current_server, url);
    let _clipboard = clipboard_lock();
    let mut fx = Fixture::with(Options {
        vault: vault.clone(),
        config,
        dir: Some(dir),
        clipboard: Ok(real_clipboard()),
    });
    fx.wait_until("the connection failed", |app| {
        app.state
            .account(&url)
            .is_some_and(|a| matches!(a.connection, keywarden::gui::state::Connection::Failed(_)))
    });
    assert!(fx.has_label_containing("cannot reach the server"));
    assert!(
        fx.account(&url).saved_at.is_some(),
        "the list shown is the saved one"
    );
    assert!(fx.has_label_containing("Showing the list saved"));
    assert!(fx.has_label("kept offline"), "the saved keys are listed");
    fx.select("kept offline");
    assert!(fx.has_label("held on this computer"));
    fx.click("Copy key");
    let secret = vault
        .get(&keywarden::vault::key_account(
            "keywarden",
            &url,
            &kept.id.to_string(),
        ))
        .unwrap()
        .expect("held");
    assert_eq!(
        xclip_read(None).as_deref(),
        Some(secret.expose()),
        "a key held in the keychain is copied while the server is down"
    );
    assert_eq!(fx.app().state.selected, Some(kept.key_ref()));

    fx.sign_out();
    assert_eq!(
        cache.load::<keywarden::sources::SourceKey>(&cache_key, "dev@example.com"),
        None,
        "signing out forgets the server's list"
    );
    assert!(
        !fx.has_label("kept offline"),
        "the remote server's keys are not shown on this computer's server"
    );
}
