//! Every status code the contract names, each from the situation that causes it.

use chrono::{Duration, Utc};
use keywarden::api::{CreateKeyRequest, Role, VerifyResponse};
use keywarden::key::{self, TokenKind};
use keywarden::server::store::{AuditContext, NewKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestServer;

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.len() > 5),
        "a sentence: {body}"
    );
}

/// A key straight into the database, for states the API refuses to create (already expired).
async fn insert_key(
    server: &TestServer,
    user_id: i64,
    workspace_id: i64,
    expires_in: Duration,
) -> String {
    let secret = key::generate(TokenKind::ApiKey);
    let now = Utc::now();
    let new = NewKey {
        hash: key::hash(secret.expose()),
        hint: key::display_hint(secret.expose()),
        name: "inserted".into(),
        description: String::new(),
        workspace_id,
        user_id,
        created_at: now - Duration::days(30),
        expires_at: now + expires_in,
        scopes: vec![],
        replaces: None,
    };
    let audit = AuditContext {
        actor_user_id: Some(user_id),
        actor_key_id: None,
        ip: None,
        at: now,
    };
    server.store.insert_key(new, audit).await.unwrap();
    secret.expose().to_string()
}

#[tokio::test]
async fn unauthorized_says_why() {
    let server = TestServer::start().await;
    let (user, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let expired = insert_key(
        &server,
        user.id,
        user.default_workspace_id,
        Duration::seconds(-1),
    )
    .await;
    let unknown = key::generate(TokenKind::ApiKey);
    let mut typo = unknown.expose().to_string();
    typo.replace_range(5..6, if &typo[5..6] == "a" { "b" } else { "a" });

    let cases = [
        (expired.as_str(), "expired_key"),
        (unknown.expose(), "invalid_credential"),
        (typo.as_str(), "malformed_credential"),
        ("kw_short", "malformed_credential"),
    ];
    for (credential, code) in cases {
        let (status, body) = server.call(Method::GET, "/v1/ping", credential, None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, code);
        assert!(
            !body.to_string().contains(&credential[3..]),
            "the credential is not echoed"
        );
    }

    // An expired session.
    let token = key::generate(TokenKind::Session);
    let audit = AuditContext {
        actor_user_id: Some(user.id),
        actor_key_id: None,
        ip: None,
        at: Utc::now() - Duration::hours(13),
    };
    server
        .store
        .create_session(
            key::hash(token.expose()),
            user.id,
            Utc::now() - Duration::hours(1),
            audit,
        )
        .await
        .unwrap();
    let (status, body) = server
        .call(Method::GET, "/v1/ping", token.expose(), None)
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "session_expired");
    assert_eq!(
        server.call(Method::GET, "/v1/ping", &session, None).await.0,
        StatusCode::OK
    );

    let (status, body) = server
        .call(
            Method::POST,
            "/v1/auth/login",
            "",
            Some(json!({"email": "dev@example.com", "password": "wrong password"})),
        )
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_login");
}

#[tokio::test]
async fn invalid_input_is_422_naming_the_field() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let in_400_days = (Utc::now() + Duration::days(400)).to_rfc3339();
    let yesterday = (Utc::now() - Duration::days(1)).to_rfc3339();
    let cases = [
        (json!({"name": "", "expires_in_days": 30}), "name"),
        (
            json!({"name": "x".repeat(101), "expires_in_days": 30}),
            "name",
        ),
        (
            json!({"name": "ok", "description": "d".repeat(501), "expires_in_days": 30}),
            "description",
        ),
        (json!({"name": "ok"}), "expires_in_days"),
        (
            json!({"name": "ok", "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"name": "ok", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "ok", "expires_at": in_400_days}),
            "expires_at",
        ),
        (json!({"name": "ok", "expires_at": yesterday}), "expires_at"),
        (
            json!({"name": "ok", "expires_in_days": 3, "expires_at": in_400_days}),
            "expires_at",
        ),
        (
            json!({"name": "ok", "expires_in_days": 3, "scopes": ["has space"]}),
            "scopes",
        ),
        (
            json!({"name": "ok", "expires_in_days": "soon"}),
            "expires_in_days",
        ),
        (
            json!({"name": "ok", "expires_in_days": 3, "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let (status, response) = server
            .call(Method::POST, "/v1/keys", &session, Some(body.clone()))
            .await;
        assert_error(
            status,
            &response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        );
        assert!(
            response["error"].as_str().unwrap().contains(field),
            "{body} -> {response}"
        );
    }

    let created = server.create_key(&session, "patchable").await;
    let path = format!("/v1/keys/{}", created.key.id);
    for (body, field) in [
        (json!({"expires_at": in_400_days}), "expires_at"),
        (json!({"scopes": ["a"]}), "scopes"),
        (json!({"name": ""}), "name"),
        (json!({"enabled": "yes"}), "enabled"),
    ] {
        let (status, response) = server
            .call(Method::PATCH, &path, &session, Some(body.clone()))
            .await;
        assert_error(
            status,
            &response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        );
        assert!(
            response["error"].as_str().unwrap().contains(field),
            "{body} -> {response}"
        );
    }
    // Nothing was half-changed by the refused requests.
    let (_, after) = server.call(Method::GET, &path, &session, None).await;
    assert_eq!(after["name"], "patchable");
    assert_eq!(
        after["expires_at"],
        serde_json::to_value(created.key.expires_at).unwrap()
    );
}

#[tokio::test]
async fn server_policy_can_lower_the_maximum_lifetime() {
    let config = keywarden::server::ServerConfig {
        max_key_days: 90,
        ..Default::default()
    };
    let server = TestServer::start_with(config).await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/keys",
            &session,
            Some(json!({"name": "n", "expires_in_days": 91})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    );
    assert!(body["error"].as_str().unwrap().contains("90"));
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/keys",
            &session,
            Some(json!({"name": "n", "expires_in_days": 90})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn conflicts_and_not_found() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let created = server.create_key(&session, "c").await;
    let id = created.key.id;
    server
        .call(
            Method::POST,
            &format!("/v1/keys/{id}/revoke"),
            &session,
            None,
        )
        .await;
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{id}/rotate"),
            &session,
            Some(json!({})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = server
        .call(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            &session,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    for (method, path) in [
        (Method::GET, "/v1/keys/999999"),
        (Method::POST, "/v1/keys/999999/revoke"),
        (Method::DELETE, "/v1/keys/999999"),
        (Method::GET, "/v1/keys/not-a-number"),
    ] {
        let (status, body) = server.call(method, path, &session, None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/users",
            "",
            Some(json!({"email": "x@y", "password": "long enough"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "malformed_credential",
    );
}

#[tokio::test]
async fn an_expired_key_can_still_be_renewed_by_rotation() {
    let server = TestServer::start().await;
    let (user, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let expired = insert_key(
        &server,
        user.id,
        user.default_workspace_id,
        Duration::seconds(-5),
    )
    .await;
    let (_, list) = server
        .call(Method::GET, "/v1/keys?status=expired", &session, None)
        .await;
    let id = list["items"][0]["id"].as_i64().unwrap();
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{id}/rotate"),
            &session,
            Some(json!({"grace_seconds": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let new_key = body["secret"].as_str().unwrap().to_string();
    assert_eq!(
        server.call(Method::GET, "/v1/ping", &new_key, None).await.0,
        StatusCode::OK
    );
    let (_, old) = server
        .call(Method::GET, &format!("/v1/keys/{id}"), &session, None)
        .await;
    assert_eq!(
        old["status"], "revoked",
        "an expired key's grace is never past its expiry"
    );
    assert_eq!(
        server.call(Method::GET, "/v1/ping", &expired, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn verify_reports_every_code() {
    let server = TestServer::start().await;
    let (admin, admin_session) = server
        .user_with_session("admin@example.com", Role::Admin, "default")
        .await;
    let (_, member_session) = server
        .user_with_session("member@example.com", Role::Member, "default")
        .await;
    let (_, other_session) = server
        .user_with_session("other@example.com", Role::Admin, "elsewhere")
        .await;

    let verify = |credential: String, key: String| {
        let server = &server;
        async move {
            server
                .call(
                    Method::POST,
                    "/v1/verify",
                    &credential,
                    Some(json!({"key": key})),
                )
                .await
        }
    };
    let valid = server
        .create_key_with(
            &member_session,
            keywarden::api::CreateKeyRequest {
                name: "scoped".into(),
                expires_in_days: Some(5),
                scopes: Some(vec!["orders:read".into()]),
                ..Default::default()
            },
        )
        .await;
    let (status, body) = verify(admin_session.clone(), valid.secret.expose().to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let response: VerifyResponse = serde_json::from_value(body).unwrap();
    assert!(response.valid);
    assert_eq!(response.code, keywarden::api::VerifyCode::Valid);
    assert_eq!(response.key_id, Some(valid.key.id));
    assert_eq!(response.scopes, Some(vec!["orders:read".to_string()]));
    assert_eq!(response.workspace_id, Some(admin.default_workspace_id));

    // An admin's API key may verify too: that is how a service calls it.
    let admin_key = server.create_key(&admin_session, "gatekeeper").await;
    let (_, body) = verify(
        admin_key.secret.expose().to_string(),
        valid.secret.expose().to_string(),
    )
    .await;
    assert_eq!(body["code"], "VALID");

    let disabled = server.create_key(&member_session, "disabled").await;
    server
        .call(
            Method::PATCH,
            &format!("/v1/keys/{}", disabled.key.id),
            &member_session,
            Some(json!({"enabled": false})),
        )
        .await;
    let revoked = server.create_key(&member_session, "revoked").await;
    server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/revoke", revoked.key.id),
            &member_session,
            None,
        )
        .await;
    let expired = insert_key(
        &server,
        admin.id,
        admin.default_workspace_id,
        Duration::seconds(-1),
    )
    .await;
    let foreign = server.create_key(&other_session, "foreign").await;
    let cases = [
        (disabled.secret.expose().to_string(), "DISABLED"),
        (revoked.secret.expose().to_string(), "REVOKED"),
        (expired, "EXPIRED"),
        ("kw_garbage".to_string(), "MALFORMED"),
        (
            key::generate(TokenKind::ApiKey).expose().to_string(),
            "NOT_FOUND",
        ),
        (foreign.secret.expose().to_string(), "NOT_FOUND"),
    ];
    for (key, code) in cases {
        let (status, body) = verify(admin_session.clone(), key).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (body["valid"].as_bool(), body["code"].as_str()),
            (Some(false), Some(code)),
            "{body}"
        );
    }
    let (status, body) = verify(member_session.clone(), valid.secret.expose().to_string()).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn a_demoted_users_keys_lose_rights_at_once() {
    let server = TestServer::start().await;
    let (_, admin_session) = server
        .user_with_session("admin@example.com", Role::Admin, "default")
        .await;
    let (member, member_session) = server
        .user_with_session("member@example.com", Role::Member, "default")
        .await;
    let key = server
        .create_key_with(
            &member_session,
            CreateKeyRequest {
                name: "mine".into(),
                expires_in_days: Some(30),
                scopes: Some(vec!["keywarden:manage".into()]),
                ..Default::default()
            },
        )
        .await;
    let key = key.secret.expose().to_string();
    let create = json!({"name": "more", "expires_in_days": 3});
    assert_eq!(
        server
            .call(Method::POST, "/v1/keys", &key, Some(create.clone()))
            .await
            .0,
        StatusCode::CREATED
    );

    let membership = format!(
        "/v1/workspaces/{}/members/{}",
        member.default_workspace_id, member.id
    );
    let (status, body) = server
        .call(
            Method::PUT,
            &membership,
            &admin_session,
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(
        (status, body["role"].as_str()),
        (StatusCode::OK, Some("viewer"))
    );
    let (status, body) = server
        .call(Method::POST, "/v1/keys", &key, Some(create.clone()))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        server.call(Method::GET, "/v1/ping", &key, None).await.0,
        StatusCode::OK,
        "a viewer may still ping"
    );

    let (status, _) = server
        .call(Method::DELETE, &membership, &admin_session, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server.call(Method::GET, "/v1/ping", &key, None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = server
        .call(
            Method::PUT,
            &membership,
            &admin_session,
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    );
}

#[tokio::test]
async fn a_second_server_process_on_the_same_database_sees_a_revoke() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let created = server.create_key(&session, "shared").await;
    let key = created.secret.expose().to_string();
    assert_eq!(
        server.call(Method::GET, "/v1/ping", &key, None).await.0,
        StatusCode::OK,
        "now cached on server A"
    );

    // Server B: another store and server on the same file, as the command line runs beside the app.
    let store_b = keywarden::server::open_store(&server.database_url())
        .await
        .unwrap();
    let server_b = keywarden::server::spawn_local(store_b, Default::default())
        .await
        .unwrap();
    let response = server
        .http
        .post(format!(
            "{}/v1/keys/{}/revoke",
            server_b.base_url(),
            created.key.id
        ))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let status = server.call(Method::GET, "/v1/ping", &key, None).await.0;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server A still accepts a key revoked on server B"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server_b.shutdown().await.unwrap();
}

/// Found on an earlier server: names took control characters, bidi overrides, NUL and newlines.
#[tokio::test]
async fn control_and_bidi_characters_are_refused_in_names() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let key = server.create_key(&session, "fine").await;
    for bad in [
        "a\u{1b}[2J",
        "nul\0",
        "two\nlines",
        "flip\u{202e}txt",
        "c1\u{9b}",
    ] {
        let cases = [
            (
                Method::POST,
                "/v1/keys".to_string(),
                json!({"name": bad, "expires_in_days": 3}),
                "name",
            ),
            (
                Method::POST,
                "/v1/keys".to_string(),
                json!({"name": "ok", "description": bad, "expires_in_days": 3}),
                "description",
            ),
            (
                Method::PATCH,
                format!("/v1/keys/{}", key.key.id),
                json!({"name": bad}),
                "name",
            ),
            (
                Method::POST,
                "/v1/workspaces".to_string(),
                json!({"name": bad}),
                "name",
            ),
            (
                Method::POST,
                "/v1/users".to_string(),
                json!({"email": format!("{bad}@example.com"), "password": "long enough pw"}),
                "email",
            ),
        ];
        for (method, path, body, field) in cases {
            let (status, response) = server
                .call(method.clone(), &path, &session, Some(body))
                .await;
            assert_error(
                status,
                &response,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
            );
            assert!(
                response["error"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{field}:")),
                "{method} {path} with {bad:?}: {response}"
            );
        }
    }
    let (_, after) = server
        .call(
            Method::GET,
            &format!("/v1/keys/{}", key.key.id),
            &session,
            None,
        )
        .await;
    assert_eq!(after["name"], "fine");
}
