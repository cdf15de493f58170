//! A loopback stand-in for GitLab's personal access token API: no GitLab can run here. It follows
//! GitLab's REST documentation (`personal_access_tokens`, `user_tokens`, `users`) and its source
//! (`lib/api/personal_access_tokens*.rb`, `api_guard.rb`, `helpers.rb`, the offset pagination,
//! `PersonalAccessTokens::RotateService`, `RevokeTokenFamilyService`) field by field, as Keywarden
//! relies on it:
//!
//! - A token is taken from `PRIVATE-TOKEN` or `Authorization: Bearer`. Unknown or missing: 401
//!   `{"message":"401 Unauthorized"}`. Expired (from 00:00 UTC on its `expires_at` date) or
//!   revoked: 401 `{"error":"invalid_token","error_description":…}` with `WWW-Authenticate: Bearer
//!   realm="Protected by OAuth 2.0", error="invalid_token", error_description="…"`. A revoked token
//!   used to rotate (`…/rotate`) also revokes every token rotated from it.
//! - Scopes per endpoint: list and `GET /:id` `api` or `read_api`; rotate by id and `DELETE /:id`
//!   `api`; `GET`/`DELETE /self` any; `POST /self/rotate` `api` or `self_rotate`; `GET /user`
//!   `read_user`, `api` or `read_api`. Missing: 403 `{"error":"insufficient_scope",
//!   "error_description":…,"scope":"api read_api"}` (no `WWW-Authenticate`).
//! - `GET /personal_access_tokens?user_id=&per_page=&page=`: a non-administrator sees only their
//!   own (another `user_id` is 401); `per_page` defaults to 20, at most 100, 0 is 400; headers
//!   `X-Page`, `X-Per-Page`, `X-Next-Page` and `X-Prev-Page` (empty when none), `X-Total`,
//!   `X-Total-Pages`, `Link`. Ordered by id.
//! - Token entity: `id, name, revoked, created_at, description, scopes, user_id, last_used_at,
//!   active, expires_at` (a date, `YYYY-MM-DD`); `token` only from rotate.
//! - Rotate (`POST /:id/rotate`, `/self/rotate`, `expires_at` optional): 200 with the new token, a
//!   new id, same name, description and scopes; the old one revoked. Without `expires_at`, today +
//!   7 days. A revoked token: 400 `{"message":"400 Bad request - Token already revoked"}`; a date
//!   past today + 365: 400 `"400 Bad request - Expires at must be before YYYY-MM-DD"`; a date that
//!   is not one: 400 `{"error":"expires_at is invalid"}`. Someone else's or no such token: 401
//!   (not an administrator).
//! - `DELETE /:id`: 204; none: 404 `{"message":"404 Not found"}`; someone else's: 400.

#![allow(dead_code, clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct GlToken {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
    pub scopes: Vec<String>,
    pub user_id: i64,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<NaiveDate>,
    pub secret: String,
    /// The token this one was rotated from.
    pub previous: Option<i64>,
}

#[derive(Default)]
pub struct GlState {
    pub tokens: Vec<GlToken>,
    next_id: i64,
    /// Requests per path, to see what a client asked.
    pub paths: Vec<String>,
}

pub struct GitLab {
    pub url: String,
    pub state: Arc<Mutex<GlState>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The stand-in's one user.
pub const USER_ID: i64 = 4242;
pub const USERNAME: &str = "dev";
pub const EMAIL: &str = "dev@gitlab.example";
/// Another user, whose tokens the first may not see.
pub const OTHER_USER_ID: i64 = 7;

type Shared = Arc<Mutex<GlState>>;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn random(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).unwrap();
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}

fn unauthorized() -> Response {
    message(StatusCode::UNAUTHORIZED, "401 Unauthorized")
}

fn invalid_token(description: &str) -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error": "invalid_token", "error_description": description})),
    )
        .into_response();
    response.headers_mut().insert(
        "WWW-Authenticate",
        HeaderValue::from_str(&format!(
            "Bearer realm=\"Protected by OAuth 2.0\", error=\"invalid_token\", \
             error_description=\"{description}\""
        ))
        .unwrap(),
    );
    response
}

fn insufficient_scope(scope: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        axum::Json(json!({
            "error": "insufficient_scope",
            "error_description":
                "The request requires higher privileges than provided by the access token.",
            "scope": scope,
        })),
    )
        .into_response()
}

fn expired(token: &GlToken) -> bool {
    token.expires_at.is_some_and(|d| d <= today())
}

pub fn entity(token: &GlToken) -> Value {
    json!({
        "id": token.id,
        "name": token.name,
        "revoked": token.revoked,
        "created_at": token.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "description": token.description,
        "scopes": token.scopes,
        "user_id": token.user_id,
        "last_used_at": token
            .last_used_at
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        "active": !token.revoked && !expired(token),
        "expires_at": token.expires_at.map(|d| d.format("%Y-%m-%d").to_string()),
    })
}

/// What an endpoint accepts: scopes, or any scope at all.
enum Scopes {
    Any,
    OneOf(&'static [&'static str], &'static str),
}

/// The token a request authenticates with, checked as `APIGuard` does: found, then expired, then
/// revoked (a revoked token used to rotate revokes its descendants), then its scopes.
fn authenticate(
    state: &mut GlState,
    headers: &HeaderMap,
    path: &str,
    scopes: Scopes,
) -> Result<usize, Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let given = header("PRIVATE-TOKEN")
        .or_else(|| header("Authorization").and_then(|v| v.strip_prefix("Bearer ")))
        .ok_or_else(unauthorized)?;
    let at = state
        .tokens
        .iter()
        .position(|t| t.secret == given)
        .ok_or_else(unauthorized)?;
    if expired(&state.tokens[at]) {
        return Err(invalid_token(
            "Token is expired. You can either do re-authorization or token refresh.",
        ));
    }
    if state.tokens[at].revoked {
        if path.ends_with("/rotate") {
            revoke_family(state, state.tokens[at].id);
        }
        return Err(invalid_token(
            "Token was revoked. You have to re-authorize from the user.",
        ));
    }
    if let Scopes::OneOf(accepted, named) = scopes
        && !state.tokens[at]
            .scopes
            .iter()
            .any(|s| accepted.contains(&s.as_str()))
    {
        return Err(insufficient_scope(named));
    }
    state.tokens[at].last_used_at = Some(Utc::now());
    Ok(at)
}

/// Every active token rotated from `id`, down the chain, is revoked.
fn revoke_family(state: &mut GlState, id: i64) {
    let mut parents = vec![id];
    while let Some(parent) = parents.pop() {
        for token in state.tokens.iter_mut() {
            if token.previous == Some(parent) {
                if !token.revoked && !expired(token) {
                    token.revoked = true;
                }
                parents.push(token.id);
            }
        }
    }
}

async fn user(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    state.paths.push(uri.path().to_string());
    if let Err(response) = authenticate(
        &mut state,
        &headers,
        uri.path(),
        Scopes::OneOf(&["read_user", "api", "read_api"], "read_user api read_api"),
    ) {
        return response;
    }
    axum::Json(json!({
        "id": USER_ID,
        "username": USERNAME,
        "name": "Dev Eloper",
        "state": "active",
        "email": EMAIL,
    }))
    .into_response()
}

async fn list(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap();
    state.paths.push(uri.to_string());
    let at = match authenticate(
        &mut state,
        &headers,
        uri.path(),
        Scopes::OneOf(&["api", "read_api"], "api read_api"),
    ) {
        Ok(at) => at,
        Err(response) => return response,
    };
    let me = state.tokens[at].user_id;
    if let Some(user) = query.get("user_id") {
        match user.parse::<i64>() {
            Ok(id) if id == me => {}
            Ok(_) => return unauthorized(),
            Err(_) => {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "user_id is invalid"})),
                )
                    .into_response();
            }
        }
    }
    let per_page = match query.get("per_page").map(|v| v.parse::<usize>()) {
        None => 20,
        Some(Ok(0)) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "per_page has a value not allowed"})),
            )
                .into_response();
        }
        Some(Ok(n)) => n.min(100),
        Some(Err(_)) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"error": "per_page is invalid"})),
            )
                .into_response();
        }
    };
    let page = query
        .get("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let mut mine: Vec<&GlToken> = state.tokens.iter().filter(|t| t.user_id == me).collect();
    mine.sort_by_key(|t| t.id);
    let total = mine.len();
    let pages = total.div_ceil(per_page).max(1);
    let items: Vec<Value> = mine
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|t| entity(t))
        .collect();
    let mut response = axum::Json(items).into_response();
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    let next = if page < pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    let link_to = |n: usize| {
        format!(
            "<http://gitlab.example/api/v4/personal_access_tokens?page={n}&per_page={per_page}>"
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
    }
    links.push(format!("{}; rel=\"first\"", link_to(1)));
    links.push(format!("{}; rel=\"last\"", link_to(pages)));
    set(headers, "X-Page", page.to_string());
    set(headers, "X-Per-Page", per_page.to_string());
    set(headers, "X-Next-Page", next);
    set(headers, "X-Prev-Page", prev);
    set(headers, "X-Total", total.to_string());
    set(headers, "X-Total-Pages", pages.to_string());
    set(headers, "Link", links.join(", "));
    response
}

async fn get_self(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    state.paths.push(uri.path().to_string());
    match authenticate(&mut state, &headers, uri.path(), Scopes::Any) {
        Ok(at) => axum::Json(entity(&state.tokens[at])).into_response(),
        Err(response) => response,
    }
}

async fn delete_self(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    state.paths.push(format!("DELETE {}", uri.path()));
    match authenticate(&mut state, &headers, uri.path(), Scopes::Any) {
        Ok(at) => {
            state.tokens[at].revoked = true;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(response) => response,
    }
}

/// The token `id` names, if the caller may see it (`Ability :read_user_personal_access_tokens`).
fn owned(state: &GlState, caller: usize, id: &str) -> Option<usize> {
    let id = id.parse::<i64>().ok()?;
    let at = state.tokens.iter().position(|t| t.id == id)?;
    (state.tokens[at].user_id == state.tokens[caller].user_id).then_some(at)
}

async fn get_one(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut state = state.lock().unwrap();
    state.paths.push(uri.path().to_string());
    let caller = match authenticate(
        &mut state,
        &headers,
        uri.path(),
        Scopes::OneOf(&["api", "read_api"], "api read_api"),
    ) {
        Ok(at) => at,
        Err(response) => return response,
    };
    match owned(&state, caller, &id) {
        Some(at) => {
            let mut body = entity(&state.tokens[at]);
            body["last_used_ips"] = json!([]);
            axum::Json(body).into_response()
        }
        None => unauthorized(),
    }
}

async fn delete_one(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut state = state.lock().unwrap();
    state.paths.push(format!("DELETE {}", uri.path()));
    let caller = match authenticate(
        &mut state,
        &headers,
        uri.path(),
        Scopes::OneOf(&["api"], "api read_api"),
    ) {
        Ok(at) => at,
        Err(response) => return response,
    };
    let Some(at) = id
        .parse::<i64>()
        .ok()
        .and_then(|id| state.tokens.iter().position(|t| t.id == id))
    else {
        return message(StatusCode::NOT_FOUND, "404 Not found");
    };
    if state.tokens[at].user_id != state.tokens[caller].user_id {
        return message(StatusCode::BAD_REQUEST, "400 Bad request");
    }
    state.tokens[at].revoked = true;
    StatusCode::NO_CONTENT.into_response()
}

/// `expires_at` from a JSON or form body, as Grape coerces a Date.
fn expires_param(body: &Bytes) -> Result<Option<NaiveDate>, Response> {
    let invalid = || {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "expires_at is invalid"})),
        )
            .into_response()
    };
    if body.is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid())?;
    match value.get("expires_at") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| invalid()),
        Some(_) => Err(invalid()),
    }
}

/// `RotateService`: revokes `at` and makes its successor.
fn rotate(state: &mut GlState, at: usize, expires_at: Option<NaiveDate>) -> Response {
    if state.tokens[at].revoked {
        return message(
            StatusCode::BAD_REQUEST,
            "400 Bad request - Token already revoked",
        );
    }
    let latest = today() + chrono::Duration::days(365);
    let expires_at = expires_at.unwrap_or(today() + chrono::Duration::days(7));
    if expires_at > latest {
        return message(
            StatusCode::BAD_REQUEST,
            &format!(
                "400 Bad request - Expires at must be before {}",
                latest.format("%Y-%m-%d")
            ),
        );
    }
    state.tokens[at].revoked = true;
    state.next_id += 1;
    let old = state.tokens[at].clone();
    let new = GlToken {
        id: state.next_id,
        revoked: false,
        created_at: Utc::now(),
        last_used_at: None,
        expires_at: Some(expires_at),
        secret: format!("glpat-{}", random(20)),
        previous: Some(old.id),
        ..old
    };
    let mut body = entity(&new);
    body["token"] = json!(new.secret);
    state.tokens.push(new);
    axum::Json(body).into_response()
}

async fn rotate_one(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    state.paths.push(format!("POST {}", uri.path()));
    let caller = match authenticate(
        &mut state,
        &headers,
        uri.path(),
        Scopes::OneOf(&["api"], "api read_api"),
    ) {
        Ok(at) => at,
        Err(response) => return response,
    };
    let expires_at = match expires_param(&body) {
        Ok(date) => date,
        Err(response) => return response,
    };
    match owned(&state, caller, &id) {
        Some(at) => rotate(&mut state, at, expires_at),
        None => unauthorized(),
    }
}

async fn rotate_self(
    State(state): State<Shared>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    state.paths.push(format!("POST {}", uri.path()));
    let at = match authenticate(
        &mut state,
        &headers,
        uri.path(),
        Scopes::OneOf(&["api", "self_rotate"], "api self_rotate api read_api"),
    ) {
        Ok(at) => at,
        Err(response) => return response,
    };
    match expires_param(&body) {
        Ok(expires_at) => rotate(&mut state, at, expires_at),
        Err(response) => response,
    }
}

impl GitLab {
    /// Starts the stand-in on loopback with no tokens; [`GitLab::add_token`] makes them.
    pub async fn start() -> GitLab {
        let state = Arc::new(Mutex::new(GlState {
            next_id: 100,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/api/v4/user", get(user))
            .route("/api/v4/personal_access_tokens", get(list))
            .route(
                "/api/v4/personal_access_tokens/self",
                get(get_self).delete(delete_self),
            )
            .route(
                "/api/v4/personal_access_tokens/self/rotate",
                post(rotate_self),
            )
            .route(
                "/api/v4/personal_access_tokens/{id}",
                get(get_one).delete(delete_one),
            )
            .route(
                "/api/v4/personal_access_tokens/{id}/rotate",
                post(rotate_one),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await;
        });
        GitLab {
            url,
            state,
            shutdown: Some(shutdown),
        }
    }

    /// A token of the user (or of [`OTHER_USER_ID`]), as made on GitLab's page; its secret.
    pub fn add_token(
        &self,
        user_id: i64,
        name: &str,
        scopes: &[&str],
        expires_in_days: Option<i64>,
    ) -> String {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        let secret = format!("glpat-{}", random(20));
        let token = GlToken {
            id: state.next_id,
            name: name.to_string(),
            description: Some(format!("{name} made on GitLab")),
            revoked: false,
            created_at: Utc::now() - chrono::Duration::days(30),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            user_id,
            last_used_at: None,
            expires_at: expires_in_days.map(|d| today() + chrono::Duration::days(d)),
            secret: secret.clone(),
            previous: None,
        };
        state.tokens.push(token);
        secret
    }

    pub fn token(&self, secret: &str) -> GlToken {
        let state = self.state.lock().unwrap();
        state
            .tokens
            .iter()
            .find(|t| t.secret == secret)
            .cloned()
            .unwrap()
    }

    pub fn token_named(&self, name: &str) -> Vec<GlToken> {
        let state = self.state.lock().unwrap();
        state
            .tokens
            .iter()
            .filter(|t| t.name == name)
            .cloned()
            .collect()
    }

    /// Moves a token's expiry, as time passing would move it closer.
    pub fn set_expiry(&self, id: i64, expires_in_days: i64) {
        let mut state = self.state.lock().unwrap();
        let token = state.tokens.iter_mut().find(|t| t.id == id).unwrap();
        token.expires_at = Some(today() + chrono::Duration::days(expires_in_days));
    }

    pub fn paths(&self) -> Vec<String> {
        self.state.lock().unwrap().paths.clone()
    }
}

impl Drop for GitLab {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
