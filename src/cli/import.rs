//! `keywarden import FILE`: keys from a `.env` file, a KeePassXC database, a Bitwarden JSON
//! export or a 1Password 1PUX export into tracked keys (`crate::transfer::import` decides what a
//! key is and stores them all or none). `--rewrite` then replaces each value of a `.env` file
//! with its `kw://` reference.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::context::Context;
use super::user::read_secret_line;
use crate::secret::Secret;
use crate::text;
use crate::transfer::import::{self, Format, Options};
use crate::transfer::local::Here;

#[derive(Debug, clap::Args)]
pub struct Args {
    file: PathBuf,
    /// The file's format (recognised when left out).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Say what would be imported, and import nothing.
    #[arg(long)]
    dry_run: bool,
    /// Replace each imported value in a .env file with its kw:// reference (in place,
    /// atomically, keeping the file's mode), once every secret is confirmed in the keychain.
    #[arg(long)]
    rewrite: bool,
    /// The KeePassXC database's key file.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Only this KeePassXC group (a path: Dev/APIs).
    #[arg(long, value_name = "PATH", conflicts_with = "folder")]
    group: Option<String>,
    /// Only this Bitwarden folder (or collection).
    #[arg(long, value_name = "NAME")]
    folder: Option<String>,
    /// Every entry with a secret, not only API keys (1Password: not only API Credential items).
    #[arg(long)]
    all: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let context = Context::load()?;
    if let Some(err) = &context.vault_error {
        bail!("{err}: nothing can be imported");
    }
    let shown = args.file.display().to_string();
    let bytes = import::read_file(&args.file).map_err(|err| anyhow::anyhow!("{err}"))?;
    let format = args.format.unwrap_or_else(|| Format::detect(&bytes));
    if args.group.is_some() && format != Format::Keepassxc {
        bail!(
            "--group chooses a KeePassXC group; {shown} is a {}",
            format.label()
        );
    }
    if args.folder.is_some() && format != Format::Bitwarden {
        bail!(
            "--folder chooses a Bitwarden folder; {shown} is a {}",
            format.label()
        );
    }
    if args.rewrite {
        format
            .check_rewrite()
            .map_err(|err| anyhow::anyhow!("{shown}: {err}"))?;
    }
    let mut options = Options {
        within: args.group.or(args.folder),
        all: args.all,
        ..Options::default()
    };
    if let Some(key_file) = &args.key_file {
        options.key_file = Some(
            std::fs::read(key_file)
                .with_context(|| format!("cannot read the key file {}", key_file.display()))?,
        );
    }
    if format.needs_password() {
        options.password = password(&shown, args.key_file.is_some())?;
    }
    let file_name = args
        .file
        .file_name()
        .map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    let read = import::read(&bytes, &file_name, Some(format), &options)
        .map_err(|err| anyhow::anyhow!("{shown}: {err}"))?;

    let keeper = context.keeper()?;
    let data_dir = super::data_dir()?;
    let here = Here {
        keeper: &keeper,
        data_dir: &data_dir,
        cache: None,
    };
    let report = here
        .import(&context.config, &read, !args.dry_run)
        .await
        .map_err(|err| anyhow::anyhow!("{shown}: {err}"))?;
    for line in &report.lines {
        println!("{line}");
    }
    if args.rewrite && !args.dry_run {
        let text = String::from_utf8_lossy(&bytes);
        let said = import::env_file::rewrite(&args.file, &text, &read, &report, &keeper)
            .await
            .map_err(|err| anyhow::anyhow!("{}", text::for_terminal(&err)))?;
        println!("{said}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The database's password: from the terminal, or one line of stdin. With a key file it may be
/// empty (a database opened by its key file alone).
fn password(shown: &str, key_file: bool) -> anyhow::Result<Option<Secret>> {
    let prompt = format!(
        "Password of {}{}: ",
        text::for_terminal(shown),
        if key_file { " (empty if none)" } else { "" }
    );
    match read_secret_line(&prompt, "database password") {
        Ok(password) => Ok(Some(password)),
        Err(_) if key_file => Ok(None),
        Err(err) => Err(err),
    }
}
