//! `keywarden login`, `logout` and `servers`: the accounts keys come from, and which one is
//! current (the one `keys generate` and the app's Generate act on).

use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::context::Context;
use super::output::to_json;
use super::user::read_password;
use crate::client::config::{LOCAL_SERVER, ServerEntry};
use crate::client::list_cache::ListCache;
use crate::client::session;
use crate::client::{ApiClient, plain_http_refusal};
use crate::sources::thingsboard::{self, ThingsBoardSource};
use crate::sources::{KeySource as _, SourceKind, TRACKED};
use crate::text;
use crate::vault;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The server's base URL, e.g. https://keys.example.com
    url: String,
    #[arg(long)]
    email: String,
    /// keywarden or thingsboard.
    #[arg(long, default_value = "keywarden", value_parser = parse_kind)]
    kind: SourceKind,
    /// The account's name in lists and `--account` (default: the URL).
    #[arg(long)]
    name: Option<String>,
    /// Allow plain http:// to a server on another machine (a lab network): the password, the
    /// session and keys then cross the network unencrypted. Remembered for the account.
    #[arg(long)]
    allow_http: bool,
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

fn parse_kind(text: &str) -> Result<SourceKind, String> {
    match SourceKind::parse(text) {
        Some(kind @ (SourceKind::Keywarden | SourceKind::Thingsboard)) => Ok(kind),
        _ => Err("expected keywarden or thingsboard".to_string()),
    }
}

/// Signs in (the password is read from stdin when it is not a terminal, else prompted), keeps the
/// session (or ThingsBoard's refresh token) in the keychain and makes the account current.
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
    if let Some(refusal) = plain_http_refusal(&url, args.allow_http) {
        bail!("{refusal}");
    }
    if let Some(err) = &context.vault_error {
        bail!("{err}: the session could not be kept");
    }
    let password = read_password(false)?;
    let (email, role) = match args.kind {
        SourceKind::Thingsboard => {
            let source = ThingsBoardSource::sign_in(
                &name,
                &url,
                args.allow_http,
                &args.email,
                &password,
                context.vault.clone(),
            )
            .await?;
            (source.who(), source.authority().to_string())
        }
        _ => {
            let session = session::sign_in(
                &url,
                args.allow_http,
                &args.email,
                &password,
                context.vault.clone(),
            )
            .await?;
            if let Some(warning) = session.warning {
                bail!("{warning}");
            }
            (
                session.me.user.email.clone(),
                session.me.role.as_str().to_string(),
            )
        }
    };
    context.config.use_server(ServerEntry {
        url: url.clone(),
        email: email.clone(),
        kind: args.kind,
        name: args.name,
        allow_http: args.allow_http,
    });
    context.save_config()?;
    println!(
        "signed in to {url} ({}) as {} ({}){}",
        args.kind.label(),
        text::for_terminal(&email),
        text::for_terminal(&role),
        if name == url {
            String::new()
        } else {
            format!("; the account is named {name}")
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Ends the session of an account (the current one by default), forgets its saved list, and
/// goes back to the local server when it was current.
pub async fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let mut context = Context::load()?;
    let name = args
        .name
        .unwrap_or_else(|| context.config.current_server.clone());
    if name == LOCAL_SERVER || name == TRACKED {
        println!("{name} needs no sign-in; nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(entry) = context.config.entry(&name).cloned() else {
        bail!("{:?} is not a known account", text::for_terminal(&name));
    };
    match entry.kind {
        SourceKind::Thingsboard => {
            match ThingsBoardSource::resume(
                &name,
                &entry.url,
                entry.allow_http,
                context.vault.clone(),
            )
            .await
            {
                Ok(source) => source.sign_out().await?,
                // The server may be gone; forgetting the refresh token here is what matters.
                Err(_) => {
                    context.vault.delete(&thingsboard::session_account(&name))?;
                }
            }
        }
        _ => {
            let account = vault::session_account(&entry.url);
            if let Some(token) = context.vault.get(&account)? {
                let _ = ApiClient::new(&entry.url)
                    .allowing_http(entry.allow_http)
                    .with_credential(token)
                    .logout()
                    .await;
                context.vault.delete(&account)?;
            }
        }
    }
    if let Some(cache) = ListCache::default_dir().map(ListCache::new) {
        let _ = cache.remove(&format!("{}:{name}", entry.kind.as_str()));
    }
    if context.config.current_server == name {
        context.config.current_server = LOCAL_SERVER.to_string();
    }
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
        if account.kind == SourceKind::Tracked {
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
                let who = match (&i.email, i.kind) {
                    (Some(email), _) => format!("({email})"),
                    (None, SourceKind::Tracked) => "(keys kept on this computer)".to_string(),
                    (None, _) => "(this computer)".to_string(),
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
