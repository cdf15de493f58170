//! `keywarden keys …`: every key of every account (the local server, remote Keywarden and
//! ThingsBoard accounts, tracked keys): list, show, generate, add, test, copy, revoke, enable,
//! disable, rotate, renew, delete. `--account NAME` narrows to one account; `generate`, `enable`,
//! `disable`, `rotate` and `delete` act on the current account without it.
//!
//! `--json` output is stable: `keys list` prints an array of key objects (`source` (the account),
//! `kind`, `service`, `id` (a string), `name`, `description`, `hint`, `owner`, `created_at`,
//! `expires_at` (null: never), `enabled`, `revoked_at`, `last_used_at`, `manages`, `scopes`,
//! `replaces`, `replaced_by`, `base_url`, `workspace`, plus `status` at the time of the command,
//! `held`, whether the secret is in this computer's keychain, and `class`: ok, expiring, urgent,
//! critical, expired or never); `keys show` prints one such object; `keys generate`, `rotate` and
//! `renew` print `{"key": …, "stored": bool, "secret": "…"}` with `secret` only under `--print`;
//! `keys test` prints `{"key": …, "result": "accepted"|"refused"|"unreachable", "message": …}`.

mod add;
mod copy;
mod delete;
mod enable;
mod generate;
mod list;
mod renew;
mod revoke;
mod rotate;
mod secret;
mod show;
mod test;

use std::process::ExitCode;

use anyhow::bail;
use chrono::{DateTime, Utc};

use super::context::Context;
use super::output::{KeyItem, to_json};
use crate::reminders::Thresholds;
use crate::sources::keeper::Keeper;
use crate::sources::{Capability, SourceKey};
use crate::text;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// Only this account (`local`, a server's name, `tracked`); commands that make keys use the
    /// current account without it.
    #[arg(long, global = true, value_name = "NAME")]
    account: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List keys (a table, or JSON with --json).
    List(list::Args),
    /// Show one key by id or name.
    Show(show::Args),
    /// Generate a key on a Keywarden or ThingsBoard account; its secret goes into the keychain
    /// (printed only with --print).
    Generate(generate::Args),
    /// Keep a key you already have (of a service with no key API): the secret is read from stdin
    /// or a hidden prompt, never from an argument.
    Add(add::Args),
    /// Ask the key's service whether it accepts the key: exit 0 accepted, 1 refused, 3 could
    /// not check.
    Test(test::Args),
    /// Copy a key's secret from the keychain to the clipboard; cleared after a while if unchanged.
    Copy(copy::Args),
    /// Revoke a key at once (asks first on a terminal).
    Revoke(revoke::Args),
    /// Let a disabled key work again.
    Enable(enable::Args),
    /// Stop a key working until it is enabled again (unlike revoking, this can be undone).
    Disable(enable::Args),
    /// Replace a key with a new one (renewal); the old one stops working now or after --grace.
    Rotate(rotate::Args),
    /// Renew a key: a Keywarden or ThingsBoard key is replaced by a new one (the old one works
    /// for --overlap); a GitLab token is rotated (GitLab stops the old one at once: asked first
    /// on a terminal, --yes without one); a tracked key takes the new secret you made on its
    /// service (read from stdin or a hidden prompt) and the old one stays, marked replaced, until
    /// you delete it.
    Renew(renew::Args),
    /// Delete a key for good (asks first on a terminal). On ThingsBoard this revokes it; a
    /// tracked key is forgotten here (revoke it on its service).
    Delete(delete::Args),
}

/// What every subcommand works with.
struct Invocation {
    context: Context,
    /// `--account`: only this account.
    account: Option<String>,
    /// The account a command that changes a key (generate, enable, disable, rotate, delete) acts
    /// on: `--account`, or the current one. What reads or renews looks at every account.
    current: String,
    now: DateTime<Utc>,
    keeper: Keeper,
}

impl Invocation {
    fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    fn thresholds(&self) -> &Thresholds {
        &self.context.config.thresholds
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let context = Context::load()?;
    // Checks that need no server come first, so a refused command changes nothing.
    let new_secret_unprinted = match &args.command {
        Command::Generate(generate) => !generate.output.print,
        Command::Rotate(rotate) => !rotate.output.print,
        Command::Renew(renew) => renew.auto.is_none() && !renew.output.print,
        _ => false,
    };
    if let Some(err) = &context.vault_error {
        if new_secret_unprinted {
            bail!("{err}: the new secret could not be kept; run again with --print to see it once");
        }
        if matches!(args.command, Command::Copy(_) | Command::Add(_)) {
            bail!("{err}");
        }
    }
    let on = Invocation {
        keeper: context.keeper()?,
        current: args
            .account
            .clone()
            .unwrap_or_else(|| context.config.current_server.clone()),
        account: args.account,
        now: Utc::now(),
        context,
    };
    match args.command {
        Command::List(args) => list::run(&on, args).await?,
        Command::Show(args) => show::run(&on, args).await?,
        Command::Generate(args) => generate::run(&on, args).await?,
        Command::Add(args) => add::run(&on, args).await?,
        Command::Test(args) => return test::run(&on, args).await,
        Command::Copy(args) => copy::run(&on, args).await?,
        Command::Revoke(args) => revoke::run(&on, args).await?,
        Command::Enable(args) => enable::run(&on, args, true).await?,
        Command::Disable(args) => enable::run(&on, args, false).await?,
        Command::Rotate(args) => rotate::run(&on, args).await?,
        Command::Renew(args) => renew::run(&on, args).await?,
        Command::Delete(args) => delete::run(&on, args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses an action the key's source cannot do, with the reason.
fn require(source: &dyn crate::sources::KeySource, capability: Capability) -> anyhow::Result<()> {
    match source.capabilities().why_not(source.kind(), capability) {
        Some(why) => bail!("{why}"),
        None => Ok(()),
    }
}

/// What a command did to a key: `DONE key ID "NAME"`, or with `json` the key as `keys show
/// --json` prints it.
fn print_changed(item: &KeyItem, done: &str, json: bool) -> anyhow::Result<()> {
    if json {
        print!("{}", to_json(item)?);
    } else {
        println!(
            "{done} key {} {:?}",
            item.key.id,
            text::for_terminal(&item.key.name)
        );
    }
    Ok(())
}

/// A confirmation naming the key by id and account, as safe to print as anything a server sent.
fn question(key: &SourceKey, question: &str) -> String {
    text::for_terminal(&format!("Key {} on {}: {question}", key.id, key.source)).into_owned()
}
