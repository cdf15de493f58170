//! Background work: signing in to each account, listing its keys through the keeper (which decides
//! the keychain), acting on keys, and the watcher that notices changes made elsewhere. Nothing here
//! blocks the UI thread; results come back as messages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::messages::{Msg, Opened, SignedIn};
use super::{KeywardenApp, Watched};
use crate::gui::state::{CodeStep, Connection, SignInDraft};
use crate::reminders::notify::{self, NotifiedLog};
use crate::secret::Secret;
use crate::settings::ServerEntry;
use crate::sources::accounts::{self, Credentials, SignInStep};
use crate::sources::copy::CopyFormat;
use crate::sources::tracked::{NewTracked, TrackedSource};
use crate::sources::{Edit, KeyRef, KeySource, NewKey, Renewal, SourceError, SourceKey, Watch};

/// How often the watcher asks accounts for their revision and looks at the tracked keys' file: a
/// change made elsewhere shows within this, plus one listing.
const WATCH_EVERY: Duration = Duration::from_secs(2);

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

    /// (Re)connects one account with what the keychain keeps, through the account layer.
    pub(super) fn connect(&mut self, name: &str) {
        let Ok(account) = accounts::find(&self.state.config, name) else {
            return;
        };
        let Some(view) = self.state.account_mut(name) else {
            return;
        };
        view.connection = Connection::Connecting;
        let env = self.env.clone();
        let name = name.to_string();
        self.bridge.spawn(async move {
            let result = accounts::open(&account, &env).await;
            Msg::Opened { name, result }
        });
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
        let accounts: Vec<_> = self
            .state
            .accounts
            .iter()
            .map(|a| (a.kind, a.name.clone()))
            .collect();
        self.bridge
            .spawn(async move { Msg::Held(keeper.held_keys(&accounts).await) });
    }

    /// Shows the list last seen from an account while it is asked for a fresh one.
    fn load_cached_list(&mut self, name: &str) {
        let (Some(cache), Some(account)) = (self.list_cache.clone(), self.state.account(name))
        else {
            return;
        };
        let Some(key) = account.cache_key() else {
            return;
        };
        let (email, name) = (account.who.clone(), name.to_string());
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
        let Some(key) = account.cache_key() else {
            return;
        };
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
        let label = accounts::label(name);
        let thresholds = self.state.config.thresholds;
        self.bridge.spawn_blocking(move || {
            let path = NotifiedLog::default_path(&dir);
            let result = notify::notify_due(&path, &label, &keys, Utc::now(), &thresholds);
            Msg::Notified(result.map_err(|err| err.to_string()))
        });
    }

    /// The watcher: every two seconds while the window shows, asks each account that has a
    /// revision for it and looks at the files keys live in; lists the others as often as their
    /// source says. It wakes the UI only when something changed, so an idle app does not repaint.
    pub(super) fn start_watching(&mut self) {
        let watched = self.watched.clone();
        self.bridge.watch(move |notify| watch(watched, notify));
    }

    pub(super) fn select(&mut self, key: KeyRef) {
        self.state.selected = Some(key.clone());
        self.state.audit = Default::default();
        let Some(source) = self.source(&key.source) else {
            return;
        };
        if !source.capabilities().audit {
            return;
        }
        self.state.audit.start();
        self.bridge.spawn(async move {
            let result = source.audit(&key.id).await;
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

    /// Reads whether a key renews on its own, for the renew dialog, off the UI thread.
    pub(super) fn load_auto_renew(&mut self, key: KeyRef) {
        let Some(renewals) = self.keeper.renewals() else {
            return;
        };
        self.bridge
            .spawn_blocking(move || Msg::AutoRenewSetting(key.clone(), renewals.auto(&key)));
    }

    /// Turns automatic renewal of a key on or off, from the renew dialog's checkbox.
    pub(super) fn set_auto_renew(&mut self, key: KeyRef, within: Option<i64>) {
        let Some(renewals) = self.keeper.renewals() else {
            return;
        };
        self.bridge.spawn_blocking(move || {
            let result = renewals.set_auto(&key, within).map(|()| within);
            Msg::AutoRenewSet(key, result)
        });
    }

    /// Renews, after a listing, the keys of an account that renew on their own and are due.
    pub(super) fn auto_renew(&mut self, name: &str) {
        let (Some(source), Some(keys)) = (
            self.source(name),
            self.state.account(name).and_then(|a| a.keys.clone()),
        ) else {
            return;
        };
        let keeper = self.keeper.clone();
        let notifications = self.state.config.notifications;
        self.bridge.spawn(async move {
            let done =
                crate::sources::renewals::renew_due(&keeper, source.as_ref(), &keys, Utc::now())
                    .await;
            if notifications && !done.is_empty() {
                let notices: Vec<(String, String, bool)> = done
                    .iter()
                    .map(|d| {
                        let (summary, body) = d.notice();
                        (summary, body, d.failed())
                    })
                    .collect();
                let shown = tokio::task::spawn_blocking(move || {
                    for (summary, body, failed) in notices {
                        let class = if failed {
                            crate::reminders::ExpiryClass::Critical
                        } else {
                            crate::reminders::ExpiryClass::Ok
                        };
                        notify::show_text(&summary, &body, class)?;
                    }
                    Ok::<_, notify::NotifyError>(())
                })
                .await;
                if let Ok(Err(err)) = shown {
                    tracing::warn!("{err}");
                }
            }
            Msg::AutoRenewed(done)
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
        let source = self.source(&key.source);
        self.bridge.spawn(async move {
            let tested = accounts::test_key(&keeper, source.as_deref(), &shown).await;
            Msg::Tested(key, tested.outcome, tested.updated)
        });
    }

    /// Signs in from the dialog; the account becomes current once that succeeds. A server that
    /// asks for a second factor gets the dialog's code step (a code is sent at once where the
    /// default provider sends one).
    pub(super) fn sign_in(&mut self, draft: SignInDraft, password: Secret) {
        let env = self.env.clone();
        let entry = entry_of(&draft);
        self.bridge.spawn(async move {
            let credentials = Credentials {
                email: entry.email.clone(),
                secret: password,
            };
            let step = match accounts::sign_in(&entry, &credentials, &env).await {
                Ok(SignInStep::Done(opened)) => return Msg::SignedIn(signed_in(entry, opened)),
                Ok(SignInStep::Code(step)) => step,
                Err(err) => return Msg::SignedIn(Err(failed(draft, err.to_string()))),
            };
            let Some(provider) = step.default_provider().cloned() else {
                let why = "the server asks for a second factor but offers none".to_string();
                return Msg::SignedIn(Err(failed(draft, why)));
            };
            let notice = match provider.sends {
                true => Some(sent_notice(
                    &provider.label,
                    step.send_code(&provider.id).await,
                )),
                false => Some(format!("Enter the code from {}.", provider.label)),
            };
            Msg::SignedIn(Err(Box::new(SignInDraft {
                password: String::new(),
                error: None,
                second: Some(CodeStep {
                    step,
                    provider: provider.id,
                    code: String::new(),
                    notice,
                }),
                ..draft
            })))
        });
    }

    /// Sends a code by the provider chosen in the dialog's code step.
    pub(super) fn send_code(&mut self, draft: SignInDraft) {
        let Some(second) = draft.second.clone() else {
            return;
        };
        self.bridge.spawn(async move {
            let label = second
                .step
                .providers()
                .iter()
                .find(|p| p.id == second.provider)
                .map_or_else(|| second.provider.clone(), |p| p.label.clone());
            let sent = second.step.send_code(&second.provider).await;
            Msg::CodeSent(sent_notice(&label, sent))
        });
    }

    /// Finishes a sign-in with the code typed in the dialog; a wrong code keeps the step open.
    pub(super) fn finish_sign_in(&mut self, draft: SignInDraft, code: Secret) {
        let Some(second) = draft.second.clone() else {
            return;
        };
        let entry = entry_of(&draft);
        self.bridge.spawn(async move {
            let result =
                accounts::finish_sign_in(second.step.as_ref(), &second.provider, &code).await;
            Msg::SignedIn(match result {
                Ok(opened) => signed_in(entry, opened),
                Err(err) => Err(failed(draft, err.to_string())),
            })
        });
    }

    /// Signs out of a remote account and forgets it here, as the command line does: the server
    /// is told, the session leaves the keychain and the saved list the cache; what failed is said.
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
        if let Ok(account) = accounts::find(&self.state.config, name) {
            let env = self.env.clone();
            self.bridge.spawn(async move {
                Msg::SignedOut(
                    accounts::sign_out(&account, source, &env)
                        .await
                        .map(|done| done.warnings),
                )
            });
        }
        if let (Some(cache), Some(key)) = (self.list_cache.clone(), account.cache_key()) {
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
        accounts::forget(&mut state.config, name);
        state.held.retain(|k| k.source != name);
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

/// The account a sign-in dialog names.
fn entry_of(draft: &SignInDraft) -> ServerEntry {
    ServerEntry {
        url: draft.url.clone(),
        email: draft.email.clone(),
        kind: draft.kind,
        name: Some(draft.name.clone()).filter(|n| !n.is_empty()),
        allow_http: draft.allow_http,
    }
}

/// A sign-in that worked: the account as saved, with who signed in.
fn signed_in(entry: ServerEntry, opened: Opened) -> Result<SignedIn, Box<SignInDraft>> {
    Ok(SignedIn {
        entry: ServerEntry {
            email: opened.source.who(),
            ..entry
        },
        opened,
    })
}

/// The dialog again with the reason, and nothing typed that was secret.
fn failed(draft: SignInDraft, error: String) -> Box<SignInDraft> {
    Box::new(SignInDraft {
        error: Some(error),
        password: String::new(),
        second: draft.second.map(|second| CodeStep {
            code: String::new(),
            ..second
        }),
        ..draft
    })
}

fn sent_notice(label: &str, sent: Result<(), SourceError>) -> String {
    match sent {
        Ok(()) => format!("The server sent {label}: enter it below."),
        Err(err) => format!("No code could be sent ({err}); try again or choose another way."),
    }
}

async fn watch(watched: Arc<Watched>, notify: crate::gui::bridge::Notifier<Msg>) {
    use std::sync::atomic::Ordering;
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    // What was last seen of each account: a file's modification time, or when it was listed.
    let mut files_seen = std::collections::BTreeMap::new();
    let mut listed_at = std::collections::BTreeMap::new();
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
        for (name, source) in sources {
            let changed = match source.watch() {
                Watch::Revision => {
                    let Ok(Some(revision)) = source.revision().await else {
                        continue;
                    };
                    watched
                        .revisions
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&name)
                        .is_some_and(|seen| *seen != revision)
                }
                Watch::Every(every) => {
                    let last = *listed_at.entry(name.clone()).or_insert_with(Instant::now);
                    let due = last.elapsed() >= every;
                    if due {
                        listed_at.insert(name.clone(), Instant::now());
                    }
                    due
                }
                Watch::File(path) => {
                    let now = modified(&path);
                    let seen = files_seen.entry(name.clone()).or_insert(now);
                    let changed = *seen != now;
                    *seen = now;
                    changed
                }
            };
            if changed && !notify.send(Msg::Changed(name)) {
                return;
            }
        }
    }
}
