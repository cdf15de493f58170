//! `keywarden import FILE`: keys from where they live today into tracked keys. A `.env` file's
//! API keys are recognised by their form (a known prefix) or by their variable's name (`*_KEY`,
//! `*_TOKEN`, `*_SECRET`) with a value long and random enough; `--rewrite` then replaces each in
//! the file with its `kw://` reference. Either the whole import is stored, or nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::context::Context;
use super::dotenv;
use crate::secret::Secret;
use crate::sources::KeySource as _;
use crate::sources::reference::Reference;
use crate::sources::services::{self, Service};
use crate::sources::tracked::{NewTracked, TrackedSource};
use crate::text;

/// A `.env` file larger than this is not one (and is not read whole).
const MAX_FILE_BYTES: u64 = 1 << 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    file: PathBuf,
    /// The file's format (recognised when left out). KeePassXC, Bitwarden and 1Password exports
    /// are not read yet.
    #[arg(long, value_parser = ["dotenv"])]
    format: Option<String>,
    /// Say what would be imported, and import nothing.
    #[arg(long)]
    dry_run: bool,
    /// Replace each imported value in the file with its kw:// reference (in place, atomically,
    /// keeping the file's mode), once every secret is confirmed in the keychain.
    #[arg(long)]
    rewrite: bool,
}

/// The service a variable's value is a key of, if it is one: recognised by its prefix, or named
/// as a key and long and random enough to be one.
pub fn key_service(name: &str, value: &str) -> Option<&'static Service> {
    if let Some(service) = services::recognise(value) {
        return Some(service);
    }
    let name = name.to_ascii_uppercase();
    let named = ["_KEY", "_TOKEN", "_SECRET"]
        .iter()
        .any(|end| name.ends_with(end))
        || matches!(name.as_str(), "KEY" | "TOKEN" | "SECRET" | "APIKEY");
    let distinct: std::collections::BTreeSet<char> = value.chars().collect();
    let random = value.len() >= 16
        && !value.contains(char::is_whitespace)
        && !value.contains("://")
        && !value.contains("${")
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic())
        && distinct.len() >= 10;
    (named && random).then_some(&services::OTHER)
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let context = Context::load()?;
    if let Some(err) = &context.vault_error {
        bail!("{err}: nothing can be imported");
    }
    let shown = args.file.display().to_string();
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if size > MAX_FILE_BYTES {
        bail!("{shown} is larger than a .env file can be (1 MiB): nothing was imported");
    }
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {shown}"))?;
    // Only `.env` files are read so far; a file that is not one says what it is not.
    let variables = dotenv::parse_lines(&text).map_err(|err| {
        anyhow::anyhow!(
            "{shown}: {err}; it is not a .env file{}",
            if args.format.is_none() {
                " (KeePassXC, Bitwarden and 1Password exports are not read yet)"
            } else {
                ""
            }
        )
    })?;
    let keeper = context.keeper()?;
    let tracked = TrackedSource::new(&super::data_dir()?);
    // The secrets held already, so a second import adds nothing.
    let mut held = Vec::new();
    for key in tracked.list().await? {
        if let Some(secret) = keeper.secret(&key.key_ref()).await? {
            held.push((secret, key));
        }
    }
    let file_name = args
        .file
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    let mut added = Vec::new();
    let mut kept = Vec::new();
    let (mut left, mut would) = (0, 0);
    let mut failure = None;
    for variable in &variables {
        let Some(service) = key_service(&variable.name, &variable.value) else {
            left += 1;
            continue;
        };
        let secret = Secret::new(variable.value.clone());
        if let Some((_, key)) = held.iter().find(|(s, _)| *s == secret) {
            println!(
                "skipped {}: held already as {:?}",
                variable.name,
                text::for_terminal(&key.name)
            );
            kept.push((variable, key.clone()));
            continue;
        }
        if args.dry_run {
            println!("would import {} ({})", variable.name, service.name);
            would += 1;
            continue;
        }
        let new = NewTracked {
            service: service.id.to_string(),
            name: variable.name.clone(),
            description: format!("imported from {file_name}"),
            ..Default::default()
        };
        match keeper.add_tracked(&tracked, new, &secret).await {
            Ok(key) => {
                held.push((secret, key.clone()));
                added.push((variable, key));
            }
            Err(err) => {
                failure = Some(format!("line {}: {err}", variable.line + 1));
                break;
            }
        }
    }
    // Nothing half-imported: a failure takes back what this import added.
    if let Some(failure) = failure {
        for (_, key) in &added {
            if let Err(err) = keeper.delete(&tracked, &key.id).await {
                eprintln!(
                    "keywarden: warning: {} could not be taken back: {err}",
                    text::for_terminal(&key.name)
                );
            }
        }
        bail!(
            "{shown}: {}; nothing was imported",
            text::for_terminal(&failure)
        );
    }
    for (variable, key) in &added {
        println!(
            "imported {} as tracked key {} ({})",
            variable.name,
            key.id,
            key.service().name
        );
    }
    println!(
        "{} key(s) {}imported, {} held already, {left} other variable(s) left alone",
        added.len() + would,
        if args.dry_run { "would be " } else { "" },
        kept.len()
    );
    if args.rewrite && !args.dry_run {
        rewrite(&args.file, &text, &keeper, added.iter().chain(&kept)).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Replaces each key's line with its reference, once every secret is confirmed in the keychain;
/// written atomically, keeping the file's mode.
async fn rewrite<'a>(
    file: &std::path::Path,
    text: &str,
    keeper: &crate::sources::keeper::Keeper,
    keys: impl Iterator<Item = &'a (&'a dotenv::Variable, crate::sources::SourceKey)>,
) -> anyhow::Result<()> {
    let shown = file.display();
    let keys: Vec<_> = keys.collect();
    let all: Vec<_> = TrackedSource::new(&super::data_dir()?).list().await?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (variable, key) in &keys {
        let confirmed = keeper.secret(&key.key_ref()).await?;
        if confirmed.as_ref().map(Secret::expose) != Some(variable.value.as_str()) {
            bail!(
                "{shown} was not rewritten: the secret of {} is not confirmed in the keychain",
                variable.name
            );
        }
        let reference = Reference::of(key, &all);
        lines[variable.line] = format!(
            "{}{}={reference}",
            if variable.exported { "export " } else { "" },
            variable.name
        );
    }
    let mut rewritten = lines.join("\n");
    if text.ends_with('\n') {
        rewritten.push('\n');
    }
    let mode = std::fs::metadata(file)?.permissions();
    crate::files::write_atomic(file, rewritten.as_bytes())
        .with_context(|| format!("cannot rewrite {shown}"))?;
    std::fs::set_permissions(file, mode).with_context(|| format!("cannot keep {shown}'s mode"))?;
    println!(
        "{shown}: {} value(s) replaced by their kw:// references",
        keys.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_told_from_other_values() {
        assert_eq!(
            key_service("ANY", "ghp_abcdefghijklmnopqrstuvwxyz0123").map(|s| s.id),
            Some("github")
        );
        assert_eq!(
            key_service("STRIPE_API_KEY", "sk9aQ2xL7pR4vT1mN8bC").map(|s| s.id),
            Some("other")
        );
        for (name, value) in [
            ("DATABASE_URL", "postgres://u:p@h/db"),
            ("API_KEY", "short1"),
            ("SECRET_KEY", "${OTHER_SECRET}"),
            ("TOKEN", "aaaaaaaaaaaaaaaaaaaa"),
            ("REGION", "eu-west-1xxxxxxxxxxxxx9"),
            ("KEY", "kw://tracked/testo"),
        ] {
            assert_eq!(
                key_service(name, value).map(|s| s.id),
                None,
                "{name}={value}"
            );
        }
    }
}
