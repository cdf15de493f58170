//! Loopback stand-ins for the check requests of the services whose keys are tracked: none of
//! them can be reached here. Each route follows its service's documentation (`shared/seeds/`,
//! GitHub's and GitLab's REST references) and accepts only its own header style with the one
//! good key, `GOOD_KEY`:
//!
//! - iottly `GET /v1.0/project/ping`, `Authentication: bearer K` -> `{"status": "pong"}`; errors
//!   carry an `error` field.
//! - smenso `GET /skyisland/api/integration/timezones/json`, `Authorization: Basic K`; 401 without.
//! - SmartSuite `GET /api/v1/solutions/`, `Authorization: Token K` and `Account-Id: WORKSPACE`.
//! - GitHub `GET /user`, `Authorization: Bearer K`; the answer carries
//!   `github-authentication-token-expiration: 2027-03-01 10:00:00 UTC` (it also accepts
//!   `GITHUB_KEY`, a key in GitHub's `ghp_` form); refusals
//!   `{"message": "Bad credentials"}`.
//! - GitLab `GET /api/v4/personal_access_tokens/self`, `PRIVATE-TOKEN: K` -> `expires_at`
//!   `2027-02-01`; refusals `{"message": "401 Unauthorized"}`.

#![allow(dead_code)]

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

pub const GOOD_KEY: &str = "GoodKey0123456789abcdefghijklmnopqrs";
/// A GitHub token the GitHub route accepts too: its form tells its service.
pub const GITHUB_KEY: &str = "ghp_GoodKey0123456789abcdefghijklmnopqrs";
pub const WORKSPACE: &str = "acct-42";
pub const GITHUB_EXPIRY: &str = "2027-03-01T10:00:00+00:00";
pub const GITLAB_EXPIRY: &str = "2027-02-01T00:00:00+00:00";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn refused(body: serde_json::Value) -> Response {
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

async fn iottly(headers: HeaderMap) -> Response {
    if header(&headers, "Authentication") == format!("bearer {GOOD_KEY}") {
        axum::Json(json!({"status": "pong"})).into_response()
    } else {
        refused(json!({"error": "invalid API token"}))
    }
}

async fn smenso(headers: HeaderMap) -> Response {
    if header(&headers, "Authorization") == format!("Basic {GOOD_KEY}") {
        axum::Json(json!([{"id": "Europe/Berlin"}])).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "Unauthorized").into_response()
    }
}

async fn smartsuite(headers: HeaderMap) -> Response {
    if header(&headers, "Authorization") == format!("Token {GOOD_KEY}")
        && header(&headers, "Account-Id") == WORKSPACE
    {
        axum::Json(json!([])).into_response()
    } else {
        refused(json!({"detail": "Invalid token."}))
    }
}

async fn github(headers: HeaderMap) -> Response {
    let given = header(&headers, "Authorization");
    if given == format!("Bearer {GOOD_KEY}") || given == format!("Bearer {GITHUB_KEY}") {
        (
            [(
                "github-authentication-token-expiration",
                "2027-03-01 10:00:00 UTC",
            )],
            axum::Json(json!({"login": "octocat"})),
        )
            .into_response()
    } else {
        refused(json!({"message": "Bad credentials", "status": "401"}))
    }
}

async fn gitlab(headers: HeaderMap) -> Response {
    if header(&headers, "PRIVATE-TOKEN") == GOOD_KEY {
        axum::Json(json!({"id": 4, "name": "ci", "expires_at": "2027-02-01", "active": true}))
            .into_response()
    } else {
        refused(json!({"message": "401 Unauthorized"}))
    }
}

/// Starts the stand-ins on loopback; returns the base URL they all answer under.
pub async fn start() -> String {
    let app = Router::new()
        .route("/v1.0/project/ping", get(iottly))
        .route("/skyisland/api/integration/timezones/json", get(smenso))
        .route("/api/v1/solutions/", get(smartsuite))
        .route("/user", get(github))
        .route("/api/v4/personal_access_tokens/self", get(gitlab));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}
