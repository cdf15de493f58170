//! `keywarden keys …`: list, show, generate, copy, revoke, enable, disable, rotate, delete.
//!
//! `--json` output is stable: `keys list` prints an array of key objects (every field of the API's
//! KeyInfo plus `held`, whether the secret is in this computer's keychain, and `class`, the expiry
//! class: ok, expiring, urgent, critical or expired); `keys show` prints one such object;
//! `keys generate` and `keys rotate` print `{"key": …, "stored": bool, "secret": "kw_…"}` with
//! `secret` only under `--print`.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use anyhow::{Context as _, bail};
use chrono::{Duration, Utc};
use serde::Serialize;

use super::context::{Context, Expiry, confirm, find_key, parse_duration, parse_expiry};
use crate::api::{
    CreateKeyRequest, KeyInfo, KeyStatus, ListKeysQuery, MANAGE_SCOPE, RotateKeyRequest,
    UpdateKeyRequest,
};
use crate::client::CopyFormat;
use crate::reminders::{ExpiryClass, classify, relative_time};
use crate::secret::Secret;
use crate::text;
use crate::vault::{self, clipboard};

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
        #[arg(long)]
        json: bool,
    },
    /// Show one key by id or name.
    Show {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Generate a key; its secret goes into the keychain (printed only with --print).
    Generate {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// `90d` or a date `YYYY-MM-DD` (at most a year away).
        #[arg(long, default_value = "90d", value_parser = parse_expiry)]
        expires: Expiry,
        /// Let the key manage keys and accounts like a session (scope `keywarden:manage`);
        /// without it the key only reads and verifies.
        #[arg(long)]
        manage: bool,
        /// Put the secret on the clipboard (served until it is cleared).
        #[arg(long)]
        copy: bool,
        /// Print the secret on stdout.
        #[arg(long)]
        print: bool,
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
    },
    Enable {
        key: String,
    },
    Disable {
        key: String,
    },
    /// Replace a key with a new one (renewal); the old one is revoked now or after --grace.
    Rotate {
        key: String,
        /// Keep the old key working this long, e.g. 24h (at most 7d).
        #[arg(long, value_parser = parse_duration, default_value = "0s")]
        grace: Duration,
        /// Lifetime of the new key, e.g. 90d (default: the old key's lifetime).
        #[arg(long, value_parser = parse_duration)]
        expires: Option<Duration>,
        #[arg(long)]
        copy: bool,
        #[arg(long)]
        print: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete a key for good (asks first on a terminal).
    Delete {
        key: String,
        #[arg(long)]
        yes: bool,
    },
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

/// A key as `--json` prints it.
#[derive(Serialize)]
pub struct KeyItem {
    #[serde(flatten)]
    pub key: KeyInfo,
    pub held: bool,
    pub class: ExpiryClass,
}

#[derive(Serialize)]
struct NewSecret<'a> {
    key: &'a KeyInfo,
    stored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let context = Context::load()?;
    // Checks that need no server come first, so a refused command changes nothing.
    match &command {
        Command::Generate { print, .. } | Command::Rotate { print, .. } if !print => {
            if let Some(err) = &context.vault_error {
                bail!(
                    "{err}: the new secret could not be kept; run again with --print to see it once"
                );
            }
        }
        Command::Copy { .. } => {
            if let Some(err) = &context.vault_error {
                bail!("{err}");
            }
        }
        _ => {}
    }
    let session = context.session().await?;
    let client = &session.client;
    let server = context.server().to_string();
    let now = Utc::now();
    let thresholds = context.config.thresholds;
    let held = |context: &Context| -> BTreeSet<i64> {
        context
            .vault
            .accounts()
            .map(|a| vault::held_key_ids(&a, &server))
            .unwrap_or_default()
    };
    let item = |key: KeyInfo, held: &BTreeSet<i64>| KeyItem {
        held: held.contains(&key.id),
        class: classify(key.expires_at, now, &thresholds),
        key,
    };
    match command {
        Command::List {
            status,
            expiring,
            json,
        } => {
            let keys = client
                .list_all_keys(&ListKeysQuery {
                    status,
                    ..Default::default()
                })
                .await?;
            let keys: Vec<KeyInfo> = match expiring {
                Some(days) => keys
                    .into_iter()
                    .filter(|k| {
                        k.status_at(now) != KeyStatus::Revoked
                            && k.expires_at > now
                            && k.expires_at <= now + Duration::days(days)
                    })
                    .collect(),
                None => keys,
            };
            let held = held(&context);
            let items: Vec<KeyItem> = keys.into_iter().map(|k| item(k, &held)).collect();
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
            let key = find_key(client, &key).await?;
            let item = item(key, &held(&context));
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
            copy,
            print,
            json,
        } => {
            let mut request = CreateKeyRequest {
                name,
                description,
                scopes: manage.then(|| vec![MANAGE_SCOPE.to_string()]),
                ..Default::default()
            };
            match expires {
                Expiry::InDays(days) => request.expires_in_days = Some(days),
                Expiry::At(at) => request.expires_at = Some(at),
            }
            let created = client.create_key(&request).await?;
            let stored = keep(&context, &server, created.key.id, &created.secret, print)?;
            report_new_secret(
                &context,
                &created.key,
                &created.secret,
                stored,
                copy,
                print,
                json,
                "generated",
            )?;
        }
        Command::Copy {
            key,
            format,
            clear_after,
        } => {
            let key = find_key(client, &key).await?;
            let account = vault::key_account(&server, key.id);
            let Some(secret) = context.vault.get(&account)? else {
                bail!(
                    "the secret of key {} ({:?}) is not held in this computer's keychain",
                    key.id,
                    key.name
                );
            };
            let text = format.render(&secret, &key.name, client.base_url());
            let seconds = clear_after.unwrap_or(context.config.clipboard_clear_secs.max(1));
            serve_clipboard(&text, seconds)?;
        }
        Command::Revoke { key, yes } => {
            let key = find_key(client, &key).await?;
            confirm(
                &format!(
                    "Revoke key {} {:?}? It stops working at once.",
                    key.id, key.name
                ),
                yes,
                "revoke",
            )?;
            let revoked = client.revoke_key(key.id).await?;
            context
                .vault
                .delete(&vault::key_account(&server, key.id))
                .ok();
            println!("revoked key {} {:?}", revoked.id, revoked.name);
        }
        Command::Enable { key } => set_enabled(client, &key, true).await?,
        Command::Disable { key } => set_enabled(client, &key, false).await?,
        Command::Rotate {
            key,
            grace,
            expires,
            copy,
            print,
            json,
        } => {
            let old = find_key(client, &key).await?;
            let request = RotateKeyRequest {
                expires_in_days: expires.map(|d| d.num_days()),
                grace_seconds: Some(grace.num_seconds()),
            };
            let rotated = client.rotate_key(old.id, &request).await?;
            let stored = keep(&context, &server, rotated.key.id, &rotated.secret, print)?;
            if grace.num_seconds() == 0 {
                context
                    .vault
                    .delete(&vault::key_account(&server, old.id))
                    .ok();
            }
            let verb = if grace.num_seconds() == 0 {
                format!("rotated key {} (revoked now) into", old.id)
            } else {
                format!(
                    "rotated key {} (revoked {}) into",
                    old.id,
                    relative_time(now + grace, now)
                )
            };
            report_new_secret(
                &context,
                &rotated.key,
                &rotated.secret,
                stored,
                copy,
                print,
                json,
                &verb,
            )?;
        }
        Command::Delete { key, yes } => {
            let key = find_key(client, &key).await?;
            confirm(
                &format!("Delete key {} {:?} for good?", key.id, key.name),
                yes,
                "delete",
            )?;
            client.delete_key(key.id).await?;
            context
                .vault
                .delete(&vault::key_account(&server, key.id))
                .ok();
            println!("deleted key {} {:?}", key.id, key.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn set_enabled(
    client: &crate::client::ApiClient,
    key: &str,
    enabled: bool,
) -> anyhow::Result<()> {
    let key = find_key(client, key).await?;
    let request = UpdateKeyRequest {
        enabled: Some(enabled),
        ..Default::default()
    };
    let key = client.update_key(key.id, &request).await?;
    println!(
        "{} key {} {:?}",
        if enabled { "enabled" } else { "disabled" },
        key.id,
        key.name
    );
    Ok(())
}

/// Puts a new secret into the keychain; with --print a failure is only a warning.
fn keep(
    context: &Context,
    server: &str,
    id: i64,
    secret: &Secret,
    print: bool,
) -> anyhow::Result<bool> {
    match context.vault.set(&vault::key_account(server, id), secret) {
        Ok(()) => Ok(true),
        Err(err) if print => {
            eprintln!("keywarden: warning: {err}");
            Ok(false)
        }
        Err(err) => {
            Err(err).context("the key was created but its secret could not be kept; revoke it")
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn report_new_secret(
    context: &Context,
    key: &KeyInfo,
    secret: &Secret,
    stored: bool,
    copy: bool,
    print: bool,
    json: bool,
    verb: &str,
) -> anyhow::Result<()> {
    let output = if json {
        to_json(&NewSecret {
            key,
            stored,
            secret: print.then(|| secret.expose()),
        })?
    } else {
        let mut text = format!(
            "{verb} key {} {:?} ({}), expires {}{}\n",
            key.id,
            key.name,
            text::for_terminal(&key.hint),
            key.expires_at.format("%Y-%m-%d"),
            if stored {
                "; the secret is in the keychain"
            } else {
                ""
            }
        );
        if print {
            text.push_str(secret.expose());
            text.push('\n');
        }
        text
    };
    print!("{output}");
    if copy {
        serve_clipboard(secret, context.config.clipboard_clear_secs.max(1))?;
    }
    Ok(())
}

/// Copies and keeps serving the clipboard (X11 needs a living owner) until the clear time.
fn serve_clipboard(text: &Secret, seconds: u64) -> anyhow::Result<()> {
    eprintln!(
        "keywarden: copied to the clipboard; it is cleared in {seconds} s (this command waits until then)"
    );
    let cleared = clipboard::copy_and_serve(text, StdDuration::from_secs(seconds))?;
    if cleared {
        eprintln!("keywarden: cleared the clipboard");
    } else {
        eprintln!("keywarden: left the clipboard alone: it holds something else now");
    }
    Ok(())
}

/// Pretty JSON for stdout, with the characters that could act on a terminal escaped.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    Ok(text::json_for_terminal(
        serde_json::to_string_pretty(value)? + "\n",
    ))
}

fn table(items: &[KeyItem], now: chrono::DateTime<Utc>) -> String {
    if items.is_empty() {
        return "no keys\n".to_string();
    }
    let rows: Vec<[String; 7]> = items
        .iter()
        .map(|i| {
            let status = match (i.key.status_at(now), i.class) {
                (KeyStatus::Active, class) if class.is_soon() => class.as_str().to_string(),
                (status, _) => status.as_str().to_string(),
            };
            [
                i.key.id.to_string(),
                text::for_terminal(&i.key.name).into_owned(),
                status,
                i.key.expires_at.format("%Y-%m-%d").to_string(),
                relative_time(i.key.expires_at, now),
                rights_label(&i.key).into(),
                if i.held { "held".into() } else { "-".into() },
            ]
        })
        .collect();
    let header = [
        "ID", "NAME", "STATUS", "EXPIRES", "LEFT", "RIGHTS", "KEYCHAIN",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `manage` for a key that may manage like a session, `read` for one that only reads and verifies.
fn rights_label(key: &KeyInfo) -> &'static str {
    if key.manages() { "manage" } else { "read" }
}

fn details(item: &KeyItem, now: chrono::DateTime<Utc>) -> String {
    let key = &item.key;
    let mut lines = vec![
        format!("id:          {}", key.id),
        format!("name:        {}", text::for_terminal(&key.name)),
        format!("description: {}", text::for_terminal(&key.description)),
        format!(
            "status:      {} ({})",
            key.status_at(now).as_str(),
            item.class.as_str()
        ),
        format!("key:         {}", text::for_terminal(&key.hint)),
        format!(
            "expires:     {} ({})",
            key.expires_at.to_rfc3339(),
            relative_time(key.expires_at, now)
        ),
        format!("created:     {}", key.created_at.to_rfc3339()),
        format!(
            "last used:   {}",
            key.last_used_at
                .map_or("never".into(), |at| at.to_rfc3339())
        ),
        format!("owner:       user {}", key.user_id),
        format!("workspace:   {}", key.workspace_id),
        format!(
            "scopes:      {}",
            text::for_terminal(&key.scopes.join(", "))
        ),
        format!(
            "rights:      {}",
            if key.manages() {
                "manages keys and accounts like a session (keywarden:manage)"
            } else {
                "reads and verifies only"
            }
        ),
        format!(
            "keychain:    {}",
            if item.held {
                "held on this computer"
            } else {
                "not held here"
            }
        ),
    ];
    if let Some(at) = key.revoked_at {
        lines.push(format!("revoked:     {}", at.to_rfc3339()));
    }
    lines.join("\n") + "\n"
}
