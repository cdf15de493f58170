//! How Keywarden speaks HTTP to a server or a service that a credential goes to: the one client
//! policy, used by the Keywarden API client (`client`) and the sources (ThingsBoard, GitLab, a
//! tracked key's test request) alike.
//!
//! - No redirect is followed: one could lead a password, session or key to another host, or to
//!   plain HTTP past [`plain_http_refusal`].
//! - Time limits: 5 s to connect, 20 s for a whole exchange.
//! - Plain HTTP only to this machine, unless allowed for that server.
//!
//! A client that cannot be built is an error for the caller, never a laxer client.

use std::time::Duration;

/// A client with the policy above. Each caller gets its own (a pooled connection belongs to the
/// runtime that opened it, and the app, the command line and the tests run several).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .user_agent(concat!("keywarden/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| format!("cannot make an HTTP client: {err}"))
}

/// Why no password, session token or key may be sent to `url`: it is plain `http://` to a machine
/// other than this one, and `allow_http` was not given for it. `None`: it may be sent.
pub fn plain_http_refusal(url: &str, allow_http: bool) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if parsed.scheme() != "http" || allow_http {
        return None;
    }
    let host = parsed.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| {
        format!(
            "refusing to send a password, session token or key to {url} over plain HTTP, where \
             anyone on the network between could read it: use https://, or allow plain HTTP for \
             this server on a network you trust (--allow-http, or \"Allow plain HTTP\" when \
             signing in)"
        )
    })
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A redirect comes back as it is: the client does not go where it points.
    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            // Port 1 answers nothing: following this would fail the request.
            let answer = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n";
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let response = super::client()
            .unwrap()
            .get(format!("http://{address}/"))
            .send()
            .await
            .expect("the redirect itself is the answer");
        assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    }

    #[test]
    fn credentials_cross_the_network_only_encrypted_unless_allowed() {
        for allowed in [
            "https://keys.example.com",
            "http://127.0.0.1:8080",
            "http://127.0.0.2",
            "http://localhost:3000",
            "http://[::1]:8080",
        ] {
            assert_eq!(super::plain_http_refusal(allowed, false), None, "{allowed}");
        }
        for refused in [
            "http://keys.example.com",
            "http://192.168.1.10:8080",
            "http://[fd00::2]",
        ] {
            let refusal = super::plain_http_refusal(refused, false).expect(refused);
            assert!(
                refusal.contains(refused) && refusal.contains("--allow-http"),
                "{refusal}"
            );
            assert_eq!(
                super::plain_http_refusal(refused, true),
                None,
                "{refused} allowed"
            );
        }
    }
}
