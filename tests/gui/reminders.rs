//! Renewal reminders in the app: the banner, the renew dialog with its overlap, and desktop
//! notifications once per key per threshold, also across restarts.

use chrono::{Duration, Utc};
use keywarden::api::{CreateKeyRequest, KeyStatus};
use keywarden::gui::state::{Dialog, Filter};
use keywarden::gui::{GOT_IT, RENEW};

use crate::support::{Fixture, Options, local_key};

fn create(fx: &Fixture, name: &str, days: i64) -> i64 {
    let client = fx.owner_client();
    let request = CreateKeyRequest {
        name: name.into(),
        expires_in_days: Some(days),
        ..Default::default()
    };
    fx.runtime
        .block_on(client.create_key(&request))
        .unwrap()
        .key
        .id
}

fn notifications_about(name: &str) -> usize {
    let runtime_dir =
        std::env::var("XDG_RUNTIME_DIR").expect("XDG_RUNTIME_DIR is set by tests/run.sh");
    let log = std::fs::read_to_string(std::path::Path::new(&runtime_dir).join("dunst.log"))
        .expect("this test needs the dunst notification daemon started by tests/run.sh");
    log.lines()
        .filter(|l| l.trim_start().starts_with("summary:") && l.contains(&format!("\"{name}\"")))
        .count()
}

#[test]
fn banner_counts_expiring_keys_and_filters_to_them() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    assert!(
        !fx.has_label_containing("expire soon"),
        "no banner without expiring keys"
    );
    create(&fx, "far away", 200);
    create(&fx, "soonest", 3);
    create(&fx, "later", 20);
    fx.click("Refresh");
    fx.wait_until("three keys", |app| {
        app.state.keys.value().is_some_and(|k| k.len() == 3)
    });
    assert!(
        fx.has_label_containing("2 keys expire soon: \"soonest\" expires in"),
        "count and the soonest key"
    );
    assert!(fx.has_label("urgent"), "the soonest key's row says urgent");
    fx.click("Show expiring keys");
    assert_eq!(fx.app().state.view.filter, Filter::Expiring);
    let state = &fx.app().state;
    let names: Vec<&str> = state
        .visible
        .iter()
        .map(|&i| state.keys.value().unwrap()[i].name.as_str())
        .collect();
    assert_eq!(names, ["soonest", "later"]);
}

#[test]
fn renew_with_an_overlap_keeps_the_old_key_until_then() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let old_id = create(&fx, "payments", 5);
    fx.click("Refresh");
    fx.wait_until("the key is listed", |app| {
        app.state.key(&local_key(old_id)).is_some()
    });
    fx.select("payments");
    let old_secret_was_held = fx.held_secret(local_key(old_id)).is_some();
    assert!(
        !old_secret_was_held,
        "created behind the app's back: not held here"
    );

    // From the banner: one dialog, prefilled from the old key.
    fx.click("Renew \"payments\"");
    assert!(
        matches!(&fx.app().state.dialog, Some(Dialog::Renew(d)) if d.key.id == old_id.to_string())
    );
    assert!(fx.has_label_containing("Replace \"payments\" with a new key"));
    fx.click("in 1 hour");
    fx.click("30 days");
    fx.click(RENEW);
    fx.wait_until(
        "the new secret is shown",
        |app| matches!(&app.state.dialog, Some(Dialog::Secret(s)) if s.key.id != old_id.to_string()),
    );
    let new_key = match &fx.app().state.dialog {
        Some(Dialog::Secret(shown)) => shown.key.clone(),
        _ => unreachable!(),
    };
    fx.click(GOT_IT);
    assert_eq!(new_key.replaces, Some(old_id.to_string()));
    assert_eq!(
        (new_key.expires_at.unwrap() - new_key.created_at).num_days(),
        30
    );
    assert!(fx.held_secret(&new_key).is_some(), "the new secret is kept");
    fx.wait_until("the old key shows its scheduled revocation", |app| {
        app.state
            .key(&local_key(old_id))
            .is_some_and(|k| k.revoked_at.is_some())
    });
    let old = fx.key("payments");
    let old = if old.id == old_id.to_string() {
        old
    } else {
        fx.app().state.key(&local_key(old_id)).unwrap().clone()
    };
    assert_eq!(
        old.status_at(Utc::now()),
        KeyStatus::Active,
        "the old key still works during the overlap"
    );
    let overlap = old.revoked_at.unwrap() - Utc::now();
    assert!(
        (overlap - Duration::hours(1)).num_seconds().abs() < 60,
        "revoked in one hour: {overlap}"
    );

    // Renew the new key with no overlap: the old one is revoked at once and leaves the keychain.
    fx.select_id(&new_key.key_ref());
    fx.click("Renew");
    fx.click(RENEW);
    fx.wait_until("the third secret is shown", |app| {
        matches!(&app.state.dialog, Some(Dialog::Secret(s)) if s.key.id != new_key.id && s.key.id != old_id.to_string())
    });
    fx.click(GOT_IT);
    fx.wait_until("the second key is revoked", |app| {
        app.state
            .key(&new_key.key_ref())
            .is_some_and(|k| k.status_at(chrono::Utc::now()) == KeyStatus::Revoked)
    });
    assert!(
        fx.held_secret(&new_key).is_none(),
        "its secret left the keychain at once"
    );
}

#[test]
fn a_held_secret_leaves_the_keychain_when_its_overlap_ends() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let key = fx.generate("overlapped");
    assert!(fx.held_secret(&key).is_some());
    // The overlap ends (here: the server revokes it) while the app runs; the next refresh notices.
    let client = fx.owner_client();
    fx.runtime
        .block_on(client.revoke_key(key.id.parse().unwrap()))
        .unwrap();
    fx.click("Refresh");
    fx.wait_until("the revoked key's secret is dropped", |app| {
        !app.state.held.contains(&key.key_ref())
    });
    fx.settle();
    assert!(fx.held_secret(&key).is_none());
}

#[test]
fn notifications_once_per_threshold_across_restarts() {
    let name = format!("app-notify-{}", std::process::id());
    let mut fx = Fixture::new();
    fx.wait_connected();
    create(&fx, &name, 5);
    fx.click("Refresh");
    fx.wait_until("the reminder went out", |app| {
        app.state
            .notice
            .as_ref()
            .is_some_and(|n| n.text.contains("reminder"))
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(notifications_about(&name), 1);
    fx.click("Refresh");
    fx.settle();

    // Restart: a new app on the same data directory.
    let dir = fx.dir;
    drop(fx.harness);
    let mut again = Fixture::with(Options {
        dir: Some(dir),
        ..Default::default()
    });
    again.wait_connected();
    again.settle();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        notifications_about(&name),
        1,
        "a restart does not repeat it"
    );
    let log =
        std::fs::read_to_string(again.dir.path().join("data/keywarden/reminders.json")).unwrap();
    assert!(log.contains("urgent") && !log.contains("kw_"), "{log}");
}
