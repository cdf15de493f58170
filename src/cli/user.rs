//! `keywarden user add`: create an account directly on the database (how a new server gets its
//! first owner).

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::api::Role;
use crate::secret::Secret;
use crate::server::store::AuditContext;
use crate::server::store::DatabaseUrl;
use crate::server::{self, accounts};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a user. The password is read from stdin when it is not a terminal, else prompted.
    Add(AddArgs),
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    #[arg(long)]
    email: String,
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// The user's default workspace; created when missing.
    #[arg(long, default_value = "default")]
    workspace: String,
    /// `postgres://USER:PASSWORD@HOST/DATABASE` or `sqlite://PATH`; default
    /// `$XDG_DATA_HOME/keywarden/server.db`.
    #[arg(long, env = "KEYWARDEN_DATABASE_URL", hide_env_values = true)]
    database_url: Option<DatabaseUrl>,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| "expected owner, admin, member or viewer".to_string())
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Add(args) => add(args).await,
    }
}

async fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    // Check everything that needs no database before asking for a password or opening anything.
    let email = accounts::validate_email(&args.email)?;
    accounts::validate_workspace_name(&args.workspace)?;
    let password = read_password(true)?;
    accounts::validate_password(&password)?;
    let database_url = super::database_url(args.database_url)?;
    let store = server::open_store(database_url.expose()).await?;
    let workspace_id = accounts::ensure_workspace(store.as_ref(), &args.workspace).await?;
    let user = accounts::create_user(
        store.as_ref(),
        &email,
        &password,
        args.role,
        workspace_id,
        &AuditContext::system(chrono::Utc::now()),
    )
    .await?;
    println!(
        "added {} {} (user {}) in workspace {:?}",
        args.role.as_str(),
        user.email,
        user.id,
        args.workspace.trim()
    );
    Ok(ExitCode::SUCCESS)
}

/// The password from stdin when it is not a terminal, else prompted (twice when `repeat`).
pub fn read_password(repeat: bool) -> anyhow::Result<Secret> {
    let first = read_secret_line("Password: ", "password")?;
    if !std::io::stdin().is_terminal() {
        return Ok(first);
    }
    if !repeat {
        return Ok(first);
    }
    let second = Secret::new(
        rpassword::prompt_password("Repeat password: ").context("cannot read the password")?,
    );
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}

/// One secret: the next line of stdin when it is not a terminal (so a script gives a password
/// and then a code on the following line), else typed at a hidden `prompt`.
pub fn read_secret_line(prompt: &str, what: &str) -> anyhow::Result<Secret> {
    let secret = if std::io::stdin().is_terminal() {
        Secret::new(
            rpassword::prompt_password(prompt)
                .with_context(|| format!("cannot read the {what}"))?,
        )
    } else {
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(|| format!("cannot read the {what} from stdin"))?;
        Secret::new(line.trim_end_matches(['\n', '\r']).to_string())
    };
    if secret.expose().is_empty() {
        bail!("no {what} was given");
    }
    Ok(secret)
}
