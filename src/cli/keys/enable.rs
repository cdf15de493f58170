//! `keys enable` and `keys disable`: a key stops working until it is enabled again.

use chrono::Utc;

use super::{Invocation, print_changed, require};
use crate::cli::output::KeyItem;
use crate::sources::Capability;

#[derive(Debug, clap::Args)]
pub struct Args {
    key: String,
    /// Print the key as `keys show --json` does.
    #[arg(long)]
    json: bool,
}

/// Enables (`enabled`) or disables the key, on the current account unless `--account` names one.
pub(super) async fn run(on: &Invocation, args: Args, enabled: bool) -> anyhow::Result<()> {
    let gathered = on.context.gather(Some(&on.current)).await?;
    let key = gathered.find(&args.key)?;
    let source = gathered.source(&key.source)?;
    require(source, Capability::Enable)?;
    let held = gathered.is_held(&key);
    let changed = source.set_enabled(&key.id, enabled).await?;
    on.context.refresh_saved_list(&changed.source).await;
    let item = KeyItem::new(changed, &gathered.keys, held, Utc::now(), on.thresholds());
    let done = if enabled { "enabled" } else { "disabled" };
    print_changed(&item, done, args.json)
}
