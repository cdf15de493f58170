//! `keywarden check`: the expiring and expired keys, for scripts, CI and cron. Exit codes as
//! monitoring plugins use them: 0 when none, 1 when some expire within the window, 2 when some have
//! expired, 3 when the keys could not be checked (no server, no keychain, …), with the reason on
//! stderr.
//!
//! `--json` prints `{"expiring": [key…], "expired": [key…]}` with the key objects of `keys list --json`.

use std::process::ExitCode;

use chrono::{Duration, Utc};
use serde::Serialize;

use super::context::{Context, parse_duration};
use super::output::{KeyItem, to_json};
use crate::reminders::notify::{self, NotifiedLog};
use crate::reminders::{ExpiryClass, Thresholds, key_class, relative_time};
use crate::sources::accounts;
use crate::sources::renewals;
use crate::text;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Window for "expiring", e.g. 30d or 12h: exactly this long (default: the expiring threshold
    /// from the settings).
    #[arg(long, value_parser = parse_duration)]
    within: Option<Duration>,
    /// Only this account (`local`, a server's name, `tracked`).
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    #[arg(long)]
    json: bool,
    /// Also send a desktop notification for each key that crossed a threshold (once per
    /// threshold), and renew the keys set to renew on their own (`keys renew --auto`) that are
    /// due, saying so in a notification.
    #[arg(long)]
    notify: bool,
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
    // Every account's keys (or the saved list of one that cannot be asked); the user's own and
    // those held on this computer.
    let mut gathered = context.gather(args.account.as_deref()).await?;
    if args.notify && auto_renew(&context, &gathered, args.json).await? {
        // The renewed keys are listed again, as they are now.
        gathered = context.gather(args.account.as_deref()).await?;
    }
    let keys = gathered.mine_or_held();
    // Keys whose secret lives only here, and no recent backup: said on stderr, exit code as is.
    if gathered.held.values().any(|ids| !ids.is_empty())
        && let Some(reminder) =
            crate::transfer::backup::backup_reminder(&super::data_dir()?, Utc::now())
    {
        eprintln!("keywarden: {reminder}");
    }
    let mut report = Report {
        expiring: Vec::new(),
        expired: Vec::new(),
    };
    for key in &keys {
        let (Some(class), Some(expires_at)) = (key_class(key, now, &thresholds), key.expires_at)
        else {
            continue;
        };
        let held = gathered.is_held(key);
        let item = KeyItem::new(key.clone(), &gathered.keys, held, now, &thresholds);
        match class {
            ExpiryClass::Expired => report.expired.push(item),
            class if class.is_soon() && within(expires_at) => report.expiring.push(item),
            _ => {}
        }
    }
    report.expiring.sort_by_key(|i| i.key.expires_at);

    if args.notify && context.config.notifications {
        let log_path = NotifiedLog::default_path(&super::data_dir()?);
        let sent = tokio::task::spawn_blocking(move || {
            let mut sent = 0;
            let mut by_source: std::collections::BTreeMap<String, Vec<_>> = Default::default();
            for key in keys {
                by_source.entry(key.source.clone()).or_default().push(key);
            }
            for (source, keys) in by_source {
                let label = accounts::label(&source);
                sent += notify::notify_due(&log_path, &label, &keys, now, &thresholds)?;
            }
            anyhow::Ok(sent)
        })
        .await??;
        if sent > 0 && !args.json {
            eprintln!("keywarden: sent the reminders of {sent} key(s)");
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
                "expired   {:>5}  {}  on {}  ({})\n",
                item.key.id,
                text::for_terminal(&item.key.name),
                text::for_terminal(&item.key.source),
                item.key
                    .expires_at
                    .map_or_else(String::new, |at| relative_time(at, now))
            ));
        }
        for item in &report.expiring {
            let class = item.class;
            text.push_str(&format!(
                "{class:<9} {:>5}  {}  on {}  (expires {})\n",
                item.key.id,
                text::for_terminal(&item.key.name),
                text::for_terminal(&item.key.source),
                item.key
                    .expires_at
                    .map_or_else(String::new, |at| relative_time(at, now))
            ));
        }
        text
    };
    // Ids and anything else a server sent are escaped with the rest.
    print!("{}", text::for_terminal_lines(&output));
    Ok(ExitCode::from(if !report.expired.is_empty() {
        2
    } else if !report.expiring.is_empty() {
        1
    } else {
        0
    }))
}

/// Renews the keys set to renew on their own that are due, each said on stderr and, when
/// notifications are on, in a notification. `true` when any was renewed.
async fn auto_renew(
    context: &Context,
    gathered: &super::context::Gathered,
    json: bool,
) -> anyhow::Result<bool> {
    let keeper = context.keeper()?;
    let now = Utc::now();
    let mut renewed = false;
    for source in &gathered.sources {
        for done in renewals::renew_due(&keeper, source.as_ref(), &gathered.keys, now).await {
            let (summary, body) = done.notice();
            renewed |= !done.failed();
            if !json || done.failed() {
                eprintln!(
                    "keywarden: {}: {}",
                    text::for_terminal(&summary),
                    text::for_terminal(&body)
                );
            }
            if context.config.notifications {
                let class = if done.failed() {
                    ExpiryClass::Critical
                } else {
                    ExpiryClass::Ok
                };
                let shown =
                    tokio::task::spawn_blocking(move || notify::show_text(&summary, &body, class))
                        .await?;
                if let Err(err) = shown {
                    eprintln!("keywarden: warning: {err}");
                }
            }
        }
    }
    Ok(renewed)
}
