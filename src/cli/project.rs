//! A repository's keys on the command line: the variables `run` and `env` take from the project
//! file (`crate::project`), `.env` files and templates, the consent they need first, and the
//! commands `allow`, `deny` and `env`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use chrono::Utc;

use super::context::Context;
use super::secrets;
use crate::project::{self, Asks, Consents, Project};
use crate::sources::reference::{Reference, SCHEME};
use crate::text;

/// A file whose variables a command uses, as read: what consent is asked for.
pub struct Used {
    /// Absolute, links resolved.
    pub path: PathBuf,
    pub content: Vec<u8>,
    pub asks: Asks,
}

/// A file's variables, with what consent needs of it.
pub type Variables = (Used, Vec<(String, String)>);

/// The project file found from the current directory (unless `skip`), its variables with the
/// profile's.
pub fn project_variables(skip: bool, profile: Option<&str>) -> anyhow::Result<Option<Variables>> {
    if skip {
        return Ok(None);
    }
    let here = std::env::current_dir().context("cannot read the current directory")?;
    let Some(path) = project::find(&here) else {
        if let Some(profile) = profile {
            bail!(
                "--profile {}: no {} here or in a parent directory",
                text::for_terminal(profile),
                project::FILE_NAME
            );
        }
        return Ok(None);
    };
    let project =
        Project::load(&path).map_err(|err| anyhow!(text::for_terminal(&err).into_owned()))?;
    let variables = project
        .variables(profile)
        .map_err(|err| anyhow!(text::for_terminal(&err).into_owned()))?;
    Ok(Some((project_used(project)?, variables)))
}

/// A `.env` file's variables.
pub fn env_file_variables(path: &Path) -> anyhow::Result<Variables> {
    let content = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = std::str::from_utf8(&content)
        .map_err(|_| anyhow!("{} is not UTF-8 text", path.display()))?;
    let variables =
        crate::dotenv::parse(text).map_err(|err| anyhow!("{}: {err}", path.display()))?;
    let used = Used {
        path: project::canonical(path).map_err(|e| anyhow!(e))?,
        asks: Asks::of(&variables),
        content,
    };
    Ok((used, variables))
}

/// What a file asks for, whatever it is: a project file (by its name), a template (it has
/// `{{ kw://… }}` placeholders), or a `.env` file.
fn file_asks(path: &Path) -> anyhow::Result<Used> {
    if path.file_name().is_some_and(|n| n == project::FILE_NAME) {
        let project =
            Project::load(path).map_err(|err| anyhow!(text::for_terminal(&err).into_owned()))?;
        return project_used(project);
    }
    let content = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(references) = super::inject::template_references(&String::from_utf8_lossy(&content)) {
        return template_used(path, &content, &references);
    }
    Ok(env_file_variables(path)?.0)
}

/// A project file's consent: it asks for what any of its profiles may set.
fn project_used(project: Project) -> anyhow::Result<Used> {
    Ok(Used {
        path: project::canonical(&project.path).map_err(|e| anyhow!(e))?,
        asks: Asks::of(&project.all_variables()),
        content: project.content,
    })
}

/// A template's consent: it asks for the references it names.
pub fn template_used(
    path: &Path,
    content: &[u8],
    references: &[Reference],
) -> anyhow::Result<Used> {
    Ok(Used {
        path: project::canonical(path).map_err(|e| anyhow!(e))?,
        content: content.to_vec(),
        asks: Asks {
            references: references
                .iter()
                .map(|r| ("{{ }}".to_string(), r.to_string()))
                .collect(),
            steering: Vec::new(),
        },
    })
}

/// Checks that every file that needs consent has it. `Err` is what to tell the user: which keys
/// each asks for, what it steers, and the command that agrees; the caller prints it and stops
/// with exit code 2.
pub async fn check_consent(
    context: &Context,
    files: &[Used],
) -> anyhow::Result<Result<(), String>> {
    let consents = Consents::new(&super::data_dir()?);
    let mut refusals = Vec::new();
    for file in files.iter().filter(|f| f.asks.needs_consent()) {
        if !consents
            .allowed(&file.path, &file.content)
            .map_err(|e| anyhow!(e))?
        {
            let shown = text::for_terminal(&file.path.display().to_string()).into_owned();
            refusals.push(format!(
                "{shown} was not allowed on this computer, or changed since; it asks for:\n{}\
                 Agree with: keywarden allow {}",
                describe(context, &file.asks).await,
                shell_word(&shown)
            ));
        }
    }
    Ok(if refusals.is_empty() {
        Ok(())
    } else {
        Err(refusals.join("\n"))
    })
}

/// Notes that the files' keys were used now (for the app's Projects view); a failure to note it
/// is only warned about.
pub fn note_used(files: &[Used]) {
    let Ok(dir) = super::data_dir() else { return };
    let consents = Consents::new(&dir);
    let now = Utc::now();
    for file in files.iter().filter(|f| f.asks.needs_consent()) {
        if let Err(err) = consents.used(&file.path, now) {
            eprintln!("keywarden: warning: {}", text::for_terminal(&err));
        }
    }
}

/// The lines of a consent prompt: each key asked for (its account, name, service and expiry)
/// and, apart, each variable that steers.
async fn describe(context: &Context, asks: &Asks) -> String {
    let mut lines = String::new();
    for (variable, reference) in &asks.references {
        let shown = text::for_terminal(reference).into_owned();
        let key = match Reference::parse(reference) {
            Ok(parsed) => match secrets::find(context, std::slice::from_ref(&parsed)).await {
                Ok(found) => found.into_iter().next().map(|(_, key)| {
                    format!(
                        "\"{}\" of {} ({}), {}",
                        text::for_terminal(&key.name),
                        text::for_terminal(&key.source),
                        key.service().name,
                        key.expires_at.map_or_else(
                            || "does not expire".to_string(),
                            |at| format!("expires {}", at.format("%Y-%m-%d"))
                        )
                    )
                }),
                Err(err) => Some(format!(
                    "not found here ({})",
                    text::for_terminal(&err.to_string())
                )),
            },
            Err(err) => Some(text::for_terminal(&err).into_owned()),
        };
        lines.push_str(&format!(
            "  {} = {shown}: {}\n",
            text::for_terminal(variable),
            key.unwrap_or_default()
        ));
    }
    if !asks.steering.is_empty() {
        lines.push_str("and sets what decides which programs run or where keys go:\n");
        for (variable, value) in &asks.steering {
            lines.push_str(&format!(
                "  {} = {}\n",
                text::for_terminal(variable),
                text::for_terminal(value)
            ));
        }
    }
    lines
}

/// `text` as one POSIX shell word when it needs quoting.
fn shell_word(text: &str) -> String {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[derive(Debug, clap::Args)]
pub struct AllowArgs {
    /// The project file (or its directory), `.env` file or template; the project file found from
    /// here by default.
    path: Option<PathBuf>,
    /// List the files allowed on this computer instead.
    #[arg(long, conflicts_with = "path")]
    list: bool,
    /// With --list: as JSON.
    #[arg(long, requires = "list")]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    /// The file (or project directory) whose consent to take back; the project file found from
    /// here by default.
    path: Option<PathBuf>,
}

/// The file `path` names (a directory: its project file), or the project file found from here.
fn chosen_file(path: Option<&Path>) -> anyhow::Result<PathBuf> {
    match path {
        Some(dir) if dir.is_dir() => Ok(dir.join(project::FILE_NAME)),
        Some(file) => Ok(file.to_path_buf()),
        None => {
            let here = std::env::current_dir().context("cannot read the current directory")?;
            project::find(&here).ok_or_else(|| {
                anyhow!(
                    "no {} here or in a parent directory: name the file to allow",
                    project::FILE_NAME
                )
            })
        }
    }
}

pub async fn allow(args: AllowArgs) -> anyhow::Result<ExitCode> {
    let consents = Consents::new(&super::data_dir()?);
    if args.list {
        let list = consents.list().map_err(|e| anyhow!(e))?;
        if args.json {
            let json = serde_json::to_string_pretty(&list)?;
            println!("{}", text::json_for_terminal(json));
        } else if list.is_empty() {
            println!("no file is allowed on this computer");
        } else {
            for consent in &list {
                println!(
                    "{}: {} key(s){}, allowed {}, {}",
                    text::for_terminal(&consent.path.display().to_string()),
                    consent.asks.references.len(),
                    if consent.asks.steering.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", sets {}",
                            consent
                                .asks
                                .steering
                                .iter()
                                .map(|(n, _)| n.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                    consent.allowed_at.format("%Y-%m-%d %H:%M UTC"),
                    consent.last_used_at.map_or_else(
                        || "not used since".to_string(),
                        |at| format!("last used {}", at.format("%Y-%m-%d %H:%M UTC"))
                    )
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let file = chosen_file(args.path.as_deref())?;
    let used = file_asks(&file)?;
    let context = Context::load()?;
    let said = describe(&context, &used.asks).await;
    consents
        .allow(&used.path, &used.content, used.asks)
        .map_err(|e| anyhow!(e))?;
    println!(
        "allowed {} as it is now; it may have:\n{said}",
        text::for_terminal(&used.path.display().to_string())
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn deny(args: DenyArgs) -> anyhow::Result<ExitCode> {
    let file = chosen_file(args.path.as_deref())?;
    let path = project::canonical(&file).unwrap_or(file);
    let consents = Consents::new(&super::data_dir()?);
    let shown = text::for_terminal(&path.display().to_string()).into_owned();
    if consents.deny(&path).map_err(|e| anyhow!(e))? {
        println!("{shown} gets no key from now on");
    } else {
        println!("{shown} was not allowed");
    }
    Ok(ExitCode::SUCCESS)
}

/// How `keywarden env` prints the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `export NAME='value'` for sh, bash, zsh (and direnv's .envrc).
    Sh,
    /// `set -gx NAME 'value'` for fish.
    Fish,
    /// `NAME="value"` lines.
    Dotenv,
    /// One JSON object.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct EnvArgs {
    /// The project file's profile to use over its common variables.
    #[arg(long)]
    profile: Option<String>,
    #[arg(long, value_enum, default_value = "sh")]
    format: Format,
    /// Use even an expired, revoked or disabled key (it is named on stderr).
    #[arg(long)]
    allow_expired: bool,
    /// Install direnv's `use keywarden` (in direnv's lib directory) and say how to use it.
    #[arg(long, conflicts_with_all = ["profile", "allow_expired"])]
    install_direnv: bool,
}

/// direnv's `use keywarden [PROFILE]`: the project's variables, reloaded when the file changes.
const DIRENV_HELPER: &str = r#"# Installed by `keywarden env --install-direnv`: `use keywarden [PROFILE]` in an .envrc.
use_keywarden() {
  local file
  file=$(find_up .keywarden.toml) && watch_file "$file"
  local exports
  exports=$(keywarden env --format sh ${1:+--profile "$1"}) || return 1
  eval "$exports"
}
"#;

/// `keywarden env`: the project's variables for a shell. Stdout carries only the exports, and
/// nothing at all unless every variable is set: a warning goes to stderr, a failure leaves
/// stdout empty with a non-zero exit code (2 for a file not allowed or a key that cannot be
/// used).
pub async fn env(args: EnvArgs) -> anyhow::Result<ExitCode> {
    if args.install_direnv {
        return install_direnv();
    }
    secrets::keep_out_of_core_dumps()?;
    let Some((used, variables)) = project_variables(false, args.profile.as_deref())? else {
        bail!("no {} here or in a parent directory", project::FILE_NAME);
    };
    let context = Context::load()?;
    let files = [used];
    if let Err(refusal) = check_consent(&context, &files).await? {
        eprintln!("keywarden: {}", refusal.trim_end());
        return Ok(ExitCode::from(2));
    }
    let references: Vec<Reference> = variables
        .iter()
        .filter(|(_, v)| v.starts_with(SCHEME))
        .map(|(_, v)| secrets::parse(v))
        .collect::<anyhow::Result<_>>()?;
    let secrets = match secrets::resolve_for_use(&context, &references, args.allow_expired).await? {
        Ok(secrets) => secrets,
        Err(refusal) => {
            eprintln!(
                "keywarden: {}; nothing was set",
                text::for_terminal(&refusal)
            );
            return Ok(ExitCode::from(2));
        }
    };
    let mut secrets = secrets.iter();
    let mut values = Vec::with_capacity(variables.len());
    for (name, value) in &variables {
        let value = if value.starts_with(SCHEME) {
            secrets.next().map(|s| s.expose()).unwrap_or_default()
        } else {
            value.as_str()
        };
        values.push((name.as_str(), value));
    }
    let out = zeroize::Zeroizing::new(render(&values, args.format));
    note_used(&files);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The variables in a shell's or a file's syntax.
fn render(values: &[(&str, &str)], format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Sh => {
            for (name, value) in values {
                out.push_str(&format!(
                    "export {name}='{}'\n",
                    value.replace('\'', r"'\''")
                ));
            }
        }
        Format::Fish => {
            for (name, value) in values {
                let value = value.replace('\\', r"\\").replace('\'', r"\'");
                out.push_str(&format!("set -gx {name} '{value}';\n"));
            }
        }
        Format::Dotenv => {
            for (name, value) in values {
                let value = value
                    .replace('\\', r"\\")
                    .replace('"', "\\\"")
                    .replace('\n', r"\n")
                    .replace('\r', r"\r")
                    .replace('\t', r"\t");
                out.push_str(&format!("{name}=\"{value}\"\n"));
            }
        }
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = values
                .iter()
                .map(|(n, v)| (n.to_string(), serde_json::Value::from(*v)))
                .collect();
            out = serde_json::Value::Object(map).to_string();
            out.push('\n');
        }
    }
    out
}

fn install_direnv() -> anyhow::Result<ExitCode> {
    // direnv's own rule, on every system (not the platform's config directory: on macOS that
    // is ~/Library/Application Support, where direnv never looks).
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".config")))
        .context("cannot find the user's config directory (is HOME set?)")?;
    let dir = config.join("direnv/lib");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file = dir.join("keywarden.sh");
    crate::files::write_atomic(&file, DIRENV_HELPER.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "installed {}: write `use keywarden` (or `use keywarden PROFILE`) in a project's .envrc, \
         then `direnv allow` there and `keywarden allow` for its {}",
        file.display(),
        project::FILE_NAME
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_each_shell() {
        let values = [("A", "it's $HOME `x` \\ \"q\"\nline")];
        assert_eq!(
            render(&values, Format::Sh),
            "export A='it'\\''s $HOME `x` \\ \"q\"\nline'\n"
        );
        assert_eq!(
            render(&values, Format::Fish),
            "set -gx A 'it\\'s $HOME `x` \\\\ \"q\"\nline';\n"
        );
        assert_eq!(
            render(&values, Format::Dotenv),
            "A=\"it's $HOME `x` \\\\ \\\"q\\\"\\nline\"\n"
        );
        let parsed = crate::dotenv::parse(&render(&values, Format::Dotenv)).unwrap();
        assert_eq!(parsed, vec![("A".to_string(), values[0].1.to_string())]);
    }
}
