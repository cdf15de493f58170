//! The account layer: every account keys come from (this computer's server, the servers signed in
//! to, the tracked keys), how each is opened with the session the keychain keeps, signed in to (the
//! steps described as data, so the app's dialog and the command line's prompts are both built from
//! them), and signed out of. The app and the command line call this and never name a kind of
//! account; what differs between kinds is decided here and in the sources.
//!
//! A session credential (a Keywarden session token, a ThingsBoard refresh token) is kept in the
//! keychain under the account's URL, never its name: editing the URL in `config.toml` then finds
//! no session, rather than sending one to the new host.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::gitlab::GitLabSource;
use super::keeper::Keeper;
use super::keywarden::KeywardenSource;
use super::services::{self, TestOutcome};
use super::thingsboard::{self, ThingsBoardSource};
use super::tracked::TrackedSource;
use super::{KeySource, SecondFactor, SourceError, SourceKey, SourceKind, TRACKED};
use crate::client::ApiClient;
use crate::net::plain_http_refusal;
use crate::secret::Secret;
use crate::settings::{Config, LOCAL_SERVER, ServerEntry};
use crate::sources::keywarden::session;
use crate::vault::{self, Vault};

/// How the account of this computer's server is named where accounts are listed.
pub const THIS_COMPUTER: &str = "this computer";

/// What a kind of account is, as both front-ends need it. One entry per kind, in [`KINDS`].
#[derive(Debug)]
pub struct KindInfo {
    pub kind: SourceKind,
    /// What signing in asks for, in order; empty: the kind is never signed in to.
    pub sign_in: &'static [Field],
    /// Its keys are made on it, so it may be the current account (`servers use`).
    pub makes_keys: bool,
}

/// Every kind, in the order the sign-in dialog offers them.
pub const KINDS: &[KindInfo] = &[
    KindInfo {
        kind: SourceKind::Keywarden,
        sign_in: &[Field::Email, Field::Password],
        makes_keys: true,
    },
    KindInfo {
        kind: SourceKind::Thingsboard,
        sign_in: &[Field::Email, Field::Password],
        makes_keys: true,
    },
    KindInfo {
        kind: SourceKind::Gitlab,
        sign_in: &[Field::Token],
        makes_keys: false,
    },
    KindInfo {
        kind: SourceKind::Tracked,
        sign_in: &[],
        makes_keys: false,
    },
];

impl SourceKind {
    pub fn info(self) -> &'static KindInfo {
        KINDS
            .iter()
            .find(|info| info.kind == self)
            .unwrap_or(&KINDS[0])
    }

    /// The kind can be signed in to (`login --kind`, the sign-in dialog).
    pub fn signs_in(self) -> bool {
        !self.info().sign_in.is_empty()
    }
}

/// The kinds that can be signed in to, in the order the dialog offers them.
pub fn sign_in_kinds() -> impl Iterator<Item = SourceKind> {
    KINDS.iter().map(|i| i.kind).filter(|k| k.signs_in())
}

/// A kind that can be signed in to, by its name (`login --kind`).
pub fn parse_sign_in_kind(text: &str) -> Result<SourceKind, String> {
    SourceKind::parse(text)
        .filter(|kind| kind.signs_in())
        .ok_or_else(|| {
            let kinds: Vec<&str> = sign_in_kinds().map(|k| k.as_str()).collect();
            format!("expected one of {}", kinds.join(", "))
        })
}

/// One thing a sign-in asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Email,
    Password,
    /// A token made on the service's page (GitLab's personal access token).
    Token,
}

impl Field {
    pub fn label(self) -> &'static str {
        match self {
            Field::Email => "Email",
            Field::Password => "Password",
            Field::Token => "Personal access token",
        }
    }

    /// Typed hidden, read from stdin or a hidden prompt, never an argument.
    pub fn is_secret(self) -> bool {
        matches!(self, Field::Password | Field::Token)
    }
}

/// An account keys come from, as `servers` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub name: String,
    pub kind: SourceKind,
    pub url: Option<String>,
    pub email: Option<String>,
    /// Plain `http://` to its server is allowed (`login --allow-http`).
    pub allow_http: bool,
}

impl Account {
    fn local() -> Account {
        Account {
            name: LOCAL_SERVER.to_string(),
            kind: SourceKind::Keywarden,
            url: None,
            email: Some(crate::api::LOCAL_OWNER_EMAIL.to_string()),
            allow_http: false,
        }
    }

    fn tracked() -> Account {
        Account {
            name: TRACKED.to_string(),
            kind: SourceKind::Tracked,
            url: None,
            email: None,
            allow_http: false,
        }
    }

    fn of(entry: &ServerEntry) -> Account {
        Account {
            name: entry.name().to_string(),
            kind: entry.kind,
            url: Some(entry.url.clone()),
            email: Some(entry.email.clone()),
            allow_http: entry.allow_http,
        }
    }

    /// How the account is named in lists, the status bar and notifications.
    pub fn label(&self) -> String {
        label(&self.name)
    }

    /// A remote account, signed in to and out of.
    pub fn signs_in(&self) -> bool {
        self.url.is_some() && self.kind.signs_in()
    }

    /// It may be the current account (keys are made on it).
    pub fn makes_keys(&self) -> bool {
        self.kind.info().makes_keys
    }

    /// Where its last key list is kept for offline use; `None`: its keys are on this computer.
    pub fn cache_key(&self) -> Option<String> {
        cache_key(self.kind, &self.name)
    }

    /// The command that signs in to it again.
    pub fn sign_in_command(&self) -> String {
        let url = self.url.as_deref().unwrap_or_default();
        let mut command = format!("keywarden login {url}");
        if self.kind.info().sign_in.contains(&Field::Email) {
            command.push_str(&format!(
                " --email {}",
                self.email
                    .as_deref()
                    .filter(|e| !e.is_empty())
                    .unwrap_or("…")
            ));
        }
        if self.kind != SourceKind::default() {
            command.push_str(&format!(" --kind {}", self.kind.as_str()));
        }
        if self.name != url {
            command.push_str(&format!(" --name {}", self.name));
        }
        if self.allow_http {
            command.push_str(" --allow-http");
        }
        command
    }
}

/// How an account named `name` is shown: this computer's server by what it is, others by name.
pub fn label(name: &str) -> String {
    if name == LOCAL_SERVER {
        THIS_COMPUTER.to_string()
    } else {
        name.to_string()
    }
}

/// Where the last key list of the account `name` of `kind` is kept for offline use; `None` for the
/// tracked keys, which are on this computer anyway.
pub fn cache_key(kind: SourceKind, name: &str) -> Option<String> {
    (kind != SourceKind::Tracked).then(|| format!("{}:{name}", kind.as_str()))
}

/// Every account: this computer's server, the remote ones signed in to, and `tracked`.
pub fn list(config: &Config) -> Vec<Account> {
    std::iter::once(Account::local())
        .chain(config.servers.iter().map(Account::of))
        .chain(std::iter::once(Account::tracked()))
        .collect()
}

/// The account named `name`; the error lists the known ones.
pub fn find(config: &Config, name: &str) -> Result<Account, String> {
    let name = name.trim_end_matches('/');
    let accounts = list(config);
    if let Some(account) = accounts.iter().find(|a| a.name == name) {
        return Ok(account.clone());
    }
    let known: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
    Err(format!(
        "{:?} is not a known account (known: {}); sign in with `keywarden login URL` first",
        crate::text::for_terminal(name),
        known.join(", ")
    ))
}

/// This computer's server, started on first use and signed in to as its local owner. The app and
/// the command line hand it in: the account layer does not import the server.
#[async_trait::async_trait]
pub trait LocalServer: Send + Sync {
    /// Starts the server once and opens a session; `kept_password` is the owner's password as the
    /// keychain holds it.
    async fn open(&self, kept_password: Option<Secret>) -> Result<LocalSession, String>;
}

/// A session on this computer's server.
pub struct LocalSession {
    pub base_url: String,
    pub token: Secret,
    /// The owner's new password, when the kept one was missing or wrong: kept for next time.
    pub new_password: Option<Secret>,
}

/// What opening an account needs from the outside world.
#[derive(Clone)]
pub struct Env {
    pub vault: Arc<dyn Vault>,
    /// Where tracked keys are kept; `None`: no tracked keys.
    pub data_dir: Option<PathBuf>,
    pub local: Arc<dyn LocalServer>,
}

/// An account opened: its source, and keychain trouble to show.
pub struct Opened {
    pub source: Arc<dyn KeySource>,
    pub warning: Option<String>,
}

impl Opened {
    fn of(source: impl KeySource + 'static) -> Opened {
        Opened {
            source: Arc::new(source),
            warning: None,
        }
    }
}

/// Opens an account with what the keychain keeps: this computer's server (started on first use),
/// a remote Keywarden server's session, a ThingsBoard refresh token, or the tracked keys' file.
pub async fn open(account: &Account, env: &Env) -> Result<Opened, SourceError> {
    let name = account.name.as_str();
    match (account.kind, account.url.as_deref()) {
        (SourceKind::Tracked, _) => {
            let dir = env.data_dir.as_deref().ok_or_else(|| {
                SourceError::Failed("there is no data directory for tracked keys".into())
            })?;
            Ok(Opened::of(TrackedSource::new(dir)))
        }
        (SourceKind::Keywarden, None) => {
            let (kept, warning) = session::kept_local_password(env.vault.clone()).await;
            let opened = env.local.open(kept).await.map_err(|err| {
                SourceError::Failed(format!("cannot start the local server: {err}"))
            })?;
            let session = session::local_session(
                &opened.base_url,
                opened.token,
                opened.new_password,
                env.vault.clone(),
                warning,
            )
            .await
            .map_err(|err| SourceError::Failed(err.to_string()))?;
            Ok(Opened {
                warning: session.warning,
                source: Arc::new(KeywardenSource::new(name, session.client, session.me)),
            })
        }
        (SourceKind::Keywarden, Some(url)) => {
            let session = session::open_remote(url, account.allow_http, env.vault.clone())
                .await
                .map_err(|err| match err {
                    session::SessionError::NeedsSignIn { reason, .. } => SourceError::NeedsSignIn {
                        account: name.to_string(),
                        reason: reason.unwrap_or_else(|| "no session is kept".into()),
                    },
                    session::SessionError::Failed(reason) => SourceError::Failed(reason),
                })?;
            Ok(Opened::of(KeywardenSource::new(
                name,
                session.client,
                session.me,
            )))
        }
        (SourceKind::Thingsboard, Some(url)) => Ok(Opened::of(
            ThingsBoardSource::resume(name, url, account.allow_http, env.vault.clone()).await?,
        )),
        (SourceKind::Gitlab, Some(url)) => Ok(Opened::of(
            GitLabSource::resume(name, url, account.allow_http, env.vault.clone()).await?,
        )),
        (SourceKind::Thingsboard | SourceKind::Gitlab, None) => Err(SourceError::Failed(format!(
            "the account {name} has no URL in the config"
        ))),
    }
}

/// What the user typed to sign in: the fields of the kind's [`KindInfo::sign_in`]. `secret` is
/// the password or the token, whichever the kind asks for.
pub struct Credentials {
    pub email: String,
    pub secret: Secret,
}

/// Where a sign-in stands after the first step.
pub enum SignInStep {
    Done(Opened),
    /// The service asks for a code (two-factor authentication): give it to [`finish_sign_in`].
    Code(Arc<dyn SecondFactor>),
}

impl std::fmt::Debug for SignInStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignInStep::Done(opened) => write!(f, "Done({})", opened.source.name()),
            SignInStep::Code(step) => write!(f, "Code({:?})", step.providers()),
        }
    }
}

/// Finishes a sign-in with the code of its second step (from `provider`).
pub async fn finish_sign_in(
    step: &dyn SecondFactor,
    provider: &str,
    code: &Secret,
) -> Result<Opened, SourceError> {
    Ok(Opened {
        source: step.finish(provider, code).await?,
        warning: None,
    })
}

/// Signs in to a remote account and keeps its session in the keychain, or asks for the second
/// step. The account is not saved to the config here: the caller does that once this succeeds.
pub async fn sign_in(
    entry: &ServerEntry,
    credentials: &Credentials,
    env: &Env,
) -> Result<SignInStep, SourceError> {
    let url = entry.url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(SourceError::Invalid(
            "the server URL starts with http:// or https://".into(),
        ));
    }
    if let Some(refusal) = plain_http_refusal(url, entry.allow_http) {
        return Err(SourceError::Refused(refusal));
    }
    let name = entry.name();
    match entry.kind {
        SourceKind::Thingsboard => Ok(
            match ThingsBoardSource::sign_in(
                name,
                url,
                entry.allow_http,
                &credentials.email,
                &credentials.secret,
                env.vault.clone(),
            )
            .await?
            {
                thingsboard::SignIn::Done(source) => SignInStep::Done(Opened::of(source)),
                thingsboard::SignIn::SecondFactor(pending) => SignInStep::Code(Arc::new(pending)),
            },
        ),
        SourceKind::Keywarden => {
            let session = session::sign_in(
                url,
                entry.allow_http,
                &credentials.email,
                &credentials.secret,
                env.vault.clone(),
            )
            .await
            .map_err(|err| match err {
                // A refused password is not a session that ended.
                crate::client::ClientError::Unauthorized { message, .. } => {
                    SourceError::Refused(message)
                }
                other => SourceError::from_client(name, other),
            })?;
            Ok(SignInStep::Done(Opened {
                warning: session.warning,
                source: Arc::new(KeywardenSource::new(name, session.client, session.me)),
            }))
        }
        SourceKind::Gitlab => {
            let signed_in = GitLabSource::sign_in(
                name,
                url,
                entry.allow_http,
                &credentials.secret,
                env.vault.clone(),
            )
            .await?;
            Ok(SignInStep::Done(Opened {
                source: Arc::new(signed_in.source),
                warning: signed_in.warning,
            }))
        }
        SourceKind::Tracked => Err(SourceError::Unsupported(
            "tracked keys need no sign-in".into(),
        )),
    }
}

/// What signing out did: the session is always forgotten here; `warning` says what else failed
/// (the server could not be told).
#[derive(Debug, Default)]
pub struct SignedOut {
    pub warnings: Vec<String>,
}

/// Signs out of a remote account, the same from both front-ends: the server is told when it can
/// be reached (with the source already open, or the kept session), and the session leaves the
/// keychain whatever the server says. Failures are reported, never dropped.
pub async fn sign_out(
    account: &Account,
    open: Option<Arc<dyn KeySource>>,
    env: &Env,
) -> Result<SignedOut, SourceError> {
    let mut signed_out = SignedOut::default();
    let Some(url) = account.url.as_deref().filter(|_| account.signs_in()) else {
        return Ok(signed_out);
    };
    let source = match open {
        Some(source) => Some(source),
        None => match open_for_sign_out(account, url, env).await {
            Ok(source) => source,
            Err(err) => {
                signed_out
                    .warnings
                    .push(format!("the server was not told: {err}"));
                None
            }
        },
    };
    if let Some(source) = source
        && let Err(err) = source.sign_out().await
    {
        signed_out
            .warnings
            .push(format!("the server was not told: {err}"));
    }
    let vault = env.vault.clone();
    let names = session_accounts(account.kind, &account.name, url);
    tokio::task::spawn_blocking(move || {
        for name in names {
            vault.delete(&name)?;
        }
        Ok::<_, vault::VaultError>(())
    })
    .await
    .map_err(|err| SourceError::Storage(err.to_string()))??;
    Ok(signed_out)
}

/// Forgets a signed-out account in the config, the same from both front-ends: it leaves the list,
/// and this computer's server becomes current if it was. `login` adds it again.
pub fn forget(config: &mut Config, name: &str) {
    config.servers.retain(|s| s.name() != name);
    if config.current_server == name {
        config.current_server = LOCAL_SERVER.to_string();
    }
}

/// The source to tell of a sign-out when none is open: resumed with the kept session, `None`
/// when no session is kept.
async fn open_for_sign_out(
    account: &Account,
    url: &str,
    env: &Env,
) -> Result<Option<Arc<dyn KeySource>>, SourceError> {
    if account.kind == SourceKind::Keywarden {
        // Only the token is needed to end a Keywarden session: no `me` call that could fail.
        let (vault, name) = (env.vault.clone(), vault::session_account(url));
        let token = tokio::task::spawn_blocking(move || vault.get(&name))
            .await
            .map_err(|err| SourceError::Storage(err.to_string()))??;
        if let Some(token) = token {
            ApiClient::new(url)
                .map_err(|err| SourceError::from_client(&account.name, err))?
                .allowing_http(account.allow_http)
                .with_credential(token)
                .logout()
                .await
                .map_err(|err| SourceError::from_client(&account.name, err))?;
        }
        return Ok(None);
    }
    match open(account, env).await {
        Ok(opened) => Ok(Some(opened.source)),
        // Nothing is kept, or it is no longer accepted: there is no session to end.
        Err(SourceError::NeedsSignIn { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The keychain items that hold an account's session.
fn session_accounts(kind: SourceKind, name: &str, url: &str) -> Vec<String> {
    match kind {
        SourceKind::Thingsboard => vec![thingsboard::session_account(name, url)],
        SourceKind::Gitlab => vec![super::gitlab::session_account(name, url)],
        _ => vec![vault::session_account(url)],
    }
}

/// A key's test: what its service answered, and the key as recorded afterwards when the answer
/// taught something (GitHub's and GitLab's real expiry of a tracked key).
pub struct Tested {
    pub outcome: TestOutcome,
    pub updated: Option<SourceKey>,
}

/// Sends the key's own check request to its service, once, because the user asked; `source` (the
/// key's, when open) records what the answer taught.
pub async fn test_key(keeper: &Keeper, source: Option<&dyn KeySource>, key: &SourceKey) -> Tested {
    let unreachable = |why: String| Tested {
        outcome: TestOutcome::Unreachable(why),
        updated: None,
    };
    let secret = match keeper.secret(&key.key_ref()).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return unreachable(
                "the secret is not held in this computer's keychain, so the key cannot be tested"
                    .into(),
            );
        }
        Err(err) => return unreachable(err.to_string()),
    };
    let outcome = services::test_key(
        key.service(),
        key.base_url.as_deref(),
        key.workspace.as_deref(),
        &secret,
    )
    .await;
    let updated = match source {
        Some(source) => match source.tested(key, &outcome).await {
            Ok(updated) => updated,
            Err(err) => {
                tracing::warn!("the test's answer could not be recorded: {err}");
                None
            }
        },
        None => None,
    };
    Tested { outcome, updated }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> Config {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn accounts_are_listed_local_first_and_tracked_last() {
        let config = config(
            "[[servers]]\nurl = \"https://tb.example\"\nemail = \"a@b\"\nkind = \"thingsboard\"\nname = \"tb\"\n",
        );
        let names: Vec<String> = list(&config).into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["local", "tb", "tracked"]);
        let tb = find(&config, "tb").unwrap();
        assert!(tb.signs_in() && tb.makes_keys());
        assert_eq!(
            tb.sign_in_command(),
            "keywarden login https://tb.example --email a@b --kind thingsboard --name tb"
        );
        assert_eq!(tb.cache_key().as_deref(), Some("thingsboard:tb"));
        let tracked = find(&config, "tracked").unwrap();
        assert!(!tracked.signs_in() && !tracked.makes_keys());
        assert_eq!(tracked.cache_key(), None);
        assert_eq!(find(&config, "local").unwrap().label(), THIS_COMPUTER);
        let err = find(&config, "nope").unwrap_err();
        assert!(err.contains("local, tb, tracked"), "{err}");
    }

    /// The app and the command line ask the account layer; a front-end that names a kind of
    /// account (`SourceKind::…`) is a second copy of a rule that lives here.
    #[test]
    fn no_code_outside_the_sources_names_a_kind_of_account() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("sources") {
                        walk(&path, found);
                    }
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (n, line) in text.lines().enumerate() {
                        let mut rest = line;
                        while let Some(at) = rest.find("SourceKind::") {
                            rest = &rest[at + "SourceKind::".len()..];
                            if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
                                found.push(format!(
                                    "{}:{}: {}",
                                    path.display(),
                                    n + 1,
                                    line.trim()
                                ));
                            }
                        }
                    }
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        walk(&src, &mut found);
        assert!(
            found.is_empty(),
            "these name a kind of account outside src/sources:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn sessions_are_kept_under_the_url_not_the_name() {
        for kind in sign_in_kinds() {
            let names = session_accounts(kind, "one", "https://one.example");
            assert!(
                names.iter().all(|n| n.contains("https://one.example")),
                "{kind:?}: {names:?}"
            );
        }
    }
}
