//! Personal access tokens of a GitLab account (gitlab.com or self-managed), through GitLab's REST
//! API as its documentation and `lib/api/personal_access_tokens*.rb` define it:
//!
//! - sign in with a personal access token: `GET /api/v4/personal_access_tokens/self` (any scope)
//!   says its id and scopes, `GET /api/v4/user` who it is (`read_user`, `read_api` or `api`). The
//!   token goes in `PRIVATE-TOKEN` and is kept in the keychain under the account's URL.
//! - keys: `GET /api/v4/personal_access_tokens?user_id=&per_page=&page=` (`read_api` or `api`),
//!   every page by `X-Next-Page`, at most `client::MAX_PAGES`. `expires_at` is a date: GitLab counts a
//!   token as expired from 00:00 UTC on it.
//! - renew is rotate: `POST /personal_access_tokens/:id/rotate {"expires_at"}`, or `self/rotate`
//!   for the token the account signs in with (`api`): GitLab revokes the old token at once and
//!   gives the new one a new id. revoke is `DELETE /personal_access_tokens/:id` (`api`).
//! - GitLab lets a user make tokens with full scopes only on its own page, so generate is not
//!   offered; the key page opens there.
//! - signing out forgets the token here and tells GitLab nothing: the token is the user's own,
//!   made on GitLab's page, and may be in use elsewhere.
//! - errors: `{"message"}`, or `{"error","error_description"}` for a token that expired or was
//!   revoked (401) and for a missing scope (403 `insufficient_scope` with `scope`).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::{
    Capabilities, Edit, KeySource, Renewal, Renewed, SourceError, SourceKey, SourceKind, services,
};
use crate::net::plain_http_refusal;
use crate::secret::Secret;
use crate::vault::Vault;

/// Tokens are listed this many to a page, GitLab's maximum.
pub const PER_PAGE: usize = 100;
use crate::client::MAX_PAGES;
/// GitLab's longest lifetime of a personal access token.
pub const MAX_LIFETIME_DAYS: i64 = 365;

/// The keychain account of the token a GitLab account signs in with: bound to the server's URL,
/// so a URL edited in the config never receives it, and to the account's name, so two accounts
/// on one server keep their own.
pub fn session_account(name: &str, url: &str) -> String {
    format!("gitlab token of {name} on {url}")
}

#[derive(Debug, Clone, Deserialize)]
struct User {
    id: i64,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: Option<String>,
}

/// GitLab's `PersonalAccessToken` entity (and `…WithToken`, which adds `token`).
#[derive(Debug, Clone, Deserialize)]
struct Token {
    id: i64,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    revoked: bool,
    created_at: DateTime<Utc>,
    #[serde(default)]
    scopes: Vec<String>,
    user_id: i64,
    #[serde(default)]
    last_used_at: Option<DateTime<Utc>>,
    #[serde(default)]
    expires_at: Option<NaiveDate>,
    #[serde(default)]
    token: Option<Secret>,
}

/// The token the account signs in with (it changes when it is rotated).
struct Own {
    secret: Secret,
    id: i64,
}

pub struct GitLabSource {
    name: String,
    base_url: String,
    http: reqwest::Client,
    vault: Arc<dyn Vault>,
    own: Mutex<Own>,
    /// The scopes of the token signed in with, as they were at sign-in (capabilities are sync).
    scopes: Vec<String>,
    user: User,
}

/// What a sign-in found: the source, and what it cannot do without a broader scope.
pub struct SignedIn {
    pub source: GitLabSource,
    pub warning: Option<String>,
}

/// The instant a GitLab expiry date stands for: 00:00 UTC on that day.
fn expiry(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// Without `api`, what the account can and cannot do, in a sentence; `None` with it.
fn scope_warning(scopes: &[String]) -> Option<String> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    if has("api") {
        None
    } else if has("read_api") {
        Some(
            "the token lacks the api scope: Keywarden lists your tokens and tests them, but \
             rotating, renewing and revoking need a token with api"
                .into(),
        )
    } else {
        Some(format!(
            "the token has the scopes {} but lacks api (read_api to only list tokens): \
             Keywarden can test it, but not list, rotate or revoke tokens",
            if scopes.is_empty() {
                "none".to_string()
            } else {
                scopes.join(", ")
            }
        ))
    }
}

impl GitLabSource {
    /// Signs in with a personal access token: checks it and who it is, keeps it in the keychain.
    pub async fn sign_in(
        name: &str,
        base_url: &str,
        allow_http: bool,
        token: &Secret,
        vault: Arc<dyn Vault>,
    ) -> Result<SignedIn, SourceError> {
        let source = Self::start(name, base_url, allow_http, token.clone(), vault)
            .await
            .map_err(|err| match err {
                SourceError::NeedsSignIn { reason, .. } => SourceError::Refused(reason),
                other => other,
            })?;
        source.keep_own(token).await?;
        // The token signed in with is one of the account's keys, held here like any other, so
        // `kw://ACCOUNT/NAME` finds it.
        let own_id = source.own.lock().await.id;
        let (vault, account, secret) = (
            source.vault.clone(),
            crate::vault::key_account(SourceKind::Gitlab.as_str(), name, &own_id.to_string()),
            token.clone(),
        );
        tokio::task::spawn_blocking(move || vault.set(&account, &secret))
            .await
            .map_err(|err| SourceError::Storage(err.to_string()))??;
        let warning = scope_warning(&source.scopes);
        Ok(SignedIn { source, warning })
    }

    /// Resumes the account with the token the keychain holds.
    pub async fn resume(
        name: &str,
        base_url: &str,
        allow_http: bool,
        vault: Arc<dyn Vault>,
    ) -> Result<GitLabSource, SourceError> {
        let account = session_account(name, base_url.trim().trim_end_matches('/'));
        let reader = vault.clone();
        let token = tokio::task::spawn_blocking(move || reader.get(&account))
            .await
            .map_err(|err| SourceError::Storage(err.to_string()))??
            .ok_or_else(|| SourceError::NeedsSignIn {
                account: name.to_string(),
                reason: "no token is kept for it".into(),
            })?;
        Self::start(name, base_url, allow_http, token, vault).await
    }

    async fn start(
        name: &str,
        base_url: &str,
        allow_http: bool,
        token: Secret,
        vault: Arc<dyn Vault>,
    ) -> Result<GitLabSource, SourceError> {
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        if let Some(refusal) = plain_http_refusal(&base_url, allow_http) {
            return Err(SourceError::Refused(refusal));
        }
        let http = super::http::client()?;
        let call = |path: &str| {
            http.get(format!("{base_url}/api/v4{path}"))
                .header("PRIVATE-TOKEN", token.expose())
        };
        let own: Token = json(&send(&base_url, name, call("/personal_access_tokens/self")).await?)?;
        let user: User = json(&send(&base_url, name, call("/user")).await?)?;
        Ok(GitLabSource {
            name: name.to_string(),
            base_url,
            http,
            vault,
            scopes: own.scopes,
            own: Mutex::new(Own {
                secret: token,
                id: own.id,
            }),
            user,
        })
    }

    /// Keeps the token the account signs in with (after sign-in, and after it was rotated).
    async fn keep_own(&self, token: &Secret) -> Result<(), SourceError> {
        let (vault, account, token) = (
            self.vault.clone(),
            session_account(&self.name, &self.base_url),
            token.clone(),
        );
        tokio::task::spawn_blocking(move || vault.set(&account, &token))
            .await
            .map_err(|err| SourceError::Storage(err.to_string()))??;
        Ok(())
    }

    fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Answer, SourceError> {
        let own = self.own.lock().await;
        let mut request = self
            .http
            .request(method, format!("{}/api/v4{path}", self.base_url))
            .header("PRIVATE-TOKEN", own.secret.expose());
        if let Some(body) = body {
            request = request.json(&body);
        }
        send(&self.base_url, &self.name, request).await
    }

    async fn token(&self, id: &str) -> Result<Token, SourceError> {
        let answer = self
            .call(
                Method::GET,
                &format!("/personal_access_tokens/{}", check_id(id)?),
                None,
            )
            .await?;
        json(&answer)
    }

    fn key(&self, token: &Token) -> SourceKey {
        SourceKey {
            source: self.name.clone(),
            kind: SourceKind::Gitlab,
            service: services::GITLAB.id.to_string(),
            id: token.id.to_string(),
            name: token.name.clone(),
            description: token.description.clone().unwrap_or_default(),
            hint: token
                .token
                .as_ref()
                .map_or_else(|| "glpat-…".to_string(), |t| super::hint_of(t.expose())),
            owner: Some(token.user_id.to_string()),
            created_at: token.created_at,
            expires_at: token.expires_at.map(expiry),
            enabled: true,
            // GitLab does not say when a token was revoked: from its last use, or its creation.
            revoked_at: token
                .revoked
                .then(|| token.last_used_at.unwrap_or(token.created_at)),
            last_used_at: token.last_used_at,
            manages: false,
            scopes: token.scopes.clone(),
            replaces: None,
            replaced_by: None,
            base_url: Some(self.base_url.clone()),
            workspace: None,
            workspace_name: None,
        }
    }
}

/// A GitLab token id is a number: anything else is refused before it becomes part of a path.
fn check_id(id: &str) -> Result<i64, SourceError> {
    id.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        SourceError::NotFound(format!(
            "a GitLab token's id is a number, not {:?}",
            crate::text::for_terminal(id)
        ))
    })
}

/// An answer: its body (at most `client::MAX_BODY_BYTES`) and the page that follows, if any.
struct Answer {
    body: Vec<u8>,
    next_page: Option<usize>,
}

fn json<T: serde::de::DeserializeOwned>(answer: &Answer) -> Result<T, SourceError> {
    serde_json::from_slice(&answer.body).map_err(|err| SourceError::Protocol(err.to_string()))
}

/// Sends a request and turns GitLab's error bodies into a [`SourceError`] in GitLab's words.
async fn send(
    base_url: &str,
    name: &str,
    request: reqwest::RequestBuilder,
) -> Result<Answer, SourceError> {
    let reply = super::http::exchange(base_url, request).await?;
    if reply.status.is_success() {
        let next_page = reply
            .headers
            .get("x-next-page")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        return Ok(Answer {
            body: reply.body,
            next_page,
        });
    }
    let json = reply.json();
    let field = |name: &str| json.as_ref()?.get(name)?.as_str().map(str::to_string);
    // An expired or revoked token says why in `error_description`.
    let message = field("error_description").unwrap_or_else(|| reply.message());
    Err(
        match (reply.status, field("error").as_deref(), field("scope")) {
            (StatusCode::UNAUTHORIZED, ..) => {
                reply.refusal(name, format!("GitLab refused the token: {message}"))
            }
            (StatusCode::FORBIDDEN, Some("insufficient_scope"), Some(scope)) => {
                SourceError::Refused(format!(
                    "the token lacks the scope this needs (GitLab accepts: {scope})"
                ))
            }
            _ => reply.refusal(name, message),
        },
    )
}

#[async_trait::async_trait]
impl KeySource for GitLabSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Gitlab
    }

    fn capabilities(&self) -> Capabilities {
        let api = self.has_scope("api");
        Capabilities {
            revoke: api,
            renew: api,
            last_used: true,
            key_page: true,
            renew_revokes_old: true,
            limited_by: (!api).then_some(
                "the token this account signs in with lacks GitLab's api scope; sign in with one \
                 that has it",
            ),
            ..Capabilities::default()
        }
    }

    fn who(&self) -> String {
        self.user
            .email
            .clone()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| self.user.username.clone())
    }

    fn user_id(&self) -> Option<String> {
        Some(self.user.id.to_string())
    }

    fn role(&self) -> String {
        let own = self.scopes.join(" ");
        format!("token scopes: {own}")
    }

    async fn list(&self) -> Result<Vec<SourceKey>, SourceError> {
        let mut keys = Vec::new();
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let path = format!(
                "/personal_access_tokens?user_id={}&per_page={PER_PAGE}&page={page}",
                self.user.id
            );
            let answer = self.call(Method::GET, &path, None).await?;
            let tokens: Vec<Token> = json(&answer)?;
            keys.extend(tokens.iter().map(|t| self.key(t)));
            match answer.next_page {
                Some(next) if next > page => page = next,
                _ => return Ok(keys),
            }
        }
        Err(SourceError::Protocol(format!(
            "{} lists more than {} tokens; Keywarden reads at most that many",
            self.base_url,
            MAX_PAGES * PER_PAGE
        )))
    }

    async fn edit(&self, _id: &str, _edit: &Edit) -> Result<SourceKey, SourceError> {
        Err(self.unsupported(super::Capability::Edit))
    }

    async fn revoke(&self, id: &str) -> Result<SourceKey, SourceError> {
        let mut token = self.token(id).await?;
        let path = format!("/personal_access_tokens/{}", check_id(id)?);
        self.call(Method::DELETE, &path, None).await?;
        token.revoked = true;
        Ok(self.key(&token))
    }

    async fn delete(&self, _id: &str) -> Result<(), SourceError> {
        Err(self.unsupported(super::Capability::Delete))
    }

    /// Rotates: GitLab revokes the old token at once and makes a new one with the same name,
    /// description and scopes and a new id. The new expiry is the one asked for, or the old
    /// token's lifetime from today; at most GitLab's 365 days, as a date GitLab counts from 00:00
    /// UTC (rounded up, so the chosen day is never cut short).
    async fn renew(&self, id: &str, renewal: &Renewal) -> Result<Renewed, SourceError> {
        let old = self.token(id).await?;
        let today = Utc::now().date_naive();
        let latest = today + chrono::Duration::days(MAX_LIFETIME_DAYS);
        let wanted = match renewal.expires_at {
            Some(at) => {
                let date = at.date_naive();
                if expiry(date) < at {
                    date + chrono::Duration::days(1)
                } else {
                    date
                }
            }
            None => {
                let lifetime = old.expires_at.map_or(MAX_LIFETIME_DAYS, |d| {
                    crate::api::limits::lifetime_days(old.created_at, expiry(d))
                });
                today + chrono::Duration::days(lifetime)
            }
        };
        let expires_at = wanted.min(latest);
        let is_own = self.own.lock().await.id == old.id;
        let path = if is_own {
            "/personal_access_tokens/self/rotate".to_string()
        } else {
            format!("/personal_access_tokens/{}/rotate", old.id)
        };
        let body = serde_json::json!({ "expires_at": expires_at.format("%Y-%m-%d").to_string() });
        let answer = self.call(Method::POST, &path, Some(body)).await?;
        let new: Token = json(&answer)?;
        let Some(secret) = new.token.clone() else {
            return Err(SourceError::Protocol(
                "GitLab's rotation answer carried no token".into(),
            ));
        };
        if is_own {
            let mut own = self.own.lock().await;
            own.secret = secret.clone();
            own.id = new.id;
            drop(own);
            self.keep_own(&secret).await?;
        }
        let mut key = self.key(&new);
        key.replaces = Some(old.id.to_string());
        let mut old_key = self.key(&Token {
            revoked: true,
            ..old
        });
        old_key.replaced_by = Some(key.id.clone());
        old_key.revoked_at = Some(Utc::now());
        Ok(Renewed {
            key,
            secret,
            old: old_key,
        })
    }
}
