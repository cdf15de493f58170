//! `keys list`: every key of every account (or of `--account`), as a table or JSON.

use chrono::Duration;

use super::Invocation;
use crate::api::KeyStatus;
use crate::cli::output::{KeyItem, table, to_json};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// active, disabled, expired or revoked.
    #[arg(long, value_parser = parse_status)]
    status: Option<KeyStatus>,
    /// Only keys that expire within this many days (and have not yet).
    #[arg(long, value_name = "DAYS")]
    expiring: Option<i64>,
    /// Only keys of this service (github, thingsboard, …).
    #[arg(long)]
    service: Option<String>,
    #[arg(long)]
    json: bool,
}

fn parse_status(text: &str) -> Result<KeyStatus, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| "expected active, disabled, expired or revoked".to_string())
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    let now = on.now;
    let gathered = on.context.gather(on.account()).await?;
    let items: Vec<KeyItem> = gathered
        .keys
        .iter()
        .filter(|k| args.status.is_none_or(|s| k.status_at(now) == s))
        .filter(|k| args.service.as_deref().is_none_or(|s| k.service == s))
        .filter(|k| {
            args.expiring.is_none_or(|days| {
                k.status_at(now) != KeyStatus::Revoked
                    && k.expires_at
                        .is_some_and(|at| at > now && at <= now + Duration::days(days))
            })
        })
        .map(|k| {
            let held = gathered.is_held(k);
            KeyItem::new(k.clone(), &gathered.keys, held, now, on.thresholds())
        })
        .collect();
    print!(
        "{}",
        if args.json {
            to_json(&items)?
        } else {
            table(&items, now)
        }
    );
    Ok(())
}
