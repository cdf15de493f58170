//! What the app does with files: backup and restore, import, the desktop's file chooser, the
//! projects allowed to have keys, and the backup reminder. Every file, keychain and D-Bus call
//! runs off the UI thread; the answer comes back as a message.

use chrono::Utc;

use super::KeywardenApp;
use super::messages::Msg;
use crate::secret::Secret;

impl KeywardenApp {
    /// Backs up to, or restores from, `path`, as the command line does, off the UI thread.
    pub(super) fn transfer(
        &mut self,
        path: std::path::PathBuf,
        passphrase: Secret,
        restore: bool,
        dry_run: bool,
    ) {
        let Some(data_dir) = self.data_dir.clone() else {
            return;
        };
        let keeper = self.keeper.clone();
        let cache = self.list_cache.clone();
        let config = self.state.config.clone();
        let database_url = self.local_database_url.clone();
        self.bridge.spawn(async move {
            use crate::transfer::backup::{Contents, Key};
            use crate::transfer::local::{Here, Restore, write_backup};
            let here = Here {
                keeper: &keeper,
                data_dir: &data_dir,
                cache: cache.as_ref(),
            };
            let key = Key::Passphrase(passphrase);
            let result = async {
                if restore {
                    let file = std::fs::read(&path)
                        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
                    // The passphrase's key derivation is heavy by design: off the runtime.
                    let contents = tokio::task::spawn_blocking(move || Contents::open(&file, &key))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                    let mut config = config;
                    let how = Restore {
                        force: false,
                        write: !dry_run,
                        fresh_config: false,
                    };
                    let database = crate::local::database_file(&database_url)?;
                    let lines = here.restore(&contents, &mut config, &database, how).await?;
                    Ok((lines, how.write.then_some(config)))
                } else {
                    let now = Utc::now();
                    let database = crate::local::snapshot(&database_url).await?;
                    let contents = here.collect(&config, database, now).await?;
                    let summary = contents.summary();
                    let sealed = tokio::task::spawn_blocking(move || contents.seal(&key))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                    write_backup(&path, &sealed, false, &data_dir, now)?;
                    Ok((vec![format!("{summary} to {}", path.display())], None))
                }
            }
            .await;
            Msg::Transferred(result)
        });
    }

    /// Reads the files allowed to have keys here, off the UI thread; first takes back the
    /// consent of `revoke`, when given.
    pub(super) fn load_projects(&mut self, revoke: Option<std::path::PathBuf>) {
        let Some(data_dir) = self.data_dir.clone() else {
            return;
        };
        self.bridge.spawn_blocking(move || {
            let consents = crate::project::Consents::new(&data_dir);
            let result = match revoke {
                Some(path) => consents.deny(&path).and_then(|_| consents.list()),
                None => consents.list(),
            };
            Msg::Projects(result)
        });
    }

    /// Asks the session bus once whether the desktop has a file chooser.
    pub(super) fn look_for_file_chooser(&mut self) {
        if self.state.file_chooser.is_none() {
            self.bridge
                .spawn_blocking(|| Msg::FileChooser(crate::gui::file_chooser::available()));
        }
    }

    /// Opens the desktop's file chooser for a path field; it answers when the user has chosen.
    pub(super) fn choose_file(&mut self, field: crate::gui::state::PathField) {
        use crate::gui::file_chooser::{Purpose, choose};
        use crate::gui::state::PathField;
        let (title, purpose) = match (&self.state.dialog, field) {
            (Some(crate::gui::state::Dialog::Transfer(draft)), PathField::Transfer)
                if !draft.restore =>
            {
                (
                    "Back up Keywarden's keys to",
                    Purpose::Save(format!(
                        "keywarden-backup-{}.age",
                        Utc::now().format("%Y-%m-%d")
                    )),
                )
            }
            (_, PathField::Transfer) => ("Restore Keywarden's keys from", Purpose::Open),
            (_, PathField::Import) => ("Import keys from", Purpose::Open),
            (_, PathField::KeyFile) => ("The KeePassXC database's key file", Purpose::Open),
        };
        self.bridge
            .spawn_blocking(move || Msg::FileChosen(field, choose(title, &purpose)));
    }

    /// Imports the keys of a file as `keywarden import` does: read (and the database's key
    /// derivation) off the runtime, all stored or none, a `.env` file rewritten when asked.
    pub(super) fn import(&mut self, request: crate::gui::state::ImportRequest) {
        let Some(data_dir) = self.data_dir.clone() else {
            return;
        };
        let keeper = self.keeper.clone();
        let config = self.state.config.clone();
        self.bridge.spawn(async move {
            use crate::transfer::import;
            let result = async {
                let path = request.path.clone();
                let (bytes, read) = tokio::task::spawn_blocking(move || {
                    let mut options = request.options;
                    if let Some(key_file) = &request.key_file {
                        options.key_file = Some(std::fs::read(key_file).map_err(|err| {
                            format!("cannot read the key file {}: {err}", key_file.display())
                        })?);
                    }
                    let bytes = import::read_file(&request.path)?;
                    let name = request.path.file_name().map_or_else(
                        || request.path.display().to_string(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    let read = import::read(&bytes, &name, request.format, &options)
                        .map_err(|err| format!("{}: {err}", request.path.display()))?;
                    Ok::<_, String>((bytes, read))
                })
                .await
                .map_err(|e| e.to_string())??;
                if request.rewrite {
                    read.format.check_rewrite()?;
                }
                let here = crate::transfer::local::Here {
                    keeper: &keeper,
                    data_dir: &data_dir,
                    cache: None,
                };
                let report = here.import(&config, &read, !request.dry_run).await?;
                let mut lines = report.lines.clone();
                if request.rewrite {
                    let text = String::from_utf8_lossy(&bytes);
                    lines.push(
                        import::env_file::rewrite(&path, &text, &read, &report, &keeper).await?,
                    );
                }
                Ok((lines, !request.dry_run))
            }
            .await;
            Msg::Imported(result)
        });
    }

    /// Whether a backup is due, for the banner: keys held here and none made in 30 days.
    pub(super) fn check_backup_due(&mut self) {
        let (Some(dir), false) = (self.data_dir.clone(), self.state.held.is_empty()) else {
            return;
        };
        self.bridge.spawn_blocking(move || {
            Msg::BackupDue(crate::transfer::backup::backup_reminder(&dir, Utc::now()))
        });
    }
}
