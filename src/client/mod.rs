//! HTTP client for the Keywarden API: the only code that knows URLs. Used by the desktop app and the
//! command line alike, against the embedded server or a remote one.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::api::{
    self, AuditPage, AuditQuery, CreateKeyRequest, CreatedKey, ErrorBody, KeyInfo, KeyPage,
    ListKeysQuery, LoginRequest, LoginResponse, MeResponse, RotateKeyRequest, RotatedKey,
    UpdateKeyRequest, paths,
};
use crate::net::{self, plain_http_refusal};
use crate::secret::Secret;

/// What can go wrong talking to a server, in words a user can act on. Never holds a secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// 401: sign in again.
    #[error("{message}")]
    Unauthorized { code: String, message: String },
    /// 403: the credential lacks the right.
    #[error("you lack the right to do this: {0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// 429: too many failed attempts, or the server is busy; try again later.
    #[error("{0}")]
    TooManyRequests(String),
    #[error("the server failed: {0}")]
    Server(String),
    #[error("unexpected response from the server: {0}")]
    Protocol(String),
    /// A credential would cross the network in plain HTTP; the text says how to proceed.
    #[error("{0}")]
    PlainHttp(String),
}

impl ClientError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ClientError::Unauthorized { .. })
    }
}

/// One server, with or without a credential (session token or API key).
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    credential: Option<Secret>,
    /// Set when `base_url` is plain HTTP to another machine: every request is refused with it.
    refusal: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base_url", &self.base_url)
            .field("credential", &self.credential)
            .finish()
    }
}

impl ApiClient {
    /// A client of the server at `base_url`, speaking by [`net::client`]'s policy; an error when
    /// no such client can be made (never a laxer one).
    pub fn new(base_url: &str) -> Result<ApiClient, ClientError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        let http = net::client().map_err(|reason| ClientError::Unreachable {
            url: base_url.clone(),
            reason,
        })?;
        Ok(ApiClient {
            http,
            refusal: plain_http_refusal(&base_url, false),
            base_url,
            credential: None,
        })
    }

    /// Whether plain HTTP to another machine is allowed for this server (a lab network).
    pub fn allowing_http(mut self, allow_http: bool) -> ApiClient {
        self.refusal = plain_http_refusal(&self.base_url, allow_http);
        self
    }

    pub fn with_credential(mut self, credential: Secret) -> ApiClient {
        self.credential = Some(credential);
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn has_credential(&self) -> bool {
        self.credential.is_some()
    }

    pub async fn login(
        &self,
        email: &str,
        password: &Secret,
    ) -> Result<LoginResponse, ClientError> {
        let body = LoginRequest {
            email: email.to_string(),
            password: password.clone(),
        };
        self.send_json(self.request(Method::POST, paths::LOGIN).json(&body))
            .await
    }

    pub async fn logout(&self) -> Result<(), ClientError> {
        self.send_empty(self.request(Method::POST, paths::LOGOUT))
            .await
    }

    pub async fn me(&self) -> Result<MeResponse, ClientError> {
        self.send_json(self.request(Method::GET, paths::ME)).await
    }

    pub async fn list_keys(&self, query: &ListKeysQuery) -> Result<KeyPage, ClientError> {
        self.send_json(self.request(Method::GET, paths::KEYS).query(query))
            .await
    }

    /// Every key matching `query`, following the cursor page by page.
    pub async fn list_all_keys(&self, query: &ListKeysQuery) -> Result<Vec<KeyInfo>, ClientError> {
        let mut query = ListKeysQuery {
            limit: Some(api::limits::PAGE_LIMIT_MAX),
            ..query.clone()
        };
        let mut keys = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.list_keys(&query).await?;
            keys.extend(page.items);
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => return Ok(keys),
            }
        }
        Err(ClientError::Protocol(format!(
            "{} lists more than {MAX_PAGES} pages of keys; Keywarden reads at most that many",
            self.base_url
        )))
    }

    /// The caller's key-list revision: it moves whenever the list may have changed.
    pub async fn keys_revision(&self) -> Result<i64, ClientError> {
        let revision: api::KeysRevision = self
            .send_json(self.request(Method::GET, paths::KEYS_REVISION))
            .await?;
        Ok(revision.revision)
    }

    pub async fn get_key(&self, id: i64) -> Result<KeyInfo, ClientError> {
        self.send_json(self.request(Method::GET, &paths::key(id)))
            .await
    }

    pub async fn create_key(&self, request: &CreateKeyRequest) -> Result<CreatedKey, ClientError> {
        self.send_json(self.request(Method::POST, paths::KEYS).json(request))
            .await
    }

    pub async fn update_key(
        &self,
        id: i64,
        request: &UpdateKeyRequest,
    ) -> Result<KeyInfo, ClientError> {
        self.send_json(self.request(Method::PATCH, &paths::key(id)).json(request))
            .await
    }

    pub async fn revoke_key(&self, id: i64) -> Result<KeyInfo, ClientError> {
        self.send_json(self.request(Method::POST, &paths::key_revoke(id)))
            .await
    }

    pub async fn rotate_key(
        &self,
        id: i64,
        request: &RotateKeyRequest,
    ) -> Result<RotatedKey, ClientError> {
        self.send_json(
            self.request(Method::POST, &paths::key_rotate(id))
                .json(request),
        )
        .await
    }

    pub async fn delete_key(&self, id: i64) -> Result<(), ClientError> {
        self.send_empty(self.request(Method::DELETE, &paths::key(id)))
            .await
    }

    pub async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, ClientError> {
        self.send_json(self.request(Method::GET, paths::AUDIT).query(query))
            .await
    }

    /// The workspaces the caller may see (a session or a managing key).
    pub async fn workspaces(&self) -> Result<Vec<api::WorkspaceInfo>, ClientError> {
        self.send_json(self.request(Method::GET, paths::WORKSPACES))
            .await
    }

    pub async fn members(&self, workspace_id: i64) -> Result<Vec<api::MemberInfo>, ClientError> {
        self.send_json(self.request(Method::GET, &paths::workspace_members(workspace_id)))
            .await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        match &self.credential {
            Some(credential) => request.bearer_auth(credential.expose()),
            None => request,
        }
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        if let Some(refusal) = &self.refusal {
            return Err(ClientError::PlainHttp(refusal.clone()));
        }
        let response = request
            .send()
            .await
            .map_err(|err| ClientError::Unreachable {
                url: self.base_url.clone(),
                reason: describe_transport_error(&err),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body: Option<ErrorBody> = read_body(response)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let (code, message) = match body {
            Some(body) => (body.code, body.error),
            None => (String::new(), format!("HTTP {status}")),
        };
        Err(match status {
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized { code, message },
            StatusCode::FORBIDDEN => ClientError::Forbidden(message),
            StatusCode::NOT_FOUND => ClientError::NotFound(message),
            StatusCode::CONFLICT => ClientError::Conflict(message),
            StatusCode::TOO_MANY_REQUESTS => ClientError::TooManyRequests(message),
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST => {
                ClientError::Invalid(message)
            }
            _ if status.is_server_error() => ClientError::Server(message),
            _ => ClientError::Protocol(format!("HTTP {status}: {message}")),
        })
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = self.send(request).await?;
        let body = read_body(response).await.map_err(ClientError::Protocol)?;
        serde_json::from_slice(&body).map_err(|err| ClientError::Protocol(err.to_string()))
    }

    async fn send_empty(&self, request: RequestBuilder) -> Result<(), ClientError> {
        self.send(request).await.map(drop)
    }
}

/// At most this many bytes of one answer are read from any server: a server cannot make the
/// client read, or hold in memory, more.
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// At most this many pages of one list are read from any server.
pub const MAX_PAGES: usize = 100;

/// The body of `response`, refused past [`MAX_BODY_BYTES`] (whatever its `Content-Length` says).
pub async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|err| err.to_string())? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large() -> String {
    format!(
        "the answer is larger than {} MiB, more than Keywarden reads",
        MAX_BODY_BYTES >> 20
    )
}

/// reqwest's errors nest the cause; the innermost one ("Connection refused") is what a user needs.
pub fn describe_transport_error(err: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = err;
    while let Some(next) = source.source() {
        source = next;
    }
    if err.is_timeout() {
        "the request timed out".to_string()
    } else {
        source.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server cannot make the client read more than the cap, whatever it announces.
    #[tokio::test]
    async fn an_answer_past_the_cap_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route(
                "/big",
                axum::routing::get(|| async { vec![b'x'; MAX_BODY_BYTES + 1] }),
            )
            .route("/small", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        let big = http.get(format!("{url}/big")).send().await.unwrap();
        let err = read_body(big).await.unwrap_err();
        assert!(err.contains("larger than 8 MiB"), "{err}");
        let small = http.get(format!("{url}/small")).send().await.unwrap();
        assert_eq!(read_body(small).await.unwrap(), b"ok");
    }
}
