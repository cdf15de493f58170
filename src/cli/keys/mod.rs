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

mod renew;
mod secret;
mod service_test;

use renew::{renew, set_auto_renew};
use secret::{Flags, read_secret, report_new_secret, serve_clipboard};

use std::process::ExitCode;
use std::time::Duration as StdDuration;

use anyhow::bail;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::context::{Context, Expiry, confirm, parse_duration, parse_expiry, warn_kept};
use super::output::{KeyItem, details, expiry_text, table, to_json};
use crate::api::KeyStatus;
use crate::reminders::relative_time;
use crate::secret::Secret;
use crate::sources::accounts;
use crate::sources::copy::CopyFormat;
use crate::sources::services::{self, TestOutcome};
use crate::sources::tracked::{NewTracked, TrackedSource};
use crate::sources::{Capability, NewKey, Renewal, SourceKey};
use crate::text;
use crate::vault::clipboard;

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
    List {
        /// active, disabled, expired or revoked.
        #[arg(long, value_parser = parse_status)]
        status: Option<KeyStatus>,
        /// Only keys that expire within this many days (and have not yet).
        #[arg(long, value_name = "DAYS")]
        expiring: Option<i64>,
        /// Only keys of this service (github, thingsboard, …).
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one key by id or name.
    Show {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Generate a key on a Keywarden or ThingsBoard account; its secret goes into the keychain
    /// (printed only with --print).
    Generate {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// `90d`, a date `YYYY-MM-DD`, or `never` (ThingsBoard only).
        #[arg(long, default_value = "90d", value_parser = parse_expiry)]
        expires: Expiry,
        /// Let the key manage keys and accounts like a session (scope `keywarden:manage`);
        /// without it the key only reads and verifies.
        #[arg(long)]
        manage: bool,
        /// Make the key for another user of the account (administrators: a Keywarden user id, a
        /// ThingsBoard user's id); the secret still comes to you, once.
        #[arg(long, value_name = "USER_ID")]
        owner: Option<String>,
        /// Put the secret on the clipboard (served until it is cleared).
        #[arg(long)]
        copy: bool,
        /// Print the secret on stdout.
        #[arg(long)]
        print: bool,
        #[arg(long)]
        json: bool,
    },
    /// Keep a key you already have (of a service with no key API): the secret is read from stdin
    /// or a hidden prompt, never from an argument.
    Add {
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
    },
    /// Ask the key's service whether it accepts the key: exit 0 accepted, 1 refused, 3 could
    /// not check.
    Test {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Copy a key's secret from the keychain to the clipboard; cleared after a while if unchanged.
    Copy {
        key: String,
        #[arg(long = "as", value_parser = parse_format, default_value = "plain")]
        format: CopyFormat,
        /// Seconds until the clipboard is cleared (1 to 3600); default from the settings.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
        clear_after: Option<u64>,
    },
    /// Revoke a key at once (asks first on a terminal).
    Revoke {
        key: String,
        #[arg(long)]
        yes: bool,
        /// Print the revoked key as `keys show --json` does.
        #[arg(long)]
        json: bool,
    },
    /// Let a disabled key work again.
    Enable {
        key: String,
        /// Print the key as `keys show --json` does.
        #[arg(long)]
        json: bool,
    },
    /// Stop a key working until it is enabled again (unlike revoking, this can be undone).
    Disable {
        key: String,
        /// Print the key as `keys show --json` does.
        #[arg(long)]
        json: bool,
    },
    /// Replace a key with a new one (renewal); the old one stops working now or after --grace.
    Rotate {
        key: String,
        /// Keep the old key working this long, e.g. 24h (at most 7d).
        #[arg(long, value_parser = parse_duration, default_value = "0s")]
        grace: Duration,
        /// Lifetime of the new key, e.g. 90d (default: the old key's lifetime).
        #[arg(long, value_parser = parse_duration)]
        expires: Option<Duration>,
        /// Rotate without asking where rotating stops the old key at once (GitLab).
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        copy: bool,
        #[arg(long)]
        print: bool,
        #[arg(long)]
        json: bool,
    },
    /// Renew a key: a Keywarden or ThingsBoard key is replaced by a new one (the old one works
    /// for --overlap); a GitLab token is rotated (GitLab stops the old one at once: asked first
    /// on a terminal, --yes without one); a tracked key takes the new secret you made on its service (read from
    /// stdin or a hidden prompt) and the old one stays, marked replaced, until you delete it.
    Renew {
        key: String,
        /// The new key's expiry: `90d`, a date `YYYY-MM-DD` or `never` (default: the old key's
        /// lifetime).
        #[arg(long, value_parser = parse_expiry)]
        expires: Option<Expiry>,
        /// Keep the old key working this long: 0s, 1h, 24h or 7d.
        #[arg(long, value_parser = parse_duration, default_value = "0s")]
        overlap: Duration,
        /// Renew the key on its own (from `check --notify` and the open app) once it expires
        /// within this many days (`14d`), or `off`. Only changes the setting: nothing is
        /// renewed now.
        #[arg(long, value_name = "WITHIN|off", value_parser = parse_auto)]
        auto: Option<AutoRenew>,
        /// Renew without asking where renewing stops the old key at once (GitLab's rotate).
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        copy: bool,
        #[arg(long)]
        print: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a key for good (asks first on a terminal). On ThingsBoard this revokes it; a
    /// tracked key is forgotten here (revoke it on its service).
    Delete {
        key: String,
        #[arg(long)]
        yes: bool,
        /// Print `{"deleted": KEY}`, the key as it was (`keys show --json`).
        #[arg(long)]
        json: bool,
    },
}

/// `keys renew --auto`: a window of whole days, or off.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AutoRenew {
    Within(i64),
    Off,
}

fn parse_auto(text: &str) -> Result<AutoRenew, String> {
    if text.trim() == "off" {
        return Ok(AutoRenew::Off);
    }
    match parse_duration(text) {
        Ok(window) if window.num_days() >= 1 && window.num_seconds() % 86_400 == 0 => {
            Ok(AutoRenew::Within(window.num_days()))
        }
        _ => Err(format!("{text:?}: give whole days (14d) or off")),
    }
}

fn parse_status(text: &str) -> Result<KeyStatus, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| "expected active, disabled, expired or revoked".to_string())
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

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let context = Context::load()?;
    let account = args.account.as_deref();
    // Checks that need no server come first, so a refused command changes nothing.
    match &args.command {
        Command::Generate { print, .. }
        | Command::Rotate { print, .. }
        | Command::Renew {
            print, auto: None, ..
        } if !print => {
            if let Some(err) = &context.vault_error {
                bail!(
                    "{err}: the new secret could not be kept; run again with --print to see it once"
                );
            }
        }
        Command::Copy { .. } | Command::Add { .. } => {
            if let Some(err) = &context.vault_error {
                bail!("{err}");
            }
        }
        _ => {}
    }
    let now = Utc::now();
    let thresholds = context.config.thresholds;
    let keeper = context.keeper()?;
    // What changes a key (generate, enable, disable, rotate, delete) acts on the current account
    // unless --account names another; what reads or renews looks at every account.
    let current = account
        .map(str::to_string)
        .unwrap_or_else(|| context.config.current_server.clone());
    match args.command {
        Command::List {
            status,
            expiring,
            service,
            json,
        } => {
            let gathered = context.gather(account).await?;
            let items: Vec<KeyItem> = gathered
                .keys
                .iter()
                .filter(|k| status.is_none_or(|s| k.status_at(now) == s))
                .filter(|k| service.as_deref().is_none_or(|s| k.service == s))
                .filter(|k| {
                    expiring.is_none_or(|days| {
                        k.status_at(now) != KeyStatus::Revoked
                            && k.expires_at
                                .is_some_and(|at| at > now && at <= now + Duration::days(days))
                    })
                })
                .map(|k| {
                    let held = gathered.is_held(k);
                    KeyItem::new(k.clone(), &gathered.keys, held, now, &thresholds)
                })
                .collect();
            print!(
                "{}",
                if json {
                    to_json(&items)?
                } else {
                    table(&items, now)
                }
            );
        }
        Command::Show { key, json } => {
            let gathered = context.gather(account).await?;
            let key = gathered.find(&key)?;
            let held = gathered.is_held(&key);
            let item = KeyItem::new(key.clone(), &gathered.keys, held, now, &thresholds);
            print!(
                "{}",
                if json {
                    to_json(&item)?
                } else {
                    details(&item, now)
                }
            );
        }
        Command::Generate {
            name,
            description,
            expires,
            manage,
            owner,
            copy,
            print,
            json,
        } => {
            let chosen = context.chosen_account(account)?;
            let source = context.open(&chosen).await?;
            require(source.as_ref(), Capability::Generate)?;
            if matches!(expires, Expiry::Never) && !source.capabilities().never_expires {
                bail!("keys of {} must expire (at most a year)", chosen.name);
            }
            if manage && !source.capabilities().manage_scope {
                bail!("keys of {} cannot manage keys and accounts", chosen.name);
            }
            let new = NewKey {
                name,
                description: description.unwrap_or_default(),
                expires_at: expires.at(now),
                manage,
                owner,
            };
            let (created, kept) = keeper.create(source.as_ref(), &new, print).await?;
            warn_kept(&kept);
            report_new_secret(
                &context,
                &created.key,
                &created.secret,
                kept.stored(),
                Flags { copy, print, json },
                "generated",
            )?;
        }
        Command::Add {
            service,
            name,
            description,
            expires,
            url,
            workspace,
            json,
        } => {
            let secret = read_secret("Key (hidden): ")?;
            let recognised = services::recognise(secret.expose());
            let service = match (service, recognised) {
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
            let tracked = TrackedSource::new(&super::data_dir()?);
            let new = NewTracked {
                service,
                name,
                description: description.unwrap_or_default(),
                expires_at: expires.and_then(|e| e.at(now)),
                base_url: url,
                workspace,
            };
            let key = keeper.add_tracked(&tracked, new, &secret).await?;
            let output = if json {
                to_json(&KeyItem::new(key.clone(), &[], true, now, &thresholds))?
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
        }
        Command::Test { key, json } => {
            let gathered = context.gather(account).await?;
            let key = gathered.find(&key)?;
            let source = gathered.source(&key.source).ok();
            return service_test::test(&keeper, source, key, json).await;
        }
        Command::Copy {
            key,
            format,
            clear_after,
        } => {
            let gathered = context.gather(account).await?;
            let key = gathered.find(&key)?;
            let Some(secret) = keeper.secret(&key.key_ref()).await? else {
                bail!(
                    "the secret of key {} ({:?}) is not held in this computer's keychain",
                    key.id,
                    text::for_terminal(&key.name)
                );
            };
            let text = format.render_for(&secret, &key);
            let seconds = clear_after.unwrap_or(context.config.clipboard_clear_secs.max(1));
            serve_clipboard(&text, seconds)?;
        }
        Command::Revoke { key, yes, json } => {
            let gathered = context.gather(account).await?;
            let key = gathered.find(&key)?;
            let source = gathered.source(&key.source)?;
            require(source, Capability::Revoke)?;
            confirm(&question(&key, &key.revoke_question()), yes, "revoke")?;
            let (revoked, kept) = keeper.revoke(source, &key.id).await?;
            // Its secret left the keychain, unless taking it out failed (warned about here).
            let still_held = !kept.problems().is_empty() && gathered.is_held(&key);
            warn_kept(&kept);
            context.refresh_saved_list(&revoked.source).await;
            let item = KeyItem::new(revoked, &gathered.keys, still_held, Utc::now(), &thresholds);
            print_changed(&item, "revoked", json)?;
        }
        Command::Enable { key, json } => set_enabled(&context, &current, &key, true, json).await?,
        Command::Disable { key, json } => {
            set_enabled(&context, &current, &key, false, json).await?
        }
        Command::Rotate {
            key,
            grace,
            expires,
            yes,
            copy,
            print,
            json,
        } => {
            let expires_at = expires.map(|lifetime| now + lifetime);
            let flags = Flags { copy, print, json };
            renew(
                &context,
                Some(&current),
                &key,
                (expires_at, grace, yes),
                flags,
            )
            .await?;
        }
        Command::Renew {
            key,
            auto: Some(auto),
            ..
        } => set_auto_renew(&context, account, &key, auto).await?,
        Command::Renew {
            key,
            expires,
            overlap,
            yes,
            copy,
            print,
            json,
            auto: None,
        } => {
            let expires_at = expires.and_then(|e| e.at(now));
            let flags = Flags { copy, print, json };
            renew(&context, account, &key, (expires_at, overlap, yes), flags).await?;
        }
        Command::Delete { key, yes, json } => {
            let gathered = context.gather(Some(&current)).await?;
            let key = gathered.find(&key)?;
            let source = gathered.source(&key.source)?;
            require(source, Capability::Delete)?;
            confirm(&question(&key, &key.delete_question()), yes, "delete")?;
            let held = gathered.is_held(&key);
            let kept = keeper.delete(source, &key.id).await?;
            warn_kept(&kept);
            context.refresh_saved_list(&key.source).await;
            let item = KeyItem::new(key, &gathered.keys, held, now, &thresholds);
            if json {
                print!("{}", to_json(&serde_json::json!({ "deleted": item }))?);
            } else {
                print_changed(&item, "deleted", false)?;
            }
        }
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

async fn set_enabled(
    context: &Context,
    account: &str,
    key: &str,
    enabled: bool,
    json: bool,
) -> anyhow::Result<()> {
    let gathered = context.gather(Some(account)).await?;
    let key = gathered.find(key)?;
    let source = gathered.source(&key.source)?;
    require(source, Capability::Enable)?;
    let held = gathered.is_held(&key);
    let changed = source.set_enabled(&key.id, enabled).await?;
    context.refresh_saved_list(&changed.source).await;
    let item = KeyItem::new(
        changed,
        &gathered.keys,
        held,
        Utc::now(),
        &context.config.thresholds,
    );
    print_changed(&item, if enabled { "enabled" } else { "disabled" }, json)
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
