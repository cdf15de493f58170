//! Who is calling: credentials from every header style real services use, a cache of verified
//! credentials, and the extractors handlers name their privilege with.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use quick_cache::sync::Cache;

use super::AppState;
use super::error::ApiError;
use super::rights::MANAGE_SCOPE;
use super::store::{AuditContext, KeyAuth, SessionAuth, StoreResult};
use super::throttle;
use crate::api::{KeyStatus, Role};
use crate::key::{self, TokenKind};

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
pub fn session_token(headers: &HeaderMap) -> Option<String> {
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
            Ok(Presented::Session(token)) => state.session_principal(&token).await,
            Ok(Presented::Key(key)) => state.key_principal(&key).await,
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

/// The credential a request carries, format-checked but not yet looked up.
#[derive(Debug, PartialEq)]
enum Presented {
    Session(String),
    Key(String),
}

/// Finds the credential in any supported header. A session token wins over a key; among keys the
/// first header in this order wins: `Authorization` (Bearer or Basic), `X-API-Key`,
/// `x-custom-api-key`, `X-Authorization: ApiKey`, `Authentication: Bearer`.
fn presented_credential(headers: &HeaderMap) -> Result<Presented, ApiError> {
    let mut candidates: Vec<String> = Vec::new();
    let mut unreadable = false;
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::trim).map_err(|_| ()))
    };

    if let Some(value) = header("authorization") {
        match value.ok().and_then(split_scheme) {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                candidates.push(token.to_string())
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
            Some(Ok(token)) if !token.is_empty() => candidates.push(token.to_string()),
            Some(_) => unreadable = true,
            None => {}
        }
    }
    for (name, expected) in [("x-authorization", "apikey"), ("authentication", "bearer")] {
        if let Some(value) = header(name) {
            match value.ok().and_then(split_scheme) {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case(expected) => {
                    candidates.push(token.to_string())
                }
                _ => unreadable = true,
            }
        }
    }

    let session_prefix = TokenKind::Session.prefix();
    if let Some(token) = candidates.iter().find(|t| t.starts_with(session_prefix)) {
        key::parse(TokenKind::Session, token).map_err(malformed)?;
        return Ok(Presented::Session(token.clone()));
    }
    if let Some(token) = candidates.into_iter().next() {
        key::parse(TokenKind::ApiKey, &token).map_err(malformed)?;
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
fn basic_credential(token: &str) -> Option<String> {
    if token.starts_with(TokenKind::ApiKey.prefix()) {
        return Some(token.to_string());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    let chosen = if password.is_empty() { user } else { password };
    (!chosen.is_empty()).then(|| chosen.to_string())
}

/// Verified credentials by hash, so authenticating a request is a hash and a map lookup, not a
/// database round trip. Well-formed credentials that match nothing are remembered too (as `None`),
/// so made-up keys cannot make every request a database query. Both maps are bounded, with
/// quick_cache's scan-resistant eviction (S3-FIFO): a flood of one-off credentials passes through
/// a small probation queue and does not push out the keys in daily use.
///
/// Invalidation is per user: every change that can take a right away (revoke, disable, delete,
/// rotate, role change, removal, logout) calls [`AuthCache::invalidate_user`] for the user whose
/// credentials it touches, before its response is sent. That stamps the user with a new epoch;
/// an entry is used only if it was read from the database at an epoch no older than its user's
/// stamp, so neither an entry cached before the change nor a read that raced with it is used
/// after. Other users' entries stay: one member toggling their own key does not empty the cache
/// for everyone. A credential that did not exist cannot have been presented before it was made
/// (it is 190 random bits), so making one needs no invalidation. Changes made by another process
/// on the same database arrive through the store's log of rights changes, polled by
/// [`super::serve`].
pub struct AuthCache {
    keys: Cache<[u8; 32], Entry<CachedKey>>,
    sessions: Cache<[u8; 32], Entry<SessionAuth>>,
    /// Bumped by every invalidation.
    epoch: AtomicU64,
    /// The epoch of each user's latest invalidation.
    user_epochs: RwLock<HashMap<i64, u64>>,
    /// The epoch of the latest invalidation of everything.
    all_epoch: AtomicU64,
}

/// A cached answer (`None`: no such credential) and the epoch its database read began at.
struct Entry<T> {
    value: Option<Arc<T>>,
    loaded: u64,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            loaded: self.loaded,
        }
    }
}

/// Whose credential a cached answer is.
trait UserOwned {
    fn user_id(&self) -> i64;
}

impl UserOwned for CachedKey {
    fn user_id(&self) -> i64 {
        self.auth.user_id
    }
}

impl UserOwned for SessionAuth {
    fn user_id(&self) -> i64 {
        self.user_id
    }
}

/// Entries per map; each is well under 1 KiB.
const CACHE_CAPACITY: usize = 100_000;
const TOUCH_INTERVAL_MS: i64 = 60_000;

impl Default for AuthCache {
    fn default() -> Self {
        AuthCache {
            keys: Cache::new(CACHE_CAPACITY),
            sessions: Cache::new(CACHE_CAPACITY),
            epoch: AtomicU64::new(0),
            user_epochs: RwLock::new(HashMap::new()),
            all_epoch: AtomicU64::new(0),
        }
    }
}

pub struct CachedKey {
    pub auth: KeyAuth,
    last_touch_ms: AtomicI64,
}

impl CachedKey {
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        KeyStatus::derive(
            now,
            self.auth.expires_at,
            self.auth.enabled,
            self.auth.revoked_at,
        )
    }

    /// True at most once a minute per key: the caller then writes `last_used_at`.
    fn claim_touch(&self, now: DateTime<Utc>) -> bool {
        let now_ms = now.timestamp_millis();
        let last = self.last_touch_ms.load(Ordering::Relaxed);
        now_ms - last >= TOUCH_INTERVAL_MS
            && self
                .last_touch_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

impl AuthCache {
    /// Drops every cached credential of `user_id`, here and for reads already under way.
    pub fn invalidate_user(&self, user_id: i64) {
        // A poisoned lock guards a plain map: use it as it is, since skipping an invalidation
        // would keep a revoked key working.
        let mut stamps = self
            .user_epochs
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        stamps.insert(user_id, epoch);
    }

    /// Drops everything (when changes may have been missed).
    pub fn invalidate_all(&self) {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.all_epoch.fetch_max(epoch, Ordering::SeqCst);
        self.keys.clear();
        self.sessions.clear();
    }

    /// Applies the rights changes another process logged: `None` is a change to everyone.
    pub fn observe_changes(&self, users: impl IntoIterator<Item = Option<i64>>) {
        for user in users {
            match user {
                Some(user_id) => self.invalidate_user(user_id),
                None => self.invalidate_all(),
            }
        }
    }

    /// Whether `entry` was read after every invalidation that concerns it.
    fn is_current<T: UserOwned>(&self, entry: &Entry<T>) -> bool {
        if entry.loaded == self.epoch.load(Ordering::SeqCst) {
            return true;
        }
        if entry.loaded < self.all_epoch.load(Ordering::SeqCst) {
            return false;
        }
        let Some(value) = &entry.value else {
            // A miss never goes stale through a change of rights.
            return true;
        };
        let stamps = self
            .user_epochs
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        stamps
            .get(&value.user_id())
            .is_none_or(|&stamp| entry.loaded >= stamp)
    }

    /// The cached answer for `hash` (`Some(None)`: known not to exist), or the database's, which is
    /// then cached with the epoch its read began at.
    async fn lookup<T: UserOwned, F>(
        &self,
        map: &Cache<[u8; 32], Entry<T>>,
        hash: [u8; 32],
        load: impl FnOnce() -> F,
    ) -> StoreResult<Option<Arc<T>>>
    where
        F: Future<Output = StoreResult<Option<T>>>,
    {
        if let Some(entry) = map.get(&hash)
            && self.is_current(&entry)
        {
            return Ok(entry.value);
        }
        let loaded = self.epoch.load(Ordering::SeqCst);
        let value = load().await?.map(Arc::new);
        map.insert(
            hash,
            Entry {
                value: value.clone(),
                loaded,
            },
        );
        Ok(value)
    }
}

impl AppState {
    /// The key with this text, through the cache. `None` when no such key exists.
    pub async fn lookup_key(&self, key_text: &str) -> StoreResult<Option<Arc<CachedKey>>> {
        let hash = key::hash(key_text);
        let load = || async move {
            Ok(self.store.key_auth(hash).await?.map(|auth| CachedKey {
                last_touch_ms: AtomicI64::new(
                    auth.last_used_at.map_or(0, |at| at.timestamp_millis()),
                ),
                auth,
            }))
        };
        self.cache.lookup(&self.cache.keys, hash, load).await
    }

    /// Records that a key was used, at most once a minute per key, without delaying the request.
    pub fn note_key_used(&self, key: &CachedKey, now: DateTime<Utc>) {
        if key.claim_touch(now) {
            let store = self.store.clone();
            let key_id = key.auth.key_id;
            tokio::spawn(async move {
                if let Err(err) = store.touch_key(key_id, now).await {
                    tracing::warn!("could not record use of key {key_id}: {err}");
                }
            });
        }
    }

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
            manage: auth.scopes.iter().any(|s| s == MANAGE_SCOPE),
            ip: None,
        })
    }

    async fn session_principal(&self, token: &str) -> Result<Principal, ApiError> {
        let hash = key::hash(token);
        let cache = &self.cache;
        let Some(session) = cache
            .lookup(&cache.sessions, hash, || self.store.session(hash))
            .await?
        else {
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

    /// Misses are cached like hits, and an invalidation drops both: a key added behind the cache's
    /// back is found only after one, as a revoked key stops working only through one.
    #[tokio::test]
    async fn misses_are_cached_until_an_invalidation() {
        use crate::key::{self, TokenKind};
        use crate::secret::Secret;
        use crate::server::store::{NewKey, SqliteStore};
        use crate::server::{ServerConfig, accounts};

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let workspace = accounts::ensure_workspace(&store, "w").await.unwrap();
        let user = accounts::create_user(
            &store,
            "a@example.com",
            &Secret::new("a password"),
            Role::Member,
            workspace,
            &crate::server::store::AuditContext::system(Utc::now()),
        )
        .await
        .unwrap();
        let state = AppState::new(Arc::new(store.clone()), ServerConfig::default());
        let text = key::generate(TokenKind::ApiKey);
        assert!(state.lookup_key(text.expose()).await.unwrap().is_none());

        let now = Utc::now();
        store
            .insert_keys_unaudited(&[NewKey {
                hash: key::hash(text.expose()),
                hint: key::display_hint(text.expose()),
                name: "late".into(),
                description: String::new(),
                workspace_id: workspace,
                user_id: user.id,
                created_at: now,
                expires_at: now + chrono::Duration::days(30),
                scopes: vec![],
                replaces: None,
            }])
            .await
            .unwrap();
        assert!(
            state.lookup_key(text.expose()).await.unwrap().is_none(),
            "the miss is remembered: no second database query"
        );
        state.cache.invalidate_all();
        let found = state.lookup_key(text.expose()).await.unwrap();
        assert_eq!(found.map(|k| k.auth.user_id), Some(user.id));
    }

    /// Found on an earlier server: any member emptied every instance's cache by toggling one of
    /// their own keys. Now a change drops the cached credentials of the user it concerns only, in
    /// this process and, through the store's log, in every other process on the database.
    #[tokio::test]
    async fn a_change_drops_only_its_users_credentials() {
        use crate::key::{self, TokenKind};
        use crate::secret::Secret;
        use crate::server::store::{AuditContext, NewKey, SqliteStore, Store};
        use crate::server::{ServerConfig, accounts};

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let workspace = accounts::ensure_workspace(&store, "w").await.unwrap();
        let now = Utc::now();
        let mut keys = Vec::new();
        for email in ["a@example.com", "b@example.com"] {
            let user = accounts::create_user(
                &store,
                email,
                &Secret::new("a password"),
                Role::Member,
                workspace,
                &AuditContext::system(now),
            )
            .await
            .unwrap();
            let text = key::generate(TokenKind::ApiKey);
            let record = store
                .insert_key(
                    NewKey {
                        hash: key::hash(text.expose()),
                        hint: key::display_hint(text.expose()),
                        name: "k".into(),
                        description: String::new(),
                        workspace_id: workspace,
                        user_id: user.id,
                        created_at: now,
                        expires_at: now + chrono::Duration::days(30),
                        scopes: vec![],
                        replaces: None,
                    },
                    AuditContext::system(now),
                )
                .await
                .unwrap();
            keys.push((user.id, record.id, text));
        }
        let here = AppState::new(Arc::new(store.clone()), ServerConfig::default());
        let there = AppState::new(Arc::new(store.clone()), ServerConfig::default());
        let lookup = |state: &AppState, i: usize| {
            let state = state.clone();
            let text = keys[i].2.expose().to_string();
            async move { state.lookup_key(&text).await.unwrap().unwrap() }
        };
        let (a_here, b_here) = (lookup(&here, 0).await, lookup(&here, 1).await);
        let (a_there, b_there) = (lookup(&there, 0).await, lookup(&there, 1).await);
        assert!(Arc::ptr_eq(&a_here, &lookup(&here, 0).await), "cached");

        // User a's key is disabled through `here`.
        let last = store.last_rights_change().await.unwrap();
        store
            .update_key(
                keys[0].1,
                crate::server::store::KeyChanges {
                    enabled: Some(false),
                    ..Default::default()
                },
                &[crate::api::AuditAction::Disabled],
                AuditContext::system(Utc::now()),
            )
            .await
            .unwrap();
        here.cache.invalidate_user(keys[0].0);
        let a_now = lookup(&here, 0).await;
        assert!(!Arc::ptr_eq(&a_here, &a_now) && !a_now.auth.enabled);
        assert!(
            Arc::ptr_eq(&b_here, &lookup(&here, 1).await),
            "b's key stays cached"
        );

        // `there` learns of it from the log, and drops a's credential alone.
        let changes = store.rights_changes_since(last).await.unwrap();
        assert_eq!(
            changes.iter().map(|c| c.1).collect::<Vec<_>>(),
            [Some(keys[0].0)]
        );
        there
            .cache
            .observe_changes(changes.into_iter().map(|(_, user)| user));
        assert!(!lookup(&there, 0).await.auth.enabled);
        assert!(!Arc::ptr_eq(&a_there, &lookup(&there, 0).await));
        assert!(Arc::ptr_eq(&b_there, &lookup(&there, 1).await));
    }

    /// A read that began before an invalidation is not used after it, even when it finishes later.
    #[tokio::test]
    async fn a_read_racing_an_invalidation_is_not_kept() {
        let cache = AuthCache::default();
        let session = |user_id| SessionAuth {
            user_id,
            is_owner: false,
            default_workspace_id: 1,
            role: Some(Role::Member),
            expires_at: Utc::now() + chrono::Duration::hours(1),
        };
        let hash = [7u8; 32];
        let stale = cache
            .lookup(&cache.sessions, hash, || async {
                // The change is committed and invalidated while this read is under way.
                cache.invalidate_user(5);
                Ok(Some(session(5)))
            })
            .await
            .unwrap();
        assert!(stale.is_some());
        let mut reloaded = false;
        cache
            .lookup(&cache.sessions, hash, || async {
                reloaded = true;
                Ok(Some(session(5)))
            })
            .await
            .unwrap();
        assert!(reloaded, "the raced entry was used");
    }

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
                Presented::Key(key.to_string()),
                "{name}: {}",
                value.replace(key, "<key>")
            );
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
            Presented::Session(session.expose().to_string())
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
