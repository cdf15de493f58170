//! Background work: signing in to each account, listing its keys through the keeper (which decides
//! the keychain), acting on keys, and the watcher that notices changes made elsewhere. Nothing here
//! blocks the UI thread; results come back as messages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::messages::{Msg, Opened, SignedIn};
use super::{KeywardenApp, Watched};
use crate::api::AuditQuery;
use crate::client::CopyFormat;
use crate::client::config::{LOCAL_SERVER, ServerEntry};
use crate::client::session;
use crate::gui::state::{AccountView, Connection, SignInDraft};
use crate::reminders::notify::{self, NotifiedLog};
use crate::secret::Secret;
use crate::sources::keywarden::KeywardenSource;
use crate::sources::services;
use crate::sources::thingsboard::{self, ThingsBoardSource};
use crate::sources::tracked::{NewTracked, TrackedSource};
use crate::sources::{
    Edit, KeyRef, KeySource, NewKey, Renewal, SourceError, SourceKey, SourceKind,
};
use crate::vault;

/// How often the watcher asks Keywarden accounts for their revision and looks at the tracked
/// keys' file: a change made elsewhere shows within this, plus one listing.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// ThingsBoard has no revision to ask for: its list is fetched this often while the window shows.
const THINGSBOARD_EVERY: Duration = Duration::from_secs(30);

impl KeywardenApp {
    /// Signs in to every account and shows each one's saved list meanwhile.
    pub(super) fn connect_all(&mut self) {
        self.state.accounts = self.configured_accounts();
        self.state.keys.start();
        self.last_refresh = Some(Instant::now());
        let names: Vec<String> = self.state.accounts.iter().map(|a| a.name.clone()).collect();
        for name in names {
            self.load_cached_list(&name);
            self.connect(&name);
        }
        self.load_held();
    }

    /// (Re)connects one account: the embedded server (started on first use), a remote Keywarden
    /// server with the session from the keychain, a ThingsBoard account with its refresh token,
    /// or the tracked keys' file.
    pub(super) fn connect(&mut self, name: &str) {
        let Some(account) = self.state.account_mut(name) else {
            return;
        };
        account.connection = Connection::Connecting;
        let (kind, url) = (account.kind, account.url.clone());
        let allow_http = self.state.config.entry(name).is_some_and(|e| e.allow_http);
        let vault = self.vault.clone();
        let name = name.to_string();
        match (kind, url) {
            (SourceKind::Tracked, _) => {
                let Some(dir) = self.data_dir.clone() else {
                    return;
                };
                let source: Arc<dyn KeySource> = Arc::new(TrackedSource::new(&dir));
                let opened = Opened {
                    source,
                    client: None,
                    role: "tracked".into(),
                    admin: false,
                    warning: None,
                };
                self.bridge.spawn(async move {
                    Msg::Opened {
                        name,
                        result: Ok(opened),
                    }
                });
            }
            (SourceKind::Keywarden, None) => {
                let local = self.local.clone();
                let database_url = self.local_database_url.clone();
                self.bridge.spawn(async move {
                    let (kept, warning) = session::kept_local_password(vault.clone()).await;
                    let result =
                        match crate::server::open_local(&local, &database_url, kept.as_ref()).await
                        {
                            Ok(opened) => session::local_session(
                                &opened.base_url,
                                opened.token,
                                opened.new_password,
                                vault,
                                warning,
                            )
                            .await
                            .map_err(|err| SourceError::Failed(err.to_string())),
                            Err(err) => Err(SourceError::Failed(format!(
                                "cannot start the local server: {err}"
                            ))),
                        };
                    Msg::Opened {
                        result: result.map(|s| keywarden_opened(&name, s)),
                        name,
                    }
                });
            }
            (SourceKind::Keywarden, Some(url)) => {
                self.bridge.spawn(async move {
                    let result = session::open_remote(&url, allow_http, vault)
                        .await
                        .map(|s| keywarden_opened(&name, s))
                        .map_err(|err| match err {
                            session::SessionError::NeedsSignIn { reason, .. } => {
                                SourceError::NeedsSignIn {
                                    account: name.clone(),
                                    reason: reason.unwrap_or_else(|| "no session is kept".into()),
                                }
                            }
                            session::SessionError::Failed(reason) => SourceError::Failed(reason),
                        });
                    Msg::Opened { name, result }
                });
            }
            (SourceKind::Thingsboard, url) => {
                let url = url.unwrap_or_default();
                self.bridge.spawn(async move {
                    let result = ThingsBoardSource::resume(&name, &url, allow_http, vault)
                        .await
                        .map(thingsboard_opened);
                    Msg::Opened { name, result }
                });
            }
        }
    }

    /// Reloads every account: lists the connected ones, reconnects the others.
    pub(super) fn refresh(&mut self) {
        self.last_refresh = Some(Instant::now());
        let accounts: Vec<(String, bool)> = self
            .state
            .accounts
            .iter()
            .map(|a| (a.name.clone(), a.is_connected()))
            .collect();
        for (name, connected) in accounts {
            if connected {
                self.list_account(&name);
            } else {
                self.connect(&name);
            }
        }
    }

    fn source(&self, name: &str) -> Option<Arc<dyn KeySource>> {
        self.watched
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Lists one account through the keeper (finishing renewals whose overlap ended, removing
    /// secrets of keys that stopped working) and notes its revision for the watcher.
    pub(super) fn list_account(&mut self, name: &str) {
        let Some(source) = self.source(name) else {
            return;
        };
        let keeper = self.keeper.clone();
        let watched = self.watched.clone();
        let name = name.to_string();
        self.bridge.spawn(async move {
            // The revision first: a change during the listing moves it again.
            if let Ok(Some(revision)) = source.revision().await {
                watched
                    .revisions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.clone(), revision);
            }
            let result = keeper.list(source.as_ref()).await;
            Msg::Listed { name, result }
        });
    }

    /// Which keys' secrets this computer's keychain holds, for every account.
    pub(super) fn load_held(&mut self) {
        let keeper = self.keeper.clone();
        let accounts: Vec<(SourceKind, String)> = self
            .state
            .accounts
            .iter()
            .map(|a| (a.kind, a.name.clone()))
            .collect();
        self.bridge
            .spawn(async move { Msg::Held(keeper.held(&accounts).await) });
    }

    fn cache_key(account: &AccountView) -> String {
        format!("{}:{}", account.kind.as_str(), account.name)
    }

    /// Shows the list last seen from an account while it is asked for a fresh one.
    fn load_cached_list(&mut self, name: &str) {
        let (Some(cache), Some(account)) = (self.list_cache.clone(), self.state.account(name))
        else {
            return;
        };
        if account.kind == SourceKind::Tracked {
            return;
        }
        let (key, email, name) = (
            Self::cache_key(account),
            account.who.clone(),
            name.to_string(),
        );
        self.bridge.spawn_blocking(move || {
            let list = cache.load(&key, &email);
            Msg::Cached { name, list }
        });
    }

    /// Keeps an account's list for the next start, off the UI thread.
    pub(super) fn save_cached_list(&mut self, name: &str) {
        let (Some(cache), Some(account)) = (self.list_cache.clone(), self.state.account(name))
        else {
            return;
        };
        let (Some(keys), None, true) = (&account.keys, account.saved_at, account.is_connected())
        else {
            return;
        };
        if account.kind == SourceKind::Tracked {
            return;
        }
        let key = Self::cache_key(account);
        let (who, user, keys) = (
            account.who.clone(),
            account.user_id.clone().unwrap_or_default(),
            keys.clone(),
        );
        self.bridge.spawn_blocking(move || {
            if let Err(err) = cache.save(&key, (&who, &user), &keys, Utc::now()) {
                tracing::warn!("cannot save the key list for the next start: {err}");
            }
            Msg::Idle
        });
    }

    /// Sends the expiry reminders due for an account's keys (the user's own and those held here).
    pub(super) fn send_reminders(&mut self, name: &str) {
        let (Some(dir), true) = (self.data_dir.clone(), self.state.config.notifications) else {
            return;
        };
        let Some(account) = self.state.account(name) else {
            return;
        };
        let keys: Vec<SourceKey> = account
            .keys
            .iter()
            .flatten()
            .filter(|k| self.state.is_mine_or_held(k))
            .cloned()
            .collect();
        let label = if name == LOCAL_SERVER {
            "this computer".to_string()
        } else {
            name.to_string()
        };
        let thresholds = self.state.config.thresholds;
        self.bridge.spawn_blocking(move || {
            let path = NotifiedLog::default_path(&dir);
            let result = notify::notify_due(&path, &label, &keys, Utc::now(), &thresholds);
            Msg::Notified(result.map_err(|err| err.to_string()))
        });
    }

    /// The watcher: every two seconds while the window shows, asks each Keywarden account for its
    /// revision and looks at the tracked keys' file; every 30 seconds lists ThingsBoard accounts.
    /// It wakes the UI only when something changed, so an idle app does not repaint.
    pub(super) fn start_watching(&mut self) {
        let watched = self.watched.clone();
        let tracked = self
            .data_dir
            .as_ref()
            .map(|d| TrackedSource::new(d).path().to_path_buf());
        self.bridge
            .watch(move |notify| watch(watched, tracked, notify));
    }

    pub(super) fn select(&mut self, key: KeyRef) {
        self.state.selected = Some(key.clone());
        self.state.audit = Default::default();
        let Some(client) = self.clients.get(&key.source).cloned() else {
            return;
        };
        let Ok(id) = key.id.parse::<i64>() else {
            return;
        };
        self.state.audit.start();
        let name = key.source.clone();
        self.bridge.spawn(async move {
            let query = AuditQuery {
                key_id: Some(id),
                limit: Some(50),
                ..Default::default()
            };
            let result = client
                .audit(&query)
                .await
                .map(|page| page.items)
                .map_err(|err| SourceError::from_client(&name, err));
            Msg::Audit(key, result)
        });
    }

    pub(super) fn generate(&mut self, account: &str, new: NewKey) {
        let Some(source) = self.source(account) else {
            self.state.fail(format!("{account} is not connected"));
            return;
        };
        let keeper = self.keeper.clone();
        self.bridge.spawn(async move {
            // The secret is shown in the app whatever the keychain does.
            Msg::Created(Box::new(keeper.create(source.as_ref(), &new, true).await))
        });
    }

    pub(super) fn add(&mut self, new: NewTracked, secret: Secret) {
        let Some(dir) = self.data_dir.clone() else {
            return;
        };
        let keeper = self.keeper.clone();
        self.bridge.spawn(async move {
            let tracked = TrackedSource::new(&dir);
            Msg::Added(keeper.add_tracked(&tracked, new, &secret).await)
        });
    }

    pub(super) fn renew(&mut self, key: KeyRef, renewal: Renewal) {
        let Some(source) = self.source(&key.source) else {
            return;
        };
        let keeper = self.keeper.clone();
        self.bridge.spawn(async move {
            let pasted = renewal.secret.is_some();
            let result = keeper
                .renew(source.as_ref(), &key.id, &renewal, !pasted)
                .await
                .map(|(renewed, kept)| (renewed, kept, pasted));
            Msg::Renewed(Box::new(result))
        });
    }

    pub(super) fn revoke(&mut self, key: KeyRef) {
        let Some(source) = self.source(&key.source) else {
            return;
        };
        let keeper = self.keeper.clone();
        self.bridge.spawn(async move {
            Msg::KeyChanged(keeper.revoke(source.as_ref(), &key.id).await, "revoked")
        });
    }

    pub(super) fn set_enabled(&mut self, key: KeyRef, enabled: bool) {
        let Some(source) = self.source(&key.source) else {
            return;
        };
        self.bridge.spawn(async move {
            let result = source
                .set_enabled(&key.id, enabled)
                .await
                .map(|k| (k, Default::default()));
            Msg::KeyChanged(result, if enabled { "enabled" } else { "disabled" })
        });
    }

    pub(super) fn edit(&mut self, key: KeyRef, edit: Edit) {
        let Some(source) = self.source(&key.source) else {
            return;
        };
        self.bridge.spawn(async move {
            let result = source
                .edit(&key.id, &edit)
                .await
                .map(|k| (k, Default::default()));
            Msg::KeyChanged(result, "saved")
        });
    }

    pub(super) fn delete(&mut self, key: KeyRef) {
        let Some(source) = self.source(&key.source) else {
            return;
        };
        let keeper = self.keeper.clone();
        self.bridge.spawn(async move {
            let result = keeper.delete(source.as_ref(), &key.id).await;
            Msg::Deleted(key, result)
        });
    }

    pub(super) fn copy(&mut self, key: KeyRef, format: CopyFormat) {
        if let Err(why) = self.state.can_copy(&key) {
            self.state.fail(why);
            return;
        }
        let (Some(shown), Some(clipboard)) =
            (self.state.key(&key).cloned(), self.clipboard.clone())
        else {
            return;
        };
        let keeper = self.keeper.clone();
        let clear_after = self.clear_after();
        self.bridge.spawn(async move {
            let result = match keeper.secret(&key).await {
                Ok(Some(secret)) => {
                    let text = format.render_for(&secret, &shown);
                    tokio::task::spawn_blocking(move || clipboard.copy(&text, clear_after))
                        .await
                        .map_err(|err| err.to_string())
                        .and_then(|copied| copied.map_err(|err| err.to_string()))
                        .map(|()| clear_after)
                }
                Ok(None) => Err("This key's secret is no longer in the keychain".to_string()),
                Err(err) => Err(err.to_string()),
            };
            Msg::Copied(result)
        });
    }

    pub(super) fn copy_text(&mut self, text: Secret) {
        let Some(clipboard) = self.clipboard.clone() else {
            return;
        };
        let clear_after = self.clear_after();
        self.bridge.spawn_blocking(move || {
            Msg::Copied(
                clipboard
                    .copy(&text, clear_after)
                    .map(|()| clear_after)
                    .map_err(|err| err.to_string()),
            )
        });
    }

    /// The clipboard's text into the add dialog.
    pub(super) fn paste(&mut self) {
        let Some(clipboard) = self.clipboard.clone() else {
            return;
        };
        self.bridge
            .spawn_blocking(move || Msg::Pasted(clipboard.read().map_err(|e| e.to_string())));
    }

    fn clear_after(&self) -> Option<Duration> {
        Some(self.state.config.clipboard_clear_secs)
            .filter(|&secs| secs > 0)
            .map(Duration::from_secs)
    }

    /// Sends the key's own check request to its service, once, because the user asked.
    pub(super) fn test(&mut self, key: KeyRef) {
        let Some(shown) = self.state.key(&key).cloned() else {
            return;
        };
        let keeper = self.keeper.clone();
        let data_dir = self.data_dir.clone();
        self.bridge.spawn(async move {
            let secret = match keeper.secret(&key).await {
                Ok(Some(secret)) => secret,
                Ok(None) => {
                    let why = "the secret is not held in this computer's keychain".to_string();
                    return Msg::Tested(key, services::TestOutcome::Unreachable(why), None);
                }
                Err(err) => {
                    return Msg::Tested(
                        key,
                        services::TestOutcome::Unreachable(err.to_string()),
                        None,
                    );
                }
            };
            let outcome = services::test_key(
                shown.service(),
                shown.base_url.as_deref(),
                shown.workspace.as_deref(),
                &secret,
            )
            .await;
            // GitHub and GitLab report the key's real expiry: a tracked key records it.
            let updated = match (&outcome, shown.kind, data_dir) {
                (
                    services::TestOutcome::Accepted {
                        expires_at: Some(real),
                    },
                    SourceKind::Tracked,
                    Some(dir),
                ) if *real != shown.expires_at => {
                    TrackedSource::new(&dir).set_expiry(&key.id, *real).ok()
                }
                _ => None,
            };
            Msg::Tested(key, outcome, updated)
        });
    }

    /// Signs in from the dialog; the account becomes current once that succeeds.
    pub(super) fn sign_in(&mut self, draft: SignInDraft, password: Secret) {
        let vault = self.vault.clone();
        let entry = ServerEntry {
            url: draft.url.clone(),
            email: draft.email.clone(),
            kind: draft.kind,
            name: Some(draft.name.clone()).filter(|n| !n.is_empty()),
            allow_http: draft.allow_http,
        };
        self.bridge.spawn(async move {
            let name = entry.name().to_string();
            let failed = |err: String| SignInDraft {
                error: Some(err),
                password: String::new(),
                ..draft.clone()
            };
            let result = match entry.kind {
                SourceKind::Thingsboard => {
                    let url = &entry.url;
                    ThingsBoardSource::sign_in(
                        &name,
                        url,
                        entry.allow_http,
                        &entry.email,
                        &password,
                        vault,
                    )
                    .await
                    .map(thingsboard_opened)
                    .map_err(|err| failed(err.to_string()))
                }
                _ => session::sign_in(&entry.url, entry.allow_http, &entry.email, &password, vault)
                    .await
                    .map(|s| keywarden_opened(&name, s))
                    .map_err(|err| failed(err.to_string())),
            };
            Msg::SignedIn(result.map(|opened| SignedIn {
                entry: ServerEntry {
                    email: opened.source.who(),
                    ..entry
                },
                opened,
            }))
        });
    }

    /// Signs out of a remote account and forgets it here: its session or refresh token leaves the
    /// keychain and its saved list the cache.
    pub(super) fn sign_out(&mut self, name: &str) {
        let Some(account) = self.state.account(name).cloned() else {
            return;
        };
        let source = self
            .watched
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        let client = self.clients.remove(name);
        let vault = self.vault.clone();
        let url = account.url.clone().unwrap_or_default();
        let (kind, name_owned) = (account.kind, name.to_string());
        self.bridge.spawn(async move {
            match kind {
                SourceKind::Thingsboard => {
                    let _ = tokio::task::spawn_blocking({
                        let vault = vault.clone();
                        let name = name_owned.clone();
                        move || vault.delete(&thingsboard::session_account(&name))
                    })
                    .await;
                    drop(source);
                }
                _ => {
                    if let Some(client) = client {
                        let _ = client.logout().await;
                    }
                    let account = vault::session_account(&url);
                    let _ = tokio::task::spawn_blocking(move || vault.delete(&account)).await;
                }
            }
            Msg::Idle
        });
        if let Some(cache) = self.list_cache.clone() {
            let key = Self::cache_key(&account);
            self.bridge.spawn_blocking(move || {
                if let Err(err) = cache.remove(&key) {
                    tracing::warn!("cannot remove the cached key list: {err}");
                }
                Msg::Idle
            });
        }
        let state = &mut self.state;
        state.dialog = None;
        state.accounts.retain(|a| a.name != name);
        state.config.servers.retain(|s| s.name() != name);
        state.held.retain(|k| k.source != name);
        if state.config.current_server == name {
            state.config.current_server = LOCAL_SERVER.to_string();
        }
        if state.view.source.as_deref() == Some(name) {
            state.view.source = None;
        }
        state.rebuild_keys();
        self.save_config();
    }

    pub(super) fn save_config(&mut self) {
        let Some(path) = self.config_path.clone() else {
            return;
        };
        let config = self.state.config.clone();
        self.bridge.spawn_blocking(move || {
            Msg::ConfigSaved(config.save(&path).map_err(|err| err.to_string()))
        });
    }
}

fn keywarden_opened(name: &str, session: session::Session) -> Opened {
    let me = session.me.clone();
    let client = session.client.clone();
    Opened {
        source: Arc::new(KeywardenSource::new(name, session.client, session.me)),
        client: Some(client),
        role: me.role.as_str().to_string(),
        admin: me.role >= crate::api::Role::Admin,
        warning: session.warning,
    }
}

fn thingsboard_opened(source: ThingsBoardSource) -> Opened {
    let role = source.authority().to_string();
    Opened {
        admin: role == "TENANT_ADMIN",
        source: Arc::new(source),
        client: None,
        role,
        warning: None,
    }
}

async fn watch(
    watched: Arc<Watched>,
    tracked: Option<std::path::PathBuf>,
    notify: crate::gui::bridge::Notifier<Msg>,
) {
    use std::sync::atomic::Ordering;
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut tracked_seen = tracked.as_deref().and_then(modified);
    let mut thingsboard_at = Instant::now();
    loop {
        ticks.tick().await;
        if !watched.visible.load(Ordering::Relaxed) {
            continue;
        }
        let sources: Vec<(String, Arc<dyn KeySource>)> = watched
            .sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        let poll_thingsboard = thingsboard_at.elapsed() >= THINGSBOARD_EVERY;
        if poll_thingsboard {
            thingsboard_at = Instant::now();
        }
        for (name, source) in sources {
            match source.kind() {
                SourceKind::Keywarden => {
                    let Ok(Some(revision)) = source.revision().await else {
                        continue;
                    };
                    let changed = watched
                        .revisions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&name)
                        .is_some_and(|seen| *seen != revision);
                    if changed && !notify.send(Msg::Changed(name)) {
                        return;
                    }
                }
                SourceKind::Thingsboard if poll_thingsboard => {
                    if !notify.send(Msg::Changed(name)) {
                        return;
                    }
                }
                SourceKind::Thingsboard => {}
                SourceKind::Tracked => {
                    let now = tracked.as_deref().and_then(modified);
                    if now != tracked_seen {
                        tracked_seen = now;
                        if !notify.send(Msg::Changed(name)) {
                            return;
                        }
                    }
                }
            }
        }
    }
}
