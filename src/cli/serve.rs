//! `keywarden serve`: run the key-management server until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::api::limits::MAX_KEY_DAYS;
use crate::server::http::Limits;
use crate::server::store::DatabaseUrl;
use crate::server::throttle::AddrBlock;
use crate::server::tls::Tls;
use crate::server::{self, AppState, ServerConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "KEYWARDEN_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// `postgres://USER:PASSWORD@HOST/DATABASE`, or `sqlite://PATH` (created when missing); default
    /// `$XDG_DATA_HOME/keywarden/server.db`.
    #[arg(long, env = "KEYWARDEN_DATABASE_URL", hide_env_values = true)]
    database_url: Option<DatabaseUrl>,
    /// Longest key lifetime this server accepts, in days (at most 365).
    #[arg(long, env = "KEYWARDEN_MAX_KEY_DAYS", default_value_t = MAX_KEY_DAYS, value_parser = clap::value_parser!(i64).range(1..=MAX_KEY_DAYS))]
    max_key_days: i64,
    /// A proxy (ADDRESS or ADDRESS/PREFIX) whose `X-Forwarded-For` names the client; repeat for
    /// several. From any other peer the header is ignored and the socket's address counts.
    #[arg(
        long = "trusted-proxy",
        env = "KEYWARDEN_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<AddrBlock>,
    /// Seconds a connection has to send a request's headers; idle connections close after it too.
    #[arg(long, env = "KEYWARDEN_HEADER_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a request has from its headers to its response (a slow body gets 408).
    #[arg(long, env = "KEYWARDEN_REQUEST_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout: u64,
    /// Open connections at most; lowered to stay below the open-file limit.
    #[arg(long, env = "KEYWARDEN_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// The server's certificate chain (PEM, leaf first): serve HTTPS. Read again on SIGHUP.
    #[arg(long, env = "KEYWARDEN_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1). Read again on SIGHUP.
    #[arg(long, env = "KEYWARDEN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds the credential cache may go without confirming it knows every change of rights
    /// (revocations made through other instances) before each credential is checked against the
    /// database instead; when that fails too, requests get 503.
    #[arg(long, env = "KEYWARDEN_MAX_STALENESS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    max_staleness: u64,
    /// Seconds requests in flight get after SIGTERM or SIGINT before they are dropped.
    #[arg(long, env = "KEYWARDEN_SHUTDOWN_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    shutdown_timeout: u64,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    // SIGHUP first, before anything slow: its default would end the server (`systemctl reload`).
    let hangups = hangups();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(Tls::load(cert, key)?)),
        _ => None,
    };
    let database_url = super::database_url(args.database_url)?;
    let store = server::open_store(database_url.expose()).await?;
    let listener = server::bind(&args.listen).await?;
    let config = ServerConfig {
        max_key_days: args.max_key_days,
        trusted_proxies: args.trusted_proxies,
        limits: Limits {
            header_timeout: Duration::from_secs(args.header_timeout),
            request_timeout: Duration::from_secs(args.request_timeout),
            max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        },
        max_staleness: Duration::from_secs(args.max_staleness),
        ..ServerConfig::default()
    };
    tracing::info!(
        "listening on {}://{} (database {database_url})",
        if tls.is_some() { "https" } else { "http" },
        listener.local_addr()?
    );
    tokio::spawn(reload_on_hangup(hangups, tls.clone()));
    server::serve(
        listener,
        AppState::new(store, config),
        tls,
        shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// SIGHUP, caught from now on (`None` where it cannot be).
#[cfg(unix)]
fn hangups() -> Option<tokio::signal::unix::Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(hangups) => Some(hangups),
        Err(err) => {
            tracing::warn!(
                "cannot catch SIGHUP ({err}): the TLS certificate is read at start only"
            );
            None
        }
    }
}

/// Windows has no SIGHUP: the certificate is read at start only.
#[cfg(not(unix))]
fn hangups() -> Option<()> {
    tracing::info!("the TLS certificate is read at start only: restart the server after a renewal");
    None
}

#[cfg(not(unix))]
async fn reload_on_hangup(_: Option<()>, _: Option<Arc<Tls>>) {}

/// Reads the certificate and key again on every SIGHUP (a renewal put new files in place);
/// without TLS there is nothing to reload, and SIGHUP only says so.
#[cfg(unix)]
async fn reload_on_hangup(hangups: Option<tokio::signal::unix::Signal>, tls: Option<Arc<Tls>>) {
    let Some(mut hangups) = hangups else { return };
    while hangups.recv().await.is_some() {
        match &tls {
            Some(tls) => match tls.reload() {
                Ok(()) => tracing::info!(
                    "SIGHUP: reloaded the TLS certificate from {}",
                    tls.cert_path().display()
                ),
                Err(err) => tracing::warn!("SIGHUP: kept the current TLS certificate: {err}"),
            },
            None => tracing::info!("SIGHUP: nothing to reload (no TLS certificate)"),
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down: finishing requests in flight");
}
