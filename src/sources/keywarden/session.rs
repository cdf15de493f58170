//! Opening a session on the current server, shared by the desktop app and the command line: the
//! embedded server (started and signed into by `server::open_local` as the local owner, whose random
//! password lives in the keychain) or a remote server (session token from the keychain).

use std::sync::Arc;

use crate::api::MeResponse;
use crate::client::{ApiClient, ClientError};
use crate::secret::Secret;
use crate::vault::{self, LOCAL_OWNER_ACCOUNT, Vault};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    /// No usable session for a remote server: sign in (the reason says why, when there is one).
    #[error("sign in to {url} first (keywarden login {url} --email …){}", .reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    NeedsSignIn { url: String, reason: Option<String> },
    #[error("{0}")]
    Failed(String),
}

/// A signed-in client with who it is, and a warning to show (keychain trouble), if any.
pub struct Session {
    pub client: ApiClient,
    pub me: MeResponse,
    pub warning: Option<String>,
}

/// The local owner's password as the keychain holds it (`None` when absent or unreadable), and
/// why it could not be read, as a warning to show.
pub async fn kept_local_password(vault: Arc<dyn Vault>) -> (Option<Secret>, Option<String>) {
    match tokio::task::spawn_blocking(move || vault.get(LOCAL_OWNER_ACCOUNT)).await {
        Ok(Ok(password)) => (password, None),
        Ok(Err(err)) => (None, Some(err.to_string())),
        Err(err) => (None, Some(err.to_string())),
    }
}

/// A session on the embedded server from what `server::open_local` gave: a new owner password goes
/// into the keychain (without a keychain a fresh one is set each time, so the app and the command
/// line still work, and `warning` says why).
pub async fn local_session(
    base_url: &str,
    token: Secret,
    new_password: Option<Secret>,
    vault: Arc<dyn Vault>,
    mut warning: Option<String>,
) -> Result<Session, SessionError> {
    if let Some(password) = new_password {
        match tokio::task::spawn_blocking(move || vault.set(LOCAL_OWNER_ACCOUNT, &password)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => warning = Some(err.to_string()),
            Err(err) => warning = Some(err.to_string()),
        }
    }
    let client = ApiClient::new(base_url)
        .map_err(|err| SessionError::Failed(err.to_string()))?
        .with_credential(token);
    let me = client.me().await.map_err(|err| {
        SessionError::Failed(format!("cannot sign in to the local server: {err}"))
    })?;
    Ok(Session {
        client,
        me,
        warning,
    })
}

/// Resumes the session kept in the keychain for a remote server (`allow_http`: plain HTTP to it is
/// allowed).
pub async fn open_remote(
    url: &str,
    allow_http: bool,
    vault: Arc<dyn Vault>,
) -> Result<Session, SessionError> {
    if let Some(refusal) = crate::net::plain_http_refusal(url, allow_http) {
        return Err(SessionError::Failed(refusal));
    }
    let sign_in = |reason: Option<String>| SessionError::NeedsSignIn {
        url: url.to_string(),
        reason,
    };
    let account = vault::session_account(url);
    let token = match tokio::task::spawn_blocking(move || vault.get(&account)).await {
        Ok(Ok(Some(token))) => token,
        Ok(Ok(None)) => return Err(sign_in(None)),
        Ok(Err(err)) => return Err(sign_in(Some(err.to_string()))),
        Err(err) => return Err(SessionError::Failed(err.to_string())),
    };
    let client = ApiClient::new(url)
        .map_err(|err| SessionError::Failed(err.to_string()))?
        .allowing_http(allow_http)
        .with_credential(token);
    match client.me().await {
        Ok(me) => Ok(Session {
            client,
            me,
            warning: None,
        }),
        Err(err) if err.is_unauthorized() => Err(sign_in(Some("the session has expired".into()))),
        Err(err) => Err(SessionError::Failed(err.to_string())),
    }
}

/// Signs in to a remote server and keeps the session token in the keychain.
pub async fn sign_in(
    url: &str,
    allow_http: bool,
    email: &str,
    password: &crate::secret::Secret,
    vault: Arc<dyn Vault>,
) -> Result<Session, ClientError> {
    let client = ApiClient::new(url)?.allowing_http(allow_http);
    let login = client.login(email, password).await?;
    let account = vault::session_account(url);
    let token = login.token.clone();
    let warning = match tokio::task::spawn_blocking(move || vault.set(&account, &token)).await {
        Ok(Ok(())) => None,
        Ok(Err(err)) => Some(format!(
            "signed in, but the session could not be kept: {err}"
        )),
        Err(err) => Some(err.to_string()),
    };
    let client = client.with_credential(login.token);
    let me = client.me().await?;
    Ok(Session {
        client,
        me,
        warning,
    })
}
