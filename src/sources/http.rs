//! How the sources speak to services' REST APIs (ThingsBoard, GitLab): the one client policy
//! (`net`), an answer read within the client's caps, and a refusal turned into a
//! [`SourceError`] in the service's own words.
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use super::{SourceError, services};

/// The HTTP client of a source (`net::client`'s policy); one that cannot be built is an error,
/// never a laxer one.
pub fn client() -> Result<reqwest::Client, SourceError> {
    crate::net::client().map_err(SourceError::Failed)
}

/// A service's answer, whatever its status.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// At most `client::MAX_BODY_BYTES`.
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The service's own words from an error body.
    pub fn message(&self) -> String {
        services::message_of(self.json().as_ref(), &self.body)
    }

    /// The error a refusal stands for, for the account `account`, with `message` as the reason:
    /// 401 signs in again, 403 is refused, 404 not found, 5xx the service failing, the rest
    /// invalid.
    pub fn refusal(&self, account: &str, message: String) -> SourceError {
        match self.status {
            StatusCode::UNAUTHORIZED => SourceError::NeedsSignIn {
                account: account.to_string(),
                reason: message,
            },
            StatusCode::FORBIDDEN => SourceError::Refused(message),
            StatusCode::NOT_FOUND => SourceError::NotFound(message),
            status if status.is_server_error() => SourceError::Server(message),
            _ => SourceError::Invalid(message),
        }
    }
}

/// Sends `request` to the service at `base_url` and reads its answer within the caps.
pub async fn exchange(base_url: &str, request: RequestBuilder) -> Result<Reply, SourceError> {
    let response = request
        .send()
        .await
        .map_err(|err| SourceError::Unreachable {
            url: base_url.to_string(),
            reason: crate::client::describe_transport_error(&err),
        })?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = crate::client::read_body(response)
        .await
        .map_err(SourceError::Protocol)?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}
