//! `keys rotate`: a key of the current account replaced by a new one (see `renew.rs`).

use chrono::Duration;

use super::Invocation;
use super::renew::renew;
use super::secret::Flags;
use crate::cli::context::parse_duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    key: String,
    /// Keep the old key working this long, e.g. 24h (at most 7d).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    grace: Duration,
    /// Lifetime of the new key, e.g. 90d (default: the old key's lifetime).
    #[arg(long, value_parser = parse_duration)]
    expires: Option<Duration>,
    /// Rotate without asking where rotating stops the old key at once (GitLab).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    pub(super) output: Flags,
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    let expires_at = args.expires.map(|lifetime| on.now + lifetime);
    renew(
        on,
        Some(&on.current),
        &args.key,
        (expires_at, args.grace, args.yes),
        args.output,
    )
    .await
}
