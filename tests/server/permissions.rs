//! The permission matrix: each role × own / other user's / other workspace's key × each endpoint,
//! with API keys and sessions as credentials. 404 where a credential may not see, 403 where it may
//! see but not do.

use keywarden::api::{CreateKeyRequest, Role};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::TestServer;

struct Actor {
    role: Role,
    user_id: i64,
    session: String,
    key: String,
    /// A key with the scope `keywarden:manage` (viewers cannot hold one).
    manage_key: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Own,
    SameWorkspace,
    OtherWorkspace,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Credential {
    Session,
    ManageKey,
    Key,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Get,
    Patch,
    Revoke,
    Rotate,
    Delete,
    Audit,
}

const OK: StatusCode = StatusCode::OK;
const NF: StatusCode = StatusCode::NOT_FOUND;
const FB: StatusCode = StatusCode::FORBIDDEN;

fn expected(role: Role, credential: Credential, target: Target, op: Op) -> StatusCode {
    let (success, changes) = match op {
        Op::Rotate => (StatusCode::CREATED, true),
        Op::Delete => (StatusCode::NO_CONTENT, true),
        Op::Patch | Op::Revoke => (OK, true),
        Op::Get | Op::Audit => (OK, false),
    };
    // A key without the scope to manage only reads, whatever it is pointed at.
    if changes && credential == Credential::Key {
        return FB;
    }
    let visible = match (credential, role, target) {
        (_, _, Target::Own) => true,
        // Such a key reads its owner's keys only, and never leaves its workspace.
        (Credential::Key, _, _) => false,
        (Credential::ManageKey, _, Target::OtherWorkspace) => false,
        (_, Role::Owner, _) => true,
        (_, Role::Admin, Target::SameWorkspace) => true,
        _ => false,
    };
    if !visible {
        return NF;
    }
    if changes && role == Role::Viewer {
        return FB;
    }
    success
}

async fn actor(
    server: &TestServer,
    owner_session: &str,
    email: &str,
    role: Role,
    workspace: &str,
) -> Actor {
    let (user, session) = server.user_with_session(email, role, workspace).await;
    // Viewers cannot create keys: an owner creates theirs for them.
    let key = |scopes: Vec<String>| CreateKeyRequest {
        name: format!("{email} credential"),
        expires_in_days: Some(30),
        workspace_id: Some(user.default_workspace_id),
        user_id: Some(user.id),
        scopes: Some(scopes),
        ..Default::default()
    };
    let created = server.create_key_with(owner_session, key(vec![])).await;
    let manage_key = if role == Role::Viewer {
        None
    } else {
        let created = server
            .create_key_with(&session, key(vec!["keywarden:manage".into()]))
            .await;
        Some(created.secret.expose().to_string())
    };
    Actor {
        role,
        user_id: user.id,
        session,
        key: created.secret.expose().to_string(),
        manage_key,
    }
}

#[tokio::test]
async fn role_by_target_by_endpoint() {
    let server = TestServer::start().await;
    let (boss, boss_session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let alpha = boss.default_workspace_id;
    let actors = vec![
        actor(
            &server,
            &boss_session,
            "admin@example.com",
            Role::Admin,
            "alpha",
        )
        .await,
        actor(
            &server,
            &boss_session,
            "member@example.com",
            Role::Member,
            "alpha",
        )
        .await,
        actor(
            &server,
            &boss_session,
            "viewer@example.com",
            Role::Viewer,
            "alpha",
        )
        .await,
        Actor {
            role: Role::Owner,
            user_id: boss.id,
            session: boss_session.clone(),
            key: server
                .create_key(&boss_session, "boss")
                .await
                .secret
                .expose()
                .to_string(),
            manage_key: Some(
                server
                    .create_key_with(
                        &boss_session,
                        CreateKeyRequest {
                            name: "boss manages".into(),
                            expires_in_days: Some(30),
                            scopes: Some(vec!["keywarden:manage".into()]),
                            ..Default::default()
                        },
                    )
                    .await
                    .secret
                    .expose()
                    .to_string(),
            ),
        },
    ];
    let colleague = server
        .add_user("colleague@example.com", Role::Member, "alpha")
        .await;
    let stranger = server
        .add_user("stranger@example.com", Role::Member, "beta")
        .await;

    let mut checked = 0;
    for actor in &actors {
        for kind in [Credential::Session, Credential::ManageKey, Credential::Key] {
            let credential = match kind {
                Credential::Session => &actor.session,
                Credential::ManageKey => match &actor.manage_key {
                    Some(key) => key,
                    None => continue,
                },
                Credential::Key => &actor.key,
            };
            for target in [Target::Own, Target::SameWorkspace, Target::OtherWorkspace] {
                for op in [
                    Op::Get,
                    Op::Patch,
                    Op::Revoke,
                    Op::Rotate,
                    Op::Delete,
                    Op::Audit,
                ] {
                    let (owner_id, workspace_id) = match target {
                        Target::Own => (actor.user_id, alpha),
                        Target::SameWorkspace => (colleague.id, alpha),
                        Target::OtherWorkspace => (stranger.id, stranger.default_workspace_id),
                    };
                    let key = server
                        .create_key_with(
                            &boss_session,
                            CreateKeyRequest {
                                name: "target".into(),
                                expires_in_days: Some(30),
                                workspace_id: Some(workspace_id),
                                user_id: Some(owner_id),
                                ..Default::default()
                            },
                        )
                        .await;
                    let id = key.key.id;
                    let (method, path, body) = match op {
                        Op::Get => (Method::GET, format!("/v1/keys/{id}"), None),
                        Op::Patch => (
                            Method::PATCH,
                            format!("/v1/keys/{id}"),
                            Some(json!({"name": "renamed"})),
                        ),
                        Op::Revoke => (Method::POST, format!("/v1/keys/{id}/revoke"), None),
                        Op::Rotate => (
                            Method::POST,
                            format!("/v1/keys/{id}/rotate"),
                            Some(json!({})),
                        ),
                        Op::Delete => (Method::DELETE, format!("/v1/keys/{id}"), None),
                        Op::Audit => (Method::GET, format!("/v1/audit?key_id={id}"), None),
                    };
                    let (status, response) = server.call(method, &path, credential, body).await;
                    let want = expected(actor.role, kind, target, op);
                    assert_eq!(
                        status, want,
                        "{:?} via {kind:?} on {target:?} key, {op:?}: {response}",
                        actor.role,
                    );
                    // The refused requests changed nothing.
                    if want == NF || want == FB {
                        let (_, after) = server
                            .call(Method::GET, &format!("/v1/keys/{id}"), &boss_session, None)
                            .await;
                        assert_eq!(
                            (after["name"].as_str(), after["status"].as_str()),
                            (Some("target"), Some("active"))
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    // Owner, admin and member with three credentials each; the viewer has no managing key.
    assert_eq!(checked, (3 * 3 + 2) * 3 * 6);
}

/// (what, credential, method, path, body, expected status)
type Case<'a> = (
    &'a str,
    &'a String,
    Method,
    String,
    Option<serde_json::Value>,
    StatusCode,
);

#[tokio::test]
async fn workspace_level_endpoints_by_role() {
    let server = TestServer::start().await;
    let (boss, owner) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let (admin_user, admin) = server
        .user_with_session("admin@example.com", Role::Admin, "alpha")
        .await;
    let (member_user, member) = server
        .user_with_session("member@example.com", Role::Member, "alpha")
        .await;
    let (viewer_user, viewer) = server
        .user_with_session("viewer@example.com", Role::Viewer, "alpha")
        .await;
    let (beta_admin, _) = server
        .user_with_session("beta@example.com", Role::Admin, "beta")
        .await;
    let alpha = boss.default_workspace_id;
    let beta = beta_admin.default_workspace_id;
    let new_key =
        |user_id: Option<i64>| json!({"name": "k", "expires_in_days": 7, "user_id": user_id});
    let new_user = |email: &str, role: &str| json!({"email": email, "password": "long enough pw", "role": role});

    let cases: Vec<Case> = vec![
        (
            "everyone pings",
            &viewer,
            Method::GET,
            "/v1/ping".into(),
            None,
            OK,
        ),
        (
            "everyone has a me",
            &viewer,
            Method::GET,
            "/v1/me".into(),
            None,
            OK,
        ),
        (
            "viewer cannot create keys",
            &viewer,
            Method::POST,
            "/v1/keys".into(),
            Some(new_key(None)),
            FB,
        ),
        (
            "member creates own key",
            &member,
            Method::POST,
            "/v1/keys".into(),
            Some(new_key(None)),
            StatusCode::CREATED,
        ),
        (
            "member cannot create for others",
            &member,
            Method::POST,
            "/v1/keys".into(),
            Some(new_key(Some(viewer_user.id))),
            FB,
        ),
        (
            "admin creates for a member",
            &admin,
            Method::POST,
            "/v1/keys".into(),
            Some(new_key(Some(member_user.id))),
            StatusCode::CREATED,
        ),
        (
            // Someone the admin may not see: 404, as for every such reference.
            "admin cannot create for a stranger",
            &admin,
            Method::POST,
            "/v1/keys".into(),
            Some(new_key(Some(beta_admin.id))),
            StatusCode::NOT_FOUND,
        ),
        (
            "admin cannot create in another workspace",
            &admin,
            Method::POST,
            "/v1/keys".into(),
            Some(json!({"name": "k", "expires_in_days": 7, "workspace_id": beta})),
            NF,
        ),
        (
            "owner creates in any workspace",
            &owner,
            Method::POST,
            "/v1/keys".into(),
            Some(json!({"name": "k", "expires_in_days": 7, "workspace_id": beta})),
            StatusCode::CREATED,
        ),
        (
            "member cannot verify",
            &member,
            Method::POST,
            "/v1/verify".into(),
            Some(json!({"key": "kw_x"})),
            FB,
        ),
        (
            "viewer cannot verify",
            &viewer,
            Method::POST,
            "/v1/verify".into(),
            Some(json!({"key": "kw_x"})),
            FB,
        ),
        (
            "admin verifies",
            &admin,
            Method::POST,
            "/v1/verify".into(),
            Some(json!({"key": "kw_x"})),
            OK,
        ),
        (
            "member cannot list users",
            &member,
            Method::GET,
            "/v1/users".into(),
            None,
            FB,
        ),
        (
            "admin lists users",
            &admin,
            Method::GET,
            "/v1/users".into(),
            None,
            OK,
        ),
        (
            "member cannot add users",
            &member,
            Method::POST,
            "/v1/users".into(),
            Some(new_user("a@x", "member")),
            FB,
        ),
        (
            "admin adds a member",
            &admin,
            Method::POST,
            "/v1/users".into(),
            Some(new_user("b@x", "member")),
            StatusCode::CREATED,
        ),
        (
            "admin cannot make owners",
            &admin,
            Method::POST,
            "/v1/users".into(),
            Some(new_user("c@x", "owner")),
            FB,
        ),
        (
            "owner makes owners",
            &owner,
            Method::POST,
            "/v1/users".into(),
            Some(new_user("d@x", "owner")),
            StatusCode::CREATED,
        ),
        (
            "email taken",
            &owner,
            Method::POST,
            "/v1/users".into(),
            Some(new_user("D@x", "member")),
            StatusCode::CONFLICT,
        ),
        (
            "everyone lists own workspaces",
            &viewer,
            Method::GET,
            "/v1/workspaces".into(),
            None,
            OK,
        ),
        (
            "admin cannot create workspaces",
            &admin,
            Method::POST,
            "/v1/workspaces".into(),
            Some(json!({"name": "gamma"})),
            FB,
        ),
        (
            "owner creates workspaces",
            &owner,
            Method::POST,
            "/v1/workspaces".into(),
            Some(json!({"name": "gamma"})),
            StatusCode::CREATED,
        ),
        (
            "workspace names are unique",
            &owner,
            Method::POST,
            "/v1/workspaces".into(),
            Some(json!({"name": "gamma"})),
            StatusCode::CONFLICT,
        ),
        (
            "admin lists members",
            &admin,
            Method::GET,
            format!("/v1/workspaces/{alpha}/members"),
            None,
            OK,
        ),
        (
            "member cannot list members",
            &member,
            Method::GET,
            format!("/v1/workspaces/{alpha}/members"),
            None,
            FB,
        ),
        (
            "admin cannot see other workspace",
            &admin,
            Method::GET,
            format!("/v1/workspaces/{beta}/members"),
            None,
            NF,
        ),
        (
            "owner sees every workspace",
            &owner,
            Method::GET,
            format!("/v1/workspaces/{beta}/members"),
            None,
            OK,
        ),
        (
            "member cannot change roles",
            &member,
            Method::PUT,
            format!("/v1/workspaces/{alpha}/members/{}", viewer_user.id),
            Some(json!({"role": "admin"})),
            FB,
        ),
        (
            "admin changes roles",
            &admin,
            Method::PUT,
            format!("/v1/workspaces/{alpha}/members/{}", viewer_user.id),
            Some(json!({"role": "member"})),
            OK,
        ),
        (
            "admin cannot add someone by id",
            &admin,
            Method::PUT,
            format!("/v1/workspaces/{alpha}/members/{}", beta_admin.id),
            Some(json!({"role": "viewer"})),
            NF,
        ),
        (
            "admin invites a stranger by email",
            &admin,
            Method::POST,
            format!("/v1/workspaces/{alpha}/members"),
            Some(json!({"email": "beta@example.com", "role": "viewer"})),
            StatusCode::ACCEPTED,
        ),
        (
            "admin removes a member",
            &admin,
            Method::DELETE,
            format!("/v1/workspaces/{alpha}/members/{}", viewer_user.id),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            "admin cannot remove in another workspace",
            &admin,
            Method::DELETE,
            format!("/v1/workspaces/{beta}/members/{}", beta_admin.id),
            None,
            NF,
        ),
    ];
    for (what, credential, method, path, body, want) in cases {
        let (status, response) = server.call(method, &path, credential, body).await;
        assert_eq!(status, want, "{what}: {response}");
    }

    // Members see only their own keys in the list; admins see the workspace's.
    let list = |credential: String| {
        let server = &server;
        async move {
            server
                .call(Method::GET, "/v1/keys", &credential, None)
                .await
                .1["items"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    server.create_key(&admin, "the admin's own").await;
    let member_keys = list(member.clone()).await;
    assert!(!member_keys.is_empty());
    assert!(member_keys.iter().all(|k| k["user_id"] == member_user.id));
    let admin_keys = list(admin.clone()).await;
    assert!(admin_keys.len() > member_keys.len());
    let (_, filtered) = server
        .call(
            Method::GET,
            &format!("/v1/keys?user_id={}", admin_user.id),
            &member,
            None,
        )
        .await;
    assert_eq!(
        filtered["items"].as_array().unwrap().len(),
        0,
        "a member cannot list another user's keys"
    );
    let (_, users) = server.call(Method::GET, "/v1/users", &admin, None).await;
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["email"] != "beta@example.com"),
        "admins see their workspace only"
    );
}
