//! Who is calling: credentials from every header style real services use, checked through the
//! credential cache, and the extractors handlers name their privilege with.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine as _;
use chrono::{DateTime, Utc};

use super::AppState;
use super::error::ApiError;
use super::rights::MANAGE_SCOPE;
use super::store::AuditContext;
use super::throttle;
use crate::api::{KeyStatus, Role, grants_manage};
use crate::key::{self, TokenKind};
use crate::secret::Secret;

/// The caller, after its credential was checked.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub is_owner: bool,
    /// The workspace the credential acts in when a request names none: a key's own workspace, or a
    /// session user's default workspace.
    pub workspace_id: i64,
    /// Membership role in `workspace_id`.
    pub role: Option<Role>,
    /// Set when the credential is an API key; such a credential never leaves its workspace.
    pub key_id: Option<i64>,
    /// The credential may manage (keys, users, workspaces, memberships): a session, or a key with
    /// the scope [`MANAGE_SCOPE`]. Other keys only read and verify.
    pub manage: bool,
    pub ip: Option<String>,
}

impl Principal {
    /// The role that decides what the caller may do in its own workspace.
    pub fn effective_role(&self) -> Option<Role> {
        if self.is_owner {
            Some(Role::Owner)
        } else {
            self.role
        }
    }

    /// This credential as the actor of a change at `at`, for the audit trail.
    pub fn audit_context(&self, at: DateTime<Utc>) -> AuditContext {
        AuditContext {
            actor_user_id: Some(self.user_id),
            actor_key_id: self.key_id,
            ip: self.ip.clone(),
            at,
        }
    }

    /// Server-wide rights (every workspace, users, owners): an owner signed in with a session. An
    /// owner's key acts in its own workspace only.
    pub fn server_wide(&self) -> bool {
        self.is_owner && self.key_id.is_none()
    }
}

/// Any valid credential.
pub struct Authenticated(pub Principal);

/// A credential that may manage: a session, or a key with the scope [`MANAGE_SCOPE`].
pub struct Manager(pub Principal);

/// A credential whose owner is an admin of its workspace, or a server owner.
pub struct WorkspaceAdmin(pub Principal);

/// A session of a server-wide owner.
pub struct Owner(pub Principal);

/// The client's address: the socket's, or from `X-Forwarded-For` when the socket is a trusted proxy
/// (absent when driven without a socket, as in tests).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let socket = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(ClientIp(throttle::client_addr(
            socket,
            &parts.headers,
            &state.config.trusted_proxies,
        )))
    }
}

/// The session token a request carries, if any (for logout).
pub fn session_token(headers: &HeaderMap) -> Option<Secret> {
    match presented_credential(headers) {
        Ok(Presented::Session(token)) => Some(token),
        _ => None,
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        state.throttle.check(ip)?;
        let principal = match presented_credential(&parts.headers) {
            Ok(Presented::Session(token)) => state.session_principal(token.expose()).await,
            Ok(Presented::Key(key)) => state.key_principal(key.expose()).await,
            Err(err) => Err(err),
        };
        match principal {
            Ok(principal) => Ok(Authenticated(Principal {
                ip: ip.map(|ip| ip.to_string()),
                ..principal
            })),
            Err(err) => {
                if is_guess(&err) {
                    state.throttle.fail(ip);
                }
                Err(err)
            }
        }
    }
}

impl FromRequestParts<AppState> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        if !principal.manage {
            return Err(ApiError::Forbidden(format!(
                "this API key may only read and verify; managing keys, users and workspaces needs \
                 a session or a key with the scope {MANAGE_SCOPE}"
            )));
        }
        Ok(Manager(principal))
    }
}

impl FromRequestParts<AppState> for WorkspaceAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        if principal.effective_role() < Some(Role::Admin) {
            return Err(ApiError::Forbidden(
                "this needs the admin role in the workspace".to_string(),
            ));
        }
        Ok(WorkspaceAdmin(principal))
    }
}

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        if !principal.server_wide() {
            return Err(ApiError::Forbidden(
                "this needs a server owner signed in with a session".to_string(),
            ));
        }
        Ok(Owner(principal))
    }
}

/// A failure that could be someone guessing: a credential that is malformed or matches nothing. A
/// known key that expired or was revoked, or no credential at all, is not counted.
fn is_guess(err: &ApiError) -> bool {
    matches!(
        err,
        ApiError::Unauthorized {
            code: "malformed_credential" | "invalid_credential",
            ..
        }
    )
}

/// The credential a request carries, format-checked but not yet looked up (its `Debug` shows
/// no secret).
#[derive(Debug, PartialEq)]
enum Presented {
    Session(Secret),
    Key(Secret),
}

/// Finds the credential in any supported header. A session token wins over a key; among keys the
/// first header in this order wins: `Authorization` (Bearer or Basic), `X-API-Key`,
/// `x-custom-api-key`, `X-Authorization: ApiKey`, `Authentication: Bearer`.
fn presented_credential(headers: &HeaderMap) -> Result<Presented, ApiError> {
    let mut candidates: Vec<Secret> = Vec::new();
    let mut unreadable = false;
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::trim).map_err(|_| ()))
    };

    if let Some(value) = header("authorization") {
        match value.ok().and_then(split_scheme) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                candidates.push(Secret::new(token))
            }
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("basic") => {
                match basic_credential(token) {
                    Some(token) => candidates.push(token),
                    None => unreadable = true,
                }
            }
            _ => unreadable = true,
        }
    }
    for name in ["x-api-key", "x-custom-api-key"] {
        match header(name) {
            Some(Ok(token)) if !token.is_empty() => candidates.push(Secret::new(token)),
            Some(_) => unreadable = true,
            None => {}
        }
    }
    for (name, expected) in [("x-authorization", "apikey"), ("authentication", "bearer")] {
        if let Some(value) = header(name) {
            match value.ok().and_then(split_scheme) {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case(expected) => {
                    candidates.push(Secret::new(token))
                }
                _ => unreadable = true,
            }
        }
    }

    let session_prefix = TokenKind::Session.prefix();
    if let Some(token) = candidates
        .iter()
        .find(|t| t.expose().starts_with(session_prefix))
    {
        key::parse(TokenKind::Session, token.expose()).map_err(malformed)?;
        return Ok(Presented::Session(token.clone()));
    }
    if let Some(token) = candidates.into_iter().next() {
        key::parse(TokenKind::ApiKey, token.expose()).map_err(malformed)?;
        return Ok(Presented::Key(token));
    }
    if unreadable {
        return Err(ApiError::unauthorized(
            "malformed_credential",
            "the credential header could not be read; send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
        ));
    }
    Err(ApiError::unauthorized(
        "missing_credential",
        "this endpoint needs a credential: `Authorization: Bearer <key or session token>` or `X-API-Key: <key>`",
    ))
}

fn malformed(err: key::FormatError) -> ApiError {
    ApiError::unauthorized(
        "malformed_credential",
        format!("the credential is not valid: {err}"),
    )
}

fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.split_once(char::is_whitespace)?;
    let rest = rest.trim();
    (!rest.is_empty()).then_some((scheme, rest))
}

/// `Basic <key>` as some clients send it, or `Basic base64(user:key)` as `curl -u :KEY` does; a key in
/// the user part with an empty password (`curl -u KEY:`) works too.
fn basic_credential(token: &str) -> Option<Secret> {
    if token.starts_with(TokenKind::ApiKey.prefix()) {
        return Some(Secret::new(token));
    }
    // Wiped when dropped, like the credential taken from it.
    let decoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()?,
    );
    let decoded = std::str::from_utf8(&decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    let chosen = if password.is_empty() { user } else { password };
    (!chosen.is_empty()).then(|| Secret::new(chosen))
}

impl AppState {
    async fn key_principal(&self, key_text: &str) -> Result<Principal, ApiError> {
        let now = Utc::now();
        let Some(key) = self.lookup_key(key_text).await? else {
            return Err(ApiError::unauthorized(
                "invalid_credential",
                "the API key is not known to this server",
            ));
        };
        match key.status(now) {
            KeyStatus::Active => {}
            KeyStatus::Revoked => {
                return Err(ApiError::unauthorized(
                    "revoked_key",
                    "the API key has been revoked",
                ));
            }
            KeyStatus::Expired => {
                return Err(ApiError::unauthorized(
                    "expired_key",
                    "the API key has expired",
                ));
            }
            KeyStatus::Disabled => {
                return Err(ApiError::unauthorized(
                    "disabled_key",
                    "the API key is disabled",
                ));
            }
        }
        let auth = &key.auth;
        if auth.role.is_none() && !auth.is_owner {
            return Err(ApiError::Forbidden(
                "the key's owner is no longer a member of the key's workspace".to_string(),
            ));
        }
        self.note_key_used(&key, now);
        Ok(Principal {
            user_id: auth.user_id,
            is_owner: auth.is_owner,
            workspace_id: auth.workspace_id,
            role: auth.role,
            key_id: Some(auth.key_id),
            manage: grants_manage(&auth.scopes),
            ip: None,
        })
    }

    async fn session_principal(&self, token: &str) -> Result<Principal, ApiError> {
        let Some(session) = self.lookup_session(token).await? else {
            return Err(ApiError::unauthorized(
                "invalid_credential",
                "the session is not known; sign in again",
            ));
        };
        if session.expires_at <= Utc::now() {
            return Err(ApiError::unauthorized(
                "session_expired",
                "the session has expired; sign in again",
            ));
        }
        Ok(Principal {
            user_id: session.user_id,
            is_owner: session.is_owner,
            workspace_id: session.default_workspace_id,
            role: session.role,
            key_id: None,
            manage: true,
            ip: None,
        })
    }

    /// The caller's role in `workspace_id` (its own workspace when `None`) for what it asks there. A
    /// workspace the caller cannot see is 404; a key never acts outside its own workspace, an
    /// owner's included. A key without the scope to manage reads as a member at most: its owner's
    /// own keys, not the workspace's.
    pub async fn role_in(
        &self,
        principal: &Principal,
        workspace_id: Option<i64>,
    ) -> Result<(i64, Role), ApiError> {
        let workspace_id = workspace_id.unwrap_or(principal.workspace_id);
        let not_found = || ApiError::NotFound("no such workspace".to_string());
        let role = if principal.key_id.is_some() {
            if workspace_id != principal.workspace_id {
                return Err(not_found());
            }
            let role = principal.effective_role().ok_or_else(not_found)?;
            if principal.manage {
                role
            } else {
                role.min(Role::Member)
            }
        } else if principal.is_owner {
            if workspace_id != principal.workspace_id
                && self.store.workspace(workspace_id).await?.is_none()
            {
                return Err(not_found());
            }
            Role::Owner
        } else if workspace_id == principal.workspace_id {
            principal.role.ok_or_else(not_found)?
        } else {
            self.store
                .membership(principal.user_id, workspace_id)
                .await?
                .ok_or_else(not_found)?
        };
        Ok((workspace_id, role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn every_header_style_yields_the_key() {
        let key = key::generate(TokenKind::ApiKey);
        let key = key.expose();
        let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
        let styles = [
            ("authorization", format!("Bearer {key}")),
            ("authorization", format!("bearer {key}")),
            ("x-api-key", key.to_string()),
            ("x-custom-api-key", key.to_string()),
            ("x-authorization", format!("ApiKey {key}")),
            ("x-authorization", format!("apikey {key}")),
            ("authentication", format!("bearer {key}")),
            ("authentication", format!("BEARER {key}")),
            ("authorization", format!("Basic {key}")),
            ("authorization", format!("Basic {}", b64(format!(":{key}")))),
            (
                "authorization",
                format!("Basic {}", b64(format!("anyone:{key}"))),
            ),
            ("authorization", format!("Basic {}", b64(format!("{key}:")))),
        ];
        for (name, value) in styles {
            assert_eq!(
                presented_credential(&headers(&[(name, &value)])).unwrap(),
                Presented::Key(Secret::new(key)),
                "{name}: {}",
                value.replace(key, "<key>")
            );
        }
    }

    /// A credential taken from a request prints as `***` (a log line or a failed assertion would
    /// otherwise show it).
    #[test]
    fn a_presented_credential_never_prints_itself() {
        let key = key::generate(TokenKind::ApiKey);
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!(":{}", key.expose()));
        for (name, value) in [
            ("x-api-key", key.expose().to_string()),
            ("authorization", format!("Basic {encoded}")),
        ] {
            let presented = presented_credential(&headers(&[(name, &value)])).unwrap();
            let printed = format!("{presented:?}");
            assert!(!printed.contains(key.expose()), "{name}: {printed}");
        }
    }

    #[test]
    fn session_wins_over_key() {
        let key = key::generate(TokenKind::ApiKey);
        let session = key::generate(TokenKind::Session);
        let map = headers(&[
            ("x-api-key", key.expose()),
            ("authorization", &format!("Bearer {}", session.expose())),
        ]);
        assert_eq!(
            presented_credential(&map).unwrap(),
            Presented::Session(session.clone())
        );
    }

    #[test]
    fn missing_and_malformed_are_told_apart() {
        let missing = presented_credential(&HeaderMap::new()).unwrap_err();
        assert!(matches!(
            missing,
            ApiError::Unauthorized {
                code: "missing_credential",
                ..
            }
        ));
        for (name, value) in [
            ("authorization", "Bearer kw_nope"),
            ("authorization", "Token abc"),
            ("x-authorization", "Bearer kw_x"),
            ("authorization", "Basic !!!"),
        ] {
            let err = presented_credential(&headers(&[(name, value)])).unwrap_err();
            assert!(
                matches!(
                    err,
                    ApiError::Unauthorized {
                        code: "malformed_credential",
                        ..
                    }
                ),
                "{name}: {value}"
            );
        }
    }
}
