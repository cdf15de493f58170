//! What only PostgreSQL has: a password in the database URL, which must never be shown.

use std::process::{Command, Stdio};

use crate::common::{BIN, ServeProcess, fresh_postgres_database};

/// The password of a `postgres://` URL (the cluster's own, random per run).
fn password_of(url: &str) -> String {
    let userinfo = url.split("://").nth(1).unwrap().split('@').next().unwrap();
    userinfo
        .split_once(':')
        .expect("a password in the URL")
        .1
        .to_string()
}

#[tokio::test]
async fn the_password_of_a_database_url_is_never_shown() {
    let url = fresh_postgres_database().await;
    let password = password_of(&url);
    assert!(
        password.len() >= 16,
        "the test cluster's password is random"
    );

    // Served: the start-up line names the database without its password.
    let server = ServeProcess::start(&url, &[]);
    assert!(
        server
            .log_text()
            .contains("database postgres://kw_admin:***@"),
        "{}",
        server.log_text()
    );
    drop(server);

    // A wrong password: the error names the database, not either password.
    let wrong = url.replace(&password, "not-the-password-0123");
    let output = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &wrong])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cannot open database postgres://kw_admin:***@"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("password authentication failed").count(),
        1,
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-password") && !stderr.contains(&password),
        "{stderr}"
    );

    // Nothing listening: the cause, at once, not a pool's time-out.
    let port = url.split('@').nth(1).unwrap().split('/').next().unwrap();
    let closed = url.replace(port, "127.0.0.1:1");
    let started = std::time::Instant::now();
    let output = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &closed,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("Connection refused") && !stderr.contains(&password),
        "{stderr}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // Given through the environment, `--help` does not print it.
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .env("KEYWARDEN_DATABASE_URL", &url)
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--database-url"), "{help}");
    assert!(!help.contains(&password), "{help}");
}
