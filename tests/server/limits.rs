//! The server against slow and greedy clients, over real sockets to the built binary: deadlines for
//! headers and whole requests, the connection cap, a shutdown that does not wait forever, size
//! limits answered with JSON errors, and the headers every response carries.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use keywarden::api::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{BIN, ServeProcess, TestServer};

fn database(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("server.db").display())
}

/// Reads until the server closes the connection (or `within` passes); returns what it sent and
/// whether it closed.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&received).into_owned(), true),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(err)
                if err.kind() == std::io::ErrorKind::WouldBlock
                    || err.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), false)
}

fn json_body(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|_| panic!("a JSON body: {response:?}"))
}

/// Found on an earlier server: 500 slow connections stayed open past 30 s.
#[test]
fn slow_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(
        &database(&dir),
        &["--header-timeout", "1", "--request-timeout", "2"],
    );
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut stream = TcpStream::connect(&server.address).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    for stream in &mut slow {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(5));
        assert!(
            closed,
            "a connection that never finished its headers was kept"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(5));

    // An idle keep-alive connection is closed after the same deadline.
    let mut idle = TcpStream::connect(&server.address).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (response, closed) = read_until_closed(&mut idle, Duration::from_secs(4));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(closed, "an idle connection was kept");

    // A body that never arrives: 408 with a JSON reason, and the connection is closed.
    let mut stalled = TcpStream::connect(&server.address).unwrap();
    stalled
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .unwrap();
    let (response, closed) = read_until_closed(&mut stalled, Duration::from_secs(5));
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert_eq!(json_body(&response)["code"], "request_timeout");
    assert!(closed);
}

/// Found on an earlier server: with the common limit of 1,024 open files, 1,100 idle connections
/// made `/healthz` time out. Now the connections past the cap (below the open-file limit) are
/// answered 503 at once, and the idle ones are closed by the header deadline.
#[test]
fn connections_past_the_cap_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut shell = Command::new("bash");
    shell.args(["-c", "ulimit -n 256 && exec \"$0\" \"$@\"", BIN]);
    let server = ServeProcess::start_with(
        shell,
        "127.0.0.1:0",
        &database(&dir),
        &["--header-timeout", "2"],
    );
    assert!(
        server.wait_for_log("at most 128 connections at once"),
        "the cap stays below the open-file limit: {}",
        server.log_text()
    );
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(&server.address).unwrap())
        .collect();
    // The refusals of the flood have had their moment.
    std::thread::sleep(Duration::from_millis(600));
    let asked = Instant::now();
    let mut probe = TcpStream::connect(&server.address).unwrap();
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (response, _) = read_until_closed(&mut probe, Duration::from_secs(2));
    assert!(
        response.starts_with("HTTP/1.1 503"),
        "past the cap: {response:?}"
    );
    assert_eq!(json_body(&response)["code"], "unavailable");
    assert!(response.to_lowercase().contains("retry-after: 1"));
    assert!(asked.elapsed() < Duration::from_secs(2));

    // Once the idle connections have had their deadline, the server answers again.
    std::thread::sleep(Duration::from_secs(3));
    let health = reqwest::blocking::get(server.url("/healthz")).unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    drop(idle);
}

/// Found on an earlier server: after SIGTERM one unfinished request kept it alive until its client
/// gave up.
#[test]
fn shutdown_drops_requests_after_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(
        &database(&dir),
        &["--shutdown-timeout", "1", "--request-timeout", "600"],
    );
    let mut stalled = TcpStream::connect(&server.address).unwrap();
    stalled
        .write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "the server waited for the unfinished request past its deadline"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        server.log_text().contains("dropping them"),
        "{}",
        server.log_text()
    );
}

/// Requests over a limit get a JSON error naming it: 413 for a body (10 MB refused before it is
/// read), 431 for headers, 414 for a URI.
#[tokio::test]
async fn oversized_requests_get_json_errors() {
    let server = TestServer::start().await;
    let (_, session) = server
        .user_with_session("owner@example.com", Role::Owner, "alpha")
        .await;
    let big = vec![b'x'; 10 * 1024 * 1024];
    let response = server
        .request(reqwest::Method::POST, "/v1/keys", &session)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");

    // Without a length up front (chunked), the limit holds as the body is read.
    let address = server.server.addr;
    let auth = format!("Bearer {session}");
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        let head = format!(
            "POST /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let chunk = vec![b' '; 40 * 1024];
        for _ in 0..4 {
            // The server may answer and close before all of it is sent.
            if stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .and_then(|()| stream.write_all(&chunk))
                .and_then(|()| stream.write_all(b"\r\n"))
                .is_err()
            {
                break;
            }
        }
        read_until_closed(&mut stream, Duration::from_secs(5)).0
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    let response = server
        .request(reqwest::Method::GET, "/v1/ping", &session)
        .header("x-padding", "y".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "headers_too_large");

    let long = format!("/v1/keys?q={}", "z".repeat(10 * 1024));
    let response = server
        .request(reqwest::Method::GET, &long, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::URI_TOO_LONG);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "uri_too_long");
}

/// Every response says `nosniff`; the ones that carry a secret (and every API answer) say
/// `no-store`.
#[tokio::test]
async fn responses_carry_nosniff_and_no_store() {
    let server = TestServer::start().await;
    server
        .add_user("owner@example.com", Role::Owner, "alpha")
        .await;
    let login = server
        .http
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "owner@example.com", "password": crate::common::PASSWORD}))
        .send()
        .await
        .unwrap();
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    assert_eq!(header(&login, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(
        header(&login, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let token: Value = login.json().await.unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let created = server
        .request(reqwest::Method::POST, "/v1/keys", &token)
        .json(&json!({"name": "k", "expires_in_days": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        header(&created, "cache-control").as_deref(),
        Some("no-store")
    );
    let id = created.json::<Value>().await.unwrap()["key"]["id"]
        .as_i64()
        .unwrap();
    let rotated = server
        .request(
            reqwest::Method::POST,
            &format!("/v1/keys/{id}/rotate"),
            &token,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&rotated, "cache-control").as_deref(),
        Some("no-store")
    );
    for path in ["/healthz", "/v1/openapi.json", "/v1/nope"] {
        let response = server.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
}

/// `serve` without TLS says once at start that it speaks plain HTTP: a warning on an address
/// other machines reach, a plain note on loopback.
#[test]
fn plain_http_is_said_once_and_warned_about_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let local = ServeProcess::start(&database(&dir), &[]);
    assert!(local.wait_for_log("connections at once"));
    let log = local.log_text();
    assert_eq!(log.matches("plain HTTP").count(), 1, "{log}");
    assert!(!log.contains("WARN"), "{log}");
    drop(local);
    let open = ServeProcess::start_with(Command::new(BIN), "0.0.0.0:0", &database(&dir), &[]);
    assert!(open.wait_for_log("connections at once"));
    let log = open.log_text();
    assert_eq!(log.matches("plain HTTP").count(), 1, "{log}");
    assert!(log.contains("WARN") && log.contains("--tls-cert"), "{log}");
}
