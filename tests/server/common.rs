//! Test harness: a real server on 127.0.0.1 over a real database: a SQLite file in a temporary
//! directory, or a fresh database on the throwaway PostgreSQL cluster `tests/postgres.sh` starts
//! (`KEYWARDEN_TEST_BACKEND=postgres`; `tests/run.sh` runs the server tests on both).
#![allow(dead_code)]

use std::sync::Arc;

use keywarden::api::{CreateKeyRequest, CreatedKey, LoginRequest, LoginResponse, Role, UserInfo};
use keywarden::secret::Secret;
use keywarden::server::store::Store;
use keywarden::server::{self, LocalServer, ServerConfig, accounts};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";

/// A database backend the server can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// The backend the end-to-end tests run on: `KEYWARDEN_TEST_BACKEND` (`sqlite` by default).
    pub fn under_test() -> Backend {
        match std::env::var("KEYWARDEN_TEST_BACKEND").as_deref() {
            Err(_) | Ok("sqlite") => Backend::Sqlite,
            Ok("postgres") => Backend::Postgres,
            Ok(other) => panic!("KEYWARDEN_TEST_BACKEND is {other:?}: use sqlite or postgres"),
        }
    }

    /// The URL of a fresh, empty database: a file in `dir`, or a new database on the test cluster.
    pub async fn fresh_database(self, dir: &std::path::Path) -> String {
        match self {
            Backend::Sqlite => format!("sqlite://{}", dir.join("server.db").display()),
            Backend::Postgres => fresh_postgres_database().await,
        }
    }
}

/// [`Backend::fresh_database`] of the backend under test, for tests without a runtime.
pub fn fresh_database_blocking(dir: &std::path::Path) -> String {
    tokio::runtime::Runtime::new()
        .expect("a tokio runtime")
        .block_on(Backend::under_test().fresh_database(dir))
}

/// The superuser URL of the throwaway cluster `tests/postgres.sh` starts.
pub fn postgres_admin_url() -> String {
    std::env::var("KEYWARDEN_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "KEYWARDEN_TEST_POSTGRES is not set, so there is no PostgreSQL to test against: run the \
             tests with tests/run.sh, which starts a throwaway cluster (or wrap cargo test in \
             tests/postgres.sh)"
        )
    })
}

/// Creates an empty database on the test cluster and returns its URL (same user and password).
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection as _;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let admin = postgres_admin_url();
    let name = format!(
        "kw_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        chrono::Utc::now().timestamp_micros() % 1_000_000
    );
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test cluster");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut connection)
        .await
        .expect("create a test database");
    let base = admin.rsplit_once('/').expect("a database in the URL").0;
    format!("{base}/{name}")
}

pub struct TestServer {
    pub server: LocalServer,
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    pub dir: TempDir,
    database_url: String,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(ServerConfig::default()).await
    }

    pub async fn start_with(config: ServerConfig) -> TestServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database_url = Backend::under_test().fresh_database(dir.path()).await;
        let store = server::open_store(&database_url)
            .await
            .expect("open the test database");
        let server = server::spawn_local(store.clone(), config)
            .await
            .expect("start the server");
        TestServer {
            server,
            store,
            http: reqwest::Client::new(),
            dir,
            database_url,
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    /// Creates `email` with `role` in `workspace` (created when missing), straight in the database.
    pub async fn add_user(&self, email: &str, role: Role, workspace: &str) -> UserInfo {
        let workspace_id = accounts::ensure_workspace(self.store.as_ref(), workspace)
            .await
            .expect("workspace");
        accounts::create_user(
            self.store.as_ref(),
            email,
            &Secret::new(PASSWORD),
            role,
            workspace_id,
            &keywarden::server::store::AuditContext::system(chrono::Utc::now()),
        )
        .await
        .expect("create user")
        .into()
    }

    pub async fn login(&self, email: &str) -> String {
        let response = self
            .http
            .post(self.url("/v1/auth/login"))
            .json(&LoginRequest {
                email: email.to_string(),
                password: Secret::new(PASSWORD),
            })
            .send()
            .await
            .expect("login request");
        assert_eq!(response.status(), StatusCode::OK, "login as {email}");
        let body: LoginResponse = response.json().await.expect("login body");
        body.token.expose().to_string()
    }

    /// A user with a session: (user, session token).
    pub async fn user_with_session(
        &self,
        email: &str,
        role: Role,
        workspace: &str,
    ) -> (UserInfo, String) {
        let user = self.add_user(email, role, workspace).await;
        let token = self.login(email).await;
        (user, token)
    }

    pub fn request(&self, method: Method, path: &str, bearer: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(bearer)
    }

    /// Sends and returns status and JSON body (`Value::Null` for an empty body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path, bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("JSON body")
        };
        (status, json)
    }

    pub async fn create_key(&self, bearer: &str, name: &str) -> CreatedKey {
        self.create_key_with(
            bearer,
            CreateKeyRequest {
                name: name.to_string(),
                expires_in_days: Some(30),
                ..Default::default()
            },
        )
        .await
    }

    pub async fn create_key_with(&self, bearer: &str, request: CreateKeyRequest) -> CreatedKey {
        let response = self
            .request(Method::POST, "/v1/keys", bearer)
            .json(&request)
            .send()
            .await
            .expect("create key");
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "create key {:?}",
            request.name
        );
        response.json().await.expect("created key body")
    }
}

/// A client whose connections come from `source`, a loopback address other than 127.0.0.1: to the
/// server it looks like another machine.
pub fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<std::net::IpAddr>().expect("an address"))
        .build()
        .expect("HTTP client")
}

pub const BIN: &str = env!("CARGO_BIN_EXE_keywarden");

/// `keywarden serve` as a process on a free loopback port; its log lines are collected as they come.
pub struct ServeProcess {
    pub child: std::process::Child,
    /// `http` or `https`.
    pub scheme: String,
    pub address: String,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServeProcess {
    pub fn start(database_url: &str, extra: &[&str]) -> ServeProcess {
        Self::start_with(
            std::process::Command::new(BIN),
            "127.0.0.1:0",
            database_url,
            extra,
        )
    }

    /// `command` runs `keywarden serve` (the binary itself, or a shell that execs it under limits).
    pub fn start_with(
        mut command: std::process::Command,
        listen: &str,
        database_url: &str,
        extra: &[&str],
    ) -> ServeProcess {
        use std::io::BufRead as _;
        if !command.get_envs().any(|(name, _)| name == "RUST_LOG") {
            command.env("RUST_LOG", "info");
        }
        let mut child = command
            .args(["serve", "--listen", listen, "--database-url", database_url])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start keywarden serve");
        let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut line = String::new();
        let (scheme, address) = loop {
            line.clear();
            assert!(
                stderr.read_line(&mut line).expect("read the log") > 0,
                "serve exited before listening: {:?}",
                log.lock().unwrap()
            );
            log.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split("listening on ").nth(1)
                && let Some((scheme, rest)) = rest.split_once("://")
            {
                let address = rest.split_whitespace().next().expect("address");
                break (scheme.to_string(), address.to_string());
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines() {
                match line {
                    Ok(line) => sink.lock().unwrap().push(line),
                    Err(_) => return,
                }
            }
        });
        ServeProcess {
            child,
            scheme,
            address,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.address)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits up to 5 s for a log line containing `needle`; whether one came.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    /// A line of `/proc/PID/status` in KiB, e.g. `VmHWM` (peak resident) or `VmRSS`.
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a memory figure")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `keywarden user add` with the password on stdin; panics with its stderr when it fails.
pub fn user_add(database_url: &str, email: &str, role: &str, password: &str) {
    let output = user_add_output(Some(database_url), email, role, password, &[]);
    assert!(
        output.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `keywarden user add` with the password on stdin, on `database_url` (or the default database of
/// the environment `env` sets), whatever its outcome.
pub fn user_add_output(
    database_url: Option<&str>,
    email: &str,
    role: &str,
    password: &str,
    env: &[(&str, &std::path::Path)],
) -> std::process::Output {
    use std::io::Write as _;
    let mut command = std::process::Command::new(BIN);
    command.args(["user", "add", "--email", email, "--role", role]);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start keywarden user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password");
    child.wait_with_output().expect("user add")
}
