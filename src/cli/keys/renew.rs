//! `keys renew` (and the renewal `keys rotate` asks for): a key replaced by a new one, and
//! automatic renewal.

use anyhow::bail;
use chrono::{DateTime, Duration, Utc};

use super::secret::{Flags, read_secret, report_new_secret};
use super::{Invocation, question, require};
use crate::cli::context::{Expiry, confirm, parse_duration, parse_expiry, warn_kept};
use crate::reminders::relative_time;
use crate::sources::{Capability, Renewal};
use crate::text;

#[derive(Debug, clap::Args)]
pub struct Args {
    key: String,
    /// The new key's expiry: `90d`, a date `YYYY-MM-DD` or `never` (default: the old key's
    /// lifetime).
    #[arg(long, value_parser = parse_expiry)]
    expires: Option<Expiry>,
    /// Keep the old key working this long: 0s, 1h, 24h or 7d.
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    overlap: Duration,
    /// Renew the key on its own (from `check --notify` and the open app) once it expires
    /// within this many days (`14d`), or `off`. Only changes the setting: nothing is
    /// renewed now.
    #[arg(long, value_name = "WITHIN|off", value_parser = parse_auto)]
    pub(super) auto: Option<AutoRenew>,
    /// Renew without asking where renewing stops the old key at once (GitLab's rotate).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    pub(super) output: Flags,
}

/// `keys renew --auto`: a window of whole days, or off.
#[derive(Debug, Clone, Copy)]
pub enum AutoRenew {
    Within(i64),
    Off,
}

fn parse_auto(text: &str) -> Result<AutoRenew, String> {
    if text.trim() == "off" {
        return Ok(AutoRenew::Off);
    }
    match parse_duration(text) {
        Ok(window) if window.num_days() >= 1 && window.num_seconds() % 86_400 == 0 => {
            Ok(AutoRenew::Within(window.num_days()))
        }
        _ => Err(format!("{text:?}: give whole days (14d) or off")),
    }
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    if let Some(auto) = args.auto {
        return set_auto_renew(on, &args.key, auto).await;
    }
    let expires_at = args.expires.and_then(|e| e.at(on.now));
    let how = (expires_at, args.overlap, args.yes);
    renew(on, on.account(), &args.key, how, args.output).await
}

/// Renews a key of `account` (`None`: whichever holds it): the new one expires at the given time
/// (`None`: the old key's lifetime), the old one works for the overlap.
pub(super) async fn renew(
    on: &Invocation,
    account: Option<&str>,
    key: &str,
    (expires_at, overlap, yes): (Option<DateTime<Utc>>, Duration, bool),
    flags: Flags,
) -> anyhow::Result<()> {
    let mut renewal = Renewal {
        expires_at,
        overlap,
        secret: None,
        new_id: None,
    };
    let gathered = on.context.gather(account).await?;
    let old = gathered.find(key)?;
    let source = gathered.source(&old.source)?;
    require(source, Capability::Renew)?;
    if let Some(warning) = old.renew_warning() {
        confirm(
            &question(&old, &format!("{warning} Renew it?")),
            yes,
            "renew",
        )?;
    }
    if source.capabilities().renew_by_paste {
        let service = old.service();
        eprintln!(
            "keywarden: make the new key on {}: {}",
            service.name,
            service.key_page_for(old.base_url.as_deref(), old.workspace.as_deref())
        );
        renewal.secret = Some(read_secret("New key (hidden): ")?);
    }
    let (renewed, kept) = on
        .keeper
        .renew(source, &old.id, &renewal, flags.print)
        .await?;
    warn_kept(&kept);
    on.context.refresh_saved_list(&renewed.key.source).await;
    let now = Utc::now();
    let verb = match (renewed.old.revoked_at, &renewed.old.replaced_by) {
        (_, Some(_)) => format!(
            "renewed key {} (kept, marked replaced: delete it once it is retired on the service) into",
            old.id
        ),
        (Some(at), _) if at > now => format!(
            "renewed key {} (it stops working {}) into",
            old.id,
            relative_time(at, now)
        ),
        _ => format!("renewed key {} (stopped now) into", old.id),
    };
    report_new_secret(
        &on.context,
        &renewed.key,
        &renewed.secret,
        kept.stored(),
        // A pasted secret is the user's own: never printed back.
        Flags {
            print: flags.print && renewal.secret.is_none(),
            ..flags
        },
        &verb,
    )
}

/// `keys renew NAME --auto`: the key renews on its own once it expires within the window.
async fn set_auto_renew(on: &Invocation, key: &str, auto: AutoRenew) -> anyhow::Result<()> {
    let gathered = on.context.gather(on.account()).await?;
    let key = gathered.find(key)?;
    let source = gathered.source(&key.source)?;
    require(source, Capability::Renew)?;
    if source.capabilities().renew_by_paste {
        bail!(
            "{:?} cannot renew on its own: its new key is made on {}'s page",
            text::for_terminal(&key.name),
            key.service().name
        );
    }
    let renewals = on
        .keeper
        .renewals()
        .ok_or_else(|| anyhow::anyhow!("there is no data directory to keep the setting in"))?;
    let within = match auto {
        AutoRenew::Within(days) => Some(days),
        AutoRenew::Off => None,
    };
    renewals
        .set_auto(&key.key_ref(), within)
        .map_err(anyhow::Error::msg)?;
    let name = text::for_terminal(&key.name);
    match within {
        Some(days) => {
            eprintln!("keywarden: warning: {}", key.auto_renew_warning());
            println!(
                "key {} {name:?} renews on its own once it expires within {days} days",
                key.id
            );
        }
        None => println!("key {} {name:?} no longer renews on its own", key.id),
    }
    Ok(())
}
