//! How a secret reaches the developer: read from a hidden prompt or stdin, reported once made
//! (printed, as JSON, or copied), and served on the clipboard until it is cleared.

use std::time::Duration as StdDuration;

use anyhow::bail;
use chrono::Utc;
use serde::Serialize;

use crate::cli::context::Context;
use crate::cli::output::{expiry_text, to_json};
use crate::secret::Secret;
use crate::sources::SourceKey;
use crate::text;
use crate::vault::clipboard;

/// Where a new secret goes besides the keychain: the options of `generate`, `rotate` and `renew`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(super) struct Flags {
    /// Put the secret on the clipboard (served until it is cleared).
    #[arg(long)]
    pub(super) copy: bool,
    /// Print the secret on stdout.
    #[arg(long)]
    pub(super) print: bool,
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Serialize)]
struct NewSecret<'a> {
    key: &'a SourceKey,
    stored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<&'a str>,
}

/// A secret from stdin when it is not a terminal (the first line), else from a hidden prompt.
pub(super) fn read_secret(prompt: &str) -> anyhow::Result<Secret> {
    use std::io::{BufRead as _, IsTerminal as _};
    let secret = if std::io::stdin().is_terminal() {
        Secret::new(rpassword::prompt_password(prompt)?)
    } else {
        let mut line = zeroize::Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        Secret::new(line.trim().to_string())
    };
    if secret.expose().is_empty() {
        bail!("no key was given (paste it on stdin or at the prompt)");
    }
    if secret.expose().chars().any(char::is_whitespace) {
        bail!("the key contains spaces or line breaks: paste the key alone");
    }
    Ok(secret)
}

pub(super) fn report_new_secret(
    context: &Context,
    key: &SourceKey,
    secret: &Secret,
    stored: bool,
    flags: Flags,
    verb: &str,
) -> anyhow::Result<()> {
    let output = if flags.json {
        to_json(&NewSecret {
            key,
            stored,
            secret: flags.print.then(|| secret.expose()),
        })?
    } else {
        let mut text = format!(
            "{verb} key {} {:?} ({}) on {}, {}{}\n",
            key.id,
            text::for_terminal(&key.name),
            text::for_terminal(&key.hint),
            key.source,
            expiry_text(key.expires_at, Utc::now()),
            if stored {
                "; the secret is in the keychain"
            } else {
                ""
            }
        );
        if flags.print {
            text.push_str(secret.expose());
            text.push('\n');
        }
        text
    };
    print!("{output}");
    if flags.copy {
        serve_clipboard(secret, context.config.clipboard_clear_secs.max(1))?;
    }
    Ok(())
}

/// Copies and keeps serving the clipboard (X11 needs a living owner) until the clear time.
pub(super) fn serve_clipboard(text: &Secret, seconds: u64) -> anyhow::Result<()> {
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
