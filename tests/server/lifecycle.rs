//! The life of a key over real HTTP, authenticated in every header style real services use.

use std::time::Duration;

use base64::Engine as _;
use keywarden::api::{
    AuditPage, CreateKeyRequest, KeyInfo, KeyPage, KeyStatus, MeResponse, Role, RotatedKey,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestServer;

/// The ways a service may send a key, as (header name, value for `key`).
fn header_styles(key: &str) -> Vec<(&'static str, String)> {
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        ("Authorization", format!("Bearer {key}")),
        ("X-API-Key", key.to_string()),
        ("x-custom-api-key", key.to_string()),
        ("X-Authorization", format!("ApiKey {key}")),
        ("Authentication", format!("bearer {key}")),
        ("Authorization", format!("Basic {key}")),
        ("Authorization", format!("Basic {}", b64(format!(":{key}")))),
        (
            "Authorization",
            format!("Basic {}", b64(format!("ignored-user:{key}"))),
        ),
    ]
}

async fn ping(server: &TestServer, header: &str, value: &str) -> (StatusCode, serde_json::Value) {
    let response = server
        .http
        .get(server.url("/v1/ping"))
        .header(header, value)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let has_challenge = response.headers().contains_key("www-authenticate");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        has_challenge,
        status == StatusCode::UNAUTHORIZED,
        "WWW-Authenticate exactly on 401"
    );
    (status, body)
}

#[tokio::test]
async fn full_lifecycle_in_every_header_style() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;

    for (index, (header, _)) in header_styles("x").into_iter().enumerate() {
        let style = |key: &str| header_styles(key)[index].1.clone();
        let created = server
            .create_key(&session, &format!("service {index}"))
            .await;
        let key = created.secret.expose().to_string();
        let id = created.key.id;
        assert_eq!(created.key.status, KeyStatus::Active);

        let (status, body) = ping(&server, header, &style(&key)).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("pong")),
            "{header} style {index}"
        );
        let me: MeResponse = server
            .http
            .get(server.url("/v1/me"))
            .header(header, style(&key))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me.key_id, Some(id));
        assert_eq!(me.role, Role::Member);

        let (status, body) = server
            .call(
                Method::PATCH,
                &format!("/v1/keys/{id}"),
                &session,
                Some(json!({"enabled": false})),
            )
            .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("disabled"))
        );
        let (status, body) = ping(&server, header, &style(&key)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("disabled_key")),
            "style {index}"
        );

        let (status, _) = server
            .call(
                Method::PATCH,
                &format!("/v1/keys/{id}"),
                &session,
                Some(json!({"enabled": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ping(&server, header, &style(&key)).await.0, StatusCode::OK);

        let (status, body) = server
            .call(
                Method::POST,
                &format!("/v1/keys/{id}/rotate"),
                &session,
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let rotated: RotatedKey = serde_json::from_value(body).unwrap();
        assert_eq!(rotated.replaces, id);
        assert_eq!(rotated.key.name, format!("service {index}"));
        assert_eq!(rotated.key.replaces, Some(id));
        let new_key = rotated.secret.expose().to_string();
        assert_ne!(new_key, key);
        let (status, body) = ping(&server, header, &style(&key)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("revoked_key"))
        );
        assert_eq!(
            ping(&server, header, &style(&new_key)).await.0,
            StatusCode::OK
        );

        let new_id = rotated.key.id;
        let (status, body) = server
            .call(
                Method::POST,
                &format!("/v1/keys/{new_id}/revoke"),
                &session,
                None,
            )
            .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("revoked"))
        );
        let (status, body) = ping(&server, header, &style(&new_key)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("revoked_key"))
        );
        // Revoke is idempotent.
        let (status, again) = server
            .call(
                Method::POST,
                &format!("/v1/keys/{new_id}/revoke"),
                &session,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            again["revoked_at"],
            body_revoked_at(&server, &session, new_id).await
        );

        let (status, body) = server
            .call(
                Method::DELETE,
                &format!("/v1/keys/{new_id}"),
                &session,
                None,
            )
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::NO_CONTENT, serde_json::Value::Null)
        );
        let (status, _) = server
            .call(Method::GET, &format!("/v1/keys/{new_id}"), &session, None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = ping(&server, header, &style(&new_key)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_credential"))
        );
    }
}

async fn body_revoked_at(server: &TestServer, session: &str, id: i64) -> serde_json::Value {
    server
        .call(Method::GET, &format!("/v1/keys/{id}"), session, None)
        .await
        .1["revoked_at"]
        .clone()
}

#[tokio::test]
async fn the_secret_is_shown_once_and_stored_only_as_a_hash() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let created = server.create_key(&session, "once").await;
    let secret = created.secret.expose().to_string();
    assert!(
        created.key.hint.starts_with(&secret[..7])
            && created.key.hint.ends_with(&secret[secret.len() - 4..])
    );

    let (_, one) = server
        .call(
            Method::GET,
            &format!("/v1/keys/{}", created.key.id),
            &session,
            None,
        )
        .await;
    let (_, list) = server.call(Method::GET, "/v1/keys", &session, None).await;
    let (_, audit) = server.call(Method::GET, "/v1/audit", &session, None).await;
    for body in [&one, &list, &audit] {
        assert!(
            !body.to_string().contains(&secret[3..]),
            "secret leaked in {body}"
        );
    }
    // Nothing in the database files holds the key or the session token.
    for entry in std::fs::read_dir(server.dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&secret[3..]), "key found in a database file");
        assert!(
            !text.contains(&session[4..]),
            "session token found in a database file"
        );
    }
}

#[tokio::test]
async fn rotation_with_grace_keeps_the_old_key_working_until_then() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let old = server
        .create_key_with(
            &session,
            CreateKeyRequest {
                name: "grace".into(),
                description: Some("with scopes".into()),
                expires_in_days: Some(90),
                scopes: Some(vec!["read".into(), "write".into()]),
                ..Default::default()
            },
        )
        .await;
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/rotate", old.key.id),
            &session,
            Some(json!({"grace_seconds": 2, "expires_in_days": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let rotated: RotatedKey = serde_json::from_value(body).unwrap();
    assert_eq!(rotated.key.scopes, vec!["read", "write"]);
    assert_eq!(rotated.key.description, "with scopes");
    assert!((rotated.key.expires_at - rotated.key.created_at).num_days() == 30);

    // Found: a key made with an expiry the client computed (its clock a little behind the
    // server's) lived 29.99 days, and its renewal without an expiry got 29: a day less each time.
    let made_by_a_client = server
        .create_key_with(
            &session,
            CreateKeyRequest {
                name: "client clock".into(),
                expires_at: Some(chrono::Utc::now() + chrono::Duration::days(30)),
                ..Default::default()
            },
        )
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/rotate", made_by_a_client.key.id),
            &session,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let renewed: RotatedKey = serde_json::from_value(body).unwrap();
    assert_eq!(
        (renewed.key.expires_at - renewed.key.created_at).num_days(),
        30,
        "the renewal keeps the old key's 30 days"
    );

    let old_key = old.secret.expose();
    assert_eq!(
        ping(&server, "X-API-Key", old_key).await.0,
        StatusCode::OK,
        "old key works during the grace period"
    );
    let (_, info) = server
        .call(
            Method::GET,
            &format!("/v1/keys/{}", old.key.id),
            &session,
            None,
        )
        .await;
    assert_eq!(info["status"], "active");
    assert!(
        info["revoked_at"].is_string(),
        "the revocation is scheduled and visible"
    );
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/rotate", old.key.id),
            &session,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "no second rotation"
    );

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (status, body) = ping(&server, "X-API-Key", old_key).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("revoked_key"))
    );
    assert_eq!(
        ping(&server, "X-API-Key", rotated.secret.expose()).await.0,
        StatusCode::OK
    );
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/rotate", old.key.id),
            &session,
            Some(json!({"grace_seconds": 604801})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn list_filters_searches_and_pages() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let created = server
            .create_key_with(
                &session,
                CreateKeyRequest {
                    name: format!("key {i}"),
                    description: Some(if i % 2 == 0 {
                        "billing api".into()
                    } else {
                        "maps".into()
                    }),
                    expires_in_days: Some(10),
                    ..Default::default()
                },
            )
            .await;
        ids.push(created.key.id);
    }
    server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/revoke", ids[0]),
            &session,
            None,
        )
        .await;
    server
        .call(
            Method::PATCH,
            &format!("/v1/keys/{}", ids[1]),
            &session,
            Some(json!({"enabled": false})),
        )
        .await;

    let page = |query: &str| {
        let path = format!("/v1/keys{query}");
        let server = &server;
        let session = &session;
        async move {
            let (status, body) = server.call(Method::GET, &path, session, None).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            serde_json::from_value::<KeyPage>(body).unwrap()
        }
    };
    let all = page("").await;
    assert_eq!(all.items.len(), 7, "revoked keys stay listed");
    assert!(
        all.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    assert_eq!(
        page("?status=revoked")
            .await
            .items
            .iter()
            .map(|k| k.id)
            .collect::<Vec<_>>(),
        vec![ids[0]]
    );
    assert_eq!(
        page("?status=disabled")
            .await
            .items
            .iter()
            .map(|k| k.id)
            .collect::<Vec<_>>(),
        vec![ids[1]]
    );
    assert_eq!(page("?status=active").await.items.len(), 5);
    assert_eq!(page("?status=expired").await.items.len(), 0);
    assert_eq!(page("?q=billing").await.items.len(), 4);
    assert_eq!(
        page("?q=KEY%203").await.items.len(),
        1,
        "search is case-insensitive over the name"
    );
    assert_eq!(page("?q=%25").await.items.len(), 0, "wildcards are literal");

    let mut seen: Vec<KeyInfo> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=3&cursor={c}"),
            None => "?limit=3".to_string(),
        };
        let next = page(&query).await;
        assert!(next.items.len() <= 3);
        seen.extend(next.items);
        match next.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen.iter().map(|k| k.id).collect::<Vec<_>>(),
        all.items.iter().map(|k| k.id).collect::<Vec<_>>()
    );

    for bad in [
        "?limit=0",
        "?limit=1001",
        "?cursor=abc",
        "?status=bogus",
        "?color=red",
    ] {
        let (status, body) = server
            .call(Method::GET, &format!("/v1/keys{bad}"), &session, None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}

#[tokio::test]
async fn last_used_is_recorded_at_most_once_a_minute() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let created = server.create_key(&session, "used").await;
    assert!(created.key.last_used_at.is_none());
    assert_eq!(
        ping(&server, "X-API-Key", created.secret.expose()).await.0,
        StatusCode::OK
    );
    let path = format!("/v1/keys/{}", created.key.id);
    let mut first = serde_json::Value::Null;
    for _ in 0..50 {
        first = server.call(Method::GET, &path, &session, None).await.1["last_used_at"].clone();
        if first.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(first.is_string(), "last_used_at was recorded");
    for _ in 0..5 {
        assert_eq!(
            ping(&server, "X-API-Key", created.secret.expose()).await.0,
            StatusCode::OK
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = server.call(Method::GET, &path, &session, None).await.1["last_used_at"].clone();
    assert_eq!(first, second, "no second write within a minute");
}

#[tokio::test]
async fn audit_trail_records_who_did_what_from_where() {
    let server = TestServer::start().await;
    let (user, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let created = server.create_key(&session, "audited").await;
    let id = created.key.id;
    server
        .call(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            &session,
            Some(json!({"name": "renamed"})),
        )
        .await;
    server
        .call(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            &session,
            Some(json!({"enabled": false})),
        )
        .await;
    server
        .call(
            Method::PATCH,
            &format!("/v1/keys/{id}"),
            &session,
            Some(json!({"enabled": true})),
        )
        .await;
    let (_, rotated) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{id}/rotate"),
            &session,
            Some(json!({})),
        )
        .await;
    let new_id = rotated["key"]["id"].as_i64().unwrap();
    server
        .call(
            Method::POST,
            &format!("/v1/keys/{new_id}/revoke"),
            &session,
            None,
        )
        .await;
    server
        .call(
            Method::DELETE,
            &format!("/v1/keys/{new_id}"),
            &session,
            None,
        )
        .await;

    let (status, body) = server.call(Method::GET, "/v1/audit", &session, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut page: AuditPage = serde_json::from_value(body).unwrap();
    // The account was made on the server's machine: no actor, the user as its subject.
    let made = page.items.pop().unwrap();
    assert_eq!(
        (
            made.action.as_str(),
            made.actor_user_id,
            made.subject_user_id
        ),
        ("user_created", None, Some(user.id))
    );
    let actions: Vec<&str> = page.items.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "login", "created", "updated", "disabled", "enabled", "rotated", "created", "revoked",
            "deleted"
        ]
    );
    assert!(page.items.iter().all(|e| e.actor_user_id == Some(user.id)));
    assert!(
        page.items
            .iter()
            .all(|e| e.ip.as_deref() == Some("127.0.0.1")),
        "{:?}",
        page.items
    );
    assert_eq!(
        page.items[0].key_name.as_deref(),
        Some("renamed"),
        "the deleted key's name is kept"
    );

    let (_, body) = server
        .call(
            Method::GET,
            &format!("/v1/audit?key_id={id}"),
            &session,
            None,
        )
        .await;
    let page: AuditPage = serde_json::from_value(body).unwrap();
    let actions: Vec<&str> = page.items.iter().rev().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["created", "updated", "disabled", "enabled", "rotated"]
    );
    let (_, body) = server
        .call(Method::GET, "/v1/audit?limit=2", &session, None)
        .await;
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert!(body["next_cursor"].is_string());
}

/// Found on an earlier server: the trail missed accounts, roles, memberships, workspaces, logouts
/// and failed sign-ins, and did not say which key a change was made with.
#[tokio::test]
async fn the_audit_trail_covers_accounts_memberships_and_keys() {
    let server = TestServer::start().await;
    let (owner, owner_session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let alpha = owner.default_workspace_id;
    let owner_call = |method: Method, path: String, body: Option<serde_json::Value>| {
        let server = &server;
        let session = owner_session.clone();
        async move { server.call(method, &path, &session, body).await }
    };
    let (status, workspace) = owner_call(
        Method::POST,
        "/v1/workspaces".into(),
        Some(json!({"name": "beta"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let beta = workspace["id"].as_i64().unwrap();
    let (_, made) = owner_call(
        Method::POST,
        "/v1/users".into(),
        Some(json!({"email": "dev@example.com", "password": crate::common::PASSWORD, "role": "member"})),
    )
    .await;
    let dev = made["id"].as_i64().unwrap();
    let (status, _) = owner_call(
        Method::PUT,
        format!("/v1/workspaces/{alpha}/members/{dev}"),
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = owner_call(
        Method::POST,
        format!("/v1/workspaces/{alpha}/members"),
        Some(json!({"email": "later@example.com", "role": "member"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = owner_call(
        Method::POST,
        format!("/v1/workspaces/{beta}/members"),
        Some(json!({"email": "dev@example.com", "role": "member"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = owner_call(
        Method::DELETE,
        format!("/v1/workspaces/{beta}/members/{dev}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A wrong password, a sign-in and a sign-out of the developer.
    let wrong = server
        .http
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "dev@example.com", "password": "not it at all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let dev_session = server.login("dev@example.com").await;
    server
        .call(Method::POST, "/v1/auth/logout", &dev_session, None)
        .await;
    // A key made to manage revokes another: the trail names that key.
    let manager = server
        .create_key_with(
            &owner_session,
            CreateKeyRequest {
                name: "manager".into(),
                expires_in_days: Some(7),
                scopes: Some(vec!["keywarden:manage".into()]),
                ..Default::default()
            },
        )
        .await;
    let victim = server.create_key(&owner_session, "victim").await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/revoke", victim.key.id),
            manager.secret.expose(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let events = |workspace: i64| {
        let server = &server;
        let session = owner_session.clone();
        async move {
            let (_, body) = server
                .call(
                    Method::GET,
                    &format!("/v1/audit?workspace_id={workspace}"),
                    &session,
                    None,
                )
                .await;
            let page: AuditPage = serde_json::from_value(body).unwrap();
            page.items
        }
    };
    let alpha_events = events(alpha).await;
    let find = |action: &str| {
        alpha_events
            .iter()
            .find(|e| e.action.as_str() == action)
            .unwrap_or_else(|| panic!("no {action} event in {alpha_events:?}"))
            .clone()
    };
    let created = find("user_created");
    assert_eq!(
        (created.actor_user_id, created.subject_user_id),
        (Some(owner.id), Some(dev))
    );
    let changed = find("role_changed");
    assert_eq!(
        (changed.subject_user_id, changed.role),
        (Some(dev), Some(Role::Viewer))
    );
    assert_eq!(find("invited").role, Some(Role::Member));
    let failed = find("login_failed");
    assert_eq!(
        (failed.subject_user_id, failed.ip.as_deref()),
        (Some(dev), Some("127.0.0.1"))
    );
    assert_eq!(find("logout").subject_user_id, Some(dev));
    let revoked = find("revoked");
    assert_eq!(
        (revoked.actor_user_id, revoked.actor_key_id),
        (Some(owner.id), Some(manager.key.id))
    );
    let beta_events: Vec<String> = events(beta)
        .await
        .iter()
        .rev()
        .map(|e| e.action.as_str().to_string())
        .collect();
    assert_eq!(
        beta_events,
        ["workspace_created", "member_added", "member_removed"]
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("dev@example.com", Role::Member, "default")
        .await;
    let (status, _) = server
        .call(Method::POST, "/v1/auth/logout", &session, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server.call(Method::GET, "/v1/ping", &session, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credential"))
    );
}
