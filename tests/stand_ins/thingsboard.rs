//! A loopback stand-in for a ThingsBoard 4.3 server: no ThingsBoard can run here. It follows the
//! contract of ThingsBoard's documentation and its `AuthController`/`ApiKeyController` field by
//! field, as Keywarden relies on it:
//!
//! - `POST /api/auth/login {"username","password"}` -> `{"token","refreshToken"}`; the token is a
//!   JWT (`exp` in its payload) valid for `jwt_ttl`; `POST /api/auth/token {"refreshToken"}`
//!   gives a new pair and retires the old refresh token; `POST /api/auth/logout`.
//! - `GET /api/auth/user` with `X-Authorization: Bearer <jwt>` or `ApiKey <key>`: `id.id`,
//!   `authority`, `email`.
//! - `GET /api/apiKeys/{userId}?pageSize=&page=` (both required: 400 without), pages of
//!   `{"data","totalPages","totalElements","hasNext"}`; ApiKeyInfo has `id.id`, `createdTime` (ms),
//!   `userId.id`, `expirationTime` (ms, 0 = never), `description`, `enabled`, `expired`.
//! - `POST /api/apiKey {"userId":{"entityType":"USER","id"},"description","enabled",
//!   "expirationTime"}` -> the key with `value` (`tb_…`); `enabled` left out makes it disabled;
//!   the description is non-blank, at most 255 characters.
//! - `PUT /api/apiKey/{id}/enabled/{bool}`, `PUT /api/apiKey/{id}/description` (the raw text as
//!   body, not JSON), `DELETE /api/apiKey/{id}`.
//! - `GET /api/users?pageSize=&page=`: a tenant administrator's users.
//! - A tenant administrator manages keys of the tenant's users; a customer user only their own.
//! - Errors: `{"status","message","errorCode","timestamp"}`.
//! - Two-factor sign-in (`TwoFactorAuthController`): a user with 2FA gets
//!   `{"token","scope":"PRE_VERIFICATION_TOKEN"}` (no `refreshToken`) from the login; that token is
//!   good only for `GET /api/auth/2fa/providers`, `POST /api/auth/2fa/verification/send?
//!   providerType=` (200, empty; one send per `minVerificationCodeSendPeriod`, else 429) and
//!   `POST /api/auth/2fa/verification/check?providerType=&verificationCode=`, which gives the JWT
//!   pair or 400 "Verification code is incorrect" (errorCode 31). TOTP codes are real RFC 6238
//!   (SHA-1, 30 s, 6 digits, this step or the one before, compared as numbers); an emailed code is
//!   6 digits, works once, and is what [`ThingsBoard::sent_code`] reads. Other endpoints answer a
//!   pre-verification token with 403 (errorCode 20), and the 2FA ones a normal token likewise.
//! - As strict as ThingsBoard: a key or user id that is not a UUID is 400 ("Invalid UUID string:
//!   …"), an unknown user or key 404 ("User with id [...] is not found"), a description longer
//!   than 255 UTF-16 units or with markup or a `{{…}}` template (`@NoXss`) 400 "Validation error:
//!   description …".

#![allow(dead_code, clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct TbUser {
    pub id: String,
    pub email: String,
    pub password: String,
    pub authority: String,
}

#[derive(Clone, Debug)]
pub struct TbKey {
    pub id: String,
    pub created_time: i64,
    pub user_id: String,
    pub expiration_time: i64,
    pub description: String,
    pub enabled: bool,
    pub value: String,
}

/// A user's second factor: an authenticator app's secret, and codes by email.
#[derive(Clone, Debug)]
pub struct TwoFactor {
    pub totp_secret: Vec<u8>,
    pub email: bool,
}

#[derive(Default)]
pub struct TbState {
    pub users: Vec<TbUser>,
    pub keys: Vec<TbKey>,
    /// jwt -> (user id, expiry in seconds since the epoch)
    jwts: HashMap<String, (String, i64)>,
    /// pre-verification token -> (user id, expiry in seconds since the epoch)
    pre_tokens: HashMap<String, (String, i64)>,
    /// user id -> their second factor
    pub two_factor: HashMap<String, TwoFactor>,
    /// user id -> (the code last emailed, when it was sent in seconds)
    sent: HashMap<String, (String, i64)>,
    /// (user id, provider) -> when a code was last asked for, in seconds
    last_send: HashMap<(String, String), i64>,
    /// One send per this many seconds, per user and provider (ThingsBoard's minimum is 5).
    pub send_period_secs: i64,
    /// Codes checked, right or wrong.
    pub checks: usize,
    refresh: HashMap<String, String>,
    /// How long a JWT lives, in seconds (ThingsBoard's default is 9000).
    pub jwt_ttl: i64,
    pub refreshes: usize,
    /// The raw bodies of description updates, to check they were sent as text.
    pub description_bodies: Vec<String>,
}

/// The authenticator app's secret of `2fa@tb.example` (RFC 6238's own test secret).
pub const TWO_FACTOR_SECRET: &[u8] = b"12345678901234567890";

pub struct ThingsBoard {
    pub url: String,
    pub state: Arc<Mutex<TbState>>,
    pub requests: Arc<AtomicUsize>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

type Shared = (Arc<Mutex<TbState>>, Arc<AtomicUsize>);

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn random(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).unwrap();
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

pub fn uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn error(status: StatusCode, message: &str, code: i64) -> Response {
    (
        status,
        axum::Json(json!({
            "status": status.as_u16(),
            "message": message,
            "errorCode": code,
            "timestamp": now_ms(),
        })),
    )
        .into_response()
}

fn key_info(key: &TbKey) -> Value {
    json!({
        "id": {"entityType": "API_KEY", "id": key.id},
        "createdTime": key.created_time,
        "tenantId": {"entityType": "TENANT", "id": "13814000-1dd2-11b2-8080-808080808080"},
        "userId": {"entityType": "USER", "id": key.user_id},
        "expirationTime": key.expiration_time,
        "description": key.description,
        "enabled": key.enabled,
        "expired": key.expiration_time != 0 && key.expiration_time <= now_ms(),
    })
}

fn user_json(user: &TbUser) -> Value {
    json!({
        "id": {"entityType": "USER", "id": user.id},
        "email": user.email,
        "authority": user.authority,
        "firstName": null,
        "lastName": null,
    })
}

fn jwt(state: &mut TbState, user_id: &str) -> (String, String) {
    let exp = chrono::Utc::now().timestamp() + state.jwt_ttl;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = format!(
        "{}.{}.{}",
        engine.encode(br#"{"alg":"HS512"}"#),
        engine.encode(json!({"sub": user_id, "exp": exp, "jti": random(8)}).to_string()),
        random(43)
    );
    let refresh = random(64);
    state.jwts.insert(token.clone(), (user_id.to_string(), exp));
    state.refresh.insert(refresh.clone(), user_id.to_string());
    (token, refresh)
}

/// The user a request acts as, from its JWT or API key.
fn caller(state: &TbState, headers: &HeaderMap) -> Result<TbUser, Response> {
    let header = headers
        .get("X-Authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let user_id = if let Some(token) = header.strip_prefix("Bearer ") {
        if state.pre_tokens.contains_key(token) {
            return Err(forbidden());
        }
        match state.jwts.get(token) {
            Some((user, exp)) if *exp > chrono::Utc::now().timestamp() => user.clone(),
            Some(_) => {
                return Err(error(StatusCode::UNAUTHORIZED, "Token has expired", 11));
            }
            None => return Err(error(StatusCode::UNAUTHORIZED, "Authentication failed", 10)),
        }
    } else if let Some(value) = header.strip_prefix("ApiKey ") {
        let now = now_ms();
        match state.keys.iter().find(|k| k.value == value) {
            Some(k) if k.enabled && (k.expiration_time == 0 || k.expiration_time > now) => {
                k.user_id.clone()
            }
            _ => return Err(error(StatusCode::UNAUTHORIZED, "Authentication failed", 10)),
        }
    } else {
        return Err(error(StatusCode::UNAUTHORIZED, "Authentication failed", 10));
    };
    state
        .users
        .iter()
        .find(|u| u.id == user_id)
        .cloned()
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "User not found", 10))
}

fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "You don't have permission to perform this operation!",
        20,
    )
}

/// The user a pre-verification token stands for, on the 2FA endpoints only.
fn pre_caller(state: &TbState, headers: &HeaderMap) -> Result<String, Response> {
    let header = headers
        .get("X-Authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(token) = header.strip_prefix("Bearer ") else {
        return Err(error(StatusCode::UNAUTHORIZED, "Authentication failed", 10));
    };
    match state.pre_tokens.get(token) {
        Some((user, exp)) if *exp > chrono::Utc::now().timestamp() => Ok(user.clone()),
        Some(_) => Err(error(StatusCode::UNAUTHORIZED, "Token has expired", 11)),
        None if state.jwts.contains_key(token) => Err(forbidden()),
        None => Err(error(StatusCode::UNAUTHORIZED, "Authentication failed", 10)),
    }
}

/// RFC 6238 TOTP: HMAC-SHA-1 over the 30-second step, dynamically truncated to 6 digits.
pub fn totp(secret: &[u8], unix_time: i64) -> String {
    use hmac::Mac as _;
    let step = (unix_time / 30) as u64;
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&step.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[19] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    format!("{:06}", binary % 1_000_000)
}

/// ThingsBoard's `toUUID`: the JDK's `UUID.fromString`, as strict as it is for these tests.
fn parse_uuid(text: &str) -> Result<(), String> {
    let parts: Vec<&str> = text.split('-').collect();
    let ok = parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(format!("Invalid UUID string: {text}"))
    }
}

/// A path's key id, as Spring converts a `UUID` path variable.
fn key_uuid(id: &str) -> Result<(), Response> {
    parse_uuid(id).map_err(|why| {
        error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Method parameter 'id': Failed to convert value of type 'java.lang.String' to \
                 required type 'java.util.UUID'; {why}"
            ),
            31,
        )
    })
}

/// `ApiKeyInfo.description`: `@NoXss @NotBlank @Length(max = 255)`, the length in UTF-16 units.
fn check_description(text: &str) -> Result<(), Response> {
    let mut problems = Vec::new();
    let template = text
        .find("{{")
        .is_some_and(|at| text[at + 2..].contains("}}"));
    let markup = text
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'?'));
    if template || markup {
        problems.push("description is malformed".to_string());
    }
    if text.encode_utf16().count() > 255 {
        problems.push("description length must be equal or less than 255".to_string());
    }
    if text.trim().is_empty() {
        problems.push("description must not be blank".to_string());
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort();
    Err(error(
        StatusCode::BAD_REQUEST,
        &format!("Validation error: {}", problems.join(", ")),
        31,
    ))
}

/// A tenant administrator manages every user's keys; anyone else only their own.
fn may_manage(caller: &TbUser, user_id: &str) -> bool {
    caller.id == user_id || caller.authority == "TENANT_ADMIN"
}

fn paging(query: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let size = query.get("pageSize").and_then(|v| v.parse::<usize>().ok());
    let page = query.get("page").and_then(|v| v.parse::<usize>().ok());
    match (size, page) {
        (Some(size), Some(page)) if size > 0 => Ok((size, page)),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "Required request parameter 'pageSize' and 'page' are not present",
            31,
        )),
    }
}

fn page<T: Clone>(items: &[T], size: usize, page: usize, to_json: impl Fn(&T) -> Value) -> Value {
    let total = items.len();
    let pages = total.div_ceil(size);
    let data: Vec<Value> = items
        .iter()
        .skip(page * size)
        .take(size)
        .map(to_json)
        .collect();
    json!({
        "data": data,
        "totalPages": pages,
        "totalElements": total,
        "hasNext": (page + 1) < pages,
    })
}

async fn login(State((state, _)): State<Shared>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut state = state.lock().unwrap();
    let found = state
        .users
        .iter()
        .find(|u| Some(u.email.as_str()) == body["username"].as_str())
        .filter(|u| Some(u.password.as_str()) == body["password"].as_str())
        .cloned();
    match found {
        Some(user) if state.two_factor.contains_key(&user.id) => {
            let token = format!("pre.{}", random(40));
            let exp = chrono::Utc::now().timestamp() + 1800;
            state.pre_tokens.insert(token.clone(), (user.id, exp));
            axum::Json(json!({"token": token, "scope": "PRE_VERIFICATION_TOKEN"})).into_response()
        }
        Some(user) => {
            let (token, refresh) = jwt(&mut state, &user.id);
            axum::Json(json!({"token": token, "refreshToken": refresh})).into_response()
        }
        None => error(StatusCode::UNAUTHORIZED, "Invalid username or password", 10),
    }
}

/// `GET /api/auth/2fa/providers`.
async fn providers(State((state, _)): State<Shared>, headers: HeaderMap) -> Response {
    let state = state.lock().unwrap();
    let user_id = match pre_caller(&state, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let period = state.send_period_secs;
    let mut list = vec![json!({"type": "TOTP", "default": true, "contact": null,
        "minVerificationCodeSendPeriod": period})];
    if state.two_factor[&user_id].email {
        list.push(
            json!({"type": "EMAIL", "default": false, "contact": "2f*@tb.example",
            "minVerificationCodeSendPeriod": period}),
        );
    }
    axum::Json(list).into_response()
}

fn provider_of(
    query: &HashMap<String, String>,
    two_factor: &TwoFactor,
) -> Result<String, Response> {
    let provider = query.get("providerType").cloned().unwrap_or_default();
    match provider.as_str() {
        "TOTP" => Ok(provider),
        "EMAIL" if two_factor.email => Ok(provider),
        "EMAIL" | "SMS" | "BACKUP_CODE" => Err(error(
            StatusCode::BAD_REQUEST,
            "2FA is not configured for account",
            31,
        )),
        other => Err(error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Method parameter 'providerType': Failed to convert value of type \
                 'java.lang.String' to required type 'TwoFaProviderType' for value [{other}]"
            ),
            31,
        )),
    }
}

/// `POST /api/auth/2fa/verification/send?providerType=`.
async fn send_code(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap();
    let user_id = match pre_caller(&state, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let provider = match provider_of(&query, &state.two_factor[&user_id]) {
        Ok(provider) => provider,
        Err(response) => return response,
    };
    let now = chrono::Utc::now().timestamp();
    let slot = (user_id.clone(), provider.clone());
    if state
        .last_send
        .get(&slot)
        .is_some_and(|at| now - at < state.send_period_secs)
    {
        return error(StatusCode::TOO_MANY_REQUESTS, "Too many requests", 33);
    }
    state.last_send.insert(slot, now);
    if provider == "EMAIL" {
        let digits: String = (0..6)
            .map(|_| {
                let mut b = [0u8; 1];
                getrandom::fill(&mut b).unwrap();
                char::from(b'0' + b[0] % 10)
            })
            .collect();
        state.sent.insert(user_id, (digits, now));
    }
    StatusCode::OK.into_response()
}

/// `POST /api/auth/2fa/verification/check?providerType=&verificationCode=`.
async fn check_code(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().unwrap();
    let user_id = match pre_caller(&state, &headers) {
        Ok(user) => user,
        Err(response) => return response,
    };
    let two_factor = state.two_factor[&user_id].clone();
    let provider = match provider_of(&query, &two_factor) {
        Ok(provider) => provider,
        Err(response) => return response,
    };
    state.checks += 1;
    let code = query.get("verificationCode").cloned().unwrap_or_default();
    let numeric = !code.is_empty() && code.chars().all(|c| c.is_ascii_digit());
    let right = numeric
        && match provider.as_str() {
            "TOTP" => {
                let now = chrono::Utc::now().timestamp();
                let given = code.parse::<u64>().ok();
                [now, now - 30]
                    .iter()
                    .any(|&t| given == totp(&two_factor.totp_secret, t).parse::<u64>().ok())
            }
            _ => match state.sent.get(&user_id) {
                Some((sent, _)) if *sent == code => {
                    state.sent.remove(&user_id);
                    true
                }
                _ => false,
            },
        };
    if !right {
        return error(
            StatusCode::BAD_REQUEST,
            "Verification code is incorrect",
            31,
        );
    }
    let (token, refresh) = jwt(&mut state, &user_id);
    axum::Json(json!({"token": token, "refreshToken": refresh})).into_response()
}

async fn refresh(State((state, _)): State<Shared>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut state = state.lock().unwrap();
    let old = body["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match state.refresh.remove(&old) {
        Some(user) => {
            state.refreshes += 1;
            let (token, refresh) = jwt(&mut state, &user);
            axum::Json(json!({"token": token, "refreshToken": refresh})).into_response()
        }
        None => error(StatusCode::UNAUTHORIZED, "Invalid refresh token", 10),
    }
}

async fn logout(State((state, _)): State<Shared>, headers: HeaderMap) -> Response {
    let state = state.lock().unwrap();
    match caller(&state, &headers) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(response) => response,
    }
}

async fn me(State((state, _)): State<Shared>, headers: HeaderMap) -> Response {
    let state = state.lock().unwrap();
    match caller(&state, &headers) {
        Ok(user) => axum::Json(user_json(&user)).into_response(),
        Err(response) => response,
    }
}

async fn users(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = state.lock().unwrap();
    let me = match caller(&state, &headers) {
        Ok(me) => me,
        Err(response) => return response,
    };
    if me.authority != "TENANT_ADMIN" {
        return error(StatusCode::FORBIDDEN, "You don't have permission", 20);
    }
    let (size, number) = match paging(&query) {
        Ok(p) => p,
        Err(response) => return response,
    };
    axum::Json(page(&state.users, size, number, user_json)).into_response()
}

async fn list_keys(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = state.lock().unwrap();
    let me = match caller(&state, &headers) {
        Ok(me) => me,
        Err(response) => return response,
    };
    let (size, number) = match paging(&query) {
        Ok(p) => p,
        Err(response) => return response,
    };
    if let Err(why) = parse_uuid(&user_id) {
        return error(StatusCode::BAD_REQUEST, &why, 31);
    }
    if !state.users.iter().any(|u| u.id == user_id) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("User with id [{user_id}] is not found"),
            32,
        );
    }
    if !may_manage(&me, &user_id) {
        return error(StatusCode::FORBIDDEN, "You don't have permission", 20);
    }
    let mut keys: Vec<TbKey> = state
        .keys
        .iter()
        .filter(|k| k.user_id == user_id)
        .cloned()
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_time));
    axum::Json(page(&keys, size, number, key_info)).into_response()
}

async fn create_key(State((state, _)): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = state.lock().unwrap();
    let me = match caller(&state, &headers) {
        Ok(me) => me,
        Err(response) => return response,
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "Invalid request body", 31);
    };
    let user_id = body["userId"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if body["userId"]["entityType"] != "USER" || parse_uuid(&user_id).is_err() {
        return error(StatusCode::BAD_REQUEST, "Invalid entity id", 31);
    }
    if !state.users.iter().any(|u| u.id == user_id) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("User with id [{user_id}] is not found"),
            32,
        );
    }
    if !may_manage(&me, &user_id) {
        return error(StatusCode::FORBIDDEN, "You don't have permission", 20);
    }
    let description = body["description"].as_str().unwrap_or_default().to_string();
    if let Err(response) = check_description(&description) {
        return response;
    }
    let key = TbKey {
        id: uuid(),
        created_time: now_ms(),
        user_id,
        expiration_time: body["expirationTime"].as_i64().unwrap_or(0),
        description,
        // As ThingsBoard: a key made without `enabled` is disabled.
        enabled: body["enabled"].as_bool().unwrap_or(false),
        value: format!("tb_{}", random(64)),
    };
    let mut response = key_info(&key);
    response["value"] = json!(key.value);
    state.keys.push(key);
    axum::Json(response).into_response()
}

fn with_key(
    state: &mut TbState,
    headers: &HeaderMap,
    id: &str,
    change: impl FnOnce(&mut TbKey),
) -> Response {
    let me = match caller(state, headers) {
        Ok(me) => me,
        Err(response) => return response,
    };
    if let Err(response) = key_uuid(id) {
        return response;
    }
    let Some(key) = state.keys.iter_mut().find(|k| k.id == id) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("Api key with id [{id}] is not found"),
            32,
        );
    };
    if !may_manage(&me, &key.user_id) {
        return error(StatusCode::FORBIDDEN, "You don't have permission", 20);
    }
    change(key);
    axum::Json(key_info(key)).into_response()
}

async fn set_enabled(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    Path((id, enabled)): Path<(String, bool)>,
) -> Response {
    let mut state = state.lock().unwrap();
    with_key(&mut state, &headers, &id, |k| k.enabled = enabled)
}

async fn set_description(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body).to_string();
    let mut state = state.lock().unwrap();
    state.description_bodies.push(text.clone());
    if let Err(response) = check_description(&text) {
        return response;
    }
    with_key(&mut state, &headers, &id, |k| k.description = text)
}

async fn delete_key(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut state = state.lock().unwrap();
    let response = with_key(&mut state, &headers, &id, |_| {});
    if response.status().is_success() {
        state.keys.retain(|k| k.id != id);
        return StatusCode::OK.into_response();
    }
    response
}

impl ThingsBoard {
    /// Starts the stand-in on loopback with a tenant administrator `admin@tb.example`, a customer
    /// user `user@tb.example`, and `2fa@tb.example`, a customer user with an authenticator app
    /// ([`TWO_FACTOR_SECRET`]) and codes by email (password `tb password` each).
    pub async fn start() -> ThingsBoard {
        let two_factor_id = uuid();
        let state = Arc::new(Mutex::new(TbState {
            two_factor: HashMap::from([(
                two_factor_id.clone(),
                TwoFactor {
                    totp_secret: TWO_FACTOR_SECRET.to_vec(),
                    email: true,
                },
            )]),
            send_period_secs: 30,
            users: vec![
                TbUser {
                    id: uuid(),
                    email: "admin@tb.example".into(),
                    password: "tb password".into(),
                    authority: "TENANT_ADMIN".into(),
                },
                TbUser {
                    id: uuid(),
                    email: "user@tb.example".into(),
                    password: "tb password".into(),
                    authority: "CUSTOMER_USER".into(),
                },
                TbUser {
                    id: two_factor_id,
                    email: "2fa@tb.example".into(),
                    password: "tb password".into(),
                    authority: "CUSTOMER_USER".into(),
                },
            ],
            jwt_ttl: 9000,
            ..Default::default()
        }));
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let app = Router::new()
            .route("/api/auth/login", post(login))
            .route("/api/auth/token", post(refresh))
            .route("/api/auth/logout", post(logout))
            .route("/api/auth/user", get(me))
            .route("/api/auth/2fa/providers", get(providers))
            .route("/api/auth/2fa/verification/send", post(send_code))
            .route("/api/auth/2fa/verification/check", post(check_code))
            .route("/api/users", get(users))
            .route("/api/apiKeys/{user_id}", get(list_keys))
            .route("/api/apiKey", post(create_key))
            .route("/api/apiKey/{id}/enabled/{enabled}", put(set_enabled))
            .route("/api/apiKey/{id}/description", put(set_description))
            .route("/api/apiKey/{id}", axum::routing::delete(delete_key))
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    next.run(request)
                },
            ))
            .with_state((state.clone(), requests.clone()));
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
        ThingsBoard {
            url,
            state,
            requests,
            shutdown: Some(shutdown),
        }
    }

    pub fn user_id(&self, email: &str) -> String {
        let state = self.state.lock().unwrap();
        state
            .users
            .iter()
            .find(|u| u.email == email)
            .unwrap()
            .id
            .clone()
    }

    /// Puts keys straight into the server, for listings of many keys.
    pub fn insert_keys(&self, email: &str, count: usize, expires_in_days: i64) {
        let user_id = self.user_id(email);
        let mut state = self.state.lock().unwrap();
        let now = now_ms();
        for i in 0..count {
            state.keys.push(TbKey {
                id: uuid(),
                created_time: now - i as i64,
                user_id: user_id.clone(),
                expiration_time: if expires_in_days == 0 {
                    0
                } else {
                    now + expires_in_days * 86_400_000
                },
                description: format!("bulk {i}"),
                enabled: true,
                value: format!("tb_{}", random(64)),
            });
        }
    }

    /// The code last emailed to `email`, as its inbox would show it.
    pub fn sent_code(&self, email: &str) -> Option<String> {
        let user_id = self.user_id(email);
        let state = self.state.lock().unwrap();
        state.sent.get(&user_id).map(|(code, _)| code.clone())
    }

    /// Ends every session, as a server restart with a new signing key would.
    pub fn forget_sessions(&self) {
        let mut state = self.state.lock().unwrap();
        state.jwts.clear();
        state.refresh.clear();
    }

    pub fn keys(&self) -> Vec<TbKey> {
        self.state.lock().unwrap().keys.clone()
    }

    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Drop for ThingsBoard {
    fn drop(&mut self) {
        self.stop();
    }
}
