//! `keywarden backup FILE` and `keywarden restore FILE`: every secret this computer holds, the
//! tracked keys, the accounts (signed out), the settings and this computer's server database, in
//! one age-encrypted file, and back on this or another computer.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use chrono::Utc;

use super::context::Context;
use super::user::read_secret_line;
use crate::secret::Secret;
use crate::sources::list_cache::ListCache;
use crate::text;
use crate::transfer::backup::{Contents, Key};
use crate::transfer::local::{Here, Restore, write_backup};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup (created with mode 600).
    file: PathBuf,
    /// Encrypt to this age recipient (age1…) instead of a passphrase; may be repeated.
    #[arg(long, value_name = "AGE1…")]
    recipient: Vec<String>,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    file: PathBuf,
    /// Open a backup made with --recipient with this age identity file.
    #[arg(long, value_name = "FILE")]
    identity: Option<PathBuf>,
    /// Replace secrets, tracked keys and this computer's database that differ here.
    #[arg(long)]
    force: bool,
    /// Say what would change, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// A passphrase: from the terminal (asked twice when `twice`), or one line of stdin.
fn passphrase(twice: bool) -> anyhow::Result<Secret> {
    let first = read_secret_line("Backup passphrase: ", "passphrase")?;
    if twice && std::io::stdin().is_terminal() {
        let again = read_secret_line("Repeat the passphrase: ", "passphrase")?;
        if again != first {
            bail!("the passphrases do not match: nothing was written");
        }
    }
    Ok(first)
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let context = Context::load()?;
    if let Some(err) = &context.vault_error {
        bail!("{err}: the secrets cannot be read");
    }
    if args.file.exists() && !args.force {
        bail!("{} exists: give --force to replace it", args.file.display());
    }
    let key = if args.recipient.is_empty() {
        Key::Passphrase(passphrase(true)?)
    } else {
        Key::Recipients(args.recipient.clone())
    };
    // Fresh lists where the accounts answer; the saved ones where they do not.
    if let Err(err) = context.gather(None).await {
        eprintln!(
            "keywarden: warning: {}; the lists saved last time are backed up",
            text::for_terminal(&format!("{err:#}"))
        );
    }
    let (keeper, data_dir) = (context.keeper()?, super::data_dir()?);
    let cache = ListCache::default_dir().map(ListCache::new);
    let here = Here {
        keeper: &keeper,
        data_dir: &data_dir,
        cache: cache.as_ref(),
    };
    let database = crate::local::snapshot(&super::local_database_url()?)
        .await
        .map_err(anyhow::Error::msg)?;
    let now = Utc::now();
    let contents = here
        .collect(&context.config, database, now)
        .await
        .map_err(anyhow::Error::msg)?;
    let sealed = contents.seal(&key)?;
    write_backup(&args.file, &sealed, args.force, &data_dir, now).map_err(anyhow::Error::msg)?;
    println!("{} to {}", contents.summary(), args.file.display());
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let mut context = Context::load()?;
    if let Some(err) = &context.vault_error {
        bail!("{err}: the secrets cannot be restored");
    }
    let file = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let key = match &args.identity {
        Some(path) => Key::Identities(Secret::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        )),
        None => Key::Passphrase(passphrase(false)?),
    };
    let contents = Contents::open(&file, &key)?;
    let (keeper, data_dir) = (context.keeper()?, super::data_dir()?);
    let cache = ListCache::default_dir().map(ListCache::new);
    let here = Here {
        keeper: &keeper,
        data_dir: &data_dir,
        cache: cache.as_ref(),
    };
    let how = Restore {
        force: args.force,
        write: !args.dry_run,
        fresh_config: !context.config_path.exists(),
    };
    let database =
        crate::local::database_file(&super::local_database_url()?).map_err(anyhow::Error::msg)?;
    let report = here
        .restore(&contents, &mut context.config, &database, how)
        .await
        .map_err(anyhow::Error::msg)?;
    if how.write {
        context.save_config()?;
    }
    for line in report {
        println!("{}", text::for_terminal(&line));
    }
    Ok(ExitCode::SUCCESS)
}
