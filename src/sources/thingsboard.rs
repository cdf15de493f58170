//! Keys of a ThingsBoard 4.3+ account, through its REST API as its documentation and its
//! `ApiKeyController` define it:
//!
//! - sign in: `POST /api/auth/login {"username","password"}` -> `{"token","refreshToken"}`; the JWT
//!   goes in `X-Authorization: Bearer <token>`; `POST /api/auth/token {"refreshToken"}` renews it
//!   before it expires (and once when a request is refused), and a failed refresh asks to sign in
//!   again. The refresh token is kept in the keychain only; the JWT only in memory.
//! - who: `GET /api/auth/user` (`id.id`, `authority`, `email`).
//! - keys: `GET /api/apiKeys/{userId}?pageSize=&page=` (every page), `POST /api/apiKey` (always
//!   with `enabled`: left out, ThingsBoard makes the key disabled), `PUT
//!   /api/apiKey/{id}/enabled/{bool}`, `PUT /api/apiKey/{id}/description` (the raw text as body),
//!   `DELETE /api/apiKey/{id}`. A key's `description` is its name; `expirationTime` 0 is never.
//! - a tenant administrator also sees and makes keys of the tenant's users (`GET /api/users`).
//! - errors are `{"status","message","errorCode","timestamp"}`: the `message` is shown.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, TimeZone as _, Utc};
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{
    Capabilities, Created, Edit, KeySource, NewKey, Renewal, Renewed, SourceError, SourceKey,
    SourceKind, services,
};
use crate::client::MAX_PAGES;
use crate::net::plain_http_refusal;
use crate::secret::Secret;
use crate::vault::Vault;

mod two_factor;
use two_factor::{LoginAnswer, refused};
pub use two_factor::{Pending, SignIn};

/// Keys are listed this many to a page (1,000 keys take 10 requests).
pub const PAGE_SIZE: usize = 100;

/// The keychain account of a ThingsBoard account's refresh token: bound to the server's URL, so
/// a URL edited in the config never receives the token of another host, and to the account's
/// name, so two accounts on one server keep their own.
pub fn session_account(name: &str, url: &str) -> String {
    format!("thingsboard session of {name} on {url}")
}

/// How earlier versions named the refresh token: by the account's name, which
/// could send it to whatever URL the config names. Never used; removed when seen.
fn legacy_session_account(name: &str) -> String {
    format!("thingsboard session on {name}")
}

#[derive(Debug, Clone, Deserialize)]
struct EntityId {
    id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: EntityId,
    #[serde(default)]
    email: String,
    #[serde(default)]
    authority: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiKeyInfo {
    id: EntityId,
    created_time: i64,
    user_id: EntityId,
    #[serde(default)]
    expiration_time: i64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    has_next: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tokens {
    token: Secret,
    refresh_token: Secret,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewApiKey<'a> {
    user_id: UserRef<'a>,
    description: &'a str,
    enabled: bool,
    expiration_time: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserRef<'a> {
    entity_type: &'static str,
    id: &'a str,
}

struct Auth {
    token: Secret,
    refresh: Secret,
    /// From the JWT's `exp`; refreshed a minute before.
    expires_at: Option<DateTime<Utc>>,
}

pub struct ThingsBoardSource {
    name: String,
    base_url: String,
    http: reqwest::Client,
    vault: Arc<dyn Vault>,
    auth: Mutex<Auth>,
    user: User,
}

/// The `exp` of a JWT, read without checking its signature (only to know when to refresh).
fn jwt_expiry(token: &Secret) -> Option<DateTime<Utc>> {
    let payload = token.expose().split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Utc.timestamp_opt(claims.get("exp")?.as_i64()?, 0).single()
}

fn millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl ThingsBoardSource {
    /// Signs in with email and password and keeps the refresh token in the keychain. An account
    /// with two-factor authentication answers with a pre-verification token instead: the sign-in
    /// then waits for a code ([`SignIn::SecondFactor`]).
    pub async fn sign_in(
        name: &str,
        base_url: &str,
        allow_http: bool,
        email: &str,
        password: &Secret,
        vault: Arc<dyn Vault>,
    ) -> Result<SignIn, SourceError> {
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        if let Some(refusal) = plain_http_refusal(&base_url, allow_http) {
            return Err(SourceError::Refused(refusal));
        }
        let http = super::http::client()?;
        #[derive(Serialize)]
        struct Login<'a> {
            username: &'a str,
            password: &'a str,
        }
        let request = http
            .post(format!("{base_url}/api/auth/login"))
            .json(&Login {
                username: email,
                password: password.expose(),
            });
        let answer: LoginAnswer = json(send(&base_url, name, request).await.map_err(refused)?)?;
        match (answer.refresh_token, answer.scope.as_deref()) {
            (Some(refresh_token), None) => {
                let tokens = Tokens {
                    token: answer.token,
                    refresh_token,
                };
                Ok(SignIn::Done(
                    Self::start(name, base_url, http, vault, tokens).await?,
                ))
            }
            (_, Some("PRE_VERIFICATION_TOKEN")) => {
                let pending = Pending {
                    name: name.to_string(),
                    base_url,
                    http,
                    vault,
                    token: answer.token,
                    providers: Vec::new(),
                };
                let providers = pending.providers().await?;
                if providers.is_empty() {
                    return Err(SourceError::Refused(
                        "ThingsBoard asks for a second factor but names no way to give one".into(),
                    ));
                }
                Ok(SignIn::SecondFactor(Pending {
                    providers,
                    ..pending
                }))
            }
            (_, Some("MFA_CONFIGURATION_TOKEN")) => Err(SourceError::Refused(
                "ThingsBoard requires two-factor authentication for this account: set it up on \
                 ThingsBoard's own page, then sign in here again"
                    .into(),
            )),
            (_, scope) => Err(SourceError::Protocol(format!(
                "ThingsBoard's sign-in gave no refresh token (scope {:?})",
                scope.unwrap_or_default()
            ))),
        }
    }

    /// Resumes the account with the refresh token the keychain holds.
    pub async fn resume(
        name: &str,
        base_url: &str,
        allow_http: bool,
        vault: Arc<dyn Vault>,
    ) -> Result<ThingsBoardSource, SourceError> {
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        if let Some(refusal) = plain_http_refusal(&base_url, allow_http) {
            return Err(SourceError::Failed(refusal));
        }
        let sign_in = |reason: &str| SourceError::NeedsSignIn {
            account: name.to_string(),
            reason: reason.to_string(),
        };
        let (account, legacy) = (
            session_account(name, &base_url),
            legacy_session_account(name),
        );
        let reader = vault.clone();
        let refresh = tokio::task::spawn_blocking(move || {
            let refresh = reader.get(&account)?;
            if refresh.is_none() && legacy != account {
                reader.delete(&legacy)?;
            }
            Ok::<_, crate::vault::VaultError>(refresh)
        })
        .await
        .map_err(|err| SourceError::Storage(err.to_string()))?
        .map_err(|err| sign_in(&err.to_string()))?
        .ok_or_else(|| sign_in("no session is kept for it"))?;
        let http = super::http::client()?;
        let tokens = refresh_tokens(&http, &base_url, name, &refresh).await?;
        Self::start(name, base_url, http, vault, tokens).await
    }

    async fn start(
        name: &str,
        base_url: String,
        http: reqwest::Client,
        vault: Arc<dyn Vault>,
        tokens: Tokens,
    ) -> Result<ThingsBoardSource, SourceError> {
        keep_refresh(&vault, (name, &base_url), &tokens.refresh_token).await?;
        let auth = Auth {
            expires_at: jwt_expiry(&tokens.token),
            token: tokens.token,
            refresh: tokens.refresh_token,
        };
        let request = http
            .get(format!("{base_url}/api/auth/user"))
            .header("X-Authorization", format!("Bearer {}", auth.token.expose()));
        let user: User = json(send(&base_url, name, request).await?)?;
        Ok(ThingsBoardSource {
            name: name.to_string(),
            base_url,
            http,
            vault,
            auth: Mutex::new(auth),
            user,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `TENANT_ADMIN`, `CUSTOMER_USER`, `SYS_ADMIN`.
    pub fn authority(&self) -> &str {
        &self.user.authority
    }

    /// Sends a request with the JWT, refreshing it first when it is about to expire, and once
    /// more when the server refuses it.
    async fn call(&self, method: Method, path: &str, body: Body) -> Result<Vec<u8>, SourceError> {
        let mut auth = self.auth.lock().await;
        if auth
            .expires_at
            .is_some_and(|at| at <= Utc::now() + chrono::Duration::seconds(60))
        {
            self.refresh(&mut auth).await?;
        }
        let request = |token: &Secret| {
            body.apply(
                self.http
                    .request(method.clone(), format!("{}{path}", self.base_url))
                    .header("X-Authorization", format!("Bearer {}", token.expose())),
            )
        };
        match send(&self.base_url, &self.name, request(&auth.token)).await {
            // Refused: the JWT may have been revoked or expired early; refresh once and retry.
            Err(SourceError::NeedsSignIn { .. }) => {
                self.refresh(&mut auth).await?;
                send(&self.base_url, &self.name, request(&auth.token)).await
            }
            other => other,
        }
    }

    async fn refresh(&self, auth: &mut Auth) -> Result<(), SourceError> {
        let tokens = refresh_tokens(&self.http, &self.base_url, &self.name, &auth.refresh).await?;
        keep_refresh(
            &self.vault,
            (&self.name, &self.base_url),
            &tokens.refresh_token,
        )
        .await?;
        auth.expires_at = jwt_expiry(&tokens.token);
        auth.token = tokens.token;
        auth.refresh = tokens.refresh_token;
        Ok(())
    }

    async fn keys_of(&self, user_id: &str) -> Result<Vec<ApiKeyInfo>, SourceError> {
        let mut keys = Vec::new();
        for page in 0..MAX_PAGES {
            let path = format!(
                "/api/apiKeys/{}?pageSize={PAGE_SIZE}&page={page}",
                check_id(user_id)?
            );
            let page: Page<ApiKeyInfo> = json(self.call(Method::GET, &path, Body::None).await?)?;
            keys.extend(page.data);
            if !page.has_next {
                return Ok(keys);
            }
        }
        Err(too_many(&self.base_url))
    }

    /// The users whose keys this account sees: itself, and for a tenant administrator every
    /// user of the tenant.
    async fn tenant_users(&self) -> Result<Vec<User>, SourceError> {
        let mut users = vec![self.user.clone()];
        if self.user.authority != "TENANT_ADMIN" {
            return Ok(users);
        }
        for page in 0..MAX_PAGES {
            let path = format!("/api/users?pageSize={PAGE_SIZE}&page={page}");
            let page: Page<User> = json(self.call(Method::GET, &path, Body::None).await?)?;
            users.extend(page.data.into_iter().filter(|u| u.id.id != self.user.id.id));
            if !page.has_next {
                return Ok(users);
            }
        }
        Err(too_many(&self.base_url))
    }

    fn key(&self, info: ApiKeyInfo) -> SourceKey {
        SourceKey {
            source: self.name.clone(),
            kind: SourceKind::Thingsboard,
            service: services::THINGSBOARD.id.to_string(),
            id: info.id.id,
            name: info.description,
            description: String::new(),
            hint: "tb_…".to_string(),
            owner: Some(info.user_id.id),
            created_at: millis(info.created_time),
            expires_at: (info.expiration_time > 0).then(|| millis(info.expiration_time)),
            enabled: info.enabled,
            revoked_at: None,
            last_used_at: None,
            manages: false,
            scopes: Vec::new(),
            replaces: None,
            replaced_by: None,
            base_url: Some(self.base_url.clone()),
            workspace: None,
            workspace_name: None,
        }
    }

    async fn find(&self, id: &str) -> Result<SourceKey, SourceError> {
        self.list()
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| SourceError::NotFound(format!("no ThingsBoard key has the id {id:?}")))
    }

    /// The key a changing request answered with, or, when its body tells nothing, as listed.
    async fn changed(&self, id: &str, body: Vec<u8>) -> Result<SourceKey, SourceError> {
        match serde_json::from_slice::<ApiKeyInfo>(&body) {
            Ok(info) => Ok(self.key(info)),
            Err(_) => self.find(id).await,
        }
    }

    async fn generate(
        &self,
        owner: &str,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Created, SourceError> {
        check_name(name)?;
        let body = NewApiKey {
            user_id: UserRef {
                entity_type: "USER",
                id: check_id(owner)?,
            },
            description: name.trim(),
            enabled: true,
            expiration_time: expires_at.map_or(0, |at| at.timestamp_millis()),
        };
        let bytes = self
            .call(
                Method::POST,
                "/api/apiKey",
                Body::Json(
                    serde_json::to_value(&body)
                        .map_err(|e| SourceError::Protocol(e.to_string()))?,
                ),
            )
            .await?;
        #[derive(Deserialize)]
        struct WithValue {
            #[serde(flatten)]
            info: ApiKeyInfo,
            value: Secret,
        }
        let made: WithValue = json(bytes)?;
        let mut key = self.key(made.info);
        key.hint = super::hint_of(made.value.expose());
        Ok(Created {
            key,
            secret: made.value,
        })
    }
}

fn too_many(base_url: &str) -> SourceError {
    SourceError::Protocol(format!(
        "{base_url} lists more than {MAX_PAGES} pages; Keywarden reads at most that many"
    ))
}

/// ThingsBoard's own rules for a key's description (its name here): `@NotBlank`, `@Length(max =
/// 255)` counted in UTF-16 units as Java counts, and `@NoXss` (no markup, no `{{…}}` template).
/// Checked before sending, so the refusal is a sentence rather than a 400.
fn check_name(name: &str) -> Result<(), SourceError> {
    let name = name.trim();
    if name.is_empty() || name.encode_utf16().count() > 255 {
        return Err(SourceError::Invalid(
            "a ThingsBoard key's description (its name) is 1 to 255 UTF-16 units long (most \
             characters count one, emoji two)"
                .into(),
        ));
    }
    let template = name
        .find("{{")
        .is_some_and(|at| name[at + 2..].contains("}}"));
    let markup = name
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'?'));
    if template || markup {
        return Err(SourceError::Invalid(
            "ThingsBoard refuses markup (<tag>) and {{…}} templates in a key's description".into(),
        ));
    }
    crate::text::check_field("name", name).map_err(SourceError::Invalid)
}

/// ThingsBoard's ids are UUIDs: anything else is refused here, before it becomes part of a path.
fn check_id(id: &str) -> Result<&str, SourceError> {
    let parts: Vec<&str> = id.split('-').collect();
    let uuid = parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(part, len)| part.len() == len && part.chars().all(|c| c.is_ascii_hexdigit()));
    if uuid {
        Ok(id)
    } else {
        Err(SourceError::NotFound(format!(
            "a ThingsBoard id is a UUID, not {:?}",
            crate::text::for_terminal(id)
        )))
    }
}

enum Body {
    None,
    Json(serde_json::Value),
    Text(String),
}

impl Body {
    fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Text(text) => request
                .header("Content-Type", "text/plain; charset=utf-8")
                .body(text.clone()),
        }
    }
}

async fn keep_refresh(
    vault: &Arc<dyn Vault>,
    (name, base_url): (&str, &str),
    refresh: &Secret,
) -> Result<(), SourceError> {
    let (vault, account, refresh) = (
        vault.clone(),
        session_account(name, base_url),
        refresh.clone(),
    );
    tokio::task::spawn_blocking(move || vault.set(&account, &refresh))
        .await
        .map_err(|err| SourceError::Storage(err.to_string()))??;
    Ok(())
}

async fn refresh_tokens(
    http: &reqwest::Client,
    base_url: &str,
    name: &str,
    refresh: &Secret,
) -> Result<Tokens, SourceError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Refresh<'a> {
        refresh_token: &'a str,
    }
    let request = http
        .post(format!("{base_url}/api/auth/token"))
        .json(&Refresh {
            refresh_token: refresh.expose(),
        });
    match send(base_url, name, request).await {
        Ok(bytes) => json(bytes),
        // Any refusal of the refresh token means signing in again.
        Err(SourceError::Refused(reason) | SourceError::Invalid(reason)) => {
            Err(SourceError::NeedsSignIn {
                account: name.to_string(),
                reason,
            })
        }
        Err(err) => Err(err),
    }
}

/// Sends a request and turns ThingsBoard's error body into a [`SourceError`] with its `message`.
async fn send(base_url: &str, name: &str, request: RequestBuilder) -> Result<Vec<u8>, SourceError> {
    let reply = super::http::exchange(base_url, request).await?;
    if reply.status.is_success() {
        return Ok(reply.body);
    }
    Err(reply.refusal(name, reply.message()))
}

fn json<T: serde::de::DeserializeOwned>(bytes: Vec<u8>) -> Result<T, SourceError> {
    serde_json::from_slice(&bytes).map_err(|err| SourceError::Protocol(err.to_string()))
}

#[async_trait::async_trait]
impl KeySource for ThingsBoardSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Thingsboard
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            generate: true,
            enable: true,
            edit: true,
            delete: true,
            renew: true,
            never_expires: true,
            overlap_by_client: true,
            ..Capabilities::default()
        }
    }

    fn who(&self) -> String {
        self.user.email.clone()
    }

    fn user_id(&self) -> Option<String> {
        Some(self.user.id.id.clone())
    }

    fn role(&self) -> String {
        self.user.authority.clone()
    }

    fn is_admin(&self) -> bool {
        self.user.authority == "TENANT_ADMIN"
    }

    async fn sign_out(&self) -> Result<(), SourceError> {
        self.call(Method::POST, "/api/auth/logout", Body::None)
            .await
            .map(drop)
    }

    async fn list(&self) -> Result<Vec<SourceKey>, SourceError> {
        let mut keys = Vec::new();
        for user in self.tenant_users().await? {
            keys.extend(
                self.keys_of(&user.id.id)
                    .await?
                    .into_iter()
                    .map(|k| self.key(k)),
            );
        }
        Ok(keys)
    }

    async fn users(&self) -> Result<Vec<(String, String)>, SourceError> {
        if self.user.authority != "TENANT_ADMIN" {
            return Ok(Vec::new());
        }
        Ok(self
            .tenant_users()
            .await?
            .into_iter()
            .map(|u| (u.id.id, u.email))
            .collect())
    }

    async fn create(&self, new: &NewKey) -> Result<Created, SourceError> {
        let owner = new.owner.clone().unwrap_or_else(|| self.user.id.id.clone());
        self.generate(&owner, &new.name, new.expires_at).await
    }

    async fn set_enabled(&self, id: &str, enabled: bool) -> Result<SourceKey, SourceError> {
        let path = format!("/api/apiKey/{}/enabled/{enabled}", check_id(id)?);
        let body = self.call(Method::PUT, &path, Body::None).await?;
        self.changed(id, body).await
    }

    /// The name is ThingsBoard's description; a description given alone is taken as the name.
    async fn edit(&self, id: &str, edit: &Edit) -> Result<SourceKey, SourceError> {
        let Some(name) = edit.name.as_ref().or(edit.description.as_ref()) else {
            return self.find(id).await;
        };
        check_name(name)?;
        let path = format!("/api/apiKey/{}/description", check_id(id)?);
        let body = self
            .call(Method::PUT, &path, Body::Text(name.trim().to_string()))
            .await?;
        self.changed(id, body).await
    }

    async fn delete(&self, id: &str) -> Result<(), SourceError> {
        let path = format!("/api/apiKey/{}", check_id(id)?);
        self.call(Method::DELETE, &path, Body::None).await.map(drop)
    }

    /// ThingsBoard has no rotate: a new key with the same name and owner, and a new expiry (by
    /// default the old key's lifetime, or never). The keeper deletes the old one.
    async fn renew(&self, id: &str, renewal: &Renewal) -> Result<Renewed, SourceError> {
        let old = self.find(id).await?;
        let now = Utc::now();
        let expires_at = renewal
            .expires_at
            .or_else(|| old.expires_at.map(|at| now + (at - old.created_at)));
        let owner = old.owner.clone().unwrap_or_else(|| self.user.id.id.clone());
        let created = self.generate(&owner, &old.name, expires_at).await?;
        let mut key = created.key;
        key.replaces = Some(old.id.clone());
        Ok(Renewed {
            key,
            secret: created.secret,
            old,
        })
    }
}
