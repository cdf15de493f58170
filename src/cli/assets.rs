//! `keywarden assets DIR` (hidden; for packaging): the man pages of `keywarden` and of every
//! subcommand (`man/man1/keywarden-keys-list.1`), and completions for bash, zsh and fish
//! (`completions/`), all made from the command line's own definitions, so they cannot drift
//! from it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write `man/man1/` and `completions/`.
    dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let command = super::Cli::command();
    let man = args.dir.join("man/man1");
    std::fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    let pages = man_pages(&command, "keywarden", &man)?;
    let completions = args.dir.join("completions");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("cannot create {}", completions.display()))?;
    use clap_complete::Shell;
    for (shell, name) in [
        (Shell::Bash, "keywarden.bash"),
        (Shell::Zsh, "_keywarden"),
        (Shell::Fish, "keywarden.fish"),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut super::Cli::command(), "keywarden", &mut out);
        let file = completions.join(name);
        std::fs::write(&file, out).with_context(|| format!("cannot write {}", file.display()))?;
    }
    println!(
        "{pages} man page(s) in {}, completions for bash, zsh and fish in {}",
        man.display(),
        completions.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The page of `command` (named `name`) and of each of its visible subcommands; how many.
/// `name` is the page's (`keywarden-keys-list`); the synopsis shows the command as it is typed
/// (`keywarden keys list`).
fn man_pages(command: &clap::Command, name: &str, dir: &Path) -> anyhow::Result<usize> {
    let mut page = Vec::new();
    let typed = name.replace('-', " ");
    clap_mangen::Man::new(command.clone().name(name.to_string()).bin_name(typed))
        .render(&mut page)
        .context("cannot make a man page")?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, page).with_context(|| format!("cannot write {}", file.display()))?;
    let mut pages = 1;
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        pages += man_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(pages)
}
