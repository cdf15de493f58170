//! The command line: one file per subcommand, each with its `Args` and `run()`.

mod app;
mod assets;
mod backup;
mod check;
mod context;
mod import;
mod inject;
mod keys;
mod login;
mod mask;
mod output;
mod project;
#[cfg(unix)]
mod relay;
mod remind;
mod run;
mod secrets;
mod serve;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::server::store::DatabaseUrl;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "keywarden", version, about = "API-key manager for developers")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the key-management server.
    Serve(serve::Args),
    /// Manage accounts directly on the server's database.
    #[command(subcommand)]
    User(user::Command),
    /// Sign in to a Keywarden, ThingsBoard or GitLab server (it becomes the current account).
    Login(login::LoginArgs),
    /// Sign out of an account (the current one by default) and go back to the local server.
    Logout(login::LogoutArgs),
    /// List the accounts with their kinds, or switch with `servers use NAME`.
    Servers(login::ServersArgs),
    /// Work with the keys of every account (--account narrows to one).
    Keys(keys::Args),
    /// List expiring and expired keys; exit 0 none, 1 expiring, 2 expired, 3 could not check.
    Check(check::Args),
    /// Install or remove a daily expiry check that runs while the app is closed.
    #[command(subcommand)]
    Remind(remind::Command),
    /// Run a command with keys in its environment (--env VAR=kw://ACCOUNT/KEY, --env-file),
    /// their secrets concealed in its output.
    Run(run::Args),
    /// Write a template with each {{ kw://ACCOUNT/KEY }} replaced by the key's secret.
    Inject(inject::Args),
    /// Print the project's variables (.keywarden.toml) for a shell: eval "$(keywarden env)".
    Env(project::EnvArgs),
    /// Let a project file, .env file or template have the keys it names (as it is now).
    Allow(project::AllowArgs),
    /// Take back the consent given to a file.
    Deny(project::DenyArgs),
    /// Write the man pages and shell completions into a directory (for packaging).
    #[command(hide = true)]
    Assets(assets::Args),
    /// Write every secret held here, the tracked keys, the accounts and this computer's server
    /// to one age-encrypted file.
    Backup(backup::BackupArgs),
    /// Put a backup back on this or another computer (accounts come back signed out).
    Restore(backup::RestoreArgs),
    /// Import the API keys of a .env file as tracked keys (--rewrite replaces them in the file
    /// with their kw:// references).
    Import(import::Args),
}

/// Parses the command line and runs it; errors come back to `main`, which prints them once.
pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        return app::run();
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match command {
            Command::Serve(args) => serve::run(args).await,
            Command::User(command) => user::run(command).await,
            Command::Login(args) => login::login(args).await,
            Command::Logout(args) => login::logout(args).await,
            Command::Servers(args) => login::servers(args).await,
            Command::Keys(command) => keys::run(command).await,
            Command::Check(args) => check::run(args).await,
            Command::Remind(command) => remind::run(command),
            Command::Run(args) => run::run(args).await,
            Command::Inject(args) => inject::run(args).await,
            Command::Env(args) => project::env(args).await,
            Command::Allow(args) => project::allow(args).await,
            Command::Deny(args) => project::deny(args).await,
            Command::Assets(args) => assets::run(args),
            Command::Backup(args) => backup::backup(args).await,
            Command::Restore(args) => backup::restore(args).await,
            Command::Import(args) => import::run(args).await,
        }
    })
}

/// `$XDG_DATA_HOME/keywarden` (or the platform's data directory).
pub fn data_dir() -> anyhow::Result<PathBuf> {
    Ok(dirs::data_dir()
        .context("cannot find the user's data directory (is HOME set?)")?
        .join("keywarden"))
}

/// The database of this computer's server: `sqlite://` the default file in the data directory.
pub fn local_database_url() -> anyhow::Result<String> {
    Ok(format!(
        "sqlite://{}",
        data_dir()?.join("server.db").display()
    ))
}

/// The server database URL: the one given, or [`local_database_url`].
pub fn database_url(given: Option<DatabaseUrl>) -> anyhow::Result<DatabaseUrl> {
    match given {
        Some(url) => Ok(url),
        None => Ok(DatabaseUrl::new(local_database_url()?)),
    }
}
