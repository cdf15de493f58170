//! `keywarden login`, `logout` and `servers`: which server the app and the command line use.

use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::context::Context;
use super::keys::to_json;
use super::user::read_password;
use crate::client::ApiClient;
use crate::client::config::{LOCAL_SERVER, ServerEntry};
use crate::client::session;
use crate::text;
use crate::vault;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The server's base URL, e.g. https://keys.example.com
    url: String,
    #[arg(long)]
    email: String,
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
    /// Make a server current for the app and the command line: `local` or a URL signed in to.
    Use { server: String },
}

/// Signs in (the password is read from stdin when it is not a terminal, else prompted), keeps the
/// session in the keychain and makes the server current.
pub async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let url = args.url.trim().trim_end_matches('/').to_string();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bail!("the server URL starts with http:// or https://");
    }
    let mut context = Context::load()?;
    if let Some(err) = &context.vault_error {
        bail!("{err}: the session could not be kept");
    }
    let password = read_password(false)?;
    let session = session::sign_in(&url, &args.email, &password, context.vault.clone()).await?;
    if let Some(warning) = session.warning {
        bail!("{warning}");
    }
    context.config.use_server(ServerEntry {
        url: url.clone(),
        email: session.me.user.email.clone(),
    });
    context.save_config()?;
    println!(
        "signed in to {url} as {} ({})",
        text::for_terminal(&session.me.user.email),
        session.me.role.as_str()
    );
    Ok(ExitCode::SUCCESS)
}

/// Ends the session on the current remote server and goes back to the local one.
pub async fn logout() -> anyhow::Result<ExitCode> {
    let mut context = Context::load()?;
    if context.config.is_local() {
        println!("the local server needs no sign-in; nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    let url = context.config.current_server.clone();
    let account = vault::session_account(&url);
    if let Some(token) = context.vault.get(&account)? {
        // The server may be gone; forgetting the session here is what matters.
        let _ = ApiClient::new(&url).with_credential(token).logout().await;
        context.vault.delete(&account)?;
    }
    context.config.current_server = LOCAL_SERVER.to_string();
    context.save_config()?;
    println!("signed out of {url}; using the local server");
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ServerItem {
    name: String,
    email: Option<String>,
    current: bool,
}

pub async fn servers(args: ServersArgs) -> anyhow::Result<ExitCode> {
    let mut context = Context::load()?;
    if let Some(ServersCommand::Use { server }) = args.command {
        let server = server.trim_end_matches('/').to_string();
        if server != LOCAL_SERVER && !context.config.servers.iter().any(|s| s.url == server) {
            bail!(
                "{server:?} is not a known server: sign in with `keywarden login {server} --email …` first"
            );
        }
        context.config.current_server = server.clone();
        context.save_config()?;
        println!("using {server}");
        return Ok(ExitCode::SUCCESS);
    }
    let config = &context.config;
    let mut items = vec![ServerItem {
        name: LOCAL_SERVER.into(),
        email: None,
        current: config.is_local(),
    }];
    items.extend(config.servers.iter().map(|s| ServerItem {
        name: s.url.clone(),
        email: Some(s.email.clone()),
        current: s.url == config.current_server,
    }));
    let output = if args.json {
        to_json(&items)?
    } else {
        items
            .iter()
            .map(|i| {
                let marker = if i.current { "*" } else { " " };
                let who = i
                    .email
                    .as_deref()
                    .map_or_else(|| "(this computer)".to_string(), |e| format!("({e})"));
                format!(
                    "{marker} {} {}\n",
                    text::for_terminal(&i.name),
                    text::for_terminal(&who)
                )
            })
            .collect()
    };
    print!("{output}");
    Ok(ExitCode::SUCCESS)
}
