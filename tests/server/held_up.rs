//! What held up when the server was probed as an attacker would, kept as tests so it keeps
//! holding: no secret in the database, its WAL or the log even at trace level; acknowledged keys
//! survive kill -9 under write load; no cross-origin access.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{BIN, PASSWORD, ServeProcess, fresh_database_blocking, user_add};

fn database(dir: &tempfile::TempDir) -> (String, std::path::PathBuf) {
    let path = dir.path().join("server.db");
    (format!("sqlite://{}", path.display()), path)
}

fn login(client: &reqwest::blocking::Client, server: &ServeProcess) -> String {
    let response = client
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn create_key(client: &reqwest::blocking::Client, server: &ServeProcess, session: &str) -> String {
    let response = client
        .post(server.url("/v1/keys"))
        .bearer_auth(session)
        .json(&json!({"name": "k", "expires_in_days": 30}))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn no_secret_in_the_database_its_wal_or_the_log_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let (url, path) = database(&dir);
    user_add(&url, "owner@example.com", "owner", PASSWORD);
    let mut command = Command::new(BIN);
    command.env("RUST_LOG", "trace");
    let server = ServeProcess::start_with(command, "127.0.0.1:0", &url, &[]);
    let client = reqwest::blocking::Client::new();
    let session = login(&client, &server);
    let mut secrets = vec![session.clone(), PASSWORD.to_string()];
    for _ in 0..5 {
        let key = create_key(&client, &server, &session);
        let ping = client
            .get(server.url("/v1/ping"))
            .header("x-api-key", &key)
            .send()
            .unwrap();
        assert_eq!(ping.status(), StatusCode::OK);
        secrets.push(key);
    }
    // A wrong password, and a key sent where a password belongs.
    client
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "owner@example.com", "password": secrets[2]}))
        .send()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut stored = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(&name) {
            stored.extend(bytes);
        }
    }
    let stored = String::from_utf8_lossy(&stored).into_owned();
    let log = server.log_text();
    assert!(log.len() > 1000, "trace logging is on: {} bytes", log.len());
    for secret in &secrets {
        assert!(
            !stored.contains(secret.as_str()),
            "a secret in the database files"
        );
        assert!(!log.contains(secret.as_str()), "a secret in the log");
    }
}

/// On the backend under test: a SQLite file, or PostgreSQL in the second pass of `tests/run.sh`.
#[test]
fn acknowledged_keys_survive_kill_9_under_write_load() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_blocking(dir.path());
    user_add(&url, "owner@example.com", "owner", PASSWORD);
    let mut server = ServeProcess::start(&url, &[]);
    let client = reqwest::blocking::Client::new();
    let session = login(&client, &server);
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            let url = server.url("/v1/keys");
            let session = session.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(5);
                while Instant::now() < deadline {
                    let Ok(response) = client
                        .post(&url)
                        .bearer_auth(&session)
                        .json(&json!({"name": "under load", "expires_in_days": 30}))
                        .send()
                    else {
                        return;
                    };
                    if response.status() != StatusCode::CREATED {
                        return;
                    }
                    let Ok(body) = response.json::<Value>() else {
                        return;
                    };
                    let secret = body["secret"].as_str().unwrap().to_string();
                    acknowledged.lock().unwrap().push(secret);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for writer in writers {
        writer.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 20, "{} keys made", acknowledged.len());
    let restarted = ServeProcess::start(&url, &[]);
    for key in &acknowledged {
        let response = client
            .get(restarted.url("/v1/ping"))
            .header("x-api-key", key)
            .send()
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "an acknowledged key was lost"
        );
    }
}

#[test]
fn no_cross_origin_access() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = database(&dir);
    let server = ServeProcess::start(&url, &[]);
    let client = reqwest::blocking::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, server.url("/v1/keys"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .unwrap();
    let simple = client
        .get(server.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .unwrap();
    for response in [preflight, simple] {
        assert!(
            response
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-")),
            "{:?}",
            response.headers()
        );
    }
}
