//! The router driven with `oneshot`, no socket: routing, error bodies and the OpenAPI document.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use keywarden::server::{self, AppState, ServerConfig};
use serde_json::Value;
use tower::ServiceExt as _;

async fn app() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = server::open_store(&format!(
        "sqlite://{}",
        dir.path().join("db.sqlite").display()
    ))
    .await
    .unwrap();
    (
        server::router(AppState::new(store, ServerConfig::default())),
        dir,
    )
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let www = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&bytes)));
    (status, www, json)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn healthz_needs_no_credential() {
    let (app, _dir) = app().await;
    let (status, _, body) = send(&app, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn missing_credential_is_401_with_www_authenticate_and_a_json_reason() {
    let (app, _dir) = app().await;
    for path in [
        "/v1/ping",
        "/v1/me",
        "/v1/keys",
        "/v1/audit",
        "/v1/users",
        "/v1/workspaces",
    ] {
        let (status, www, body) = send(&app, get(path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            www.is_some_and(|w| w.contains("Bearer")),
            "{path}: WWW-Authenticate"
        );
        assert_eq!(body["code"], "missing_credential", "{path}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let (app, _dir) = app().await;
    let (status, _, body) = send(&app, get("/v1/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    let (status, _, body) = send(
        &app,
        Request::delete("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn bad_bodies_are_told_apart() {
    let (app, _dir) = app().await;
    let login = |content_type: &str, body: &str| {
        Request::post("/v1/auth/login")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, _, body) = send(&app, login("application/json", "{not json")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (status, _, body) = send(&app, login("text/plain", "{}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let (status, _, body) = send(&app, login("application/json", r#"{"email":"a@b"}"#)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().contains("password"),
        "names the missing field: {body}"
    );
    let (status, _, body) = send(
        &app,
        login(
            "application/json",
            r#"{"email":"a@b","password":"x","extra":"kw_sneaky"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"].as_str().unwrap().contains("extra"),
        "names the unknown field: {body}"
    );
    let (status, _, body) = send(
        &app,
        login("application/json", r#"{"email":"a@b","password":12}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, body2) = send(
        &app,
        login(
            "application/json",
            r#"{"email":7,"password":"hunter2hunter2"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        !body2.to_string().contains("hunter2"),
        "no submitted value is echoed: {body2}"
    );
    assert!(!body.to_string().is_empty());
    let (status, _, body) = send(
        &app,
        login(
            "application/json",
            r#"{"email":"nobody@example.com","password":"whatever1"}"#,
        ),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_login"))
    );
}

/// The document is generated from the handlers; this checks it against the routes the issue lists
/// and that every documented operation is really routed.
#[tokio::test]
async fn openapi_document_matches_the_real_routes() {
    let (app, _dir) = app().await;
    let (status, _, doc) = send(&app, get("/v1/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(
        doc["info"]["description"]
            .as_str()
            .unwrap()
            .contains("once a minute")
    );

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let expected: BTreeSet<String> = [
        "GET /healthz",
        "GET /readyz",
        "GET /v1/openapi.json",
        "GET /v1/ping",
        "GET /v1/me",
        "POST /v1/auth/login",
        "POST /v1/auth/logout",
        "POST /v1/keys",
        "GET /v1/keys",
        "GET /v1/keys/revision",
        "GET /v1/keys/{id}",
        "PATCH /v1/keys/{id}",
        "DELETE /v1/keys/{id}",
        "POST /v1/keys/{id}/revoke",
        "POST /v1/keys/{id}/rotate",
        "POST /v1/verify",
        "GET /v1/audit",
        "GET /v1/users",
        "POST /v1/users",
        "GET /v1/workspaces",
        "POST /v1/workspaces",
        "GET /v1/workspaces/{id}/members",
        "PUT /v1/workspaces/{id}/members/{user_id}",
        "DELETE /v1/workspaces/{id}/members/{user_id}",
        "POST /v1/workspaces/{id}/members",
        "GET /v1/workspaces/{id}/invitations",
        "DELETE /v1/workspaces/{id}/invitations/{email}",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(documented, expected);

    for operation in &documented {
        let (method, path) = operation.split_once(' ').unwrap();
        let concrete = path
            .replace("{id}", "1")
            .replace("{user_id}", "1")
            .replace("{email}", "a%40b");
        let request = Request::builder()
            .method(method)
            .uri(&concrete)
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{operation} is documented but not routed"
        );
        assert!(
            !(status == StatusCode::NOT_FOUND && body["error"] == "no such endpoint"),
            "{operation} is documented but not routed"
        );
    }
}
