//! `keys delete`: a key deleted for good (revoked on ThingsBoard, forgotten here if tracked).

use super::{Invocation, print_changed, question, require};
use crate::cli::context::{confirm, warn_kept};
use crate::cli::output::{KeyItem, to_json};
use crate::sources::Capability;

#[derive(Debug, clap::Args)]
pub struct Args {
    key: String,
    #[arg(long)]
    yes: bool,
    /// Print `{"deleted": KEY}`, the key as it was (`keys show --json`).
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    let gathered = on.context.gather(Some(&on.current)).await?;
    let key = gathered.find(&args.key)?;
    let source = gathered.source(&key.source)?;
    require(source, Capability::Delete)?;
    confirm(&question(&key, &key.delete_question()), args.yes, "delete")?;
    let held = gathered.is_held(&key);
    let kept = on.keeper.delete(source, &key.id).await?;
    warn_kept(&kept);
    on.context.refresh_saved_list(&key.source).await;
    let item = KeyItem::new(key, &gathered.keys, held, on.now, on.thresholds());
    if args.json {
        print!("{}", to_json(&serde_json::json!({ "deleted": item }))?);
        Ok(())
    } else {
        print_changed(&item, "deleted", false)
    }
}
