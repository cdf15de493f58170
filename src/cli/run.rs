//! `keywarden run`: a command with keys in its environment, never on the clipboard or in a file.
//! Each `--env VAR=kw://ACCOUNT/KEY`, and each reference in an `--env-file`, becomes the key's
//! secret in the command's environment (other `.env` lines pass through as they are). Before it
//! starts, keys about to expire are named on stderr, and an expired, revoked or disabled key stops
//! the run (exit 2). The command's output is passed through with every secret concealed; its exit
//! code and the signals sent to `keywarden run` (SIGINT, SIGTERM, SIGHUP) are passed through.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::os::fd::AsRawFd as _;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};

use anyhow::{Context as _, anyhow, bail};
use std::io::{Read, Write};

use super::context::Context;
use super::mask::Masker;
use super::{dotenv, secrets};
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
    for file in &args.env_files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let parsed = dotenv::parse(&text).map_err(|err| anyhow!("{}: {err}", file.display()))?;
        for (name, value) in parsed {
            add(name, value)?;
        }
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

    let context = Context::load()?;
    let resolved = match secrets::resolve_for_use(&context, &references, args.allow_expired).await?
    {
        Ok(resolved) => resolved,
        Err(refusal) => {
            eprintln!("keywarden: {refusal}; nothing was run");
            return Ok(ExitCode::from(2));
        }
    };

    let (program, arguments) = args.command.split_first().expect("clap requires a command");
    let mut command = std::process::Command::new(program);
    command.args(arguments).stdin(Stdio::inherit());
    for (name, value) in &variables {
        match value {
            Value::Plain(text) => command.env(name, text),
            Value::Reference(index) => command.env(name, resolved[*index].secret.expose()),
        };
    }
    let masking = !args.no_masking && !resolved.is_empty();
    if masking {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // Caught before the command starts, so none arrives while nothing would pass it on.
    let signals = Signals::new()?;
    let mut child = command.spawn().with_context(|| {
        format!(
            "cannot start {}",
            text::for_terminal(&program.to_string_lossy())
        )
    })?;
    // Larger pipes from the command: fewer reads and wake-ups for a lot of output.
    for fd in [
        child.stdout.as_ref().and_then(|s| s.as_raw_fd().into()),
        child.stderr.as_ref().and_then(|s| s.as_raw_fd().into()),
    ]
    .into_iter()
    .flatten()
    {
        // SAFETY: F_SETPIPE_SZ only resizes the pipe behind a descriptor this process holds; a
        // refusal (over the system's limit) leaves the default size.
        unsafe {
            libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
        }
    }
    // The output is copied on threads of its own: plain blocking reads and writes are the
    // fastest way through (a runtime's stdout hands each write to another thread).
    let secrets: Vec<&str> = resolved.iter().map(|r| r.secret.expose()).collect();
    let pumps = match (child.stdout.take(), child.stderr.take()) {
        (Some(stdout), Some(stderr)) => {
            let (out_masker, err_masker) = (Masker::new(&secrets), Masker::new(&secrets));
            Some((
                std::thread::spawn(move || pump(stdout, std::io::stdout().lock(), out_masker)),
                std::thread::spawn(move || pump(stderr, std::io::stderr().lock(), err_masker)),
            ))
        }
        _ => None,
    };
    let pid = child.id();
    let waiting = tokio::task::spawn_blocking(move || child.wait());
    let status = signals.wait_forwarding(pid, waiting).await?;
    if let Some((stdout, stderr)) = pumps {
        let _ = stdout.join();
        let _ = stderr.join();
    }
    Ok(exit_code(status))
}

/// Copies `from` to `to`, concealing the secrets, until `from` ends or `to` is closed.
fn pump(mut from: impl Read, mut to: impl Write, mut masker: Masker) -> std::io::Result<()> {
    let mut buffer = vec![0u8; 256 * 1024];
    let mut out = Vec::with_capacity(buffer.len() + 64);
    loop {
        let read = match from.read(&mut buffer) {
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        out.clear();
        if read == 0 {
            masker.finish(&mut out);
            to.write_all(&out)?;
            return to.flush();
        }
        masker.push(&buffer[..read], &mut out);
        to.write_all(&out)?;
        to.flush()?;
    }
}

/// The signals `keywarden run` passes on to its command.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the command, passing SIGTERM and SIGHUP on to it, and SIGINT when it did not
    /// come from the terminal (a terminal's Ctrl-C reaches the command directly, as the same
    /// process group).
    async fn wait_forwarding(
        mut self,
        pid: u32,
        mut waiting: tokio::task::JoinHandle<std::io::Result<std::process::ExitStatus>>,
    ) -> anyhow::Result<std::process::ExitStatus> {
        let from_terminal = std::io::stdin().is_terminal();
        loop {
            let signal = tokio::select! {
                status = &mut waiting => return Ok(status??),
                _ = self.interrupt.recv() => {
                    if from_terminal {
                        continue;
                    }
                    libc::SIGINT
                }
                _ = self.terminate.recv() => libc::SIGTERM,
                _ = self.hangup.recv() => libc::SIGHUP,
            };
            if let Ok(pid) = i32::try_from(pid) {
                // SAFETY: kill only sends a signal to the child this process started, which has
                // not been waited for yet (so its pid is still its own).
                unsafe {
                    libc::kill(pid, signal);
                }
            }
        }
    }
}

/// The command's own exit code; killed by a signal, 128 + the signal, as a shell says it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        (None, Some(signal)) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)),
        (None, None) => ExitCode::FAILURE,
    }
}
