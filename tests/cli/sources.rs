//! Every source from the command line: tracked keys against loopback stand-ins of their services,
//! a ThingsBoard account against a stand-in of its REST API, and names shared by two sources.

use std::process::Stdio;

use chrono::{Duration, Utc};
use serde_json::Value;

use super::{CLIPBOARD, Setup, assert_one_line_error, clipboard_once, stderr, stdout};

#[path = "../stand_ins/gitlab.rs"]
mod gitlab;
#[path = "../stand_ins/services.rs"]
pub(super) mod services;
#[path = "../stand_ins/thingsboard.rs"]
pub(super) mod thingsboard;

use services::{GOOD_KEY, WORKSPACE};

/// Every file under the app's data, config and cache directories, for secrets scans.
pub(super) fn files_text(setup: &Setup) -> String {
    fn walk(dir: &std::path::Path, out: &mut String) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    let mut text = String::new();
    for dir in ["data", "config", "cache"] {
        walk(&setup.computer.join(dir), &mut text);
    }
    text
}

pub(super) fn add(setup: &Setup, args: &[&str], secret: &str) -> std::process::Output {
    let mut all = vec!["keys", "add"];
    all.extend_from_slice(args);
    setup.run_with_stdin(&all, &format!("{secret}\n"))
}

#[test]
fn tracked_keys_are_added_tested_copied_renewed_and_retired() {
    let setup = Setup::new();
    let url = setup.runtime.block_on(services::start());
    let later = (Utc::now() + Duration::days(20))
        .format("%Y-%m-%d")
        .to_string();

    // The service is recognised from the key's form; a form that tells nothing needs --service.
    let out = add(&setup, &["--name", "gh ci", "--url", &url], GOOD_KEY);
    assert_one_line_error(&out, "give --service");
    let out = add(
        &setup,
        &["--name", "gl", "--service", "github"],
        "glpat-abcdefghijklmnopqrstu",
    );
    assert_one_line_error(&out, "looks like a GitLab key");
    let recognised = add(
        &setup,
        &["--name", "lab", "--json"],
        "glpat-abcdefghijklmnopqrstu",
    );
    assert!(recognised.status.success(), "{}", stderr(&recognised));
    let lab: Value = serde_json::from_slice(&recognised.stdout).unwrap();
    assert_eq!(lab["service"], "gitlab");
    assert_eq!(lab["class"], "never");

    for (service, name, extra) in [
        ("github", "gh ci", vec!["--url", url.as_str()]),
        ("gitlab", "gitlab ci", vec!["--url", url.as_str()]),
        (
            "iottly",
            "plant",
            vec!["--url", url.as_str(), "--expires", later.as_str()],
        ),
        (
            "smartsuite",
            "suite",
            vec!["--url", url.as_str(), "--workspace", WORKSPACE],
        ),
        (
            "smenso",
            "smenso",
            vec!["--url", url.as_str(), "--expires", "90d"],
        ),
    ] {
        let mut args = vec!["--service", service, "--name", name];
        args.extend(extra);
        let out = add(&setup, &args, GOOD_KEY);
        assert!(out.status.success(), "{service}: {}", stderr(&out));
        assert!(stdout(&out).contains("added"), "{}", stdout(&out));
    }
    // Services whose keys live at most a year refuse more.
    let out = add(
        &setup,
        &["--service", "testo", "--name", "testo", "--expires", "400d"],
        GOOD_KEY,
    );
    assert_one_line_error(&out, "at most 365 days");
    let out = add(
        &setup,
        &["--service", "testo", "--name", "testo", "--expires", "300d"],
        GOOD_KEY,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = add(
        &setup,
        &["--service", "iottly", "--name", "bad iottly", "--url", &url],
        "WrongKey0123456789abcdefghij",
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let list = setup.json(&["keys", "list", "--account", "tracked", "--json"]);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 8, "{list}");
    for item in items {
        assert_eq!(item["source"], "tracked");
        assert_eq!(item["kind"], "tracked");
        assert_eq!(item["held"], true, "{item}");
        assert!(item["id"].is_string());
    }

    // Tests: each in its service's header style; the exit codes of monitoring plugins.
    for name in ["plant", "suite", "smenso"] {
        let out = setup.run(&["keys", "test", name]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(stdout(&out).starts_with("accepted"), "{}", stdout(&out));
    }
    let out = setup.run(&["keys", "test", "bad iottly"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("invalid API token"),
        "the service's own message: {}",
        stdout(&out)
    );
    let out = setup.run(&["keys", "test", "testo"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains("cannot be tested"),
        "{}",
        stdout(&out)
    );
    // GitHub and GitLab tell the real expiry: it is recorded.
    let out = setup.run(&["keys", "test", "gh ci", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let tested: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tested["result"], "accepted");
    let expires: chrono::DateTime<Utc> = tested["key"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expires.to_rfc3339(), services::GITHUB_EXPIRY);
    setup.run(&["keys", "test", "gitlab ci"]);
    let shown = setup.json(&["keys", "show", "gitlab ci", "--json"]);
    let expires: chrono::DateTime<Utc> = shown["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.to_rfc3339(), services::GITLAB_EXPIRY);

    // A service that cannot be reached: exit 3.
    let out = add(
        &setup,
        &[
            "--service",
            "iottly",
            "--name",
            "offline",
            "--url",
            "http://127.0.0.1:9",
        ],
        GOOD_KEY,
    );
    assert!(out.status.success());
    let out = setup.run(&["keys", "test", "offline"]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));

    // check covers tracked keys: the iottly key expires in 20 days.
    let out = setup.run(&["check", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["expiring"][0]["name"], "plant", "{report}");

    // Renewing: the new secret is pasted; the old key stays, marked replaced, until retired.
    let old_id = setup.json(&["keys", "show", "plant", "--json"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = setup.run_with_stdin(
        &["keys", "renew", "plant", "--expires", "60d", "--json"],
        "NewIottlyKey0123456789abcdefghij\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("https://cloud.iottly.com"),
        "the key page: {}",
        stderr(&out)
    );
    let renewed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        renewed.get("secret").is_none(),
        "a pasted secret is never printed back"
    );
    assert_eq!(renewed["key"]["replaces"], old_id.as_str());
    let old = setup.json(&["keys", "show", &old_id, "--json"]);
    assert_eq!(old["replaced_by"], renewed["key"]["id"]);
    assert_eq!(old["held"], true, "kept until retired");
    let table = stdout(&setup.run(&["keys", "list", "--account", "tracked"]));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&old_id) && l.contains("replaced")),
        "{table}"
    );
    // Deleting acts on the current account (this computer's server) unless told otherwise.
    assert_one_line_error(
        &setup.run(&["keys", "delete", &old_id, "--yes"]),
        "no key is named",
    );
    let out = setup.run(&["keys", "delete", &old_id, "--yes", "--account", "tracked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_one_line_error(&setup.run(&["keys", "show", &old_id]), "no key is named");

    // Copy as header in the key's own style.
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "this test needs an X11 display: run it through tests/run.sh"
    );
    let _clipboard = CLIPBOARD.lock().unwrap_or_else(|e| e.into_inner());
    let child = setup
        .command(&[
            "keys",
            "copy",
            "suite",
            "--as",
            "header",
            "--clear-after",
            "2",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let expected = format!("Authorization: Token {GOOD_KEY}\nAccount-Id: {WORKSPACE}");
    assert_eq!(clipboard_once(&expected), expected);
    assert!(child.wait_with_output().unwrap().status.success());

    // Tracked keys appear as one account named tracked; no secret is in any file.
    let servers = setup.json(&["servers", "--json"]);
    let tracked = servers
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "tracked")
        .unwrap();
    assert_eq!(tracked["kind"], "tracked");
    let files = files_text(&setup);
    assert!(files.contains("plant"), "the metadata is on disk");
    for secret in [
        GOOD_KEY,
        "NewIottlyKey0123456789",
        "glpat-abcdefghijklmnopqrstu",
    ] {
        assert!(!files.contains(secret), "{secret} found in a file");
    }
}

#[test]
fn a_thingsboard_account_from_the_command_line() {
    let setup = Setup::new();
    let mut tb = setup.runtime.block_on(thingsboard::ThingsBoard::start());
    let tb_url = tb.url.clone();
    let login = |password: &str| {
        setup.run_with_stdin(
            &[
                "login",
                &tb_url,
                "--email",
                "admin@tb.example",
                "--kind",
                "thingsboard",
                "--name",
                "tb",
            ],
            &format!("{password}\n"),
        )
    };
    assert_one_line_error(&login("wrong"), "Invalid username or password");
    let out = login("tb password");
    assert!(out.status.success(), "{}", stderr(&out));
    let servers = setup.json(&["servers", "--json"]);
    let account = servers
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "tb")
        .unwrap()
        .clone();
    assert_eq!(account["kind"], "thingsboard");
    assert_eq!(account["current"], true);
    assert_eq!(account["url"], tb_url.as_str());

    // Generate on the current account: sent with `enabled`, so the key works.
    let made = setup.json(&[
        "keys",
        "generate",
        "--name",
        "gateway",
        "--expires",
        "30d",
        "--json",
    ]);
    let id = made["key"]["id"].as_str().unwrap().to_string();
    assert_eq!(made["key"]["kind"], "thingsboard");
    assert_eq!(made["stored"], true);
    let on_server = tb.keys();
    let key = on_server.iter().find(|k| k.id == id).unwrap();
    assert!(
        key.enabled,
        "ThingsBoard makes a key without `enabled` disabled"
    );
    assert!(
        (key.expiration_time - (Utc::now() + Duration::days(30)).timestamp_millis()).abs()
            < 120_000,
        "milliseconds"
    );
    let never = setup.json(&[
        "keys",
        "generate",
        "--name",
        "forever",
        "--expires",
        "never",
        "--json",
    ]);
    assert_eq!(never["key"]["expires_at"], Value::Null);
    assert_eq!(
        tb.keys()
            .iter()
            .find(|k| k.description == "forever")
            .unwrap()
            .expiration_time,
        0
    );

    // A tenant administrator makes keys for the tenant's users...
    let other = tb.user_id("user@tb.example");
    let theirs = setup.json(&[
        "keys",
        "generate",
        "--name",
        "for the user",
        "--owner",
        &other,
        "--json",
    ]);
    assert_eq!(theirs["key"]["owner"], other.as_str());
    assert!(
        tb.keys()
            .iter()
            .any(|k| k.user_id == other && k.description == "for the user")
    );
    let out = setup.run(&[
        "keys",
        "delete",
        theirs["key"]["id"].as_str().unwrap(),
        "--yes",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // ...and sees the tenant's users' keys; every page is followed.
    tb.insert_keys("user@tb.example", 150, 200);
    let list = setup.json(&["keys", "list", "--account", "tb", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 152);
    let forever = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "forever")
        .unwrap();
    assert_eq!(forever["class"], "never");

    // Test, disable, enable, copy style.
    let out = setup.run(&["keys", "test", "gateway"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&setup.run(&["keys", "disable", "gateway"])).contains("disabled key"));
    assert!(!tb.keys().iter().find(|k| k.id == id).unwrap().enabled);
    let out = setup.run(&["keys", "test", "gateway"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a disabled key is refused: {}",
        stdout(&out)
    );
    assert!(stdout(&setup.run(&["keys", "enable", "gateway"])).contains("enabled key"));

    // ThingsBoard has no revoke: deleting is revoking.
    assert_one_line_error(
        &setup.run(&["keys", "revoke", "gateway", "--yes"]),
        "ThingsBoard has no revoke",
    );

    // Renew with an overlap: a new key, the old one kept until the overlap ends.
    let renewed = setup.json(&["keys", "renew", "gateway", "--overlap", "1h", "--json"]);
    let new_id = renewed["key"]["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert_eq!(
        tb.keys()
            .iter()
            .filter(|k| k.description == "gateway")
            .count(),
        2
    );
    let old = setup.json(&["keys", "show", &id, "--json"]);
    let until: chrono::DateTime<Utc> = old["revoked_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (until - Utc::now() - Duration::hours(1))
            .num_seconds()
            .abs()
            < 120
    );
    assert_eq!(old["status"], "active");
    let shown = stdout(&setup.run(&["keys", "show", &id]));
    assert!(shown.contains("old key still valid until"), "{shown}");
    // An overlap that ended while nothing ran is finished at the next start.
    let pending = setup.data_dir().join("pending.json");
    let text = std::fs::read_to_string(&pending).unwrap();
    let past = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let rewritten: Value = serde_json::from_str(&text).unwrap();
    let mut rewritten = rewritten.as_array().unwrap().clone();
    rewritten[0]["at"] = Value::String(past);
    std::fs::write(&pending, serde_json::to_string(&rewritten).unwrap()).unwrap();
    let list = setup.json(&["keys", "list", "--account", "tb", "--json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|k| k["id"] != id.as_str())
    );
    assert!(
        tb.keys().iter().all(|k| k.id != id),
        "deleted on the server"
    );
    assert_eq!(
        setup.json(&["keys", "show", &new_id, "--json"])["held"],
        true
    );
    // Renewing without overlap deletes the old key at once.
    let again = setup.json(&["keys", "renew", &new_id, "--json"]);
    assert!(tb.keys().iter().all(|k| k.id != new_id));
    let newest = again["key"]["id"].as_str().unwrap().to_string();

    // Delete.
    let out = setup.run(&["keys", "delete", &newest, "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tb.keys().iter().all(|k| k.id != newest));

    // The JWT is refreshed with the refresh token kept in the keychain, never in a file.
    assert!(tb.state.lock().unwrap().refreshes > 0);
    let files = files_text(&setup);
    for key in tb.keys() {
        assert!(!files.contains(&key.value), "no key in any file");
    }

    // check covers the account; unreachable and no saved list: exit 3.
    let out = setup.run(&["check", "--account", "tb"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    tb.stop();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let out = setup.run(&["check", "--account", "tb"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "from the saved list: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("using the list saved"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(setup.home.path().join("cache")).unwrap();
    let out = setup.run(&["check", "--account", "tb"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
}

#[test]
fn a_name_in_two_sources_is_refused_with_both() {
    let setup = Setup::new();
    setup.login();
    setup.json(&["keys", "generate", "--name", "deploy", "--json"]);
    let out = add(
        &setup,
        &["--service", "other", "--name", "deploy"],
        GOOD_KEY,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = setup.run(&["keys", "show", "deploy"]);
    assert_one_line_error(&out, "2 keys match");
    let message = stderr(&out);
    assert!(
        message.contains(&setup.url) && message.contains("tracked"),
        "{message}"
    );
    let shown = setup.json(&["keys", "show", "deploy", "--account", "tracked", "--json"]);
    assert_eq!(shown["service"], "other");
    // Tracked keys cannot be generated, enabled or revoked here: said with the reason.
    assert_one_line_error(
        &setup.run(&["keys", "generate", "--name", "x", "--account", "tracked"]),
        "made on their service's own page",
    );
    assert_one_line_error(
        &setup.run(&["keys", "disable", "deploy", "--account", "tracked"]),
        "on its service's own page",
    );
}

/// The ThingsBoard contract as the source speaks it, in-process against the stand-in: the JWT is
/// refreshed before it expires, a refused refresh asks to sign in again, the description goes as
/// raw text, and the server's error message is what the user reads.
/// Two-factor accounts sign in with the code as the line after the password: a real RFC 6238
/// code of an authenticator app, or one ThingsBoard emails (`--code-by email`). A wrong code is
/// refused in ThingsBoard's words and nothing is kept.
#[test]
fn a_thingsboard_account_with_two_factor_sign_in() {
    use thingsboard::{TWO_FACTOR_SECRET, totp};
    // The stand-in's codes are RFC 6238's own test vectors (SHA-1, cut to 6 digits).
    assert_eq!(totp(TWO_FACTOR_SECRET, 59), "287082");
    assert_eq!(totp(TWO_FACTOR_SECRET, 1_111_111_109), "081804");
    assert_eq!(totp(TWO_FACTOR_SECRET, 1_234_567_890), "005924");

    let setup = Setup::new();
    let tb = setup.runtime.block_on(thingsboard::ThingsBoard::start());
    let login = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "login",
            tb.url.as_str(),
            "--email",
            "2fa@tb.example",
            "--kind",
            "thingsboard",
            "--name",
        ];
        args.push(name);
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let now = || Utc::now().timestamp();
    let right = totp(TWO_FACTOR_SECRET, now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let args = login("tb2", &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = setup.run_with_stdin(&args, &format!("tb password\n{wrong}\n"));
    assert_one_line_error(&out, "Verification code is incorrect");
    let servers = setup.json(&["servers", "--json"]);
    assert!(
        !servers.to_string().contains("tb2"),
        "no account after a wrong code: {servers}"
    );

    let code = totp(TWO_FACTOR_SECRET, now());
    let out = setup.run_with_stdin(&args, &format!("tb password\n{code}\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("as 2fa@tb.example"),
        "{}",
        stdout(&out)
    );
    let keys = setup.json(&["keys", "list", "--account", "tb2", "--json"]);
    assert_eq!(keys, serde_json::json!([]), "signed in: the list is asked");

    // By email: the code is sent when the password is accepted, then read as the next line.
    let args = login("tb3", &["--code-by", "email"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = setup
        .command(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    use std::io::Write as _;
    stdin.write_all(b"tb password\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let sent = loop {
        if let Some(code) = tb.sent_code("2fa@tb.example") {
            break code;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no code was emailed within 20 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    stdin.write_all(format!("{sent}\n").as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sent a code emailed to 2f*@tb.example"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        tb.sent_code("2fa@tb.example"),
        None,
        "an emailed code works once"
    );
    assert!(
        !files_text(&setup).contains("tb password"),
        "no password in any file"
    );
}

#[test]
fn the_thingsboard_source_follows_the_contract() {
    use keywarden::secret::Secret;
    use keywarden::sources::thingsboard::{SignIn, ThingsBoardSource};
    use keywarden::sources::{Edit, KeySource as _, NewKey, SourceError};
    use keywarden::vault::{MemoryVault, Vault};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tb = thingsboard::ThingsBoard::start().await;
        // A JWT that is due for refresh a second after sign-in (refreshed a minute early).
        tb.state.lock().unwrap().jwt_ttl = 61;
        let vault = std::sync::Arc::new(MemoryVault::default());
        let signed_in = ThingsBoardSource::sign_in(
            "tb",
            &tb.url,
            false,
            "user@tb.example",
            &Secret::new("tb password"),
            vault.clone(),
        )
        .await
        .unwrap();
        let SignIn::Done(source) = signed_in else {
            panic!("no second factor for this user");
        };
        let kept = vault
            .get(&keywarden::sources::thingsboard::session_account(
                "tb", &tb.url,
            ))
            .unwrap()
            .expect("the refresh token is in the keychain");
        let made = source
            .create(&NewKey {
                name: "edge".into(),
                expires_at: None,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(made.secret.expose().starts_with("tb_"));
        assert_eq!(made.key.expires_at, None);

        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let keys = source.list().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            tb.state.lock().unwrap().refreshes,
            1,
            "refreshed before expiry"
        );
        let rotated = vault
            .get(&keywarden::sources::thingsboard::session_account(
                "tb", &tb.url,
            ))
            .unwrap()
            .unwrap();
        assert_ne!(rotated, kept, "the new refresh token replaced the old one");

        let edited = source
            .edit(
                &made.key.id,
                &Edit {
                    name: Some("edge gateway".into()),
                    description: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(edited.name, "edge gateway");
        assert_eq!(
            tb.state.lock().unwrap().description_bodies,
            vec!["edge gateway".to_string()],
            "the raw text, not a JSON string"
        );

        // An id that is not a UUID never reaches the server; an unknown one gets its 404.
        let requests = tb.requests.load(std::sync::atomic::Ordering::Relaxed);
        let malformed = source.set_enabled("no-such-id", false).await.unwrap_err();
        assert!(
            matches!(&malformed, SourceError::NotFound(why) if why.contains("is a UUID")),
            "{malformed}"
        );
        assert_eq!(
            tb.requests.load(std::sync::atomic::Ordering::Relaxed),
            requests
        );
        let unknown = thingsboard::uuid();
        let missing = source.set_enabled(&unknown, false).await.unwrap_err();
        assert_eq!(
            missing,
            SourceError::NotFound(format!("Api key with id [{unknown}] is not found"))
        );
        // What ThingsBoard's @NoXss and @Length refuse is refused here first, in a sentence.
        for name in ["<b>bold</b>", "{{ user }}", &"😀".repeat(128)] {
            let err = source
                .edit(
                    &made.key.id,
                    &Edit {
                        name: Some(name.to_string()),
                        description: None,
                    },
                )
                .await
                .unwrap_err();
            assert!(matches!(err, SourceError::Invalid(_)), "{name}: {err}");
        }
        assert_eq!(
            tb.state.lock().unwrap().description_bodies.len(),
            1,
            "none of them was sent"
        );
        // 127 emoji are 254 UTF-16 units: accepted by both.
        source
            .edit(
                &made.key.id,
                &Edit {
                    name: Some("😀".repeat(127)),
                    description: None,
                },
            )
            .await
            .unwrap();

        // The server forgets every session: the refresh is refused, so sign in again.
        tb.forget_sessions();
        let err = source.list().await.unwrap_err();
        assert!(err.needs_sign_in(), "{err}");
    });
}

/// The SHA-256 of what `kw://…` gives a command, so the secret itself never crosses the output
/// (which `run` masks anyway).
pub(super) fn digest_through_run(setup: &Setup, reference: &str) -> std::process::Output {
    setup.run(&[
        "run",
        "--env",
        &format!("T={reference}"),
        "--",
        "sh",
        "-c",
        "printf %s \"$T\" | sha256sum | cut -c1-64",
    ])
}

pub(super) fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A GitLab account from the command line, against a stand-in that follows GitLab's contract:
/// sign in with a token, every page of tokens, expiry from 00:00 UTC on the date, revoke, renew
/// by rotation (asked first; the old token stops), the token signed in with rotated too, a
/// reference by id or name that survives two rotations, automatic renewal once a key enters its
/// window, and what a token without the api scope can and cannot do.
#[test]
fn a_gitlab_account_from_the_command_line() {
    let setup = Setup::new();
    let gl = setup.runtime.block_on(gitlab::GitLab::start());
    let own = gl.add_token(gitlab::USER_ID, "keywarden", &["api"], Some(300));
    let deploy = gl.add_token(
        gitlab::USER_ID,
        "ci deploy",
        &["api", "read_repository"],
        Some(40),
    );
    gl.add_token(gitlab::USER_ID, "ends today", &["read_api"], Some(0));
    for i in 0..120 {
        gl.add_token(
            gitlab::USER_ID,
            &format!("bulk {i}"),
            &["read_api"],
            Some(100),
        );
    }
    gl.add_token(gitlab::OTHER_USER_ID, "not mine", &["api"], Some(100));
    let login = |name: &str, token: &str| {
        setup.run_with_stdin(
            &["login", &gl.url, "--kind", "gitlab", "--name", name],
            &format!("{token}\n"),
        )
    };
    let out = login("gl", "glpat-not-a-real-token");
    assert_one_line_error(&out, "401 Unauthorized");
    let out = login("gl", &own);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(gitlab::EMAIL), "{}", stdout(&out));
    assert!(
        stderr(&out).is_empty(),
        "an api token: no warning: {}",
        stderr(&out)
    );

    let list = setup.json(&["keys", "list", "--account", "gl", "--json"]);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 123, "every page, only the user's own tokens");
    assert!(
        gl.paths().iter().any(|p| p.contains("page=2")),
        "the second page was asked for: {:?}",
        gl.paths()
    );
    let item = |name: &str| {
        let list = setup.json(&["keys", "list", "--account", "gl", "--json"]);
        list.as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name && k["status"] != "revoked")
            .cloned()
            .unwrap_or_else(|| panic!("{name} is listed: {list}"))
    };
    let ci = item("ci deploy");
    assert_eq!(ci["kind"], "gitlab");
    assert_eq!(ci["service"], "gitlab");
    assert_eq!(ci["scopes"], serde_json::json!(["api", "read_repository"]));
    let expires = (Utc::now().date_naive() + Duration::days(40))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(
        ci["expires_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap(),
        expires,
        "00:00 UTC on the expiry date"
    );
    let today = setup.json(&["keys", "list", "--account", "gl", "--json"]);
    let ends_today = today
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ends today")
        .unwrap();
    assert_eq!(
        ends_today["status"], "expired",
        "expired from 00:00 UTC on its date"
    );

    let shown = setup.run(&["keys", "show", "ci deploy"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    for line in [
        "scopes:      api, read_repository",
        "account:     gl (gitlab)",
    ] {
        assert!(stdout(&shown).contains(line), "{line}: {}", stdout(&shown));
    }
    // The token signed in with is held: tested with PRIVATE-TOKEN against /self.
    let out = setup.run(&["keys", "test", "keywarden"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // Generate is GitLab's page's; revoke is DELETE.
    assert_one_line_error(
        &setup.run(&["keys", "generate", "--name", "x", "--account", "gl"]),
        "on its own page",
    );
    let out = setup.run(&["keys", "revoke", "bulk 1", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(gl.token_named("bulk 1")[0].revoked);

    // Renew is rotate: asked first (no terminal here: --yes is needed), then the old token stops.
    assert_one_line_error(&setup.run(&["keys", "renew", "ci deploy"]), "without --yes");
    assert!(!gl.token(&deploy).revoked, "nothing was rotated");
    let first_id = ci["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let out = setup.run(&["keys", "renew", "ci deploy", "--yes"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let tokens = gl.token_named("ci deploy");
    assert_eq!(tokens.len(), 3);
    assert!(tokens[0].revoked && tokens[1].revoked && !tokens[2].revoked);
    assert_eq!(
        tokens[2].expires_at,
        Some(Utc::now().date_naive() + Duration::days(70)),
        "the old lifetime (created 30 days before, 40 left), from today"
    );
    let current = sha256_hex(&tokens[2].secret);
    for reference in [
        format!("kw://gl/{first_id}"),
        "kw://gl/ci%20deploy".to_string(),
    ] {
        let out = digest_through_run(&setup, &reference);
        assert!(out.status.success(), "{reference}: {}", stderr(&out));
        assert_eq!(
            stdout(&out).trim(),
            current,
            "{reference} gives the new secret"
        );
    }

    // The token the account signs in with rotates through self/rotate; the account goes on.
    let out = setup.run(&["keys", "renew", "keywarden", "--yes", "--account", "gl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(gl.paths().iter().any(|p| p.ends_with("/self/rotate")));
    assert!(gl.token(&own).revoked);
    let again = setup.json(&["keys", "list", "--account", "gl", "--json"]);
    assert!(again.as_array().unwrap().len() > 120, "still signed in");

    // Automatic renewal: on, not due yet, due once the expiry comes within the window.
    let auto = gl.add_token(gitlab::USER_ID, "auto", &["api"], Some(20));
    setup.json(&["keys", "list", "--account", "gl", "--json"]);
    let out = setup.run(&["keys", "renew", "auto", "--auto", "14d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stop working at every rotation"),
        "{}",
        stderr(&out)
    );
    setup.run(&["check", "--notify"]);
    assert!(
        !gl.token(&auto).revoked,
        "20 days left: not in the 14-day window"
    );
    gl.set_expiry(gl.token(&auto).id, 10);
    let out = setup.run(&["check", "--notify"]);
    assert!(
        stderr(&out).contains("\"auto\" was renewed"),
        "{}",
        stderr(&out)
    );
    assert!(gl.token(&auto).revoked);
    let renewed = gl.token_named("auto").pop().unwrap();
    let out = digest_through_run(&setup, "kw://gl/auto");
    assert_eq!(stdout(&out).trim(), sha256_hex(&renewed.secret));
    let out = setup.run(&["keys", "renew", "auto", "--auto", "off"]);
    assert!(
        stdout(&out).contains("no longer renews"),
        "{}",
        stdout(&out)
    );

    // A token kept as a tracked key before joins its account's entry once a test shows which
    // token it is: listed once, its secret held for the account's key.
    let pasted = gl.add_token(gitlab::USER_ID, "pasted", &["read_api"], Some(50));
    let out = add(
        &setup,
        &["--name", "pasted here", "--url", &gl.url],
        &pasted,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = setup.run(&["keys", "test", "pasted here"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = setup.json(&["keys", "list", "--json"]);
    let listed: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "pasted" || k["name"] == "pasted here")
        .collect();
    assert_eq!(listed.len(), 1, "one entry: {listed:?}");
    assert_eq!(listed[0]["source"], "gl");
    assert_eq!(listed[0]["held"], true);
    let out = digest_through_run(&setup, "kw://gl/pasted");
    assert_eq!(stdout(&out).trim(), sha256_hex(&pasted));

    // A token without api: listed and tested, not rotated; one with only read_user says so.
    let reader = gl.add_token(gitlab::USER_ID, "reader", &["read_api"], Some(100));
    let out = login("glr", &reader);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lacks the api scope"),
        "{}",
        stderr(&out)
    );
    let out = setup.run(&["keys", "renew", "bulk 5", "--account", "glr", "--yes"]);
    assert_one_line_error(&out, "lacks GitLab's api scope");
    let user_only = gl.add_token(gitlab::USER_ID, "profile", &["read_user"], Some(100));
    let out = login("glu", &user_only);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("but lacks api"), "{}", stderr(&out));
    let out = setup.run(&["keys", "list", "--account", "glu"]);
    assert_one_line_error(&out, "GitLab accepts: api read_api");
    let out = setup.run(&["logout", "glu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !gl.paths()
            .iter()
            .any(|p| p.starts_with("DELETE") && p.ends_with("/self")),
        "signing out forgets the token here; it stays the user's on GitLab"
    );
    assert!(!gl.token(&user_only).revoked);

    let files = files_text(&setup);
    for token in gl.state.lock().unwrap().tokens.iter() {
        assert!(!files.contains(&token.secret), "no token in any file");
    }

    // The stand-in is as strict as GitLab: a revoked token used to rotate is refused with
    // invalid_token and WWW-Authenticate, and revokes every token rotated from it.
    let tokens = gl.token_named("ci deploy");
    let url = gl.url.clone();
    let old_secret = tokens[0].secret.clone();
    let answer = std::thread::spawn(move || {
        reqwest::blocking::Client::new()
            .post(format!("{url}/api/v4/personal_access_tokens/self/rotate"))
            .header("PRIVATE-TOKEN", old_secret)
            .send()
            .unwrap()
    })
    .join()
    .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(
        answer
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap().contains("error=\"invalid_token\""))
    );
    let body: Value = answer.json().unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert!(
        gl.token_named("ci deploy").iter().all(|t| t.revoked),
        "the family was revoked"
    );
}

/// Found: a ThingsBoard key id planted in the saved list printed escape sequences (OSC 52 writes
/// the clipboard), and zero-width characters passed. Every string a server sent reaches the
/// terminal escaped, whichever command prints it; and a tracked key's fields cannot move where
/// its test sends it.
#[test]
fn strings_from_a_server_never_reach_the_terminal_raw() {
    let setup = Setup::new();
    let mut tb = setup.runtime.block_on(thingsboard::ThingsBoard::start());
    let out = setup.run_with_stdin(
        &[
            "login",
            &tb.url,
            "--email",
            "user@tb.example",
            "--kind",
            "thingsboard",
            "--name",
            "tb",
        ],
        "tb password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    tb.stop();
    let planted = "\u{1b}]52;c;aGk=\u{7}\u{9b}31m";
    let mut key = serde_json::json!({
        "source": "tb", "kind": "thingsboard", "service": "thingsboard", "id": planted,
        "name": "pay\u{200B}pal\u{202E}", "description": "", "hint": "tb_…",
        "owner": null, "created_at": Utc::now() - Duration::days(10),
        "expires_at": Utc::now() + Duration::days(2), "enabled": true,
    });
    key["revoked_at"] = Value::Null;
    let cache = keywarden::sources::list_cache::ListCache::new(
        setup.home.path().join("cache/keywarden/lists"),
    );
    cache
        .save(
            "thingsboard:tb",
            ("user@tb.example", ""),
            &[key],
            Utc::now(),
        )
        .unwrap();
    for args in [
        vec!["keys", "list"],
        vec!["keys", "list", "--json"],
        vec!["check"],
        vec!["check", "--json"],
        vec!["keys", "show", "pay\u{200B}pal\u{202E}"],
        vec![
            "run",
            "--env",
            "X=kw://tb/pay%E2%80%8Bpal%E2%80%AE",
            "--",
            "true",
        ],
    ] {
        let out = setup.run(&args);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains("pay"), "{args:?} shows the planted key: {all}");
        for raw in ['\u{1b}', '\u{7}', '\u{9b}', '\u{200B}', '\u{202E}'] {
            assert!(
                !all.contains(raw),
                "{args:?} printed U+{:04X} raw: {all:?}",
                u32::from(raw)
            );
        }
    }

    // A workspace that would move a smenso key's host is refused; a curl line is quoted.
    let out = add(
        &setup,
        &[
            "--service",
            "smenso",
            "--name",
            "s",
            "--workspace",
            "evil.example/",
        ],
        GOOD_KEY,
    );
    assert_one_line_error(&out, "is not a smenso workspace");
    let out = add(
        &setup,
        &[
            "--service",
            "iottly",
            "--name",
            "i",
            "--url",
            "https://user:pw@api.example",
        ],
        GOOD_KEY,
    );
    assert_one_line_error(&out, "without a user");
}

/// Found: a ThingsBoard refresh token was kept under the account's name, so editing the URL in
/// config.toml sent it, and then every key test, to the new host. Sessions are bound to the URL:
/// the other host hears nothing. Signing out tells the server when it can and says so when it
/// cannot; the session leaves the keychain and the account the list either way.
#[test]
fn a_session_is_bound_to_its_url_and_sign_out_says_what_failed() {
    let setup = Setup::new();
    let mut tb = setup.runtime.block_on(thingsboard::ThingsBoard::start());
    let elsewhere = setup.runtime.block_on(thingsboard::ThingsBoard::start());
    let login = || {
        setup.run_with_stdin(
            &[
                "login",
                &tb.url,
                "--email",
                "user@tb.example",
                "--kind",
                "thingsboard",
                "--name",
                "tb",
            ],
            "tb password\n",
        )
    };
    assert!(login().status.success());
    let config_path = setup.home.path().join("config/keywarden/config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(&config_path, config.replace(&tb.url, &elsewhere.url)).unwrap();
    let before = elsewhere
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let out = setup.run(&["keys", "list", "--account", "tb"]);
    assert_one_line_error(&out, "sign in to tb again");
    assert!(
        stderr(&out).contains(&format!("keywarden login {}", elsewhere.url)),
        "says how: {}",
        stderr(&out)
    );
    assert_eq!(
        elsewhere
            .requests
            .load(std::sync::atomic::Ordering::Relaxed),
        before,
        "the other host was sent nothing"
    );

    // Back to the real URL: the kept session works; then the server goes away and sign-out says
    // it could not tell it, and forgets the session and the account all the same.
    std::fs::write(&config_path, config).unwrap();
    let out = setup.run(&["keys", "list", "--account", "tb"]);
    assert!(out.status.success(), "{}", stderr(&out));
    tb.stop();
    let out = setup.run(&["logout", "tb"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the server was not told"),
        "{}",
        stderr(&out)
    );
    let servers = setup.json(&["servers", "--json"]);
    assert!(!servers.to_string().contains("\"tb\""), "{servers}");
    let refresh = setup.runtime.block_on(async {
        let vault = keywarden::vault::KeyringVault::new().unwrap();
        keywarden::vault::Vault::get(
            &vault,
            &keywarden::sources::thingsboard::session_account("tb", &tb.url),
        )
        .unwrap()
    });
    assert!(refresh.is_none(), "the refresh token left the keychain");
}
