//! `keywarden inject`: a template with `{{ kw://ACCOUNT/KEY }}` placeholders written out with the
//! keys' secrets, to stdout or to a file readable by its owner only (600) that it does not
//! overwrite unless told to. The same expiry warnings and refusals as `keywarden run`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::context::Context;
use super::secrets;
use crate::files;
use crate::sources::reference::{Reference, SCHEME};
use crate::text;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The template: `{{ kw://ACCOUNT/KEY }}` marks where each secret goes.
    #[arg(short = 'i', long = "in", value_name = "TEMPLATE")]
    input: PathBuf,
    /// Write here (created with mode 600) instead of stdout.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace FILE when it exists.
    #[arg(long)]
    force: bool,
    /// Inject even an expired, revoked or disabled key (it is named on stderr).
    #[arg(long)]
    allow_expired: bool,
}

/// A piece of a template: text as it is, or a placeholder's reference.
enum Piece<'a> {
    Text(&'a str),
    Reference(Reference),
}

/// The template cut at its `{{ kw://… }}` placeholders; other `{{ … }}` stay text. A placeholder
/// is the innermost `{{` before a `}}` (so `{{ x {{ kw://a/b }}` fills the second).
fn pieces(template: &str) -> anyhow::Result<Vec<Piece<'_>>> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(close) = rest.find("}}") {
        if let Some(open) = rest[..close].rfind("{{")
            && let inner = rest[open + 2..close].trim()
            && inner.starts_with(SCHEME)
        {
            pieces.push(Piece::Text(&rest[..open]));
            pieces.push(Piece::Reference(secrets::parse(inner)?));
        } else {
            pieces.push(Piece::Text(&rest[..close + 2]));
        }
        rest = &rest[close + 2..];
    }
    pieces.push(Piece::Text(rest));
    Ok(pieces)
}

/// The references a template's placeholders name; an error when it has none, or one is not a
/// reference.
pub(super) fn template_references(template: &str) -> anyhow::Result<Vec<Reference>> {
    let references = references_of(&pieces(template)?);
    if references.is_empty() {
        anyhow::bail!("no {{{{ kw://… }}}} placeholder in it");
    }
    Ok(references)
}

fn references_of(pieces: &[Piece<'_>]) -> Vec<Reference> {
    pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Reference(r) => Some(r.clone()),
            Piece::Text(_) => None,
        })
        .collect()
}

fn exists(path: &std::path::Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{} exists: give --force to replace it",
        text::for_terminal(&path.display().to_string())
    )
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Said before the keychain is asked; the write itself checks again.
    if let Some(output) = &args.output
        && output.symlink_metadata().is_ok()
        && !args.force
    {
        return Err(exists(output));
    }
    let template = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let pieces = pieces(&template)?;
    let references = references_of(&pieces);
    secrets::keep_out_of_core_dumps()?;
    let context = Context::load()?;
    // A template that names keys is used only with consent, as a project file is.
    let files = [super::project::template_used(
        &args.input,
        template.as_bytes(),
        &references,
    )?];
    if let Err(refusal) = super::project::check_consent(&context, &files).await? {
        eprintln!("keywarden: {}", refusal.trim_end());
        eprintln!("keywarden: nothing was written");
        return Ok(ExitCode::from(2));
    }
    let resolved = match secrets::resolve_for_use(&context, &references, args.allow_expired).await?
    {
        Ok(resolved) => resolved,
        Err(refusal) => {
            eprintln!(
                "keywarden: {}; nothing was written",
                crate::text::for_terminal(&refusal)
            );
            return Ok(ExitCode::from(2));
        }
    };
    let mut secrets = resolved.iter().map(|r| r.expose());
    // Wiped when done; large enough from the start that no copy is left behind by growing.
    let capacity = template.len() + resolved.iter().map(|r| r.expose().len()).sum::<usize>();
    let mut out = zeroize::Zeroizing::new(String::with_capacity(capacity));
    for piece in &pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Reference(_) => out.push_str(secrets.next().expect("one secret a reference")),
        }
    }
    match &args.output {
        Some(path) => {
            let written = if args.force {
                files::write_atomic(path, out.as_bytes())
            } else {
                files::write_new_atomic(path, out.as_bytes())
            };
            match written {
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(exists(path));
                }
                written => {
                    written.with_context(|| format!("cannot write {}", path.display()))?;
                }
            }
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
            stdout.flush()?;
        }
    }
    super::project::note_used(&files);
    Ok(ExitCode::SUCCESS)
}
