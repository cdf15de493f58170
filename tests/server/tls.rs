//! `keywarden serve --tls-cert --tls-key`: HTTPS with certificates made here (rcgen), a renewed
//! certificate taken on SIGHUP without a restart, a bad one refused at start and kept out on reload.

use std::path::Path;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use reqwest::StatusCode;

use crate::common::{BIN, ServeProcess};

/// A certificate authority: its PEM, and a certificate for 127.0.0.1 and localhost it signed
/// (certificate PEM, key PEM).
fn authority() -> (String, String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

fn client_trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

/// SIGHUP: read the certificate and key again.
fn hang_up(server: &ServeProcess) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn write(dir: &Path, cert: &str, key: &str) {
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
}

#[tokio::test]
async fn https_with_a_certificate_renewed_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let (first_ca, cert, key) = authority();
    write(dir.path(), &cert, &key);
    let cert_path = dir.path().join("cert.pem").display().to_string();
    let key_path = dir.path().join("key.pem").display().to_string();
    let tls = [
        "--tls-cert",
        cert_path.as_str(),
        "--tls-key",
        key_path.as_str(),
    ];
    let server = ServeProcess::start(&url, &tls);
    assert_eq!(server.scheme, "https", "{}", server.log_text());
    assert!(
        !server.log_text().contains("plain HTTP"),
        "{}",
        server.log_text()
    );

    let first = client_trusting(&first_ca);
    let response = first.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", server.address))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.unwrap().status() != StatusCode::OK,
        "plain HTTP is not served"
    );

    // Renewed by another authority: after SIGHUP new connections get the new certificate.
    let (second_ca, cert, key) = authority();
    write(dir.path(), &cert, &key);
    hang_up(&server);
    assert!(
        server.wait_for_log("reloaded the TLS certificate"),
        "{}",
        server.log_text()
    );
    let second = client_trusting(&second_ca);
    let response = second.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let stale = client_trusting(&first_ca)
        .get(server.url("/healthz"))
        .send()
        .await;
    assert!(stale.is_err(), "the old certificate is no longer served");

    // A broken renewal is refused and the working certificate stays.
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    hang_up(&server);
    assert!(
        server.wait_for_log("kept the current TLS certificate"),
        "{}",
        server.log_text()
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let response = second.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !server.log_text().contains("PRIVATE KEY"),
        "{}",
        server.log_text()
    );
}

#[test]
fn a_missing_or_mismatched_certificate_stops_the_start_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let (_, cert, _) = authority();
    let (_, _, other_key) = authority();
    write(dir.path(), &cert, &other_key);
    let run = |cert: &Path, key: &Path| {
        std::process::Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .output()
            .unwrap()
    };
    let missing = run(&dir.path().join("cert.pem"), &dir.path().join("absent.pem"));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        stderr.contains("cannot read the TLS private key") && stderr.contains("absent.pem"),
        "{stderr}"
    );
    let mismatched = run(&dir.path().join("cert.pem"), &dir.path().join("key.pem"));
    let stderr = String::from_utf8_lossy(&mismatched.stderr);
    assert!(!mismatched.status.success());
    assert!(stderr.contains("do not make a usable pair"), "{stderr}");

    let only_one = std::process::Command::new(BIN)
        .args(["serve", "--tls-cert", "x.pem"])
        .output()
        .unwrap();
    assert!(!only_one.status.success());
    assert!(String::from_utf8_lossy(&only_one.stderr).contains("--tls-key"));
}

/// Found in review: `systemctl reload` (SIGHUP) ended a server running without TLS.
#[tokio::test]
async fn sighup_without_tls_keeps_the_server_running() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("server.db").display());
    let server = ServeProcess::start(&url, &[]);
    hang_up(&server);
    assert!(
        server.wait_for_log("nothing to reload"),
        "{}",
        server.log_text()
    );
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
