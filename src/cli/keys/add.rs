//! `keys add`: keep a key you already have, of a service with no key API, as a tracked key.

use anyhow::bail;

use super::Invocation;
use super::secret::read_secret;
use crate::cli::context::{Expiry, parse_expiry};
use crate::cli::output::{KeyItem, expiry_text, to_json};
use crate::sources::services;
use crate::sources::tracked::{NewTracked, TrackedSource};
use crate::text;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The service (recognised from the key's form when left out): one of keywarden,
    /// thingsboard, testo, iottly, smenso, smartsuite, github, gitlab, other.
    #[arg(long)]
    service: Option<String>,
    #[arg(long)]
    name: String,
    #[arg(long)]
    description: Option<String>,
    /// What the service showed: `90d`, a date `YYYY-MM-DD`, or `never`.
    #[arg(long, value_parser = parse_expiry)]
    expires: Option<Expiry>,
    /// Where the key is used, when not the service's default.
    #[arg(long)]
    url: Option<String>,
    /// The workspace or account id the service needs (smenso, SmartSuite).
    #[arg(long)]
    workspace: Option<String>,
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(on: &Invocation, args: Args) -> anyhow::Result<()> {
    let now = on.now;
    let secret = read_secret("Key (hidden): ")?;
    let recognised = services::recognise(secret.expose());
    let service = match (args.service, recognised) {
        (Some(given), Some(found)) if given != found.id => bail!(
            "this key looks like a {} key, not {given:?}; check --service",
            found.name
        ),
        (Some(given), _) => given,
        (None, Some(found)) => found.id.to_string(),
        (None, None) => bail!(
            "the key's form does not tell its service: give --service (one of {})",
            services::ids()
        ),
    };
    let tracked = TrackedSource::new(&crate::cli::data_dir()?);
    let new = NewTracked {
        service,
        name: args.name,
        description: args.description.unwrap_or_default(),
        expires_at: args.expires.and_then(|e| e.at(now)),
        base_url: args.url,
        workspace: args.workspace,
    };
    let key = on.keeper.add_tracked(&tracked, new, &secret).await?;
    let output = if args.json {
        to_json(&KeyItem::new(key.clone(), &[], true, now, on.thresholds()))?
    } else {
        format!(
            "added {} key {} {:?} ({}) to tracked, {}; the secret is in the keychain\n",
            key.service().name,
            key.id,
            text::for_terminal(&key.name),
            text::for_terminal(&key.hint),
            expiry_text(key.expires_at, now)
        )
    };
    print!("{output}");
    Ok(())
}
