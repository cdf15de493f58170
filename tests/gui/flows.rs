//! Generate, copy-ability, revoke, disable, rotate, delete, filters, search and the keyboard, as a
//! user (or a screen reader) finds the widgets: by label.

use egui::Key;
use egui::Modifiers;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use keywarden::api::{CreateKeyRequest, KeyStatus, UpdateKeyRequest};
use keywarden::gui::GOT_IT;
use keywarden::gui::state::Dialog;

use crate::support::Fixture;

#[test]
fn first_start_needs_no_setup_and_a_secret_is_shown_once() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    assert!(
        fx.has_label_containing("No keys yet"),
        "the empty list says what to do"
    );
    assert!(
        fx.has_label_containing("owner@localhost on this computer"),
        "signed in as the local owner"
    );

    fx.click("Generate key");
    fx.type_into("Name", "billing api");
    fx.type_into("Description", "for the invoices job");
    fx.click("Generate");
    fx.wait_until("the secret dialog", |app| {
        matches!(app.state.dialog, Some(Dialog::Secret(_)))
    });
    let key = fx.key("billing api");
    let secret = fx
        .held_secret(&key)
        .expect("the secret went straight into the keychain");
    assert!(secret.expose().starts_with("kw_"));

    assert!(
        fx.harness.query_by_label(secret.expose()).is_none(),
        "masked until revealed"
    );
    assert!(fx.has_label_containing("only time"));
    fx.click("Reveal");
    assert!(
        fx.harness.query_by_label(secret.expose()).is_some(),
        "revealed on request"
    );
    fx.click(GOT_IT);
    assert!(fx.app().state.dialog.is_none());
    assert!(
        fx.harness
            .query_by_label_contains(&secret.expose()[3..])
            .is_none(),
        "never shown again"
    );

    // The table and the detail panel show metadata only.
    assert!(
        fx.harness.query_by_label("held").is_some(),
        "the keychain column says it is held"
    );
    fx.select("billing api");
    assert!(fx.has_label(&key.hint));
    assert!(fx.has_label("for the invoices job"));
    assert!(
        fx.has_label_containing("created by owner@localhost"),
        "the audit event is listed"
    );
    assert!(
        fx.harness
            .query_by_label_contains(&secret.expose()[3..])
            .is_none()
    );
    assert_eq!(fx.app().state.selected, Some(key.key_ref()));
}

#[test]
fn disable_enable_edit_rotate_revoke_delete() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let key = fx.generate("deploy bot");
    fx.select("deploy bot");

    fx.click("Disable");
    fx.wait_until("disabled", |app| {
        app.state.key(&key.key_ref()).is_some_and(|k| !k.enabled)
    });
    assert_eq!(
        fx.key("deploy bot").status_at(chrono::Utc::now()),
        KeyStatus::Disabled
    );
    assert!(fx.has_label("disabled"));
    fx.click("Enable");
    fx.wait_until("enabled", |app| {
        app.state.key(&key.key_ref()).is_some_and(|k| k.enabled)
    });

    fx.click("Edit");
    fx.harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "Name")
        .click();
    fx.harness.step();
    fx.harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    fx.harness.step();
    fx.harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "Name")
        .type_text("deploy robot");
    fx.harness.step();
    fx.click("Save");
    fx.wait_until("renamed", |app| {
        app.state
            .key(&key.key_ref())
            .is_some_and(|k| k.name == "deploy robot")
    });

    let old_secret = fx.held_secret(&key).expect("held");
    fx.click("Renew");
    assert!(
        fx.has_label_containing("Replace \"deploy robot\""),
        "the confirmation names the key"
    );
    fx.click(keywarden::gui::RENEW);
    fx.wait_until(
        "the rotated secret is shown",
        |app| matches!(&app.state.dialog, Some(Dialog::Secret(s)) if s.key.id != key.id),
    );
    let new_key = match &fx.app().state.dialog {
        Some(Dialog::Secret(shown)) => shown.key.clone(),
        _ => unreachable!(),
    };
    assert_eq!(new_key.replaces.as_ref(), Some(&key.id));
    fx.click(GOT_IT);
    fx.wait_until("the old key shows as revoked", |app| {
        app.state
            .key(&key.key_ref())
            .is_some_and(|k| k.status_at(chrono::Utc::now()) == KeyStatus::Revoked)
    });
    assert!(
        fx.held_secret(&key).is_none(),
        "the old secret left the keychain"
    );
    let new_secret = fx.held_secret(&new_key).expect("the new secret is held");
    assert_ne!(new_secret, old_secret);

    // Revoke with the Delete key: asks first, naming the key.
    fx.select_id(&new_key.key_ref());
    fx.harness.key_press(Key::Delete);
    fx.settle();
    assert!(matches!(
        fx.app().state.dialog,
        Some(Dialog::ConfirmRevoke(_))
    ));
    assert!(fx.has_label_containing("Revoke \"deploy robot\"?"));
    fx.click("Yes, revoke");
    fx.wait_until("revoked", |app| {
        app.state
            .key(&new_key.key_ref())
            .is_some_and(|k| k.status_at(chrono::Utc::now()) == KeyStatus::Revoked)
    });
    assert!(
        fx.held_secret(&new_key).is_none(),
        "revoking removes the secret from the keychain"
    );

    fx.click("Delete");
    fx.click("Yes, delete for good");
    fx.wait_until("deleted", |app| app.state.key(&new_key.key_ref()).is_none());
    assert!(fx.app().state.selected.is_none());
}

#[test]
fn filters_and_search() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let client = fx.owner_client();
    let ids: Vec<i64> = fx.runtime.block_on(async {
        let mut ids = Vec::new();
        for (name, days, description) in [
            ("maps", 200, "geocoding"),
            ("billing", 10, "stripe"),
            ("old", 90, ""),
            ("paused", 90, ""),
        ] {
            let request = CreateKeyRequest {
                name: name.into(),
                description: Some(description.into()),
                expires_in_days: Some(days),
                ..Default::default()
            };
            ids.push(client.create_key(&request).await.unwrap().key.id);
        }
        client.revoke_key(ids[2]).await.unwrap();
        client
            .update_key(
                ids[3],
                &UpdateKeyRequest {
                    enabled: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        ids
    });
    fx.click("Refresh");
    fx.wait_until("four keys", |app| {
        app.state.keys.value().is_some_and(|k| k.len() == 4)
    });
    let visible = |fx: &Fixture| -> Vec<String> {
        let state = &fx.app().state;
        let keys = state.keys.value().unwrap();
        state
            .visible
            .iter()
            .map(|&i| keys[i].name.clone())
            .collect()
    };
    assert_eq!(
        visible(&fx),
        ["billing", "old", "paused", "maps"],
        "sorted by expiry"
    );
    for (chip, expected) in [
        ("Active", vec!["billing", "maps"]),
        ("Expiring", vec!["billing"]),
        ("Revoked", vec!["old"]),
        ("Disabled", vec!["paused"]),
        ("Expired", vec![]),
        ("All", vec!["billing", "old", "paused", "maps"]),
    ] {
        fx.click(chip);
        assert_eq!(visible(&fx), expected, "{chip}");
        for name in ["billing", "old", "paused", "maps"] {
            assert_eq!(
                fx.harness.query_by_label(name).is_some(),
                expected.contains(&name),
                "{chip}: row {name}"
            );
        }
    }
    fx.harness.get_by_label("Name").click();
    fx.settle();
    assert_eq!(
        visible(&fx),
        ["billing", "maps", "old", "paused"],
        "sorted by name"
    );

    fx.harness.key_press_modifiers(Modifiers::COMMAND, Key::F);
    fx.settle();
    fx.harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "Search")
        .type_text("STRI");
    fx.settle();
    assert_eq!(
        visible(&fx),
        ["billing"],
        "search covers descriptions, case-insensitively"
    );
    assert!(ids.len() == 4);
}

#[test]
fn keyboard_drives_the_list() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.harness.key_press_modifiers(Modifiers::COMMAND, Key::N);
    fx.settle();
    assert!(
        matches!(fx.app().state.dialog, Some(Dialog::Generate(_))),
        "Ctrl+N opens the generate dialog"
    );
    fx.harness.key_press(Key::Escape);
    fx.settle();
    assert!(fx.app().state.dialog.is_none(), "Esc closes it");

    let first = fx.generate("alpha");
    let second = fx.generate("beta");
    fx.harness.key_press(Key::ArrowUp);
    fx.settle();
    assert_eq!(
        fx.app().state.selected,
        Some(first.key_ref()),
        "arrows move the selection"
    );
    fx.harness.key_press(Key::ArrowDown);
    fx.settle();
    assert_eq!(fx.app().state.selected, Some(second.key_ref()));
    fx.harness.key_press(Key::Delete);
    fx.settle();
    assert!(fx.has_label_containing("Revoke \"beta\"?"));
    fx.harness.key_press(Key::Escape);
    fx.settle();
    assert!(fx.app().state.dialog.is_none());
    assert_eq!(
        fx.key("beta").status_at(chrono::Utc::now()),
        KeyStatus::Active,
        "nothing was revoked"
    );
}

/// Idle means idle: with nothing happening the app asks for its next frame no sooner than a second
/// away (a minute, to refresh the "in 6 days" texts); only a running countdown asks each second.
#[test]
fn an_idle_app_does_not_repaint_more_than_once_a_second() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.generate("idle");
    fx.settle();
    let delay =
        |fx: &Fixture| fx.harness.output().viewport_output[&egui::ViewportId::ROOT].repaint_delay;
    assert!(
        delay(&fx) >= std::time::Duration::from_secs(60),
        "idle repaint delay: {:?}",
        delay(&fx)
    );
}

#[test]
fn view_preferences_and_settings_persist() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.generate("kept view");
    fx.harness.get_by_label("Name").click();
    fx.settle();
    fx.click("Revoked");
    let view = fx.app().state.view.clone();
    assert_eq!(view.filter, keywarden::gui::state::Filter::Revoked);
    assert_eq!(view.sort, keywarden::gui::state::SortColumn::Name);
    // On exit eframe asks the app to save; the next start reads the same key back.
    let mut storage = MemoryStorage::default();
    eframe::App::save(fx.harness.state_mut().app_mut(), &mut storage);
    let restored: Option<keywarden::gui::state::ViewPrefs> =
        eframe::get_value(&storage, keywarden::gui::VIEW_KEY);
    assert_eq!(restored, Some(view));

    fx.click("Settings");
    fx.click("Store new secrets in the OS keychain");
    fx.click("Desktop notifications when a key nears its expiry");
    fx.click("Save");
    fx.settle();
    let config =
        std::fs::read_to_string(fx.dir.path().join("config/keywarden/config.toml")).unwrap();
    assert!(
        config.contains("store_secrets = false") && config.contains("notifications = false"),
        "{config}"
    );
    fx.click("All");
    let key = fx.generate("not kept");
    assert!(
        fx.held_secret(&key).is_none(),
        "with the setting off the secret is not stored"
    );
}

#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

/// A key that may manage is asked for explicitly, and shown as such in the list and the details.
#[test]
fn a_managing_key_is_asked_for_and_marked() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.click("Generate key");
    fx.type_into("Name", "ci manager");
    fx.click("May manage keys and accounts, like a session (keywarden:manage)");
    fx.click("Generate");
    fx.wait_until("the secret dialog", |app| {
        matches!(app.state.dialog, Some(Dialog::Secret(_)))
    });
    fx.click(GOT_IT);
    fx.click("Generate key");
    fx.type_into("Name", "metrics reader");
    fx.click("Generate");
    fx.wait_until("the secret dialog", |app| {
        matches!(app.state.dialog, Some(Dialog::Secret(_)))
    });
    fx.click(GOT_IT);
    assert!(fx.key("ci manager").manages);
    assert!(!fx.key("metrics reader").manages);
    assert_eq!(
        fx.harness.query_all_by_label("manages").count(),
        1,
        "only the managing key is marked in the list"
    );
    // The new key is selected: its details say what it may do.
    assert!(fx.has_label_containing("reads and verifies only"));
    fx.click("ci manager");
    assert!(fx.has_label_containing("manages keys and accounts, like a session"));
}

/// Found on an earlier version: panels read the `status` the server sent with the list, so a key
/// whose rotation overlap ended while the app was open still offered Revoke and Rotate. The status
/// is derived from the key's dates at the moment it is drawn.
#[test]
fn a_key_whose_overlap_ended_is_shown_revoked_without_a_refresh() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.generate("old one");
    fx.select("old one");
    assert!(
        !fx.harness
            .get_by_label("Revoke")
            .accesskit_node()
            .is_disabled()
    );
    // As the list was fetched: active then, with its overlap ending a moment ago.
    let key = fx.key("old one");
    {
        let keys = fx
            .harness
            .state_mut()
            .app_mut()
            .state
            .keys
            .value_mut()
            .unwrap();
        let stale = keys.iter_mut().find(|k| k.id == key.id).unwrap();
        // As a list fetched before the overlap ended: only the time says it is revoked now.
        stale.revoked_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    }
    fx.settle();
    for button in ["Revoke", "Renew", "Disable"] {
        assert!(
            fx.harness
                .get_by_label(button)
                .accesskit_node()
                .is_disabled(),
            "{button} is offered for a revoked key"
        );
    }
    assert!(fx.has_label("revoked"));
}

/// Found as a new user: a local key said "Used at http://127.0.0.1:<port>" (a port that changes
/// at every start) and "Workspace 1"; Settings saved the whole config it opened with, losing a
/// sign-in that finished meanwhile.
#[test]
fn details_name_things_and_settings_keep_accounts_added_meanwhile() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.generate("billing");
    fx.select("billing");
    assert!(fx.has_label("this computer's server"));
    assert!(
        !fx.has_label_containing("http://127.0.0.1"),
        "no address with a port that changes"
    );
    assert!(fx.has_label("default"), "the workspace by its name");

    fx.click("Settings");
    // A sign-in finishes while Settings is open.
    let entry = keywarden::settings::ServerEntry {
        url: "https://kw.example".into(),
        email: "a@b.example".into(),
        kind: Default::default(),
        name: Some("team".into()),
        allow_http: false,
    };
    fx.harness
        .state_mut()
        .app_mut()
        .state
        .config
        .use_server(entry);
    fx.click("Desktop notifications when a key nears its expiry");
    fx.click("Save");
    let config = &fx.app().state.config;
    assert!(!config.notifications, "the change in Settings is saved");
    assert_eq!(config.current_server, "team", "and the sign-in is kept");
    assert_eq!(config.servers.len(), 1);
}

/// Settings' Back up… and Restore…, and the reminder: keys that live only here and no backup
/// made are said once, with a button that opens the backup.
#[test]
fn the_app_backs_up_restores_and_reminds_of_a_backup() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    fx.generate("billing");
    fx.wait_until("the backup reminder shows", |app| {
        app.state.backup_due.is_some()
    });
    assert!(fx.has_label_containing("backup of your keys was ever made"));
    fx.click("Back up now");
    let path = fx.dir.path().join("keys.age");
    let path_text = path.display().to_string();
    fx.type_into("File", &path_text);
    fx.type_into("Passphrase", "app passphrase");
    fx.type_into("Repeat the passphrase", "a typo");
    fx.click(keywarden::gui::BACK_UP);
    assert!(fx.has_label("The passphrases do not match."));
    fx.type_into("Passphrase", "app passphrase");
    fx.type_into("Repeat the passphrase", "app passphrase");
    fx.click(keywarden::gui::BACK_UP);
    fx.wait_until("backed up", |app| {
        matches!(&app.state.dialog, Some(Dialog::Transfer(d))
            if !d.result.is_empty() || d.error.is_some())
    });
    assert!(
        fx.has_label_containing("backed up 1 secret(s)"),
        "{:?}",
        fx.app().state.dialog
    );
    assert!(path.exists());
    assert!(fx.app().state.backup_due.is_none(), "the reminder goes");
    fx.click("Close");

    fx.click("Settings");
    fx.click("Restore…");
    fx.type_into("File", &path_text);
    fx.type_into("Passphrase", "wrong passphrase");
    fx.click(keywarden::gui::RESTORE);
    fx.wait_until(
        "refused",
        |app| matches!(&app.state.dialog, Some(Dialog::Transfer(d)) if d.error.is_some()),
    );
    assert!(fx.has_label_containing("passphrase is wrong"));
    fx.type_into("Passphrase", "app passphrase");
    fx.click("Only say what would change");
    fx.click(keywarden::gui::RESTORE);
    fx.wait_until(
        "restored",
        |app| matches!(&app.state.dialog, Some(Dialog::Transfer(d)) if !d.result.is_empty()),
    );
    assert!(
        fx.has_label_containing("0 secret(s) would be added, 1 already here"),
        "{:?}",
        fx.app().state.dialog
    );
}

/// *Add key → Import from a file…*: a `.env` file's keys come in as tracked keys shown in the
/// list, the file's values become references when asked, and importing again adds nothing; a
/// KeePassXC database asks for its password.
#[test]
fn the_app_imports_keys_from_a_file() {
    let mut fx = Fixture::new();
    fx.wait_connected();
    let secret = "ghp_appimportappimportappimport012";
    let env = fx.dir.path().join("app.env");
    std::fs::write(
        &env,
        format!("# deploy\nexport DEPLOY_TOKEN={secret}\nREGION=eu\n"),
    )
    .unwrap();
    fx.click("Add key");
    fx.click(keywarden::gui::IMPORT_FROM_FILE);
    fx.type_into("File", &env.display().to_string());
    fx.settle();
    assert!(!fx.has_label("Database password"));
    fx.click("Then replace the values in the file with their kw:// references");
    fx.click(keywarden::gui::IMPORT);
    fx.wait_until("imported", |app| {
        matches!(&app.state.dialog, Some(Dialog::Import(d)) if !d.result.is_empty() || d.error.is_some())
    });
    assert!(
        fx.has_label_containing(
            "1 key(s) imported, 0 held already, 1 other variable(s) left alone"
        ),
        "{:?}",
        fx.app().state.dialog
    );
    assert!(fx.has_label_containing("1 value(s) replaced by their kw:// references"));
    let rewritten = std::fs::read_to_string(&env).unwrap();
    assert!(
        rewritten.contains("export DEPLOY_TOKEN=kw://tracked/DEPLOY_TOKEN\n")
            && !rewritten.contains(secret),
        "{rewritten}"
    );
    fx.wait_until("the imported key is listed", |app| {
        app.state
            .keys
            .value()
            .is_some_and(|keys| keys.iter().any(|k| k.name == "DEPLOY_TOKEN"))
    });
    let key = fx.key("DEPLOY_TOKEN");
    assert_eq!(key.service, "github");
    assert_eq!(
        fx.held_secret(&key).as_ref().map(|s| s.expose()),
        Some(secret)
    );

    // The file as it was: held already.
    std::fs::write(&env, format!("DEPLOY_TOKEN={secret}\n")).unwrap();
    fx.click(keywarden::gui::IMPORT);
    fx.wait_until("imported again", |app| {
        matches!(&app.state.dialog, Some(Dialog::Import(d)) if d.result.iter().any(|l| l.contains("held already as")))
    });
    assert!(fx.has_label_containing("0 key(s) imported, 1 held already"));

    fx.click("Close");
    fx.click("Add key");
    fx.click(keywarden::gui::IMPORT_FROM_FILE);
    fx.type_into("File", "vault.kdbx");
    fx.settle();
    assert!(
        fx.has_label("Database password"),
        "a KeePassXC database asks for its password"
    );
}

/// Settings → Projects…: a project allowed on this computer is listed with the keys it may use
/// and what it steers, and *Revoke consent* takes it back (the file asks again).
#[test]
fn the_projects_view_lists_an_allowed_project_and_revokes_consent() {
    use keywarden::project::{Asks, Consents, Project};
    let mut fx = Fixture::new();
    fx.wait_connected();
    let project = fx.dir.path().join("shop");
    std::fs::create_dir_all(&project).unwrap();
    let file = project.join(keywarden::project::FILE_NAME);
    std::fs::write(
        &file,
        "[env]\nTESTO_API_KEY = \"kw://tracked/testo-prod\"\nHTTPS_PROXY = \"http://proxy.example:3128\"\n",
    )
    .unwrap();
    let loaded = Project::load(&file).unwrap();
    let consents = Consents::new(&fx.data_dir());
    let path = keywarden::project::canonical(&file).unwrap();
    consents
        .allow(&path, &loaded.content, Asks::of(&loaded.all_variables()))
        .unwrap();
    assert!(consents.allowed(&path, &loaded.content).unwrap());

    fx.click("Settings");
    fx.click("Projects…");
    fx.wait_until(
        "the projects are read",
        |app| matches!(&app.state.dialog, Some(Dialog::Projects(d)) if d.consents.is_some()),
    );
    assert!(fx.has_label(&path.display().to_string()));
    assert!(fx.has_label("TESTO_API_KEY = kw://tracked/testo-prod"));
    assert!(fx.has_label("sets HTTPS_PROXY = http://proxy.example:3128"));
    assert!(fx.has_label_containing("not used since"));
    fx.click(keywarden::gui::REVOKE_CONSENT);
    fx.wait_until("consent is revoked", |app| {
        matches!(&app.state.dialog, Some(Dialog::Projects(d))
            if d.consents.as_ref().is_some_and(Vec::is_empty))
    });
    assert!(fx.has_label("No project is allowed on this computer."));
    assert!(
        !consents.allowed(&path, &loaded.content).unwrap(),
        "the file asks again"
    );
}
