//! `keywarden run`: a command with keys in its environment, never on the clipboard or in a file.
//! Each `--env VAR=kw://ACCOUNT/KEY`, and each reference in an `--env-file`, becomes the key's
//! secret in the command's environment (other `.env` lines pass through as they are). Before it
//! starts, keys about to expire are named on stderr, and an expired, revoked or disabled key stops
//! the run (exit 2). The command's output is passed through with every secret concealed; its exit
//! code and the signals sent to `keywarden run` (SIGINT, SIGTERM, SIGHUP) are passed through
//! (`relay`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
#[cfg(unix)]
use std::sync::Arc;

use anyhow::{Context as _, bail};

use super::context::Context;
#[cfg(unix)]
use super::mask::Masker;
use super::project::{check_consent, env_file_variables, note_used, project_variables};
#[cfg(unix)]
use super::relay::{self, Ended};
use super::secrets;
use crate::sources::reference::SCHEME;
use crate::text;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// VAR=kw://ACCOUNT/KEY: set VAR to that key's secret; repeat for several.
    #[arg(long = "env", value_name = "VAR=REF")]
    env: Vec<String>,
    /// A .env file: its references are resolved, its other lines set as they are; repeat for
    /// several (later ones win).
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// The project file's profile (.keywarden.toml, found from here) to use over its common
    /// variables.
    #[arg(long)]
    profile: Option<String>,
    /// Leave the project file out.
    #[arg(long, conflicts_with = "profile")]
    no_project: bool,
    /// Pass the output through untouched (for binary output): secrets are then not concealed.
    #[arg(long)]
    no_masking: bool,
    /// Run even with an expired, revoked or disabled key (it is named on stderr).
    #[arg(long)]
    allow_expired: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// A variable for the command: a plain value, or a reference to resolve.
enum Value {
    Plain(String),
    Reference(usize),
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut variables: Vec<(String, Value)> = Vec::new();
    let mut references = Vec::new();
    let mut add = |name: String, value: String| -> anyhow::Result<()> {
        let value = if value.starts_with(SCHEME) {
            references.push(secrets::parse(&value)?);
            Value::Reference(references.len() - 1)
        } else {
            Value::Plain(value)
        };
        variables.retain(|(n, _)| *n != name);
        variables.push((name, value));
        Ok(())
    };
    // The project file's variables, then the .env files', then --env: later ones win. The files
    // need consent before any of their keys is used.
    let mut files = Vec::new();
    if let Some((used, project)) = project_variables(args.no_project, args.profile.as_deref())? {
        for (name, value) in project {
            add(name, value)?;
        }
        files.push(used);
    }
    for file in &args.env_files {
        let (used, parsed) = env_file_variables(file)?;
        for (name, value) in parsed {
            add(name, value)?;
        }
        files.push(used);
    }
    for pair in &args.env {
        let Some((name, value)) = pair.split_once('=') else {
            bail!(
                "--env takes VAR=kw://ACCOUNT/KEY, not {:?}",
                text::for_terminal(pair)
            );
        };
        if !value.starts_with(SCHEME) {
            bail!("--env {name}=…: the value is a reference, kw://ACCOUNT/KEY");
        }
        add(name.to_string(), value.to_string())?;
    }

    if cfg!(not(unix)) && !args.no_masking && !references.is_empty() {
        bail!(
            "concealing keys in the command's output needs Unix pipes and signals, which this \
             system lacks: add --no-masking to pass the output through as it is"
        );
    }
    secrets::keep_out_of_core_dumps()?;
    let context = Context::load()?;
    if let Err(refusal) = check_consent(&context, &files).await? {
        eprintln!("keywarden: {}", refusal.trim_end());
        eprintln!("keywarden: nothing was run");
        return Ok(ExitCode::from(2));
    }
    let resolved = match secrets::resolve_for_use(&context, &references, args.allow_expired).await?
    {
        Ok(resolved) => resolved,
        Err(refusal) => {
            eprintln!(
                "keywarden: {}; nothing was run",
                crate::text::for_terminal(&refusal)
            );
            return Ok(ExitCode::from(2));
        }
    };

    let (program, arguments) = args.command.split_first().expect("clap requires a command");
    let mut command = std::process::Command::new(program);
    command.args(arguments).stdin(Stdio::inherit());
    for (name, value) in &variables {
        match value {
            Value::Plain(text) => command.env(name, text),
            Value::Reference(index) => command.env(name, resolved[*index].expose()),
        };
    }
    let secrets: Vec<&str> = resolved.iter().map(|r| r.expose()).collect();
    let masked = !args.no_masking && !secrets.is_empty();
    let status = supervise(command, masked.then_some(&secrets[..]), program).await;
    note_used(&files);
    status
}

/// Starts the command, relays its output with `secrets` concealed (when given) and the signals
/// sent to `keywarden run`, and ends like it.
#[cfg(unix)]
async fn supervise(
    mut command: std::process::Command,
    secrets: Option<&[&str]>,
    program: &std::ffi::OsStr,
) -> anyhow::Result<ExitCode> {
    let outputs = match secrets {
        Some(_) => relay::attach(&mut command).context("cannot set up the command's output")?,
        None => Vec::new(),
    };
    // Relayed from before the command starts (nothing is lost, and no step after the start can
    // fail and leave it running unwatched); signals caught from then on too.
    let ended = Arc::new(Ended::default());
    let relays = outputs
        .into_iter()
        .map(|output| output.relay(Masker::new(secrets.unwrap_or_default()), ended.clone()))
        .collect::<std::io::Result<Vec<_>>>()?;
    relay::forward_signals()?;
    let spawned = command.spawn();
    // The command's ends of its outputs are its own now (or closed, when it did not start).
    drop(command);
    let waited = match spawned {
        Ok(child) => {
            relay::started(&child);
            Ok(tokio::task::spawn_blocking(move || relay::wait(child)).await?)
        }
        Err(err) => Err(cannot_start(err, program)),
    };
    ended.now();
    for relay in relays {
        relay.join();
    }
    let status = waited?.context("lost track of the command")?;
    Ok(relay::end_like(status))
}

/// Without Unix pipes, pseudo-terminals and signals (Windows), the command runs with the
/// terminal's own output: `run` refused before reading any key unless masking is off.
#[cfg(not(unix))]
async fn supervise(
    mut command: std::process::Command,
    secrets: Option<&[&str]>,
    program: &std::ffi::OsStr,
) -> anyhow::Result<ExitCode> {
    debug_assert!(secrets.is_none(), "refused in run()");
    let mut child = command.spawn().map_err(|err| cannot_start(err, program))?;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await?
        .context("lost track of the command")?;
    Ok(ExitCode::from(
        status
            .code()
            .and_then(|code| u8::try_from(code).ok())
            .unwrap_or(1),
    ))
}

fn cannot_start(err: std::io::Error, program: &std::ffi::OsStr) -> anyhow::Error {
    anyhow::Error::new(err).context(format!(
        "cannot start {}",
        text::for_terminal(&program.to_string_lossy())
    ))
}
