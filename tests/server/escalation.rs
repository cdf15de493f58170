//! Nobody creates a credential that holds more rights than they do; a key never leaves its
//! workspace; a key without the scope `keywarden:manage` only reads and verifies. Each test here
//! began as an attack that worked on an earlier server.

use std::collections::BTreeMap;

use keywarden::api::{CreateKeyRequest, Role};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestServer;

const MANAGE: &str = "keywarden:manage";

fn manage_key(name: &str, user_id: Option<i64>) -> CreateKeyRequest {
    CreateKeyRequest {
        name: name.into(),
        expires_in_days: Some(30),
        user_id,
        scopes: Some(vec![MANAGE.into()]),
        ..Default::default()
    }
}

/// The attack: an admin of `team-b` added the owner to `team-b`, made a key for the owner, and used
/// it as an owner credential; the add-member call also returned the owner's email.
#[tokio::test]
async fn an_admin_cannot_make_an_owner_credential() {
    let server = TestServer::start().await;
    let (owner, owner_session) = server
        .user_with_session("owner@example.com", Role::Owner, "team-a")
        .await;
    let (admin, admin_session) = server
        .user_with_session("admin@example.com", Role::Admin, "team-b")
        .await;
    let team_b = admin.default_workspace_id;

    // Adding the owner by id is refused without naming them; by email it is an invitation that
    // carries no trace of the account.
    let (status, body) = server
        .call(
            Method::PUT,
            &format!("/v1/workspaces/{team_b}/members/{}", owner.id),
            &admin_session,
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(!body.to_string().contains("owner@example.com"), "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/workspaces/{team_b}/members"),
            &admin_session,
            Some(json!({"email": "owner@example.com", "role": "member"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body.get("user_id").is_none(), "{body}");

    // Even once the owner has taken the invitation up (signed in), the admin cannot make a key for
    // them, nor a key for themselves that acts as more than an admin of team-b.
    server.login("owner@example.com").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/keys",
            &admin_session,
            Some(json!({"name": "k", "expires_in_days": 7, "user_id": owner.id})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let own = server
        .create_key_with(&admin_session, manage_key("mine", None))
        .await;
    let own = own.secret.expose().to_string();
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/users".to_string(),
            Some(json!({"email": "new@x", "password": "long enough pw", "role": "owner"})),
        ),
        (
            Method::POST,
            "/v1/workspaces".to_string(),
            Some(json!({"name": "mine now"})),
        ),
        (
            Method::GET,
            format!("/v1/workspaces/{}/members", owner.default_workspace_id),
            None,
        ),
    ] {
        let (status, response) = server.call(method.clone(), &path, &own, body).await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
            "{method} {path}: {status} {response}"
        );
    }

    // The owner's keys stay in their own workspace too.
    let owner_key = server
        .create_key_with(&owner_session, manage_key("owner's", None))
        .await;
    let owner_key = owner_key.secret.expose().to_string();
    let victim = server.create_key(&admin_session, "victim").await;
    let (status, _) = server
        .call(
            Method::POST,
            &format!("/v1/keys/{}/revoke", victim.key.id),
            &owner_key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, workspaces) = server
        .call(Method::GET, "/v1/workspaces", &owner_key, None)
        .await;
    assert_eq!(workspaces.as_array().map(Vec::len), Some(1), "{workspaces}");
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/users",
            &owner_key,
            Some(json!({"email": "o2@x", "password": "long enough pw", "role": "owner"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "owners are made with a session"
    );
}

/// Adding by email answers the same whether or not the email has an account elsewhere; the
/// invitation becomes a membership when the account signs in.
#[tokio::test]
async fn adding_a_member_reveals_no_user() {
    let server = TestServer::start().await;
    let (_, admin_session) = server
        .user_with_session("admin@example.com", Role::Admin, "alpha")
        .await;
    let elsewhere = server
        .add_user("elsewhere@example.com", Role::Member, "beta")
        .await;
    let alpha = server
        .call(Method::GET, "/v1/me", &admin_session, None)
        .await
        .1["workspace_id"]
        .as_i64()
        .unwrap();
    let add = |email: &str| {
        let server = &server;
        let admin_session = admin_session.clone();
        let body = json!({"email": email, "role": "member"});
        async move {
            server
                .call(
                    Method::POST,
                    &format!("/v1/workspaces/{alpha}/members"),
                    &admin_session,
                    Some(body),
                )
                .await
        }
    };
    let (known_status, known) = add("elsewhere@example.com").await;
    let (unknown_status, unknown) = add("nobody@example.com").await;
    assert_eq!(known_status, StatusCode::ACCEPTED);
    assert_eq!(unknown_status, known_status);
    let shape = |v: &Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<String>>()
    };
    assert_eq!(shape(&known), shape(&unknown));
    assert_eq!(known["role"], unknown["role"]);

    let (_, members) = server
        .call(
            Method::GET,
            &format!("/v1/workspaces/{alpha}/members"),
            &admin_session,
            None,
        )
        .await;
    assert!(!members.to_string().contains("elsewhere@"), "{members}");
    let (_, invitations) = server
        .call(
            Method::GET,
            &format!("/v1/workspaces/{alpha}/invitations"),
            &admin_session,
            None,
        )
        .await;
    assert_eq!(
        invitations.as_array().map(Vec::len),
        Some(2),
        "{invitations}"
    );

    // The account signs in: now a member, and the invitation is gone.
    server.login("elsewhere@example.com").await;
    let (_, members) = server
        .call(
            Method::GET,
            &format!("/v1/workspaces/{alpha}/members"),
            &admin_session,
            None,
        )
        .await;
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == elsewhere.id && m["role"] == "member"),
        "{members}"
    );
    // An account created later for the other email joins at once.
    server
        .add_user("nobody@example.com", Role::Viewer, "gamma")
        .await;
    let (_, invitations) = server
        .call(
            Method::GET,
            &format!("/v1/workspaces/{alpha}/invitations"),
            &admin_session,
            None,
        )
        .await;
    assert_eq!(invitations, json!([]));
    // A withdrawn invitation is gone; withdrawing again is 404.
    add("late@example.com").await;
    let path = format!("/v1/workspaces/{alpha}/invitations/late@example.com");
    let (status, _) = server
        .call(Method::DELETE, &path, &admin_session, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server
        .call(Method::DELETE, &path, &admin_session, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The attack: a key made with `["read:metrics"]` created a new key and an owner account, and the
/// key it minted outlived it.
#[tokio::test]
async fn a_plain_key_reads_and_verifies_but_cannot_manage() {
    let server = TestServer::start().await;
    let (_, owner_session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let (_, admin_session) = server
        .user_with_session("admin@example.com", Role::Admin, "alpha")
        .await;
    let metrics = server
        .create_key_with(
            &owner_session,
            CreateKeyRequest {
                name: "metrics".into(),
                expires_in_days: Some(30),
                scopes: Some(vec!["read:metrics".into()]),
                ..Default::default()
            },
        )
        .await;
    let key = metrics.secret.expose().to_string();
    for path in ["/v1/ping", "/v1/me", "/v1/keys"] {
        let (status, body) = server.call(Method::GET, path, &key, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, me) = server.call(Method::GET, "/v1/me", &key, None).await;
    assert_eq!(me["manage"], false);
    let refused = [
        (
            Method::POST,
            "/v1/keys".to_string(),
            Some(json!({"name": "successor", "expires_in_days": 30})),
        ),
        (
            Method::POST,
            "/v1/users".to_string(),
            Some(json!({"email": "evil@x", "password": "long enough pw", "role": "owner"})),
        ),
        (
            Method::POST,
            format!("/v1/keys/{}/rotate", metrics.key.id),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/keys/{}/revoke", metrics.key.id),
            None,
        ),
        (Method::GET, "/v1/users".to_string(), None),
        (Method::GET, "/v1/workspaces".to_string(), None),
    ];
    for (method, path, body) in refused {
        let (status, response) = server.call(method.clone(), &path, &key, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {response}");
        assert!(
            response["error"].as_str().unwrap().contains(MANAGE),
            "the refusal says what would be needed: {response}"
        );
    }

    // An admin's plain key verifies, the call services make.
    let admin_plain = server.create_key(&admin_session, "service gate").await;
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/verify",
            admin_plain.secret.expose(),
            Some(json!({"key": key})),
        )
        .await;
    assert_eq!(
        (status, body["valid"].as_bool()),
        (StatusCode::OK, Some(true))
    );

    // A managing key manages, but never mints another managing key; what it mints does not.
    let manager = server
        .create_key_with(&admin_session, manage_key("manager", None))
        .await;
    let manager = manager.secret.expose().to_string();
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/keys",
            &manager,
            Some(json!({"name": "child", "expires_in_days": 3, "scopes": [MANAGE]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, child) = server
        .call(
            Method::POST,
            "/v1/keys",
            &manager,
            Some(json!({"name": "child", "expires_in_days": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    let child = child["secret"].as_str().unwrap().to_string();
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/keys",
            &child,
            Some(json!({"name": "grandchild", "expires_in_days": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Nor does a managing key make an account, a member or a role that could outlive it.
    let (_, me) = server.call(Method::GET, "/v1/me", &manager, None).await;
    let workspace = me["workspace_id"].as_i64().unwrap();
    let member = server
        .add_user("member@example.com", Role::Member, "alpha")
        .await;
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/users".to_string(),
            json!({"email": "backdoor@x", "password": "long enough pw", "role": "admin"}),
        ),
        (
            Method::POST,
            format!("/v1/workspaces/{workspace}/members"),
            json!({"email": "backdoor@x", "role": "admin"}),
        ),
        (
            Method::PUT,
            format!("/v1/workspaces/{workspace}/members/{}", member.id),
            json!({"role": "admin"}),
        ),
    ] {
        let (status, response) = server
            .call(method.clone(), &path, &manager, Some(body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {response}");
        assert!(
            response["error"]
                .as_str()
                .unwrap()
                .contains("needs a session"),
            "{response}"
        );
    }
}

/// A viewer cannot hold a managing key: nobody may give one, the owner included.
#[tokio::test]
async fn a_viewer_cannot_get_a_managing_key() {
    let server = TestServer::start().await;
    let (_, owner_session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let viewer = server
        .add_user("viewer@example.com", Role::Viewer, "alpha")
        .await;
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/keys",
            &owner_session,
            Some(serde_json::to_value(manage_key("v", Some(viewer.id))).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

/// What a credential holds: server-wide or not, whether it manages, and its role per workspace.
#[derive(Debug, Clone)]
struct Rights {
    server_wide: bool,
    manage: bool,
    roles: BTreeMap<i64, Role>,
}

impl Rights {
    fn role_in(&self, workspace: i64) -> Option<Role> {
        if self.server_wide {
            return Some(Role::Owner);
        }
        self.roles.get(&workspace).copied()
    }

    /// Every right `self` holds, `creator` holds too.
    fn within(&self, creator: &Rights) -> bool {
        (!self.server_wide || creator.server_wide)
            && (!self.manage || creator.manage)
            && self
                .roles
                .iter()
                .all(|(&ws, &role)| creator.role_in(ws).is_some_and(|r| r >= role))
    }
}

fn role_of(value: &Value) -> Role {
    Role::parse(value.as_str().unwrap()).unwrap()
}

/// A key's rights, read from the server with the key itself.
async fn key_rights(server: &TestServer, key: &str) -> Rights {
    let (status, me) = server.call(Method::GET, "/v1/me", key, None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    Rights {
        server_wide: false,
        manage: me["manage"].as_bool().unwrap(),
        roles: [(me["workspace_id"].as_i64().unwrap(), role_of(&me["role"]))].into(),
    }
}

/// A session's rights: every membership, or everything for an owner.
async fn session_rights(server: &TestServer, user_id: i64) -> Rights {
    let user = server.store.user(user_id).await.unwrap().unwrap();
    let roles = server
        .store
        .user_workspaces(user_id)
        .await
        .unwrap()
        .into_iter()
        .map(|(w, role)| (w.id, role))
        .collect();
    Rights {
        server_wide: user.owner,
        manage: true,
        roles,
    }
}

struct Creator {
    label: String,
    user_id: i64,
    credential: String,
    rights: Rights,
}

/// The property, over every role pair and every route that makes a credential or grants a role: a
/// request either is refused, or what it made holds no right its creator lacks.
#[tokio::test]
async fn no_credential_above_its_creator() {
    let server = TestServer::start().await;
    let (_, owner_session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let mut users = BTreeMap::new();
    for (name, role) in [
        ("owner", Role::Owner),
        ("admin", Role::Admin),
        ("admin2", Role::Admin),
        ("member", Role::Member),
        ("roamer", Role::Member),
        ("viewer", Role::Viewer),
    ] {
        let user = if name == "owner" {
            server.store.user(1).await.unwrap().unwrap().into()
        } else {
            server
                .add_user(&format!("{name}@example.com"), role, "alpha")
                .await
        };
        users.insert(name, user);
    }
    let alpha = users["owner"].default_workspace_id;
    // The roamer is also a member elsewhere: their rights reach outside alpha.
    let beta = server
        .call(
            Method::POST,
            "/v1/workspaces",
            &owner_session,
            Some(json!({"name": "beta"})),
        )
        .await
        .1["id"]
        .as_i64()
        .unwrap();
    server
        .store
        .set_membership(
            users["roamer"].id,
            beta,
            Role::Admin,
            &keywarden::server::store::AuditContext::system(chrono::Utc::now()),
        )
        .await
        .unwrap();

    let mut creators = Vec::new();
    for name in ["owner", "admin", "member", "viewer"] {
        let user = &users[name];
        let session = server.login(&user.email).await;
        let rights = session_rights(&server, user.id).await;
        let mut credentials = vec![(format!("{name} session"), session.clone(), rights)];
        for (kind, scopes) in [("managing key", vec![MANAGE]), ("plain key", vec![])] {
            let owner_for =
                json!({"name": kind, "expires_in_days": 30, "scopes": scopes, "user_id": user.id});
            let (status, created) = server
                .call(Method::POST, "/v1/keys", &owner_session, Some(owner_for))
                .await;
            if status != StatusCode::CREATED {
                assert_eq!(name, "viewer", "{created}");
                continue;
            }
            let key = created["secret"].as_str().unwrap().to_string();
            let rights = key_rights(&server, &key).await;
            credentials.push((format!("{name} {kind}"), key, rights));
        }
        for (label, credential, rights) in credentials {
            creators.push(Creator {
                label,
                user_id: user.id,
                credential,
                rights,
            });
        }
    }

    let mut made = 0;
    let mut refused = 0;
    for creator in &creators {
        for (subject_name, subject) in &users {
            // A fresh key of the subject to rotate, made by the owner.
            let scopes = if subject_name == &"viewer" {
                json!([])
            } else {
                json!([MANAGE])
            };
            let (_, target) = server
                .call(
                    Method::POST,
                    "/v1/keys",
                    &owner_session,
                    Some(json!({"name": "to rotate", "expires_in_days": 30, "user_id": subject.id, "scopes": scopes})),
                )
                .await;
            let target_id = target["key"]["id"].as_i64().unwrap();
            let attempts: Vec<(&str, Method, String, Value)> = vec![
                (
                    "key",
                    Method::POST,
                    "/v1/keys".into(),
                    json!({"name": "k", "expires_in_days": 3, "user_id": subject.id, "workspace_id": alpha}),
                ),
                (
                    "managing key",
                    Method::POST,
                    "/v1/keys".into(),
                    json!({"name": "k", "expires_in_days": 3, "user_id": subject.id, "workspace_id": alpha, "scopes": [MANAGE]}),
                ),
                (
                    "rotation",
                    Method::POST,
                    format!("/v1/keys/{target_id}/rotate"),
                    json!({"grace_seconds": 60}),
                ),
            ];
            for (what, method, path, body) in attempts {
                let (status, response) = server
                    .call(method, &path, &creator.credential, Some(body))
                    .await;
                if !status.is_success() {
                    assert!(status.is_client_error(), "{status} {response}");
                    refused += 1;
                    continue;
                }
                made += 1;
                let key = response["secret"].as_str().unwrap();
                let rights = key_rights(&server, key).await;
                assert!(
                    rights.within(&creator.rights),
                    "{} made a {what} for {subject_name} holding {rights:?}, more than its own {:?}",
                    creator.label,
                    creator.rights
                );
                // The rule behind the property, spelled out for the admin.
                if creator.rights.role_in(alpha) == Some(Role::Admin)
                    && creator.user_id != subject.id
                {
                    assert!(
                        ["member", "viewer"].contains(subject_name),
                        "{} may not make a {what} for {subject_name}",
                        creator.label
                    );
                }
            }
        }
        // Accounts and roles: what they grant stays within the creator's rights too.
        for role in ["viewer", "member", "admin", "owner"] {
            let email = format!("{}-{role}-{made}@example.com", creator.user_id);
            let (status, response) = server
                .call(
                    Method::POST,
                    "/v1/users",
                    &creator.credential,
                    Some(json!({"email": email, "password": "long enough pw", "role": role, "workspace_id": alpha})),
                )
                .await;
            if !status.is_success() {
                refused += 1;
                continue;
            }
            made += 1;
            let new_user = response["id"].as_i64().unwrap();
            let rights = session_rights(&server, new_user).await;
            assert!(
                rights.within(&creator.rights),
                "{} made a {role} account holding {rights:?}",
                creator.label
            );
        }
        for (subject_name, subject) in &users {
            let (status, _) = server
                .call(
                    Method::PUT,
                    &format!("/v1/workspaces/{alpha}/members/{}", subject.id),
                    &creator.credential,
                    Some(json!({"role": "admin"})),
                )
                .await;
            if status.is_success() {
                assert!(
                    creator.rights.role_in(alpha) >= Some(Role::Admin) && creator.rights.manage,
                    "{} made {subject_name} an admin",
                    creator.label
                );
                assert!(
                    creator.rights.role_in(alpha) == Some(Role::Owner)
                        || !["owner", "admin2"].contains(subject_name),
                    "{} changed the membership of {subject_name}",
                    creator.label
                );
                // Put them back for the next creator.
                let role = if subject_name.starts_with("admin") || *subject_name == "owner" {
                    "admin"
                } else if *subject_name == "viewer" {
                    "viewer"
                } else {
                    "member"
                };
                server
                    .call(
                        Method::PUT,
                        &format!("/v1/workspaces/{alpha}/members/{}", subject.id),
                        &owner_session,
                        Some(json!({"role": role})),
                    )
                    .await;
            }
        }
    }
    assert!(made > 20 && refused > 20, "made {made}, refused {refused}");
}
