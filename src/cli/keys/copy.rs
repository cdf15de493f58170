//! `keys copy`: a key's secret from the keychain to the clipboard, in its service's style.

use anyhow::bail;

use super::Invocation;
use super::secret::serve_clipboard;
use crate::sources::copy::CopyFormat;
use crate::text;

#[derive(Debug, clap::Args)]
pub struct Args {
    key: String,
    #[arg(long = "as", value_parser = parse_format, default_value = "plain")]
    format: CopyFormat,
    /// Seconds until the clipboard is cleared (1 to 3600); default from the settings.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    clear_after: Option<u64>,
}

fn parse_format(text: &str) -> Result<CopyFormat, String> {
    match text {
        "plain" | "key" => Ok(CopyFormat::Plain),
        "header" => Ok(CopyFormat::Header),
        "env" => Ok(CopyFormat::Env),
        "curl" => Ok(CopyFormat::Curl),
        _ => Err("expected plain, header, env or curl".to_string()),
    }
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    let gathered = on.context.gather(on.account()).await?;
    let key = gathered.find(&args.key)?;
    let Some(secret) = on.keeper.secret(&key.key_ref()).await? else {
        bail!(
            "the secret of key {} ({:?}) is not held in this computer's keychain",
            key.id,
            text::for_terminal(&key.name)
        );
    };
    let text = args.format.render_for(&secret, &key);
    let seconds = args
        .clear_after
        .unwrap_or(on.context.config.clipboard_clear_secs.max(1));
    serve_clipboard(&text, seconds)
}
