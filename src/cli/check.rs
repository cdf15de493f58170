//! `keywarden check`: the expiring and expired keys, for scripts, CI and cron. Exit codes as
//! monitoring plugins use them: 0 when none, 1 when some expire within the window, 2 when some have
//! expired, 3 when the keys could not be checked (no server, no keychain, …), with the reason on
//! stderr.
//!
//! `--json` prints `{"expiring": [key…], "expired": [key…]}` with the key objects of `keys list --json`.

use std::collections::BTreeSet;
use std::process::ExitCode;

use chrono::{Duration, Utc};
use serde::Serialize;

use super::context::{Context, parse_duration};
use super::keys::{KeyItem, to_json};
use crate::api::{KeyInfo, ListKeysQuery};
use crate::client::list_cache::ListCache;
use crate::reminders::notify::{self, NotifiedLog};
use crate::reminders::{ExpiryClass, Thresholds, key_class, relative_time};
use crate::text;
use crate::vault;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Window for "expiring", e.g. 30d or 12h: exactly this long (default: the expiring threshold
    /// from the settings).
    #[arg(long, value_parser = parse_duration)]
    within: Option<Duration>,
    #[arg(long)]
    json: bool,
    /// Also send a desktop notification for each key that crossed a threshold (once per threshold).
    #[arg(long)]
    notify: bool,
}

/// The keys a check is about: the user's own and those held on this computer, from the server,
/// whose list is then saved for next time; when the server cannot be reached, from the list saved
/// last (by this command or the app), said on stderr. With neither, the error.
async fn keys_to_check(
    context: &Context,
    server: &str,
    held: &BTreeSet<i64>,
) -> anyhow::Result<Vec<KeyInfo>> {
    let cache = ListCache::default_dir().map(ListCache::new);
    let fetched = async {
        let session = context.session().await?;
        let keys = session
            .client
            .list_all_keys(&ListKeysQuery::default())
            .await?;
        anyhow::Ok((session.me.user, keys))
    }
    .await;
    let (user_id, keys) = match fetched {
        Ok((user, keys)) => {
            if let Some(cache) = &cache
                && let Err(err) = cache.save(server, (&user.email, user.id), &keys, Utc::now())
            {
                eprintln!("keywarden: warning: cannot save the key list: {err}");
            }
            (Some(user.id), keys)
        }
        Err(err) => {
            let email = context.config.current_email();
            let Some(saved) = cache.as_ref().and_then(|c| c.load(server, &email)) else {
                return Err(err);
            };
            let message = format!("{err:#}");
            eprintln!(
                "keywarden: warning: {}; checking the list saved {}",
                text::for_terminal(&message),
                relative_time(saved.saved_at, Utc::now())
            );
            (saved.user_id, saved.keys)
        }
    };
    Ok(keys
        .into_iter()
        .filter(|k| user_id.is_none_or(|id| k.user_id == id) || held.contains(&k.id))
        .collect())
}

#[derive(Serialize)]
struct Report {
    expiring: Vec<KeyItem>,
    expired: Vec<KeyItem>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match check(args).await {
        Ok(code) => Ok(code),
        Err(err) => {
            // Cron and monitoring must tell "could not check" from "a key is expiring".
            let message = format!("{err:#}");
            eprintln!(
                "keywarden: could not check the keys: {}",
                text::for_terminal(&message)
            );
            Ok(ExitCode::from(3))
        }
    }
}

async fn check(args: Args) -> anyhow::Result<ExitCode> {
    let context = Context::load()?;
    let server = context.server().to_string();
    let now = Utc::now();
    let mut thresholds = context.config.thresholds;
    if let Some(within) = args.within {
        // A wider window than the setting classes the extra keys as expiring; a narrower one
        // leaves the classes alone and only reports what expires within it.
        let days = (within + Duration::days(1) - Duration::milliseconds(1)).num_days();
        thresholds = Thresholds {
            expiring_days: thresholds.expiring_days.max(days),
            ..thresholds
        };
    }
    let within = |expires_at| args.within.is_none_or(|w| expires_at <= now + w);
    let held = context
        .vault
        .accounts()
        .map(|a| vault::held_key_ids(&a, &server))
        .unwrap_or_default();
    let keys = keys_to_check(&context, &server, &held).await?;
    let mut report = Report {
        expiring: Vec::new(),
        expired: Vec::new(),
    };
    for key in &keys {
        let Some(class) = key_class(key, now, &thresholds) else {
            continue;
        };
        let item = KeyItem {
            key: key.clone(),
            held: held.contains(&key.id),
            class,
        };
        match class {
            ExpiryClass::Expired => report.expired.push(item),
            class if class.is_soon() && within(key.expires_at) => report.expiring.push(item),
            _ => {}
        }
    }
    report.expiring.sort_by_key(|i| i.key.expires_at);

    if args.notify && context.config.notifications {
        let label = if context.config.is_local() {
            "this computer"
        } else {
            server.as_str()
        };
        let log_path = NotifiedLog::default_path(&super::data_dir()?);
        let sent = tokio::task::spawn_blocking({
            let keys = keys.clone();
            let label = label.to_string();
            move || notify::notify_due(&log_path, &label, &keys, now, &thresholds)
        })
        .await??;
        if sent > 0 && !args.json {
            eprintln!("keywarden: sent {sent} notification(s)");
        }
    }

    let output = if args.json {
        to_json(&report)?
    } else if report.expiring.is_empty() && report.expired.is_empty() {
        format!("no key expires within {} days\n", thresholds.expiring_days)
    } else {
        let mut text = String::new();
        for item in &report.expired {
            text.push_str(&format!(
                "expired   {:>5}  {}  ({})\n",
                item.key.id,
                text::for_terminal(&item.key.name),
                relative_time(item.key.expires_at, now)
            ));
        }
        for item in &report.expiring {
            let class = item.class.as_str();
            text.push_str(&format!(
                "{class:<9} {:>5}  {}  (expires {})\n",
                item.key.id,
                text::for_terminal(&item.key.name),
                relative_time(item.key.expires_at, now)
            ));
        }
        text
    };
    print!("{output}");
    Ok(ExitCode::from(if !report.expired.is_empty() {
        2
    } else if !report.expiring.is_empty() {
        1
    } else {
        0
    }))
}
