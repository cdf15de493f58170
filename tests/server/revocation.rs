//! Revocation under concurrent load: no request sent after the revoke response succeeds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use keywarden::api::Role;
use reqwest::{Method, StatusCode};

use crate::common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_request_succeeds_after_revoke_has_responded() {
    let server = Arc::new(TestServer::start().await);
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let created = server.create_key(&session, "under load").await;
    let key = created.secret.expose().to_string();
    let stop = Arc::new(AtomicBool::new(false));

    let mut workers = Vec::new();
    for _ in 0..16 {
        let server = server.clone();
        let key = key.clone();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            // (sent at, status) for every request this worker made.
            let mut log = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let response = server
                    .http
                    .get(server.url("/v1/ping"))
                    .header("X-API-Key", &key)
                    .send()
                    .await
                    .unwrap();
                log.push((sent, response.status()));
            }
            log
        }));
    }

    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/revoke", created.key.id),
            &session,
            None,
        )
        .await;
    let revoked_at = Instant::now();
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::Relaxed);

    let mut before_ok = 0;
    let mut after = 0;
    for worker in workers {
        for (sent, status) in worker.await.unwrap() {
            if sent > revoked_at {
                after += 1;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "a request sent after the revoke response succeeded"
                );
            } else if status == StatusCode::OK {
                before_ok += 1;
            }
        }
    }
    assert!(
        before_ok > 50,
        "the load was real before the revoke ({before_ok} successes)"
    );
    assert!(
        after > 50,
        "the load went on after the revoke ({after} requests)"
    );
}
