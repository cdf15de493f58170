//! `keys show`: one key by id or name.

use super::Invocation;
use crate::cli::output::{KeyItem, details, to_json};

#[derive(Debug, clap::Args)]
pub struct Args {
    key: String,
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    let gathered = on.context.gather(on.account()).await?;
    let key = gathered.find(&args.key)?;
    let held = gathered.is_held(&key);
    let item = KeyItem::new(key.clone(), &gathered.keys, held, on.now, on.thresholds());
    print!(
        "{}",
        if args.json {
            to_json(&item)?
        } else {
            details(&item, on.now)
        }
    );
    Ok(())
}
