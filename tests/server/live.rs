//! The key-list revision an open app polls to learn, cheaply, that its list changed elsewhere.

use keywarden::api::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestServer;

async fn revision(server: &TestServer, token: &str) -> i64 {
    let (status, body) = server
        .call(Method::GET, "/v1/keys/revision", token, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["revision"].as_i64().expect("a number")
}

/// Every change to the keys a caller sees moves its revision; a change to keys it cannot see
/// leaves a member's alone (an administrator sees the whole workspace).
#[tokio::test]
async fn the_revision_moves_with_every_change_the_caller_can_see() {
    let server = TestServer::start().await;
    let (_, alice) = server
        .user_with_session("alice@example.com", Role::Member, "team")
        .await;
    let (_, bob) = server
        .user_with_session("bob@example.com", Role::Member, "team")
        .await;
    let (_, admin) = server
        .user_with_session("admin@example.com", Role::Admin, "team")
        .await;
    let (mut mine, bobs, mut admins) = (
        revision(&server, &alice).await,
        revision(&server, &bob).await,
        revision(&server, &admin).await,
    );
    assert_eq!(revision(&server, &alice).await, mine, "nothing changed");

    let key = server.create_key(&alice, "billing").await;
    let id = key.key.id;
    let path = format!("/v1/keys/{id}");
    let changes: [(Method, String, Option<serde_json::Value>); 4] = [
        (Method::POST, "/v1/keys".into(), None),
        (Method::PATCH, path.clone(), Some(json!({"enabled": false}))),
        (Method::POST, format!("{path}/revoke"), None),
        (Method::DELETE, path.clone(), None),
    ];
    for (step, (method, path, body)) in changes.into_iter().enumerate() {
        if step > 0 {
            let (status, answer) = server.call(method, &path, &alice, body).await;
            assert!(status.is_success(), "{path}: {status} {answer}");
        }
        let (now_mine, now_admins) = (
            revision(&server, &alice).await,
            revision(&server, &admin).await,
        );
        assert_ne!(
            now_mine, mine,
            "step {step} ({path}) moves the owner's revision"
        );
        assert_ne!(now_admins, admins, "and the administrator's");
        assert_eq!(
            revision(&server, &bob).await,
            bobs,
            "another member's list did not change"
        );
        (mine, admins) = (now_mine, now_admins);
    }

    let (status, _) = server
        .call(Method::GET, "/v1/keys/revision", "kws_not_a_session", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
