//! What every client command needs: the shared config, the keychain, and a session on the current
//! server (the embedded one is started in-process on the app's database, so commands work whether or
//! not the app is open).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use tokio::sync::OnceCell;

use crate::api::KeyInfo;
use crate::api::ListKeysQuery;
use crate::client::ApiClient;
use crate::client::config::Config;
use crate::client::session::{self, Session};
use crate::server::LocalServer;
use crate::vault::{self, Vault, VaultError};

pub struct Context {
    pub config: Config,
    pub config_path: PathBuf,
    pub vault: Arc<dyn Vault>,
    /// Why the keychain cannot be used, if it cannot.
    pub vault_error: Option<VaultError>,
    local: OnceCell<LocalServer>,
}

impl Context {
    pub fn load() -> anyhow::Result<Context> {
        let config_path = Config::default_path()?;
        let config = Config::load(&config_path)?;
        let (vault, vault_error) = vault::open_keychain();
        Ok(Context {
            config,
            config_path,
            vault,
            vault_error,
            local: OnceCell::new(),
        })
    }

    /// The name keychain accounts use for the current server.
    pub fn server(&self) -> &str {
        &self.config.current_server
    }

    /// Signs in to the current server.
    pub async fn session(&self) -> anyhow::Result<Session> {
        let session = if self.config.is_local() {
            let (kept, warning) = session::kept_local_password(self.vault.clone()).await;
            let opened =
                crate::server::open_local(&self.local, &super::database_url(None)?, kept.as_ref())
                    .await
                    .context("cannot start the local server")?;
            session::local_session(
                &opened.base_url,
                opened.token,
                opened.new_password,
                self.vault.clone(),
                warning,
            )
            .await?
        } else {
            session::open_remote(&self.config.current_server, self.vault.clone()).await?
        };
        if let Some(warning) = &session.warning {
            eprintln!("keywarden: warning: {warning}");
        }
        Ok(session)
    }

    pub fn save_config(&self) -> anyhow::Result<()> {
        Ok(self.config.save(&self.config_path)?)
    }
}

/// The key a command names: an id, or a name that only one key has.
pub async fn find_key(client: &ApiClient, id_or_name: &str) -> anyhow::Result<KeyInfo> {
    if let Ok(id) = id_or_name.parse::<i64>() {
        return client
            .get_key(id)
            .await
            .with_context(|| format!("key {id}"));
    }
    let query = ListKeysQuery {
        q: Some(id_or_name.to_string()),
        ..Default::default()
    };
    let matches: Vec<KeyInfo> = client
        .list_all_keys(&query)
        .await?
        .into_iter()
        .filter(|k| k.name == id_or_name)
        .collect();
    match matches.as_slice() {
        [] => bail!("no key is named {id_or_name:?}"),
        [key] => Ok(key.clone()),
        several => {
            let ids: Vec<String> = several.iter().map(|k| k.id.to_string()).collect();
            bail!(
                "{} keys are named {id_or_name:?}: name one by id ({})",
                several.len(),
                ids.join(", ")
            )
        }
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

/// When a new key should expire: `90d` from now, or the end of a `YYYY-MM-DD` day (UTC).
#[derive(Debug, Clone, Copy)]
pub enum Expiry {
    InDays(i64),
    At(DateTime<Utc>),
}

pub fn parse_expiry(text: &str) -> Result<Expiry, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let at = date
            .and_hms_opt(23, 59, 59)
            .map(|t| t.and_utc())
            .ok_or("that date does not exist")?;
        return Ok(Expiry::At(at));
    }
    let duration = parse_duration(text).map_err(|_| {
        format!("{text:?} is neither a number of days (90d) nor a date (YYYY-MM-DD)")
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
    eprint!("{question} [y/N] ");
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
