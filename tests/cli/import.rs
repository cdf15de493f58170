//! `keywarden import` of the files keys live in today: `.env` files, a KeePassXC database made by
//! the real `keepassxc-cli`, and Bitwarden and 1Password exports written from their documented
//! formats (tests/fixtures/import, each saying so at its top). After every test no secret is in
//! any file outside the keychain.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use super::sources::{digest_through_run, files_text, sha256_hex};
use super::{Setup, assert_one_line_error, stderr, stdout};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");

fn tracked(setup: &Setup) -> Vec<Value> {
    setup
        .json(&["keys", "list", "--account", "tracked", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

fn named<'a>(keys: &'a [Value], name: &str) -> &'a Value {
    keys.iter()
        .find(|k| k["name"] == name)
        .unwrap_or_else(|| panic!("no key {name:?} in {keys:#?}"))
}

/// The secret `reference` resolves to is `secret`.
fn assert_resolves(setup: &Setup, reference: &str, secret: &str) {
    let out = digest_through_run(setup, reference);
    assert!(out.status.success(), "{reference}: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), sha256_hex(secret), "{reference}");
}

fn assert_no_secret_in_files(setup: &Setup, secrets: &[&str]) {
    let files = files_text(setup);
    for secret in secrets {
        assert!(!files.contains(secret), "a secret is in a file");
    }
}
/// `keywarden import` of a `.env` file: its API keys (by prefix, or by a key's name and a random
/// value) become tracked keys, everything else is left alone; `--rewrite` puts references in
/// their place, keeping the file's mode; importing again adds nothing; a malformed file names
/// its line and imports nothing.
#[test]
fn a_dotenv_file_is_imported_and_rewritten_to_references() {
    use std::os::unix::fs::PermissionsExt as _;
    let setup = Setup::new();
    let github = "ghp_importimportimportimport0123";
    let stripe = "sk9aQ2xL7pR4vT1mN8bC";
    let original = format!(
        "# the app's settings\n\
         export GITHUB_TOKEN={github}\n\
         STRIPE_API_KEY=\"{stripe}\"   # live\n\
         DATABASE_URL=postgres://app@db/app\n\
         REGION=eu-west-1\n\
         SESSION_SECRET=${{OTHER}}\n"
    );
    let env = setup.home.path().join("app.env");
    std::fs::write(&env, &original).unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o640)).unwrap();
    let env_arg = env.to_str().unwrap();

    let out = setup.run(&["import", env_arg, "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would import \"GITHUB_TOKEN\" (GitHub)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("would import \"STRIPE_API_KEY\""),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out)
            .contains("2 key(s) would be imported, 0 held already, 3 other variable(s) left alone"),
        "{}",
        stdout(&out)
    );
    let tracked = setup.json(&["keys", "list", "--account", "tracked", "--json"]);
    assert_eq!(tracked, serde_json::json!([]), "a dry run imports nothing");

    let out = setup.run(&["import", env_arg, "--rewrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rewritten = std::fs::read_to_string(&env).unwrap();
    assert!(
        !rewritten.contains(github) && !rewritten.contains(stripe),
        "{rewritten}"
    );
    assert!(
        rewritten.contains("export GITHUB_TOKEN=kw://tracked/GITHUB_TOKEN\n"),
        "{rewritten}"
    );
    assert!(
        rewritten.contains("STRIPE_API_KEY=kw://tracked/STRIPE_API_KEY\n"),
        "{rewritten}"
    );
    assert!(rewritten.contains("DATABASE_URL=postgres://app@db/app\n"));
    assert_eq!(
        std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o640,
        "the file keeps its mode"
    );
    let out = setup.run(&["allow", env_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = setup.run(&[
        "run",
        "--env-file",
        env_arg,
        "--",
        "sh",
        "-c",
        "printf %s \"$STRIPE_API_KEY\" | sha256sum | cut -c1-64",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), sha256_hex(stripe));

    // The same file again (as it was): nothing new.
    let copy = setup.home.path().join("copy.env");
    std::fs::write(&copy, &original).unwrap();
    let out = setup.run(&["import", copy.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("0 key(s) imported, 2 held already"),
        "{}",
        stdout(&out)
    );
    let tracked = setup.json(&["keys", "list", "--account", "tracked", "--json"]);
    assert_eq!(tracked.as_array().unwrap().len(), 2);

    let broken = setup.home.path().join("broken.env");
    std::fs::write(&broken, "A_TOKEN=q8Zr2Lm5Vx9Tb3Nc7Kd1\nnot a line\n").unwrap();
    let out = setup.run(&["import", broken.to_str().unwrap()]);
    assert_one_line_error(&out, "line 2");
    assert_eq!(
        setup
            .json(&["keys", "list", "--account", "tracked", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2,
        "nothing half-imported"
    );
    let files = files_text(&setup);
    assert!(!files.contains(github) && !files.contains(stripe));
}

/// A KeePass XML file for `keepassxc-cli import`: groups Dev (a GitHub token with expiry and
/// tags, a testo key named as one, a website's password) and Ops/Cloud (a smenso token), and the
/// recycle bin with a deleted key. The entry's custom data makes KeePassXC write KDBX 4.
fn keepass_xml() -> String {
    fn entry(
        uuid: &str,
        title: &str,
        password: &str,
        url: &str,
        expiry: Option<&str>,
        tags: &str,
    ) -> String {
        let times = match expiry {
            Some(at) => {
                format!("<Times><Expires>True</Expires><ExpiryTime>{at}</ExpiryTime></Times>")
            }
            None => "<Times><Expires>False</Expires></Times>".to_string(),
        };
        format!(
            "<Entry><UUID>{uuid}</UUID>{times}<Tags>{tags}</Tags>\
             <CustomData><Item><Key>made-by</Key><Value>keywarden tests</Value></Item></CustomData>\
             <String><Key>Title</Key><Value>{title}</Value></String>\
             <String><Key>UserName</Key><Value>dev</Value></String>\
             <String><Key>Password</Key><Value ProtectInMemory=\"True\">{password}</Value></String>\
             <String><Key>URL</Key><Value>{url}</Value></String>\
             <String><Key>Notes</Key><Value>from the vault</Value></String></Entry>"
        )
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <KeePassFile><Meta><Generator>keywarden tests</Generator><DatabaseName>dev</DatabaseName>\
         <RecycleBinEnabled>True</RecycleBinEnabled><RecycleBinUUID>AAAAAAAAAAAAAAAAAAAACQ==</RecycleBinUUID></Meta>\
         <Root><Group><UUID>AAAAAAAAAAAAAAAAAAAAAQ==</UUID><Name>Root</Name>\
         <Group><UUID>AAAAAAAAAAAAAAAAAAAAAg==</UUID><Name>Dev</Name>{}{}{}</Group>\
         <Group><UUID>AAAAAAAAAAAAAAAAAAAAAw==</UUID><Name>Ops</Name>\
         <Group><UUID>AAAAAAAAAAAAAAAAAAAABA==</UUID><Name>Cloud</Name>{}</Group></Group>\
         <Group><UUID>AAAAAAAAAAAAAAAAAAAACQ==</UUID><Name>Recycle Bin</Name>{}</Group>\
         </Group></Root></KeePassFile>\n",
        entry(
            "AAAAAAAAAAAAAAAAAAABAQ==",
            "GitHub CI",
            KP_GITHUB,
            "https://github.com",
            Some("2027-03-01T00:00:00Z"),
            "ci;prod"
        ),
        entry(
            "AAAAAAAAAAAAAAAAAAABAg==",
            "testo API key",
            KP_TESTO,
            "",
            Some("2027-06-30T12:00:00Z"),
            ""
        ),
        entry(
            "AAAAAAAAAAAAAAAAAAABAw==",
            "Forum login",
            "hunter2hunter2",
            "https://forum.example",
            None,
            ""
        ),
        entry(
            "AAAAAAAAAAAAAAAAAAABBA==",
            "smenso token",
            KP_SMENSO,
            "https://acme.smenso.cloud",
            Some("2027-01-15T00:00:00Z"),
            "api"
        ),
        entry(
            "AAAAAAAAAAAAAAAAAAABBQ==",
            "Deleted token",
            "ghp_deleteddeleteddeleteddelete01",
            "",
            None,
            ""
        ),
    )
}

const KP_GITHUB: &str = "ghp_keepassxckeepassxckeepassxc0123";
const KP_TESTO: &str = "tE5tQ9xW2mL7vR4kP8nZ3bY6";
const KP_SMENSO: &str = "Sm3nsoT0kenXq7Lw2Rv9Pz4K";
const KP_PASSWORD: &str = "database password";

/// A KeePassXC database made by the real `keepassxc-cli import` (with a key file too when
/// `key_file` is given); the file says it is KDBX 4.
fn keepassxc_database(dir: &Path, name: &str, key_file: Option<&Path>) -> PathBuf {
    let xml = dir.join(format!("{name}.xml"));
    std::fs::write(&xml, keepass_xml()).unwrap();
    let database = dir.join(format!("{name}.kdbx"));
    let mut command = Command::new("keepassxc-cli");
    command.args(["import", "--set-password", "--decryption-time", "100"]);
    if let Some(key_file) = key_file {
        command.arg("--set-key-file").arg(key_file);
    }
    let mut child = command
        .arg(&xml)
        .arg(&database)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!(
                "keepassxc-cli (Debian package keepassxc) cannot be started, so no real KeePassXC \
                 database can be made for this test: {err}"
            )
        });
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{KP_PASSWORD}\n{KP_PASSWORD}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "keepassxc-cli import: {}",
        stderr(&out)
    );
    std::fs::remove_file(&xml).unwrap();
    let bytes = std::fs::read(&database).unwrap();
    assert_eq!(
        &bytes[8..12],
        &[0, 0, 4, 0],
        "keepassxc-cli wrote KDBX 4 (major version 4 at bytes 10-11)"
    );
    database
}

/// A real KeePassXC database: a wrong password imports nothing; `--group` takes one group with
/// its names, secrets, expiry, service (from the secret or the URL) and tags; the recycle bin and
/// a website's password are left; importing the whole database again adds only what is new; a
/// database with a key file opens with `--key-file`.
#[test]
fn a_keepassxc_database_is_imported() {
    let setup = Setup::new();
    let dir = setup.home.path();
    let database = keepassxc_database(dir, "vault", None);
    let database = database.to_str().unwrap();

    let out = setup.run_with_stdin(&["import", database], "not the password\n");
    assert_one_line_error(&out, "the password or key file is wrong");
    assert!(tracked(&setup).is_empty());

    let out = setup.run_with_stdin(
        &["import", database, "--group", "Nope"],
        &format!("{KP_PASSWORD}\n"),
    );
    assert_one_line_error(&out, "no group \"Nope\"");

    let out = setup.run_with_stdin(
        &["import", database, "--group", "Dev", "--dry-run"],
        &format!("{KP_PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would import \"GitHub CI\" (GitHub)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out)
            .contains("2 key(s) would be imported, 0 held already, 1 other entry(s) left alone"),
        "{}",
        stdout(&out)
    );
    assert!(tracked(&setup).is_empty(), "a dry run imports nothing");

    let out = setup.run_with_stdin(
        &["import", database, "--group", "Dev"],
        &format!("{KP_PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let keys = tracked(&setup);
    assert_eq!(keys.len(), 2, "{keys:#?}");
    let github = named(&keys, "GitHub CI");
    assert_eq!(github["service"], "github");
    assert_eq!(github["expires_at"], "2027-03-01T00:00:00Z");
    assert_eq!(
        github["description"],
        "from the vault · tags: ci, prod · imported from vault.kdbx"
    );
    let testo = named(&keys, "testo API key");
    assert_eq!(testo["service"], "other");
    assert_eq!(testo["expires_at"], "2027-06-30T12:00:00Z");
    assert_resolves(&setup, "kw://tracked/GitHub%20CI", KP_GITHUB);
    assert_resolves(&setup, "kw://tracked/testo%20API%20key", KP_TESTO);

    // The whole database: the Dev keys are held already, Ops/Cloud's comes in.
    let out = setup.run_with_stdin(
        &["import", database, "--format", "keepassxc"],
        &format!("{KP_PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("skipped \"GitHub CI\": held already as \"GitHub CI\""),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("1 key(s) imported, 2 held already, 1 other entry(s) left alone"),
        "{}",
        stdout(&out)
    );
    let keys = tracked(&setup);
    assert_eq!(
        keys.len(),
        3,
        "the recycle bin's key is not imported: {keys:#?}"
    );
    let smenso = named(&keys, "smenso token");
    assert_eq!(smenso["service"], "smenso");
    assert_eq!(smenso["workspace"], "acme");
    assert_resolves(&setup, "kw://tracked/smenso%20token", KP_SMENSO);

    // A database that opens with a key file (and no password typed).
    let key_file = dir.join("vault.keyx");
    let with_key = keepassxc_database(dir, "keyed", Some(&key_file));
    let with_key = with_key.to_str().unwrap();
    let out = setup.run_with_stdin(
        &["import", with_key, "--dry-run"],
        &format!("{KP_PASSWORD}\n"),
    );
    assert!(!out.status.success(), "the key file is needed too");
    let out = setup.run_with_stdin(
        &[
            "import",
            with_key,
            "--key-file",
            key_file.to_str().unwrap(),
            "--dry-run",
        ],
        &format!("{KP_PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 key(s) would be imported, 3 held already"),
        "{}",
        stdout(&out)
    );
    // A damaged database: one sentence naming no entry, nothing imported.
    let bytes = std::fs::read(database).unwrap();
    let truncated = dir.join("truncated.kdbx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let mut flipped = bytes.clone();
    let middle = flipped.len() * 3 / 4;
    flipped[middle] ^= 0x40;
    let flipped_path = dir.join("flipped.kdbx");
    std::fs::write(&flipped_path, &flipped).unwrap();
    for damaged in [&truncated, &flipped_path] {
        let out = setup.run_with_stdin(
            &["import", damaged.to_str().unwrap()],
            &format!("{KP_PASSWORD}\n"),
        );
        assert_one_line_error(&out, "the database");
        assert!(!stderr(&out).contains("GitHub CI") && !stderr(&out).contains("ghp_"));
    }
    assert_eq!(tracked(&setup).len(), 3, "nothing half-imported");
    assert_no_secret_in_files(&setup, &[KP_GITHUB, KP_TESTO, KP_SMENSO]);
}

/// Bitwarden's JSON export: login passwords and hidden fields that are keys, `--folder`, the
/// service from the item's URI; an encrypted export and a malformed item are refused by name and
/// import nothing.
#[test]
fn a_bitwarden_export_is_imported() {
    let setup = Setup::new();
    let export = format!("{FIXTURES}/bitwarden.json");
    let out = setup.run(&["import", &export, "--folder", "Dev"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 key(s) imported, 0 held already, 1 other item(s) left alone"),
        "{}",
        stdout(&out)
    );
    let keys = tracked(&setup);
    assert_eq!(named(&keys, "GitHub deploy token")["service"], "github");
    assert_eq!(
        named(&keys, "GitHub deploy token")["description"],
        "pushes releases · imported from bitwarden.json"
    );
    assert_eq!(named(&keys, "iottly console: API key")["service"], "iottly");
    assert_resolves(
        &setup,
        "kw://tracked/iottly%20console%3A%20API%20key",
        "iT7qZ2mX9vL4pR8sK3nB6wD1",
    );

    let out = setup.run(&["import", &export]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("0 key(s) imported, 2 held already, 2 other item(s) left alone"),
        "the bank's password and the note's PIN are no keys: {}",
        stdout(&out)
    );

    let out = setup.run(&["import", &format!("{FIXTURES}/bitwarden-encrypted.json")]);
    assert_one_line_error(&out, "password-protected");

    let broken = setup.home.path().join("broken.json");
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    json["items"][1]["login"]["password"] = "S3cretN0tShownInErrors99".into();
    json["items"][3]["type"] = "a note".into();
    std::fs::write(&broken, json.to_string()).unwrap();
    let out = setup.run(&["import", broken.to_str().unwrap()]);
    assert_one_line_error(&out, "item 4 (\"Old laptop notes\")");
    assert_eq!(tracked(&setup).len(), 2, "nothing half-imported");

    // A Keywarden key must say when it expires; the export cannot: refused by its item, and
    // nothing of the file is imported.
    let keywarden_key = keywarden::key::generate(keywarden::key::TokenKind::ApiKey);
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    json["items"][2]["login"]["password"] = keywarden_key.expose().into();
    std::fs::write(&broken, json.to_string()).unwrap();
    let out = setup.run(&["import", broken.to_str().unwrap()]);
    assert_one_line_error(
        &out,
        "item 3 (\"Bank\"): Keywarden keys expire after at most 365 days",
    );
    assert_eq!(tracked(&setup).len(), 2, "nothing half-imported");
    assert_no_secret_in_files(
        &setup,
        &[
            "ghp_bitwardenbitwardenbitwarden01",
            "iT7qZ2mX9vL4pR8sK3nB6wD1",
        ],
    );
}

/// A 1PUX archive of the fixture.
fn one_pux(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("export.1pux");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for name in ["export.attributes", "export.data"] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&std::fs::read(format!("{FIXTURES}/1password/{name}")).unwrap())
            .unwrap();
    }
    zip.finish().unwrap();
    path
}

/// 1Password's 1PUX export: an API Credential item with its credential, expiry, valid-from date,
/// hostname (the service) and notes; a login only with `--all`; an archived item never.
#[test]
fn a_1password_export_is_imported() {
    let setup = Setup::new();
    let export = one_pux(setup.home.path());
    let export = export.to_str().unwrap();
    let out = setup.run(&["import", export]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 key(s) imported, 0 held already, 2 other item(s) left alone"),
        "{}",
        stdout(&out)
    );
    let keys = tracked(&setup);
    let smartsuite = named(&keys, "SmartSuite automation");
    assert_eq!(smartsuite["service"], "smartsuite");
    assert_eq!(smartsuite["expires_at"], "2027-09-01T00:00:00Z");
    assert_eq!(
        smartsuite["description"],
        "SmartSuite automation key · tags: automation · valid from 2026-09-01 · imported from export.1pux"
    );
    assert_resolves(
        &setup,
        "kw://tracked/SmartSuite%20automation",
        "ss9Kq2Wm7Xv4Lp8Rt3Nb6Yc1",
    );

    let out = setup.run(&["import", export, "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 key(s) imported, 1 held already, 1 other item(s) left alone"),
        "{}",
        stdout(&out)
    );
    assert_eq!(named(&tracked(&setup), "GitHub")["service"], "github");

    let truncated = setup.home.path().join("truncated.1pux");
    let bytes = std::fs::read(export).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = setup.run(&["import", truncated.to_str().unwrap()]);
    assert_one_line_error(&out, "not a 1Password 1PUX export");
    assert_eq!(tracked(&setup).len(), 2);
    assert_no_secret_in_files(
        &setup,
        &[
            "ss9Kq2Wm7Xv4Lp8Rt3Nb6Yc1",
            "ghp_onepasswordonepasswordonepass1",
        ],
    );
}
