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
use crate::client::list_cache::ListCache;
use crate::secret::Secret;
use crate::sources::KeyRef;
use crate::sources::tracked::TrackedSource;
use crate::text;
use crate::transfer::backup::{Contents, HeldSecret, Key, SavedList};
use crate::vault;

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
    let keeper = context.keeper()?;
    let accounts = context.accounts();
    let mut contents = Contents::new(&context.config, Utc::now());
    let cache = ListCache::default_dir().map(ListCache::new);
    let mut names = std::collections::BTreeMap::new();
    for account in &accounts {
        let (Some(cache), Some(cache_key)) = (&cache, account.cache_key()) else {
            continue;
        };
        let email = account.email.clone().unwrap_or_default();
        if let Some(saved) = cache.load(&cache_key, &email) {
            for key in &saved.keys {
                names.insert(KeyRef::from(key), key.name.clone());
            }
            contents.lists.push(SavedList {
                cache_key,
                email,
                user_id: saved.user_id.unwrap_or_default(),
                saved_at: saved.saved_at,
                keys: saved.keys,
            });
        }
    }
    let data_dir = super::data_dir()?;
    let tracked = TrackedSource::new(&data_dir);
    for key in crate::sources::KeySource::list(&tracked).await? {
        names.insert(key.key_ref(), key.name.clone());
    }
    contents.tracked = tracked.export()?;
    let pairs: Vec<_> = accounts.iter().map(|a| (a.kind, a.name.clone())).collect();
    for key in keeper.held_keys(&pairs).await? {
        let Some(secret) = keeper.secret(&key).await? else {
            continue;
        };
        contents.secrets.push(HeldSecret {
            name: names.get(&key).cloned().unwrap_or_default(),
            kind: key.kind,
            account: key.source,
            id: key.id,
            secret,
        });
    }
    let renewals = data_dir.join("renewals.json");
    if let Ok(bytes) = std::fs::read(&renewals) {
        contents.renewals = serde_json::from_slice(&bytes).ok();
    }
    if let Some(database) = crate::server::embedded::snapshot_sqlite(&super::local_database_url()?)
        .await
        .context("cannot copy this computer's server database")?
    {
        contents.set_local_database(&database);
    }
    let sealed = contents.seal(&key)?;
    let written = if args.force {
        crate::files::write_atomic(&args.file, &sealed)
    } else {
        crate::files::write_new_atomic(&args.file, &sealed)
    };
    written.with_context(|| format!("cannot write {}", args.file.display()))?;
    crate::transfer::backup::record_backup(&data_dir, Utc::now()).map_err(anyhow::Error::msg)?;
    println!(
        "backed up {} secret(s), {} tracked key(s), {} account(s){} to {}",
        contents.secrets.len(),
        contents.tracked.as_array().map_or(0, Vec::len),
        contents.accounts.len(),
        if contents.local_database.is_some() {
            " and this computer's server"
        } else {
            ""
        },
        args.file.display()
    );
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
    let write = !args.dry_run;
    let verb = if write { "" } else { "would be " };
    let mut report = Vec::new();

    // Secrets: missing ones added, equal ones left, different ones kept unless --force.
    let vault = context.vault.clone();
    let (mut added, mut same, mut conflicts) = (0, 0, Vec::new());
    for held in &contents.secrets {
        let account = vault::key_account(held.kind.as_str(), &held.account, &held.id);
        let (reader, account_name) = (vault.clone(), account.clone());
        let current = tokio::task::spawn_blocking(move || reader.get(&account_name)).await??;
        match current {
            None => added += 1,
            Some(current) if current == held.secret => {
                same += 1;
                continue;
            }
            Some(_) => {
                conflicts.push(format!("{} on {}", held.name, held.account));
                if !args.force {
                    continue;
                }
            }
        }
        if write {
            let (writer, secret) = (vault.clone(), held.secret.clone());
            tokio::task::spawn_blocking(move || writer.set(&account, &secret)).await??;
        }
    }
    report.push(format!(
        "{added} secret(s) {verb}added, {same} already here"
    ));
    if !conflicts.is_empty() {
        report.push(format!(
            "{} secret(s) differ here and {}: {}",
            conflicts.len(),
            if args.force {
                format!("{verb}replaced")
            } else {
                "were kept (--force replaces them)".to_string()
            },
            conflicts.join(", ")
        ));
    }

    // Tracked keys, merged by id.
    let data_dir = super::data_dir()?;
    let merged = TrackedSource::new(&data_dir).merge(&contents.tracked, args.force, write)?;
    report.push(format!(
        "{} tracked key(s) {verb}added, {} already here",
        merged.added.len(),
        merged.unchanged
    ));
    if !merged.conflicts.is_empty() {
        report.push(format!(
            "{} tracked key(s) differ here and {}: {}",
            merged.conflicts.len(),
            if args.force {
                "were replaced"
            } else {
                "were kept"
            },
            merged.conflicts.join(", ")
        ));
    }

    // Saved lists, so references resolve before the accounts are signed in again.
    if let Some(cache) = ListCache::default_dir().map(ListCache::new) {
        for list in &contents.lists {
            let here = cache.load::<crate::sources::SourceKey>(&list.cache_key, &list.email);
            if (here.is_none() || args.force) && write {
                cache
                    .save(
                        &list.cache_key,
                        (&list.email, &list.user_id),
                        &list.keys,
                        list.saved_at,
                    )
                    .context("cannot save a key list")?;
            }
        }
    }
    let renewals = data_dir.join("renewals.json");
    if let (Some(value), false, true) = (&contents.renewals, renewals.exists(), write) {
        crate::files::create_private_dir_all(&data_dir)?;
        crate::files::write_atomic(&renewals, &serde_json::to_vec_pretty(value)?)?;
    }

    // This computer's server database: written where there is none.
    if let Some(database) = contents.local_database()? {
        let url = super::local_database_url()?;
        let path = PathBuf::from(url.trim_start_matches("sqlite://"));
        let here = std::fs::read(&path).ok();
        match here {
            Some(bytes) if bytes == database => {}
            Some(_) if !args.force => report.push(
                "this computer's server database differs and was kept (--force replaces it, \
                 with the keys made here since)"
                    .to_string(),
            ),
            _ => {
                report.push(format!("this computer's server database {verb}restored"));
                if write {
                    if let Some(dir) = path.parent() {
                        crate::files::create_private_dir_all(dir)?;
                    }
                    crate::files::write_atomic(&path, &database)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
            }
        }
    }

    // Accounts come back signed out; settings only where this computer has none yet.
    let mut accounts_added = 0;
    for entry in &contents.accounts {
        if context.config.entry(entry.name()).is_none() {
            accounts_added += 1;
            if write {
                context.config.servers.push(entry.clone());
            }
        }
    }
    report.push(format!(
        "{accounts_added} account(s) {verb}added, signed out: sign in with `keywarden login`"
    ));
    let fresh = !context.config_path.exists();
    if fresh && write {
        context.config.take_preferences(&contents.settings);
    }
    if write {
        context.save_config()?;
    }
    for line in report {
        println!("{}", text::for_terminal(&line));
    }
    Ok(ExitCode::SUCCESS)
}
