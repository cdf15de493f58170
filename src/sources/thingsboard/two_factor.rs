//! ThingsBoard's two-factor sign-in (`TwoFactorAuthController`): with 2FA on, the login answers
//! a pre-verification token instead of a JWT pair; the token is good only for asking the
//! account's providers (`GET /api/auth/2fa/providers`), having a code sent (`POST
//! /api/auth/2fa/verification/send`, email and SMS) and checking it (`POST
//! /api/auth/2fa/verification/check`), which gives the pair.

use std::sync::Arc;

use reqwest::{Method, RequestBuilder};
use serde::Deserialize;

use super::{ThingsBoardSource, Tokens, json, send};
use crate::secret::Secret;
use crate::sources::{CodeProvider, KeySource, SecondFactor, SourceError};
use crate::vault::Vault;

/// What `POST /api/auth/login` answers: a JWT pair, or with two-factor authentication a
/// pre-verification token and its scope, without `refreshToken` (`JwtPair` leaves nulls out).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LoginAnswer {
    pub(super) token: Secret,
    #[serde(default)]
    pub(super) refresh_token: Option<Secret>,
    #[serde(default)]
    pub(super) scope: Option<String>,
}

/// A sign-in: done, or waiting for the second factor.
pub enum SignIn {
    Done(ThingsBoardSource),
    SecondFactor(Pending),
}

/// A sign-in waiting for its second factor (ThingsBoard's `TwoFactorAuthController`): the
/// pre-verification token, only in memory, and the account's providers.
pub struct Pending {
    pub(super) name: String,
    pub(super) base_url: String,
    pub(super) http: reqwest::Client,
    pub(super) vault: Arc<dyn Vault>,
    pub(super) token: Secret,
    pub(super) providers: Vec<CodeProvider>,
}

#[derive(Deserialize)]
struct ProviderInfo {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    default: bool,
    #[serde(default)]
    contact: Option<String>,
}

impl Pending {
    fn request(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path_and_query}", self.base_url))
            .header("X-Authorization", format!("Bearer {}", self.token.expose()))
    }

    /// `GET /api/auth/2fa/providers`, in words the user knows.
    pub(super) async fn providers(&self) -> Result<Vec<CodeProvider>, SourceError> {
        let request = self.request(Method::GET, "/api/auth/2fa/providers");
        let infos: Vec<ProviderInfo> = json(
            send(&self.base_url, &self.name, request)
                .await
                .map_err(refused)?,
        )?;
        Ok(infos
            .into_iter()
            .filter(|info| crate::text::check_field("provider", &info.kind).is_ok())
            .map(|info| {
                let contact = info
                    .contact
                    .filter(|c| crate::text::check_field("contact", c).is_ok())
                    .unwrap_or_default();
                let (label, sends) = match info.kind.as_str() {
                    "TOTP" => ("the authenticator app".to_string(), false),
                    "EMAIL" => (format!("a code emailed to {contact}"), true),
                    "SMS" => (format!("a code sent by SMS to {contact}"), true),
                    "BACKUP_CODE" => ("a backup code".to_string(), false),
                    other => (other.to_lowercase(), false),
                };
                CodeProvider {
                    id: info.kind,
                    label,
                    sends,
                    default: info.default,
                }
            })
            .collect())
    }
}

/// A refused password or code is not a session that ended: it is said as the server says it.
pub(super) fn refused(err: SourceError) -> SourceError {
    match err {
        SourceError::NeedsSignIn { reason, .. } => SourceError::Refused(reason),
        other => other,
    }
}

/// A provider id as ThingsBoard's enum spells it, or refused before anything is sent.
fn provider_id(provider: &str) -> Result<&str, SourceError> {
    if provider.chars().all(|c| c.is_ascii_uppercase() || c == '_') && !provider.is_empty() {
        Ok(provider)
    } else {
        Err(SourceError::Invalid(format!(
            "{provider:?} is not a way to receive a code (TOTP, EMAIL, SMS, BACKUP_CODE)"
        )))
    }
}

#[async_trait::async_trait]
impl SecondFactor for Pending {
    fn providers(&self) -> &[CodeProvider] {
        &self.providers
    }

    async fn send_code(&self, provider: &str) -> Result<(), SourceError> {
        let path = format!(
            "/api/auth/2fa/verification/send?providerType={}",
            provider_id(provider)?
        );
        send(
            &self.base_url,
            &self.name,
            self.request(Method::POST, &path),
        )
        .await
        .map_err(refused)
        .map(drop)
    }

    async fn finish(
        &self,
        provider: &str,
        code: &Secret,
    ) -> Result<Arc<dyn KeySource>, SourceError> {
        let code = code.expose().trim();
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(SourceError::Invalid(
                "the verification code is the digits (or letters) the provider gave".into(),
            ));
        }
        let request = self
            .request(Method::POST, "/api/auth/2fa/verification/check")
            .query(&[
                ("providerType", provider_id(provider)?),
                ("verificationCode", code),
            ]);
        let tokens: Tokens = json(
            send(&self.base_url, &self.name, request)
                .await
                .map_err(refused)?,
        )?;
        let source = ThingsBoardSource::start(
            &self.name,
            self.base_url.clone(),
            self.http.clone(),
            self.vault.clone(),
            tokens,
        )
        .await?;
        Ok(Arc::new(source))
    }
}
