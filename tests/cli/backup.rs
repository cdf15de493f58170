//! Backup and restore from the command line: a round trip to a new computer (its config, data and
//! cache directories new, the keychain items of the keys gone), the standard `age` command
//! reading the file, and every way a file can be wrong.

use std::process::{Command, Stdio};

use serde_json::Value;

use super::sources::{add, digest_through_run, files_text, sha256_hex};
use super::{Setup, assert_one_line_error, stderr, stdout};
use keywarden::vault::Vault as _;

use super::sources::services;

const PASSPHRASE: &str = "a long backup passphrase";

/// Every key reference of the setup, with the digest of its secret.
fn digests(setup: &Setup, references: &[&str]) -> Vec<String> {
    references
        .iter()
        .map(|reference| {
            let out = digest_through_run(setup, reference);
            assert!(out.status.success(), "{reference}: {}", stderr(&out));
            stdout(&out).trim().to_string()
        })
        .collect()
}

#[test]
fn a_backup_restores_every_key_on_a_new_computer() {
    let mut setup = Setup::new();
    setup.login();
    let remote = setup.json(&[
        "keys",
        "generate",
        "--name",
        "billing",
        "--expires",
        "30d",
        "--print",
        "--json",
    ]);
    let remote_secret = remote["secret"].as_str().unwrap().to_string();
    let url = setup.runtime.block_on(services::start());
    let tracked_secret = services::GOOD_KEY;
    let out = add(
        &setup,
        &[
            "--service",
            "github",
            "--name",
            "gh ci",
            "--url",
            &url,
            "--expires",
            "20d",
        ],
        tracked_secret,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let local = setup.json(&[
        "keys",
        "generate",
        "--name",
        "made here",
        "--account",
        "local",
        "--json",
    ]);
    // A ThingsBoard account (the stand-in) with a key made from here.
    let tb = setup
        .runtime
        .block_on(super::sources::thingsboard::ThingsBoard::start());
    let out = setup.run_with_stdin(
        &[
            "login",
            &tb.url,
            "--email",
            "admin@tb.example",
            "--kind",
            "thingsboard",
            "--name",
            "tb",
        ],
        "tb password\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let gateway = setup.json(&[
        "keys",
        "generate",
        "--name",
        "gateway",
        "--account",
        "tb",
        "--expires",
        "30d",
        "--print",
        "--json",
    ]);
    let gateway_secret = gateway["secret"].as_str().unwrap().to_string();
    let references = [
        format!("kw://{}/billing", keywarden_reference_account(&setup.url)),
        "kw://tracked/gh%20ci".to_string(),
        "kw://tb/gateway".to_string(),
    ];
    let references: Vec<&str> = references.iter().map(String::as_str).collect();
    let before = digests(&setup, &references);
    assert_eq!(before[0], sha256_hex(&remote_secret));
    assert_eq!(before[1], sha256_hex(tracked_secret));
    assert_eq!(before[2], sha256_hex(&gateway_secret));
    let list_before = setup.json(&["keys", "list", "--json"]);

    // Keys whose secrets live only here and no backup: check says so, its exit code unchanged.
    let out = setup.run(&["check"]);
    assert!(
        stderr(&out).contains("no backup of your keys was ever made"),
        "{}",
        stderr(&out)
    );
    let code = out.status.code();

    let file = setup.home.path().join("keys.age");
    let file_arg = file.to_str().unwrap();
    let out = setup.run_with_stdin(&["backup", file_arg], &format!("{PASSPHRASE}\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("this computer's server"),
        "{}",
        stdout(&out)
    );
    let checked = setup.run(&["check"]);
    assert!(!stderr(&checked).contains("backup"), "{}", stderr(&checked));
    assert_eq!(checked.status.code(), code);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = setup.run_with_stdin(&["backup", file_arg], &format!("{PASSPHRASE}\n"));
    assert_one_line_error(&again, "--force");

    // The standard age command reads it: documented JSON, the secrets in it.
    let json = age_decrypt(&file, PASSPHRASE);
    let contents: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(contents["format"], "keywarden-backup");
    assert_eq!(contents["version"], 1);
    let secrets = contents["secrets"].to_string();
    assert!(
        secrets.contains(&remote_secret)
            && secrets.contains(tracked_secret)
            && secrets.contains(&gateway_secret)
    );
    assert!(
        !contents["accounts"].to_string().contains("kws_"),
        "no session"
    );

    // A new computer: new directories, and the keys' keychain items gone.
    let vault = keywarden::vault::KeyringVault::new().unwrap();
    for secret in contents["secrets"].as_array().unwrap() {
        let account = keywarden::vault::key_account(
            secret["kind"].as_str().unwrap(),
            secret["account"].as_str().unwrap(),
            secret["id"].as_str().unwrap(),
        );
        vault.delete(&account).unwrap();
    }
    let session = keywarden::vault::session_account(&setup.url);
    vault.delete(&session).unwrap();
    vault
        .delete(&keywarden::sources::thingsboard::session_account(
            "tb", &tb.url,
        ))
        .unwrap();
    setup.new_computer();

    // Wrong passphrase, flipped byte, truncated file: one sentence each, nothing written.
    let wrong = setup.run_with_stdin(&["restore", file_arg_of(&file)], "not it\n");
    assert_one_line_error(&wrong, "passphrase is wrong");
    assert!(
        !setup.computer.join("config").exists(),
        "nothing was written"
    );

    let out = setup.run_with_stdin(
        &["restore", file_arg_of(&file), "--dry-run"],
        &format!("{PASSPHRASE}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("would be added"), "{}", stdout(&out));
    assert!(
        !setup.computer.join("config").exists(),
        "a dry run writes nothing"
    );

    let out = setup.run_with_stdin(&["restore", file_arg_of(&file)], &format!("{PASSPHRASE}\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("signed out"), "{}", stdout(&out));
    // Every reference resolves to the same secret before any account is signed in again.
    assert_eq!(digests(&setup, &references), before);
    // Restoring twice is restoring once.
    let twice = setup.run_with_stdin(&["restore", file_arg_of(&file)], &format!("{PASSPHRASE}\n"));
    assert!(twice.status.success(), "{}", stderr(&twice));
    assert!(
        stdout(&twice).contains("0 secret(s) added"),
        "{}",
        stdout(&twice)
    );
    // The key made on this computer works again: its server came back with it.
    let restored_local = setup.json(&["keys", "list", "--account", "local", "--json"]);
    assert!(
        restored_local
            .to_string()
            .contains(local["key"]["id"].as_str().unwrap()),
        "{restored_local}"
    );
    // Expiry classes as before (the tracked key's, which needs no sign-in).
    let tracked_after = setup.json(&["keys", "list", "--account", "tracked", "--json"]);
    let class = |list: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == "gh ci")
            .map(|k| k["class"].clone())
    };
    assert_eq!(class(&tracked_after), class(&list_before));

    // Tested after, each by its own service, before any sign-in (a GitHub test records the
    // expiry GitHub reports).
    let out = setup.run(&["keys", "test", "gh ci"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = setup.run(&["keys", "test", "gateway", "--account", "tb"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = setup.run(&["keys", "test", "billing", "--account", &setup.url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let files = files_text(&setup);
    assert!(
        !files.contains(&remote_secret)
            && !files.contains(tracked_secret)
            && !files.contains(&gateway_secret)
    );
}

#[test]
fn damaged_and_newer_backups_are_refused_and_age_files_accepted() {
    let setup = Setup::new();
    let file = setup.home.path().join("keys.age");
    let out = setup.run_with_stdin(
        &["backup", file.to_str().unwrap()],
        &format!("{PASSPHRASE}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&file).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = setup.home.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let mut flipped = bytes.clone();
    let at = flipped.len() - 30;
    flipped[at] ^= 0x40;
    let truncated = &bytes[..bytes.len() - 17];
    for (name, bytes, says) in [
        (
            "flipped.age",
            flipped.as_slice(),
            "truncated or was altered",
        ),
        ("truncated.age", truncated, "truncated or was altered"),
        (
            "plain.txt",
            b"hello".as_slice(),
            "not an age-encrypted backup",
        ),
    ] {
        let path = write(name, bytes);
        let out = setup.run_with_stdin(
            &["restore", path.to_str().unwrap()],
            &format!("{PASSPHRASE}\n"),
        );
        assert_one_line_error(&out, says);
    }
    // A file the age command encrypted, of a newer version: refused with the reason.
    let newer = serde_json::json!({"format": "keywarden-backup", "version": 99});
    let path = age_encrypt(&setup, &newer.to_string(), PASSPHRASE);
    let out = setup.run_with_stdin(
        &["restore", path.to_str().unwrap()],
        &format!("{PASSPHRASE}\n"),
    );
    assert_one_line_error(&out, "newer than this Keywarden reads");
    // A backup of ours, re-encrypted by age, is accepted.
    let json = age_decrypt(&file, PASSPHRASE);
    let path = age_encrypt(
        &setup,
        std::str::from_utf8(&json).unwrap(),
        "another passphrase",
    );
    let out = setup.run_with_stdin(&["restore", path.to_str().unwrap()], "another passphrase\n");
    assert!(out.status.success(), "{}", stderr(&out));
}

fn keywarden_reference_account(url: &str) -> String {
    url.replace(':', "%3A").replace('/', "%2F")
}

fn file_arg_of(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

/// `age --decrypt`, its passphrase typed into the pseudo-terminal `script` gives it.
fn age_decrypt(file: &std::path::Path, passphrase: &str) -> Vec<u8> {
    let out = tempfile::NamedTempFile::new().unwrap();
    run_in_pty(
        &format!(
            "age --decrypt -o {} {}",
            out.path().display(),
            file.display()
        ),
        &format!("{passphrase}\n"),
    );
    std::fs::read(out.path()).unwrap()
}

/// `age --passphrase` of `text`, its passphrase typed twice into a pseudo-terminal.
fn age_encrypt(setup: &Setup, text: &str, passphrase: &str) -> std::path::PathBuf {
    let input = setup.home.path().join("plain.json");
    std::fs::write(&input, text).unwrap();
    let output = setup.home.path().join("by-age.age");
    let _ = std::fs::remove_file(&output);
    run_in_pty(
        &format!(
            "age --passphrase -o {} {}",
            output.display(),
            input.display()
        ),
        &format!("{passphrase}\n{passphrase}\n"),
    );
    std::fs::remove_file(&input).unwrap();
    output
}

fn run_in_pty(command: &str, typed: &str) {
    let which = Command::new("sh")
        .args(["-c", "command -v age && command -v script"])
        .output();
    assert!(
        which.is_ok_and(|o| o.status.success()),
        "the age command and script (Debian packages age and bsdutils) are needed: tests/session.sh installs them"
    );
    let mut child = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    let mut stdin = child.stdin.take().unwrap();
    for line in typed.lines() {
        std::thread::sleep(std::time::Duration::from_millis(300));
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A secret that differs here from the backup's is kept, and listed, unless `--force`; a dry run
/// with `--force` says it would be replaced and changes nothing.
#[test]
fn a_conflicting_secret_is_kept_unless_forced() {
    let setup = Setup::new();
    let before = "ghp_conflictconflictconflictconf01";
    let out = add(
        &setup,
        &["--service", "github", "--name", "ci", "--expires", "20d"],
        before,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let file = setup.home.path().join("keys.age");
    let out = setup.run_with_stdin(&["backup", file_arg_of(&file)], &format!("{PASSPHRASE}\n"));
    assert!(out.status.success(), "{}", stderr(&out));

    // The key's secret changes here after the backup.
    let key = setup.json(&["keys", "show", "ci", "--json"]);
    let id = key["id"].as_str().unwrap();
    let now = "ghp_changedchangedchangedchanged01";
    keywarden::vault::KeyringVault::new()
        .unwrap()
        .set(
            &keywarden::vault::key_account("tracked", "tracked", id),
            &keywarden::secret::Secret::new(now),
        )
        .unwrap();
    let resolves_to = |secret: &str| {
        let out = digest_through_run(&setup, "kw://tracked/ci");
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).trim(), sha256_hex(secret));
    };

    let restore = |extra: &[&str]| {
        let mut args = vec!["restore", file_arg_of(&file)];
        args.extend_from_slice(extra);
        let out = setup.run_with_stdin(&args, &format!("{PASSPHRASE}\n"));
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let said = restore(&[]);
    assert!(
        said.contains(
            "1 secret(s) differ here and were kept (--force replaces them): ci on tracked"
        ),
        "{said}"
    );
    resolves_to(now);
    let said = restore(&["--force", "--dry-run"]);
    assert!(
        said.contains("1 secret(s) differ here and would be replaced: ci on tracked"),
        "{said}"
    );
    resolves_to(now);
    let said = restore(&["--force"]);
    assert!(
        said.contains("1 secret(s) differ here and were replaced: ci on tracked"),
        "{said}"
    );
    resolves_to(before);
    let files = files_text(&setup);
    assert!(!files.contains(before) && !files.contains(now));
}
