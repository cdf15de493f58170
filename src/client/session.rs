//! Opening a session on the current server, shared by the desktop app and the command line: the
//! embedded server (started in-process on the user's database, signed in as the local owner whose
//! random password lives in the keychain) or a remote server (session token from the keychain).

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::{ApiClient, ClientError};
use crate::api::MeResponse;
use crate::key;
use crate::server::{LocalServer, embedded};
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

/// Starts the embedded server once per process and signs in as the local owner. Without a keychain
/// a fresh password is set each time, so the app and the command line still work.
pub async fn open_local(
    local: &OnceCell<LocalServer>,
    database_url: &str,
    vault: Arc<dyn Vault>,
) -> Result<Session, SessionError> {
    let failed = |err: &dyn std::fmt::Display| {
        SessionError::Failed(format!("cannot start the local server: {err}"))
    };
    let server = local
        .get_or_try_init(|| embedded::start(database_url))
        .await
        .map_err(|e| failed(&e))?;
    let client = ApiClient::new(&server.base_url());
    let reader = vault.clone();
    let kept = tokio::task::spawn_blocking(move || reader.get(LOCAL_OWNER_ACCOUNT))
        .await
        .map_err(|e| failed(&e))?;
    let mut warning = kept.as_ref().err().map(ToString::to_string);
    let mut login = match &kept {
        Ok(Some(password)) => client
            .login(embedded::LOCAL_OWNER_EMAIL, password)
            .await
            .ok(),
        _ => None,
    };
    if login.is_none() {
        // First run, or the password was lost (keychain reset, or another database): set a new one.
        let password = key::random_password();
        embedded::set_local_owner_password(server.state.store.as_ref(), &password)
            .await
            .map_err(|e| failed(&e))?;
        let writer = vault.clone();
        let secret = password.clone();
        match tokio::task::spawn_blocking(move || writer.set(LOCAL_OWNER_ACCOUNT, &secret)).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => warning = Some(err.to_string()),
            Err(err) => warning = Some(err.to_string()),
        }
        login = Some(
            client
                .login(embedded::LOCAL_OWNER_EMAIL, &password)
                .await
                .map_err(|e| failed(&e))?,
        );
    }
    let Some(login) = login else {
        return Err(failed(&"no session"));
    };
    let client = client.with_credential(login.token);
    let me = client.me().await.map_err(|e| failed(&e))?;
    Ok(Session {
        client,
        me,
        warning,
    })
}

/// Resumes the session kept in the keychain for a remote server.
pub async fn open_remote(url: &str, vault: Arc<dyn Vault>) -> Result<Session, SessionError> {
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
    let client = ApiClient::new(url).with_credential(token);
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
    email: &str,
    password: &crate::secret::Secret,
    vault: Arc<dyn Vault>,
) -> Result<Session, ClientError> {
    let client = ApiClient::new(url);
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
