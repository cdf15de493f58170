//! The API on a socket, held up against slow and greedy clients: a deadline for a request's headers
//! (which also closes idle keep-alive connections), one for the whole request, a cap on open
//! connections below the open-file limit, size limits answered with JSON errors, the headers every
//! response carries, and a shutdown that waits for requests in flight only up to a deadline.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use super::error::ApiError;
use super::tls::Tls;

/// Largest request body the API reads; every request body it takes is a small JSON object.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest request line target (path and query).
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest total of header names and values.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// File descriptors kept free beside the connections: the database, the log, refusals.
const RESERVED_FDS: usize = 128;
/// Connections past the cap are answered 503 by at most this many refusals at once; beyond that
/// they are closed unanswered.
const MAX_REFUSALS: usize = 64;

/// Deadlines and the connection cap.
#[derive(Debug, Clone)]
pub struct Limits {
    /// A connection has this long to send a request's headers, and is closed when idle this long.
    pub header_timeout: Duration,
    /// A request has this long, from its headers to the response (a slow body is 408).
    pub request_timeout: Duration,
    /// Open connections at most (lowered to fit the open-file limit).
    pub max_connections: usize,
    /// After a shutdown signal, requests in flight get this long before they are dropped.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// One request, around the router: refuses an oversized request with a JSON error before any
/// work, bounds the request's time (408), and adds the headers every response carries. (Done here,
/// not as router middleware: axum's `from_fn` cost about 4 µs a request, a quarter of a `/healthz`.)
async fn handle(
    app: Router,
    request_timeout: Duration,
    peer: SocketAddr,
    mut request: hyper::Request<Incoming>,
) -> Response {
    request.extensions_mut().insert(ConnectInfo(peer));
    let mut response = match oversized(&request) {
        Some(err) => err.into_response(),
        None => match tokio::time::timeout(request_timeout, app.oneshot(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(_) => {
                let mut response = ApiError::RequestTimeout.into_response();
                // The rest of the body may still be on its way: do not read it as a next request.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                response
            }
        },
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // API answers are per caller, and some carry a secret once: never kept by a cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn oversized<B>(request: &hyper::Request<B>) -> Option<ApiError> {
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Some(ApiError::UriTooLong);
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(ApiError::HeadersTooLarge);
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Some(ApiError::PayloadTooLarge);
    }
    None
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets requests in
/// flight finish for up to `limits.shutdown_timeout`, and drops what is left.
/// With `tls`, every connection's TLS handshake must end within `limits.header_timeout`.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()>,
) {
    let cap = connection_cap(limits.max_connections);
    tracing::info!("at most {cap} connections at once");
    let slots = Arc::new(Semaphore::new(cap));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // Out of file descriptors, or a connection reset before it was taken:
                        // wait a moment rather than spin.
                        tracing::warn!("cannot accept a connection: {err}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    // A TLS client cannot read a plain answer: it is just closed.
                    if tls.is_none() && let Ok(refusal) = refusals.clone().try_acquire_owned() {
                        connections.spawn(async move {
                            refuse(stream).await;
                            drop(refusal);
                        });
                    }
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let request_timeout = limits.request_timeout;
                let service = hyper::service::service_fn(move |request| {
                    let response = handle(app.clone(), request_timeout, peer, request);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let Some(tls) = &tls else {
                    let connection =
                        graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                    connections.spawn(async move {
                        let _ = connection.await;
                        drop(slot);
                    });
                    continue;
                };
                let acceptor = tls.acceptor();
                let handshake_timeout = limits.header_timeout;
                let builder = builder.clone();
                let watcher = graceful.watcher();
                connections.spawn(async move {
                    let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
                    if let Ok(Ok(stream)) = handshake.await {
                        let connection = builder.serve_connection(TokioIo::new(stream), service);
                        let _ = watcher.watch(connection).await;
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_timeout) => {
            tracing::warn!(
                "requests still in flight {} s after the shutdown signal: dropping them",
                limits.shutdown_timeout.as_secs()
            );
        }
    }
    connections.abort_all();
}

/// Answers a connection past the cap with a JSON 503 and closes it, reading what the client sends
/// for a moment first so the close does not reset the answer away.
async fn refuse(mut stream: TcpStream) {
    let body = serde_json::json!({
        "error": "the server has too many open connections; try again shortly",
        "code": "unavailable",
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         x-content-type-options: nosniff\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        loop {
            stream.readable().await?;
            match stream.try_read(&mut sink) {
                Ok(0) => return Ok::<(), std::io::Error>(()),
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(err) => return Err(err),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(250), answer).await;
}

/// `configured`, lowered to stay below the open-file limit (raised to its hard maximum first).
fn connection_cap(configured: usize) -> usize {
    let soft = raise_open_file_limit();
    configured.min(soft.saturating_sub(RESERVED_FDS).max(16))
}

/// Raises this process's soft open-file limit to the hard one, as servers commonly do, and returns
/// the soft limit in force.
#[cfg(unix)]
fn raise_open_file_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

/// Windows has no open-file limit of this kind: the configured cap holds.
#[cfg(not(unix))]
fn raise_open_file_limit() -> usize {
    usize::MAX
}

/// Whether clients reach `addr` only from this machine.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}
