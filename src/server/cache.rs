//! The cache of verified credentials, so authenticating a request is a hash and a map lookup,
//! invalidated per user by the changes that take rights away, here and in other processes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use quick_cache::sync::Cache;

use super::AppState;
use super::store::{KeyAuth, SessionAuth, StoreResult};
use crate::api::KeyStatus;
use crate::key;

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
/// on the same database arrive through the store's log of rights changes, followed by
/// [`super::serve`].
///
/// Fail closed: once a server follows that log ([`AuthCache::follow`]), the cache is trusted only
/// while the log was read successfully within the staleness bound. Past it every lookup goes to the
/// database, and when that fails too the request fails (503): a credential that cannot be
/// confirmed is never accepted.
pub struct AuthCache {
    keys: Cache<[u8; 32], Entry<CachedKey>>,
    sessions: Cache<[u8; 32], Entry<SessionAuth>>,
    /// Bumped by every invalidation.
    epoch: AtomicU64,
    /// The epoch of each user's latest invalidation.
    user_epochs: RwLock<HashMap<i64, u64>>,
    /// The epoch of the latest invalidation of everything.
    all_epoch: AtomicU64,
    /// Milliseconds after `clock` up to which every change of rights is known to have been applied
    /// (the start of the last successful read of the log).
    confirmed_ms: AtomicU64,
    /// How old that may be before the cache is bypassed; 0 while nothing follows the log (a router
    /// driven in-process by tests and benchmarks, where all changes are this process's own).
    max_staleness_ms: AtomicU64,
    clock: Instant,
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
            confirmed_ms: AtomicU64::new(0),
            max_staleness_ms: AtomicU64::new(0),
            clock: Instant::now(),
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
    /// From now on the cache is trusted only while [`AuthCache::confirm`] was called within
    /// `max_staleness`.
    pub fn follow(&self, max_staleness: Duration) {
        let ms = u64::try_from(max_staleness.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.max_staleness_ms.store(ms, Ordering::SeqCst);
    }

    /// Every change of rights committed before `read_began` has been applied.
    pub fn confirm(&self, read_began: Instant) {
        let ms = u64::try_from(read_began.saturating_duration_since(self.clock).as_millis())
            .unwrap_or(u64::MAX);
        self.confirmed_ms.fetch_max(ms, Ordering::SeqCst);
    }

    /// Whether cached answers may be used: nothing to follow, or followed recently enough.
    pub fn is_fresh(&self) -> bool {
        let bound = self.max_staleness_ms.load(Ordering::SeqCst);
        if bound == 0 {
            return true;
        }
        let now = u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        now.saturating_sub(self.confirmed_ms.load(Ordering::SeqCst)) <= bound
    }

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
        if self.is_fresh()
            && let Some(entry) = map.get(&hash)
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

    /// The session with this token, through the cache. `None` when no such session exists.
    pub async fn lookup_session(&self, token: &str) -> StoreResult<Option<Arc<SessionAuth>>> {
        let hash = key::hash(token);
        let cache = &self.cache;
        cache
            .lookup(&cache.sessions, hash, || self.store.session(hash))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Role;
    use crate::key::TokenKind;
    use crate::secret::Secret;
    use crate::server::store::{AuditContext, Keys as _, NewKey, RightsLog as _, SqliteStore};
    use crate::server::{ServerConfig, accounts};

    /// A store in `dir` with one workspace; its id.
    async fn store_in(dir: &tempfile::TempDir) -> (SqliteStore, i64) {
        let url = format!("sqlite://{}", dir.path().join("cache.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let workspace = accounts::ensure_workspace(&store, "w").await.unwrap();
        (store, workspace)
    }

    /// A member of `workspace`; their id.
    async fn member(store: &SqliteStore, workspace: i64, email: &str) -> i64 {
        let user = accounts::create_user(
            store,
            email,
            &Secret::new("a password"),
            Role::Member,
            workspace,
            &AuditContext::system(Utc::now()),
        )
        .await
        .unwrap();
        user.id
    }

    /// A new key of `user_id` with the text `text`, valid for 30 days.
    fn new_key(text: &Secret, workspace: i64, user_id: i64) -> NewKey {
        let now = Utc::now();
        NewKey {
            hash: key::hash(text.expose()),
            hint: key::display_hint(text.expose()),
            name: "k".into(),
            description: String::new(),
            workspace_id: workspace,
            user_id,
            created_at: now,
            expires_at: now + chrono::Duration::days(30),
            scopes: vec![],
            replaces: None,
        }
    }

    /// Misses are cached like hits, and an invalidation drops both: a key added behind the cache's
    /// back is found only after one, as a revoked key stops working only through one.
    #[tokio::test]
    async fn misses_are_cached_until_an_invalidation() {
        let dir = tempfile::tempdir().unwrap();
        let (store, workspace) = store_in(&dir).await;
        let user = member(&store, workspace, "a@example.com").await;
        let state = AppState::new(Arc::new(store.clone()), ServerConfig::default());
        let text = key::generate(TokenKind::ApiKey);
        assert!(state.lookup_key(text.expose()).await.unwrap().is_none());

        store
            .insert_keys_unaudited(&[new_key(&text, workspace, user)])
            .await
            .unwrap();
        assert!(
            state.lookup_key(text.expose()).await.unwrap().is_none(),
            "the miss is remembered: no second database query"
        );
        state.cache.invalidate_all();
        let found = state.lookup_key(text.expose()).await.unwrap();
        assert_eq!(found.map(|k| k.auth.user_id), Some(user));
    }

    /// Found on an earlier server: any member emptied every instance's cache by toggling one of
    /// their own keys. Now a change drops the cached credentials of the user it concerns only, in
    /// this process and, through the store's log, in every other process on the database.
    #[tokio::test]
    async fn a_change_drops_only_its_users_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let (store, workspace) = store_in(&dir).await;
        let mut keys = Vec::new();
        for email in ["a@example.com", "b@example.com"] {
            let user = member(&store, workspace, email).await;
            let text = key::generate(TokenKind::ApiKey);
            let record = store
                .insert_key(
                    new_key(&text, workspace, user),
                    AuditContext::system(Utc::now()),
                )
                .await
                .unwrap();
            keys.push((user, record.id, text));
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
}
