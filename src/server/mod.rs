//! The key-management server: axum router, auth, handlers and the store behind them.
//!
//! `router(state)` is a plain function so tests can drive it with `oneshot`; [`serve`] runs it on a
//! socket; [`spawn_local`] starts it in-process on a free loopback port for the desktop app and the
//! command line, which then speak to it over HTTP like to any remote server.

pub mod accounts;
pub mod auth;
pub mod cache;
pub mod embedded;
pub mod error;
mod extract;
pub mod hashing;
pub mod http;
mod openapi;
pub mod rights;
mod routes;
#[cfg(test)]
pub(crate) use routes::{validate_description, validate_name};
pub mod store;
pub mod throttle;
pub mod tls;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use self::cache::AuthCache;
pub use self::embedded::{LocalSignIn, open_local};
use self::store::{PostgresStore, SqliteStore, Store, StoreError};
use self::throttle::Throttle;

/// Policy a server enforces.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Longest key lifetime the server accepts (at most 365).
    pub max_key_days: i64,
    pub session_hours: i64,
    /// Failed authentications a client address may have per minute before it gets 429.
    pub failures_per_minute: u32,
    /// Failed sign-ins an account may have per [`ACCOUNT_WINDOW`] before addresses that have failed
    /// are refused for it (an address with no failures still signs in).
    pub account_failures: u32,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<throttle::AddrBlock>,
    /// Deadlines and the connection cap.
    pub limits: http::Limits,
    /// How long the credential cache may go without confirming it holds every change of rights
    /// before it is bypassed (fail closed).
    pub max_staleness: Duration,
}

/// The window per-account sign-in failures are counted in.
pub const ACCOUNT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_key_days: crate::api::limits::MAX_KEY_DAYS,
            session_hours: 12,
            failures_per_minute: throttle::DEFAULT_FAILURES_PER_WINDOW,
            account_failures: 10,
            trusted_proxies: Vec::new(),
            limits: http::Limits::default(),
            max_staleness: Duration::from_secs(5),
        }
    }
}

/// Shared by every handler: the store, the credential cache and the policy.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

pub struct StateInner {
    pub store: Arc<dyn Store>,
    pub cache: AuthCache,
    pub throttle: Throttle,
    pub config: ServerConfig,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: ServerConfig) -> AppState {
        AppState(Arc::new(StateInner {
            store,
            cache: AuthCache::default(),
            throttle: Throttle::new(config.failures_per_minute),
            config,
        }))
    }
}

impl Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Opens the store a database URL names: `postgres://USER:PASSWORD@HOST/DB`, or `sqlite://PATH`
/// (or a plain path).
pub async fn open_store(database_url: &str) -> Result<Arc<dyn Store>, ServerError> {
    if store::is_postgres_url(database_url) {
        return Ok(Arc::new(PostgresStore::open(database_url).await?));
    }
    Ok(Arc::new(SqliteStore::open(database_url).await?))
}

/// Binds `listen`; the error names the address and the cause (for example, the port is taken).
pub async fn bind(listen: &str) -> Result<TcpListener, ServerError> {
    TcpListener::bind(listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: listen.to_string(),
            source,
        })
}

/// Serves the API on `listener` until `shutdown` completes, then lets the requests in flight finish
/// (up to the shutdown deadline of [`http::Limits`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<tls::Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener.local_addr()?;
    if tls.is_none() {
        if http::is_loopback(&addr) {
            tracing::info!("speaking plain HTTP on {addr}, which only this machine reaches");
        } else {
            tracing::warn!(
                "speaking plain HTTP on {addr}, which other machines reach: passwords, session \
                 tokens and keys cross the network unencrypted; give --tls-cert and --tls-key, or \
                 put a TLS-terminating proxy in front"
            );
        }
    }
    // Read before the first request, so no change logged after it can be missed.
    state.cache.follow(state.config.max_staleness);
    let read_began = std::time::Instant::now();
    let last_change = match state.store.last_rights_change().await {
        Ok(id) => {
            state.cache.confirm(read_began);
            id
        }
        Err(err) => {
            tracing::warn!("cannot read the log of rights changes: {err}");
            0
        }
    };
    let follower = tokio::spawn(follow_rights_changes(state.clone(), last_change));
    let limits = state.config.limits.clone();
    http::serve_connections(listener, router(state), &limits, tls, shutdown).await;
    follower.abort();
    Ok(())
}

/// How long logged changes of rights are kept: a process that has not read the log for longer
/// drops its whole cache instead.
const RIGHTS_LOG_KEPT: chrono::Duration = chrono::Duration::minutes(10);

/// How often the log of rights changes is read when nothing announces changes.
const RIGHTS_POLL: Duration = Duration::from_millis(250);

/// A read of the log that takes longer counts as failed (a connection that went silent would
/// otherwise hold the follower for as long as the kernel waits on it).
const RIGHTS_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Follows the changes of rights other processes make on the same database (other instances on
/// PostgreSQL; the desktop app and the command line on one SQLite file) and drops the cached
/// credentials of just the users they concern. The log is read when the store announces a change
/// (PostgreSQL's NOTIFY) and every [`RIGHTS_POLL`] in any case; each successful read confirms the
/// cache as current up to when it began. While reads fail, the cache goes stale and is bypassed
/// ([`cache::AuthCache::is_fresh`]).
async fn follow_rights_changes(state: AppState, mut last: i64) {
    struct AbortOnDrop(Option<tokio::task::AbortHandle>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            if let Some(handle) = &self.0 {
                handle.abort();
            }
        }
    }
    let announced = Arc::new(tokio::sync::Notify::new());
    let _watch = AbortOnDrop(state.store.watch_rights_changes(announced.clone()));
    let mut interval = tokio::time::interval(RIGHTS_POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned = tokio::time::Instant::now();
    let mut failing = false;
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = announced.notified() => {}
        }
        let read_began = std::time::Instant::now();
        let read =
            tokio::time::timeout(RIGHTS_READ_TIMEOUT, state.store.rights_changes_since(last))
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::Database(sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the database did not answer within 2 s",
                    ))))
                });
        match read {
            Ok(changes) => {
                let mut expected = last + 1;
                let gap = changes.iter().any(|&(id, _)| {
                    let missing = id != expected;
                    expected = id + 1;
                    missing
                });
                if gap {
                    // Changes were pruned before this process read them (or, on PostgreSQL, a
                    // rolled-back write left a gap): trust nothing cached.
                    state.cache.invalidate_all();
                }
                if let Some(&(id, _)) = changes.last() {
                    last = id;
                }
                state
                    .cache
                    .observe_changes(changes.into_iter().map(|(_, user)| user));
                state.cache.confirm(read_began);
                if failing {
                    failing = false;
                    tracing::info!("the log of rights changes can be read again");
                }
            }
            Err(err) => {
                if !failing {
                    failing = true;
                    tracing::warn!(
                        "cannot read the log of rights changes: {err}; credentials are checked \
                         against the database until it can be read again"
                    );
                }
            }
        }
        if pruned.elapsed() > Duration::from_secs(60) {
            pruned = tokio::time::Instant::now();
            let before = chrono::Utc::now() - RIGHTS_LOG_KEPT;
            let pruned = tokio::time::timeout(
                RIGHTS_READ_TIMEOUT,
                state.store.prune_rights_changes(before),
            )
            .await;
            if let Ok(Err(err)) = pruned {
                tracing::warn!("cannot prune the log of rights changes: {err}");
            }
        }
    }
}

/// A server running in this process on a free loopback port.
pub struct LocalServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl LocalServer {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(err) => Err(ServerError::Invalid(format!("server task failed: {err}"))),
        }
    }
}

/// Starts the server on `127.0.0.1` (a free port) over `store`, on the current tokio runtime.
pub async fn spawn_local(
    store: Arc<dyn Store>,
    config: ServerConfig,
) -> Result<LocalServer, ServerError> {
    spawn_at("127.0.0.1:0", store, config).await
}

/// Starts the server on `listen` (plain HTTP) over `store`, on the current tokio runtime.
pub async fn spawn_at(
    listen: &str,
    store: Arc<dyn Store>,
    config: ServerConfig,
) -> Result<LocalServer, ServerError> {
    let listener = bind(listen).await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(store, config);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), None, async move {
        let _ = rx.await;
    }));
    Ok(LocalServer {
        addr,
        state,
        shutdown: Some(tx),
        task,
    })
}
