//! `keys generate`: a new key on a Keywarden or ThingsBoard account.

use anyhow::bail;

use super::secret::{Flags, report_new_secret};
use super::{Invocation, require};
use crate::cli::context::{Expiry, parse_expiry, warn_kept};
use crate::sources::{Capability, NewKey};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    name: String,
    #[arg(long)]
    description: Option<String>,
    /// `90d`, a date `YYYY-MM-DD`, or `never` (ThingsBoard only).
    #[arg(long, default_value = "90d", value_parser = parse_expiry)]
    expires: Expiry,
    /// Let the key manage keys and accounts like a session (scope `keywarden:manage`);
    /// without it the key only reads and verifies.
    #[arg(long)]
    manage: bool,
    /// Make the key for another user of the account (administrators: a Keywarden user id, a
    /// ThingsBoard user's id); the secret still comes to you, once.
    #[arg(long, value_name = "USER_ID")]
    owner: Option<String>,
    #[command(flatten)]
    pub(super) output: Flags,
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    let chosen = on.context.chosen_account(on.account())?;
    let source = on.context.open(&chosen).await?;
    require(source.as_ref(), Capability::Generate)?;
    if matches!(args.expires, Expiry::Never) && !source.capabilities().never_expires {
        bail!("keys of {} must expire (at most a year)", chosen.name);
    }
    if args.manage && !source.capabilities().manage_scope {
        bail!("keys of {} cannot manage keys and accounts", chosen.name);
    }
    let new = NewKey {
        name: args.name,
        description: args.description.unwrap_or_default(),
        expires_at: args.expires.at(on.now),
        manage: args.manage,
        owner: args.owner,
    };
    let (created, kept) = on
        .keeper
        .create(source.as_ref(), &new, args.output.print)
        .await?;
    warn_kept(&kept);
    report_new_secret(
        &on.context,
        &created.key,
        &created.secret,
        kept.stored(),
        args.output,
        "generated",
    )
}
