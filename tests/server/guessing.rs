//! Limits on guessing and on password work: failures counted per client address and per account,
//! `X-Forwarded-For` believed only from trusted proxies, and concurrent logins that cannot take the
//! server's memory.

use std::time::Duration;

use keywarden::api::Role;
use keywarden::key::{self, TokenKind};
use keywarden::server::ServerConfig;
use reqwest::{Client, StatusCode};
use serde_json::json;

use crate::common::{PASSWORD, ServeProcess, TestServer, client_from, user_add};

async fn ping(server: &TestServer, client: &Client, key: &str) -> reqwest::Response {
    client
        .get(server.url("/v1/ping"))
        .bearer_auth(key)
        .send()
        .await
        .expect("ping")
}

async fn login(server: &TestServer, client: &Client, email: &str, password: &str) -> StatusCode {
    client
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .status()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds")
}

/// Found on an earlier server: 200 wrong keys in a burst from one address were all answered 401.
#[tokio::test]
async fn wrong_keys_from_one_address_are_refused_after_ten() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let good = server.create_key(&session, "good").await;
    let attacker = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    for _ in 0..200 {
        let response = ping(
            &server,
            &attacker,
            key::generate(TokenKind::ApiKey).expose(),
        )
        .await;
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let wait = retry_after(&response);
            assert!((1..=61).contains(&wait), "Retry-After {wait}");
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["code"], "too_many_requests");
        }
    }
    let unauthorized = statuses
        .iter()
        .filter(|&&s| s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(unauthorized, 10, "{statuses:?}");
    assert!(
        statuses[10..]
            .iter()
            .all(|&s| s == StatusCode::TOO_MANY_REQUESTS)
    );
    // The address is refused even with a good key until its minute has passed...
    let response = ping(&server, &attacker, good.secret.expose()).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...while everyone else goes on.
    let other = client_from("127.0.0.3");
    let response = ping(&server, &other, good.secret.expose()).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Malformed credentials and unknown session tokens count too.
    let third = client_from("127.0.0.4");
    for token in ["kw_nope", key::generate(TokenKind::Session).expose()] {
        for _ in 0..5 {
            ping(&server, &third, token).await;
        }
    }
    assert_eq!(
        ping(&server, &third, good.secret.expose()).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Found on an earlier server: 2,000 wrong passwords for the owner were all answered 401.
#[tokio::test]
async fn wrong_passwords_are_limited_per_address_and_per_account() {
    let server = TestServer::start().await;
    server
        .add_user("owner@example.com", Role::Owner, "alpha")
        .await;
    let attacker = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(login(&server, &attacker, "owner@example.com", "guess").await);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|&&s| s == StatusCode::UNAUTHORIZED)
            .count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(statuses[14], StatusCode::TOO_MANY_REQUESTS);
    // The right password from that address is refused too, without being checked.
    assert_eq!(
        login(&server, &attacker, "owner@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // The account has 10 failures now. Another address that has failed once is refused for this
    // account; an address with no failures still signs in.
    let second = client_from("127.0.0.3");
    assert_eq!(
        login(&server, &second, "someone@example.com", "guess").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&server, &second, "owner@example.com", "guess").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login(&server, &second, "other@example.com", "guess").await,
        StatusCode::UNAUTHORIZED,
        "other accounts are not affected"
    );
    let owners_desk = client_from("127.0.0.4");
    assert_eq!(
        login(&server, &owners_desk, "owner@example.com", PASSWORD).await,
        StatusCode::OK
    );

    // The account's count lives in the database: a restart does not reset it.
    let attacked = server
        .add_user("attacked@example.com", Role::Member, "alpha")
        .await;
    for i in 0..10 {
        let client = client_from(&format!("127.0.1.{}", i + 1));
        assert_eq!(
            login(&server, &client, &attacked.email, "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    let url = server.database_url();
    let restarted = ServeProcess::start(&url, &[]);
    let client = client_from("127.0.2.1");
    let attempt = |password: &'static str| {
        let client = client.clone();
        let url = restarted.url("/v1/auth/login");
        async move {
            client
                .post(url)
                .json(&json!({"email": "attacked@example.com", "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(attempt("guess").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("guess").await, StatusCode::TOO_MANY_REQUESTS);
    let log = restarted.log_text();
    assert!(
        log.contains("failed sign-in to \"attacked@example.com\"") && log.contains("127.0.2.1"),
        "failed sign-ins are logged with the address: {log}"
    );
    assert!(!log.contains("guess"), "never the password: {log}");
}

/// `X-Forwarded-For` names the client only when the peer is a trusted proxy.
#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let server = TestServer::start_with(ServerConfig {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..ServerConfig::default()
    })
    .await;
    let proxy = Client::new();
    let wrong = key::generate(TokenKind::ApiKey);
    let through = |forwarded: &'static str| {
        let proxy = proxy.clone();
        let url = server.url("/v1/ping");
        let wrong = wrong.expose().to_string();
        async move {
            proxy
                .get(url)
                .bearer_auth(wrong)
                .header("x-forwarded-for", forwarded)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for _ in 0..10 {
        assert_eq!(through("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(through("198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        through("198.51.100.2").await,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy"
    );

    // From a peer that is not a trusted proxy the header changes nothing.
    let direct = client_from("127.0.0.2");
    for i in 0..10 {
        let response = direct
            .get(server.url("/v1/ping"))
            .bearer_auth(wrong.expose())
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = direct
        .get(server.url("/v1/ping"))
        .bearer_auth(wrong.expose())
        .header("x-forwarded-for", "203.0.113.99")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Found on an earlier server: 64 concurrent wrong logins took it to 3.7 GiB resident, and it kept
/// 3.6 GiB afterwards. Now password checks run a few at a time, the excess is told to come back
/// (429 with `Retry-After`), and the memory stays low.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_cannot_take_the_memory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    user_add(&url, "owner@example.com", "owner", PASSWORD);
    let server = ServeProcess::start(&url, &[]);
    let before = server.memory_kib("VmRSS");
    let mut statuses = Vec::new();
    for round in 0..2 {
        // Each from its own address, so the per-address limit does not hide the hashing bound;
        // each connection is made first, so the 64 logins arrive together.
        let mut clients = Vec::new();
        for i in 0..64 {
            let client = client_from(&format!("127.0.{}.{}", 10 + round, i + 1));
            let health = client.get(server.url("/healthz")).send().await.unwrap();
            assert_eq!(health.status(), StatusCode::OK);
            clients.push(client);
        }
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(64));
        let tasks: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, client)| {
                let url = server.url("/v1/auth/login");
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let response = client
                        .post(url)
                        .json(&json!({"email": "owner@example.com", "password": format!("guess {i}")}))
                        .send()
                        .await
                        .unwrap();
                    let retry = response.headers().get("retry-after").is_some();
                    (response.status(), retry)
                })
            })
            .collect();
        for task in tasks {
            statuses.push(task.await.unwrap());
        }
    }
    assert!(
        statuses
            .iter()
            .all(|&(s, retry)| s == StatusCode::UNAUTHORIZED
                || (s == StatusCode::TOO_MANY_REQUESTS && retry)),
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|&(s, _)| s == StatusCode::TOO_MANY_REQUESTS),
        "64 at once are more than the server hashes and queues: {statuses:?}"
    );
    let peak_mib = server.memory_kib("VmHWM") / 1024;
    assert!(
        peak_mib < 300,
        "peak resident {peak_mib} MiB (before: {} MiB)",
        before / 1024
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_mib = server.memory_kib("VmRSS") / 1024;
    // One hash's memory (19 MiB) per worker thread (one per core, at most 8) stays, and nothing
    // more.
    let workers = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 8) as u64;
    assert!(
        after_mib < before / 1024 + 20 * workers + 40,
        "resident {after_mib} MiB after the burst (before: {} MiB)",
        before / 1024
    );
}

/// Found in review: PostgreSQL finds an account by more spellings of its email than one
/// lower-casing (fullwidth letters, for one), while failed sign-ins were counted per lower-cased
/// spelling, so each spelling had 10 guesses of its own. They are counted per account now.
#[tokio::test]
async fn failed_sign_ins_count_for_the_account_whatever_spelling_found_it() {
    let server = TestServer::start().await;
    server
        .add_user("owner@example.com", Role::Owner, "alpha")
        .await;
    let spelling = "ｏwner@example.com";
    let fresh = client_from("127.0.4.1");
    match login(&server, &fresh, spelling, PASSWORD).await {
        StatusCode::OK => {
            assert_eq!(
                crate::common::Backend::under_test(),
                crate::common::Backend::Postgres
            );
            for i in 0..10 {
                let client = client_from(&format!("127.0.5.{}", i + 1));
                assert_eq!(
                    login(&server, &client, spelling, "guess").await,
                    StatusCode::UNAUTHORIZED
                );
            }
            let failed_before = client_from("127.0.5.1");
            assert_eq!(
                login(&server, &failed_before, "owner@example.com", "guess").await,
                StatusCode::TOO_MANY_REQUESTS,
                "ten failures through another spelling count for the account"
            );
        }
        // SQLite's NOCASE folds ASCII only: that spelling is no account there.
        status => {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                crate::common::Backend::under_test(),
                crate::common::Backend::Sqlite
            );
        }
    }
    // An email no account can have (a NUL byte, which PostgreSQL cannot even compare) is a failed
    // sign-in like any other, not a server error.
    let odd = client_from("127.0.4.2");
    assert_eq!(
        login(&server, &odd, "own\u{0}er@example.com", "guess").await,
        StatusCode::UNAUTHORIZED
    );
}
