//! What every client command needs: the shared config, the keychain, and a session on the current
//! server (the embedded one is started in-process on the app's database, so commands work whether or
//! not the app is open).

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::reminders::relative_time;
use crate::settings::Config;
pub use crate::sources::accounts::Account;
use crate::sources::accounts::{self, Env};
use crate::sources::keeper::{Keeper, Kept};
use crate::sources::list_cache::ListCache;
use crate::sources::{self, KeySource, SourceError, SourceKey};
use crate::text;
use crate::vault::{self, Vault, VaultError};

/// Every key of the accounts a command looked at, with what the keychain holds.
pub struct Gathered {
    pub sources: Vec<Arc<dyn KeySource>>,
    pub keys: Vec<SourceKey>,
    /// The ids of each account's keys whose secrets the keychain holds.
    pub held: BTreeMap<String, BTreeSet<String>>,
    /// The signed-in user's id on each account (from the saved list when it is offline).
    pub users: BTreeMap<String, Option<String>>,
    /// Accounts listed from their saved list, and why they could not be asked.
    pub offline: BTreeMap<String, String>,
}

impl Gathered {
    pub fn is_held(&self, key: &SourceKey) -> bool {
        self.held
            .get(&key.source)
            .is_some_and(|held| held.contains(&key.id))
    }

    /// The key a command names: an id, or a name only one key has (in every account looked at).
    pub fn find(&self, name_or_id: &str) -> anyhow::Result<SourceKey> {
        sources::find(&self.keys, name_or_id)
            .cloned()
            .map_err(|err| anyhow!(text::for_terminal(&err).into_owned()))
    }

    /// The source a key came from, to act on it.
    pub fn source(&self, name: &str) -> anyhow::Result<&dyn KeySource> {
        if let Some(source) = self.sources.iter().find(|s| s.name() == name) {
            return Ok(source.as_ref());
        }
        match self.offline.get(name) {
            Some(why) => bail!("{why}"),
            None => bail!("{name:?} is not a known account"),
        }
    }

    /// The user's own keys and those the keychain holds: what reminders and `check` are about.
    pub fn mine_or_held(&self) -> Vec<SourceKey> {
        self.keys
            .iter()
            .filter(|k| {
                let me = self.users.get(&k.source).and_then(|me| me.as_deref());
                k.is_mine_or_held(me, self.is_held(k))
            })
            .cloned()
            .collect()
    }
}

/// Prints the keychain steps that failed as warnings.
pub fn warn_kept(kept: &Kept) {
    for problem in kept.problems() {
        eprintln!("keywarden: warning: {}", text::for_terminal(&problem));
    }
}

pub struct Context {
    pub config: Config,
    pub config_path: PathBuf,
    pub vault: Arc<dyn Vault>,
    /// Why the keychain cannot be used, if it cannot.
    pub vault_error: Option<VaultError>,
    /// What opening an account needs: the keychain, the data directory, this computer's server.
    pub env: Env,
}

impl Context {
    pub fn load() -> anyhow::Result<Context> {
        let config_path = Config::default_path()?;
        let config = Config::load(&config_path)?;
        let (vault, vault_error) = vault::open_keychain();
        let env = Env {
            vault: vault.clone(),
            data_dir: Some(super::data_dir()?),
            local: crate::local::Embedded::new(&super::local_database_url()?),
        };
        Ok(Context {
            config,
            config_path,
            vault,
            vault_error,
            env,
        })
    }

    pub fn save_config(&self) -> anyhow::Result<()> {
        Ok(self.config.save(&self.config_path)?)
    }

    /// Every account: the local server, the remote ones signed in to, and `tracked`.
    pub fn accounts(&self) -> Vec<Account> {
        accounts::list(&self.config)
    }

    /// The account named `name`; the error lists the known ones.
    pub fn account(&self, name: &str) -> anyhow::Result<Account> {
        accounts::find(&self.config, name).map_err(anyhow::Error::msg)
    }

    /// The account commands that make keys act on: `--account`, or the current one.
    pub fn chosen_account(&self, given: Option<&str>) -> anyhow::Result<Account> {
        self.account(given.unwrap_or(&self.config.current_server))
    }

    pub fn keeper(&self) -> anyhow::Result<Keeper> {
        Ok(Keeper::new(
            self.vault.clone(),
            self.config.store_secrets,
            Some(super::data_dir()?),
        ))
    }

    /// Opens an account with the session the keychain keeps; keychain trouble is a warning.
    pub async fn open(&self, account: &Account) -> anyhow::Result<Arc<dyn KeySource>> {
        let opened = accounts::open(account, &self.env)
            .await
            .map_err(|err| sign_in_hint(err, account))?;
        if let Some(warning) = &opened.warning {
            eprintln!("keywarden: warning: {}", text::for_terminal(warning));
        }
        Ok(opened.source)
    }

    /// Lists an account again after a change made here, so the list saved for references and
    /// offline use shows it; a failure is only a warning (the change itself was made).
    pub async fn refresh_saved_list(&self, account: &str) {
        if let Err(err) = self.gather(Some(account)).await {
            eprintln!(
                "keywarden: warning: the saved list of {} could not be refreshed: {}",
                text::for_terminal(account),
                text::for_terminal(&format!("{err:#}"))
            );
        }
    }

    /// The keys of every account, or of `only`. An account that cannot be asked is listed from
    /// the list saved last time, said on stderr; without one, its error ends the command.
    pub async fn gather(&self, only: Option<&str>) -> anyhow::Result<Gathered> {
        let accounts = match only {
            Some(name) => vec![self.account(name)?],
            None => self.accounts(),
        };
        let keeper = self.keeper()?;
        let cache = ListCache::default_dir().map(ListCache::new);
        let mut gathered = Gathered {
            sources: Vec::new(),
            keys: Vec::new(),
            held: BTreeMap::new(),
            users: BTreeMap::new(),
            offline: BTreeMap::new(),
        };
        for account in &accounts {
            let cache_key = account.cache_key();
            let listed = async {
                let source = self.open(account).await?;
                let (keys, kept) = keeper.list(source.as_ref()).await?;
                anyhow::Ok((source, keys, kept))
            }
            .await;
            match listed {
                Ok((source, keys, kept)) => {
                    warn_kept(&kept);
                    let user = source.user_id();
                    if let (Some(cache), Some(cache_key)) = (&cache, &cache_key) {
                        let who = (source.who(), user.clone().unwrap_or_default());
                        if let Err(err) = cache.save(cache_key, (&who.0, &who.1), &keys, Utc::now())
                        {
                            eprintln!("keywarden: warning: cannot save the key list: {err}");
                        }
                    }
                    gathered.users.insert(account.name.clone(), user);
                    gathered.keys.extend(keys);
                    gathered.sources.push(source);
                }
                Err(err) => {
                    let email = account.email.clone().unwrap_or_default();
                    let saved = cache
                        .as_ref()
                        .zip(cache_key.as_ref())
                        .and_then(|(c, key)| c.load::<SourceKey>(key, &email));
                    let Some(saved) = saved else {
                        return Err(err.context(format!("account {}", account.name)));
                    };
                    let why = format!("{:#}", err.context(format!("account {}", account.name)));
                    eprintln!(
                        "keywarden: warning: {}; using the list saved {}",
                        text::for_terminal(&why),
                        relative_time(saved.saved_at, Utc::now())
                    );
                    gathered.users.insert(account.name.clone(), saved.user_id);
                    gathered.keys.extend(saved.keys);
                    gathered.offline.insert(account.name.clone(), why);
                }
            }
        }
        let names: Vec<_> = accounts.iter().map(|a| (a.kind, a.name.clone())).collect();
        gathered.held = keeper.held(&names).await.unwrap_or_default();
        Ok(gathered)
    }
}

/// An account that needs signing in again says how.
fn sign_in_hint(err: SourceError, account: &Account) -> anyhow::Error {
    match err {
        SourceError::NeedsSignIn { reason, .. } => anyhow!(
            "sign in to {} again ({}): {}",
            text::for_terminal(&account.name),
            text::for_terminal(&account.sign_in_command()),
            text::for_terminal(&reason)
        ),
        other => anyhow!(other),
    }
}

/// `90d`, `24h`, `30m`, `45s`, or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let value: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90d, 24h, 30m or 45s"))?;
    match unit {
        "d" => Ok(Duration::days(value)),
        "h" => Ok(Duration::hours(value)),
        "m" => Ok(Duration::minutes(value)),
        "s" | "" => Ok(Duration::seconds(value)),
        _ => Err(format!(
            "{text:?} is not a duration like 90d, 24h, 30m or 45s"
        )),
    }
}

/// When a key expires: `90d` from now, the end of a `YYYY-MM-DD` day (UTC), or `never`.
#[derive(Debug, Clone, Copy)]
pub enum Expiry {
    InDays(i64),
    At(DateTime<Utc>),
    Never,
}

impl Expiry {
    /// The instant, counted from `now`; `None` for never.
    pub fn at(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Expiry::InDays(days) => Some(now + Duration::days(days)),
            Expiry::At(at) => Some(at),
            Expiry::Never => None,
        }
    }
}

pub fn parse_expiry(text: &str) -> Result<Expiry, String> {
    if text.trim() == "never" {
        return Ok(Expiry::Never);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let at = date
            .and_hms_opt(23, 59, 59)
            .map(|t| t.and_utc())
            .ok_or("that date does not exist")?;
        return Ok(Expiry::At(at));
    }
    let duration = parse_duration(text).map_err(|_| {
        format!("{text:?} is neither a number of days (90d), a date (YYYY-MM-DD) nor never")
    })?;
    if duration.num_days() < 1 || duration.num_seconds() % 86_400 != 0 {
        return Err(format!("{text:?}: give whole days, for example 90d"));
    }
    Ok(Expiry::InDays(duration.num_days()))
}

/// Asks `question` on the terminal; without a terminal it refuses unless `yes` was given.
pub fn confirm(question: &str, yes: bool, what: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {what} without --yes (there is no terminal to ask)");
    }
    eprint!("{} [y/N] ", text::for_terminal(question));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        bail!("cancelled: nothing was changed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_expiries() {
        assert_eq!(parse_duration("24h"), Ok(Duration::hours(24)));
        assert_eq!(parse_duration("90d"), Ok(Duration::days(90)));
        assert_eq!(parse_duration("30"), Ok(Duration::seconds(30)));
        assert!(parse_duration("soon").is_err());
        assert!(matches!(parse_expiry("90d"), Ok(Expiry::InDays(90))));
        assert!(matches!(parse_expiry("2027-01-31"), Ok(Expiry::At(_))));
        assert!(parse_expiry("2027-02-30").is_err());
        assert!(parse_expiry("36h").is_err());
    }
}
