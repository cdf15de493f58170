//! `keywarden login`, `logout` and `servers`: the accounts keys come from, and which one is
//! current (the one `keys generate` and the app's Generate act on).

use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::context::Context;
use super::output::to_json;
use super::user::read_secret_line;
use crate::secret::Secret;
use crate::settings::{LOCAL_SERVER, ServerEntry};
use crate::sources::accounts::{self, Credentials, Field, SignInStep};
use crate::sources::list_cache::ListCache;
use crate::sources::{SecondFactor, SourceKind, TRACKED};
use crate::text;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The server's base URL, e.g. https://keys.example.com
    url: String,
    /// Who signs in, where the kind of server asks for an email.
    #[arg(long)]
    email: Option<String>,
    /// The kind of server (keywarden, thingsboard).
    #[arg(long, default_value = "keywarden", value_parser = accounts::parse_sign_in_kind)]
    kind: SourceKind,
    /// The account's name in lists and `--account` (default: the URL).
    #[arg(long)]
    name: Option<String>,
    /// Allow plain http:// to a server on another machine (a lab network): the password, the
    /// session and keys then cross the network unencrypted. Remembered for the account.
    #[arg(long)]
    allow_http: bool,
    /// Where the server asks for a second factor: how the code comes (TOTP, EMAIL, SMS,
    /// BACKUP_CODE; default: the one chosen on the server). The code is the line after the
    /// password on stdin, or asked for on a terminal.
    #[arg(long, value_name = "PROVIDER")]
    code_by: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The account to sign out of (default: the current one).
    name: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ServersArgs {
    #[command(subcommand)]
    command: Option<ServersCommand>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum ServersCommand {
    /// Make an account current for the app and the command line: `local` or one signed in to.
    Use { server: String },
}

/// Signs in (what the kind asks for: the password is read from stdin when it is not a terminal,
/// else prompted), keeps the session in the keychain and makes the account current.
pub async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let url = args.url.trim().trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("the server URL starts with http:// or https://");
    }
    let name = args.name.clone().unwrap_or_else(|| url.clone());
    if name == LOCAL_SERVER || name == TRACKED || name.trim().is_empty() {
        bail!("{name:?} is taken: give the account another --name");
    }
    crate::text::check_field("name", &name).map_err(anyhow::Error::msg)?;
    let mut context = Context::load()?;
    if let Some(existing) = context.config.entry(&name)
        && (existing.url != url || existing.kind != args.kind)
    {
        bail!(
            "an account named {name:?} exists already for {} ({}): give this one another --name",
            existing.url,
            existing.kind.as_str()
        );
    }
    if let Some(refusal) = crate::net::plain_http_refusal(&url, args.allow_http) {
        bail!("{refusal}");
    }
    if let Some(err) = &context.vault_error {
        bail!("{err}: the session could not be kept");
    }
    // What the kind asks for, in its order: the email from --email, a secret from stdin or a
    // hidden prompt.
    let mut credentials = Credentials {
        email: String::new(),
        secret: Secret::new(String::new()),
    };
    for &field in args.kind.info().sign_in {
        match field {
            Field::Email => {
                credentials.email = args.email.clone().ok_or_else(|| {
                    anyhow::anyhow!(
                        "--email is needed to sign in to a {} server",
                        args.kind.label()
                    )
                })?;
            }
            Field::Password | Field::Token => {
                let label = field.label();
                credentials.secret =
                    read_secret_line(&format!("{label}: "), &label.to_lowercase())?;
            }
        }
    }
    let entry = ServerEntry {
        url: url.clone(),
        email: credentials.email.clone(),
        kind: args.kind,
        name: args.name,
        allow_http: args.allow_http,
    };
    let opened = match accounts::sign_in(&entry, &credentials, &context.env).await? {
        SignInStep::Done(opened) => opened,
        SignInStep::Code(step) => second_factor(step.as_ref(), args.code_by.as_deref()).await?,
    };
    if let Some(warning) = &opened.warning {
        eprintln!("keywarden: warning: {}", text::for_terminal(warning));
    }
    let (who, role) = (opened.source.who(), opened.source.role());
    context.config.use_server(ServerEntry {
        email: who.clone(),
        ..entry
    });
    context.save_config()?;
    println!(
        "signed in to {url} ({}) as {} ({}){}",
        args.kind.label(),
        text::for_terminal(&who),
        text::for_terminal(&role),
        if name == url {
            String::new()
        } else {
            format!("; the account is named {name}")
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The second step of a sign-in: a code sent (by email, SMS) when the provider sends one, then
/// read as the line after the password, or at a prompt.
async fn second_factor(
    step: &dyn SecondFactor,
    code_by: Option<&str>,
) -> anyhow::Result<accounts::Opened> {
    let provider = match code_by {
        Some(id) => step
            .providers()
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                let known: Vec<&str> = step.providers().iter().map(|p| p.id.as_str()).collect();
                anyhow::anyhow!(
                    "this account gives no code by {}; it offers {}",
                    text::for_terminal(id),
                    known.join(", ")
                )
            })?,
        None => step
            .default_provider()
            .ok_or_else(|| anyhow::anyhow!("the server offers no way to give a code"))?,
    };
    if provider.sends {
        step.send_code(&provider.id).await?;
        eprintln!(
            "keywarden: the server sent {}",
            text::for_terminal(&provider.label)
        );
    }
    let code = read_secret_line(
        &format!(
            "Verification code ({}): ",
            text::for_terminal(&provider.label)
        ),
        "verification code",
    )?;
    Ok(accounts::finish_sign_in(step, &provider.id, &code).await?)
}

/// Ends the session of an account (the current one by default), forgets its saved list, and
/// goes back to the local server when it was current.
pub async fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let mut context = Context::load()?;
    let name = args
        .name
        .unwrap_or_else(|| context.config.current_server.clone());
    let account = context.account(&name)?;
    if !account.signs_in() {
        println!("{name} needs no sign-in; nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    let signed_out = accounts::sign_out(&account, None, &context.env).await?;
    for warning in &signed_out.warnings {
        eprintln!("keywarden: warning: {}", text::for_terminal(warning));
    }
    if let (Some(cache), Some(key)) = (
        ListCache::default_dir().map(ListCache::new),
        account.cache_key(),
    ) && let Err(err) = cache.remove(&key)
    {
        eprintln!("keywarden: warning: cannot remove the saved key list: {err}");
    }
    accounts::forget(&mut context.config, &name);
    context.save_config()?;
    println!(
        "signed out of {name}; using {}",
        if context.config.is_local() {
            "the local server".to_string()
        } else {
            context.config.current_server.clone()
        }
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ServerItem {
    name: String,
    kind: SourceKind,
    url: Option<String>,
    email: Option<String>,
    current: bool,
    #[serde(skip)]
    makes_keys: bool,
}

pub async fn servers(args: ServersArgs) -> anyhow::Result<ExitCode> {
    let mut context = Context::load()?;
    if let Some(ServersCommand::Use { server }) = args.command {
        let account = context.account(&server).map_err(|_| {
            anyhow::anyhow!(
                "{:?} is not a known server: sign in with `keywarden login {} --email …` first",
                text::for_terminal(&server),
                text::for_terminal(&server)
            )
        })?;
        if !account.makes_keys() {
            bail!("tracked keys are added with `keys add`; choose a server to make keys on");
        }
        context.config.current_server = account.name.clone();
        context.save_config()?;
        println!("using {}", account.name);
        return Ok(ExitCode::SUCCESS);
    }
    let items: Vec<ServerItem> = context
        .accounts()
        .into_iter()
        .map(|a| ServerItem {
            current: a.name == context.config.current_server,
            makes_keys: a.makes_keys(),
            email: a.email.filter(|_| a.name != LOCAL_SERVER),
            name: a.name,
            kind: a.kind,
            url: a.url,
        })
        .collect();
    let output = if args.json {
        to_json(&items)?
    } else {
        items
            .iter()
            .map(|i| {
                let marker = if i.current { "*" } else { " " };
                let who = match (&i.email, i.makes_keys) {
                    (Some(email), _) => format!("({email})"),
                    (None, false) => "(keys kept on this computer)".to_string(),
                    (None, true) => format!("({})", accounts::THIS_COMPUTER),
                };
                let url = i
                    .url
                    .as_ref()
                    .filter(|url| **url != i.name)
                    .map(|url| format!(" {url}"))
                    .unwrap_or_default();
                format!(
                    "{marker} {} [{}]{} {}\n",
                    text::for_terminal(&i.name),
                    i.kind.as_str(),
                    text::for_terminal(&url),
                    text::for_terminal(&who)
                )
            })
            .collect()
    };
    print!("{output}");
    Ok(ExitCode::SUCCESS)
}
