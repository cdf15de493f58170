//! `keywarden remind install|uninstall`: a daily `keywarden check --notify` while the app is closed,
//! as a systemd user timer where systemd runs, else an XDG autostart entry (at each login).

use std::path::{Path, PathBuf};
use std::process::{Command as Process, ExitCode};

use anyhow::{Context as _, bail};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Install the daily check.
    Install {
        /// Use an XDG autostart entry even where systemd runs.
        #[arg(long)]
        autostart: bool,
    },
    /// Remove the daily check, whichever way it was installed.
    Uninstall,
}

const UNIT: &str = "keywarden-check";

fn config_dir() -> anyhow::Result<PathBuf> {
    dirs::config_dir().context("cannot find the user's config directory (is HOME set?)")
}

fn systemd_dir() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("systemd/user"))
}

fn autostart_file() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?
        .join("autostart")
        .join(format!("{UNIT}.desktop")))
}

fn systemd_user_available() -> bool {
    Process::new("systemctl")
        .args(["--user", "show-environment"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn systemctl(args: &[&str]) -> anyhow::Result<()> {
    let status = Process::new("systemctl")
        .arg("--user")
        .args(args)
        .status()
        .context("cannot run systemctl")?;
    if !status.success() {
        bail!("`systemctl --user {}` failed", args.join(" "));
    }
    Ok(())
}

pub fn service_unit(exe: &Path) -> String {
    format!(
        "[Unit]\nDescription=Keywarden: notify about expiring API keys\n\n[Service]\nType=oneshot\n\
         ExecStart=\"{}\" check --notify\n# check exits 1 or 2 when keys expire: that is news, not failure.\n\
         SuccessExitStatus=1 2\n",
        exe.display()
    )
}

pub fn timer_unit() -> String {
    "[Unit]\nDescription=Daily Keywarden expiry check\n\n[Timer]\nOnCalendar=daily\nPersistent=true\n\
     RandomizedDelaySec=15min\n\n[Install]\nWantedBy=timers.target\n"
        .to_string()
}

pub fn autostart_entry(exe: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=Keywarden expiry check\n\
         Comment=Notify about API keys that expire soon\nExec=\"{}\" check --notify\nIcon={}\n\
         Terminal=false\nNoDisplay=true\nX-GNOME-Autostart-enabled=true\n",
        exe.display(),
        crate::gui::APP_ID
    )
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Install { autostart } => {
            if cfg!(any(target_os = "macos", windows)) {
                bail!(
                    "`keywarden remind` sets up a systemd timer or an XDG autostart entry, which \
                     this system does not run: have launchd (macOS) or Task Scheduler (Windows) \
                     run `keywarden check --notify` daily instead"
                );
            }
            let exe = std::env::current_exe().context("cannot find this program's path")?;
            if !autostart && systemd_user_available() {
                let dir = systemd_dir()?;
                write(&dir.join(format!("{UNIT}.service")), &service_unit(&exe))?;
                write(&dir.join(format!("{UNIT}.timer")), &timer_unit())?;
                systemctl(&["daemon-reload"])?;
                systemctl(&["enable", "--now", &format!("{UNIT}.timer")])?;
                println!(
                    "installed a daily systemd user timer: {}",
                    dir.join(format!("{UNIT}.timer")).display()
                );
            } else {
                let file = autostart_file()?;
                write(&file, &autostart_entry(&exe))?;
                println!(
                    "installed an autostart entry that checks at each login: {}",
                    file.display()
                );
            }
        }
        Command::Uninstall => {
            let mut removed = Vec::new();
            let dir = systemd_dir()?;
            let timer = dir.join(format!("{UNIT}.timer"));
            if timer.exists() && systemd_user_available() {
                let _ = systemctl(&["disable", "--now", &format!("{UNIT}.timer")]);
            }
            for file in [
                timer,
                dir.join(format!("{UNIT}.service")),
                autostart_file()?,
            ] {
                if file.exists() {
                    std::fs::remove_file(&file)
                        .with_context(|| format!("cannot remove {}", file.display()))?;
                    removed.push(file.display().to_string());
                }
            }
            if removed.is_empty() {
                println!("no daily check was installed");
            } else {
                println!("removed {}", removed.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
