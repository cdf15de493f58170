//! The built binary: `keywarden user add` and `keywarden serve`, as an administrator runs them.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keywarden::api::LoginResponse;
use serde_json::json;

use crate::common::{BIN, Backend, fresh_database_blocking, user_add_output};

fn user_add(database_url: &str, email: &str, role: &str, password: &str) -> std::process::Output {
    user_add_output(Some(database_url), email, role, password, &[])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn user_add_then_serve_then_login_then_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match Backend::under_test() {
        // A database in a directory that does not exist yet: created with its migrations.
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("nested/server.db").display()),
        Backend::Postgres => fresh_database_blocking(dir.path()),
    };
    let output = user_add(
        &database_url,
        "root@example.com",
        "owner",
        "s3cret password",
    );
    assert!(
        output.status.success(),
        "user add failed: {}",
        text(&output.stderr)
    );
    let stdout = text(&output.stdout);
    assert!(stdout.contains("added owner root@example.com"), "{stdout}");
    assert!(
        !stdout.contains("s3cret") && !text(&output.stderr).contains("s3cret"),
        "the password is not echoed"
    );

    let again = user_add(
        &database_url,
        "root@example.com",
        "member",
        "another password",
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    let short = user_add(&database_url, "x@example.com", "member", "short");
    assert!(!short.status.success());
    assert!(
        text(&short.stderr).contains("at least 8"),
        "{}",
        text(&short.stderr)
    );
    let bad_role = user_add(&database_url, "x@example.com", "emperor", "long enough");
    assert!(!bad_role.status.success());
    assert!(text(&bad_role.stderr).contains("owner, admin, member or viewer"));

    let mut server = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &database_url,
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    let address = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };

    let client = reqwest::blocking::Client::new();
    let response = client
        .post(format!("http://{address}/v1/auth/login"))
        .json(&json!({"email": "root@example.com", "password": "s3cret password"}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let login: LoginResponse = response.json().unwrap();
    assert!(login.user.owner);
    assert!(login.token.expose().starts_with("kws_"));
    let me = client
        .get(format!("http://{address}/v1/me"))
        .bearer_auth(login.token.expose())
        .send()
        .unwrap();
    assert_eq!(me.status(), 200);

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(
        !rest.contains(login.token.expose()),
        "no session token in the log"
    );
}

#[test]
fn serve_fails_with_one_clear_line_when_the_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &address,
            "--database-url",
            &format!("sqlite://{}", dir.path().join("db").display()),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("in use"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn serve_fails_clearly_when_the_database_cannot_be_opened() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let url = format!("sqlite://{}/server.db", not_a_dir.display());
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot open database"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &format!("sqlite://{}", garbage.display()),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        std::fs::read(&garbage).unwrap(),
        vec![0x42u8; 8192],
        "a file that is not a database is left untouched"
    );
}

/// Found on an earlier server: the default database directory was 755 and `server.db`, `-wal` and
/// `-shm` 644, though they hold password hashes, emails and client addresses.
#[test]
fn the_database_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    // The default location, as `keywarden user add` and `serve` use it.
    let output = user_add_output(
        None,
        "root@example.com",
        "owner",
        "s3cret password",
        &[("XDG_DATA_HOME", &data)],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let dir = data.join("keywarden");
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    // A server writes to it: the WAL files appear, as private as the database.
    let url = format!("sqlite://{}", dir.join("server.db").display());
    let server = crate::common::ServeProcess::start(&url, &[]);
    let client = reqwest::blocking::Client::new();
    let login = client
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "root@example.com", "password": "s3cret password"}))
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    for name in ["server.db", "server.db-wal", "server.db-shm"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    // A path the user names, in a directory the server creates, likewise.
    let named = home.path().join("elsewhere/deeper/team.db");
    let url = format!("sqlite://{}", named.display());
    let output = user_add(&url, "x@example.com", "member", "long enough pw");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(mode(named.parent().unwrap()), 0o700);
    assert_eq!(mode(named.parent().unwrap().parent().unwrap()), 0o700);
    assert_eq!(mode(&named), 0o600);
}
