//! `keys revoke`: a key stops working at once.

use chrono::Utc;

use super::{Invocation, print_changed, question, require};
use crate::cli::context::{confirm, warn_kept};
use crate::cli::output::KeyItem;
use crate::sources::Capability;

#[derive(Debug, clap::Args)]
pub struct Args {
    key: String,
    #[arg(long)]
    yes: bool,
    /// Print the revoked key as `keys show --json` does.
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    let gathered = on.context.gather(on.account()).await?;
    let key = gathered.find(&args.key)?;
    let source = gathered.source(&key.source)?;
    require(source, Capability::Revoke)?;
    confirm(&question(&key, &key.revoke_question()), args.yes, "revoke")?;
    let (revoked, kept) = on.keeper.revoke(source, &key.id).await?;
    // Its secret left the keychain, unless taking it out failed (warned about here).
    let still_held = !kept.problems().is_empty() && gathered.is_held(&key);
    warn_kept(&kept);
    on.context.refresh_saved_list(&revoked.source).await;
    let item = KeyItem::new(
        revoked,
        &gathered.keys,
        still_held,
        Utc::now(),
        on.thresholds(),
    );
    print_changed(&item, "revoked", args.json)
}
