//! Desktop notifications for keys crossing a threshold: once per key per threshold, remembered across
//! restarts in the data directory (no secrets), so a restart never repeats one and a threshold
//! crossed while nothing ran is reported once, next time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ExpiryClass, Reminded, Thresholds, key_class};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot show a desktop notification (is a notification daemon running?): {0}")]
    Desktop(String),
}

/// A key that crossed a threshold and has not been reported at that threshold yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    pub key_id: String,
    pub name: String,
    pub server: String,
    pub class: ExpiryClass,
    pub expires_at: DateTime<Utc>,
    /// The command that renews the key.
    pub renew_command: String,
    /// Where the key is, in words; `None`: on `server`.
    pub whereabouts: Option<String>,
}

impl Reminder {
    pub fn summary(&self) -> String {
        match self.class {
            ExpiryClass::Expired => format!("API key \"{}\" has expired", self.name),
            _ => format!(
                "API key \"{}\" expires {}",
                self.name,
                crate::reminders::time_left(self.expires_at)
            ),
        }
    }

    pub fn body(&self) -> String {
        // Notification daemons show the body as it is (some read a little markup): plain words,
        // no Markdown.
        let place = match &self.whereabouts {
            Some(place) => place.clone(),
            None => format!("On {}", self.server),
        };
        format!(
            "{place}. Renew it in Keywarden, or run {} in a terminal.",
            self.renew_command
        )
    }
}

/// The highest class each key was reported at, by server and key id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NotifiedLog {
    reported: BTreeMap<String, ExpiryClass>,
}

impl NotifiedLog {
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join("reminders.json")
    }

    /// The log at `path`; empty when there is none. A damaged file is moved aside (`.bad`) so
    /// nothing is lost, and reminders start afresh.
    pub fn load(path: &Path) -> Result<NotifiedLog, NotifyError> {
        let io = |source| NotifyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(log) => Ok(log),
                Err(_) => {
                    std::fs::rename(path, path.with_extension("json.bad")).map_err(io)?;
                    Ok(NotifiedLog::default())
                }
            },
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(NotifiedLog::default()),
            Err(err) => Err(io(err)),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), NotifyError> {
        let io = |source| NotifyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_vec_pretty(self).map_err(|err| io(std::io::Error::other(err)))?;
        crate::files::write_atomic(path, &text).map_err(io)
    }

    /// The reminders due for `keys` of `server` at `now`, marked as reported. Only the current class
    /// is reported: a key that went from ok to critical while nothing ran gets one notification.
    pub fn due<K: Reminded>(
        &mut self,
        server: &str,
        keys: &[K],
        now: DateTime<Utc>,
        thresholds: &Thresholds,
    ) -> Vec<Reminder> {
        let mut due = Vec::new();
        for key in keys {
            let Some(class) = key_class(key, now, thresholds).filter(|c| *c != ExpiryClass::Ok)
            else {
                continue;
            };
            let Some(expires_at) = key.expiry() else {
                continue;
            };
            let entry = format!("{} on {server}", key.reminder_id());
            if self
                .reported
                .get(&entry)
                .is_some_and(|reported| *reported >= class)
            {
                continue;
            }
            self.reported.insert(entry, class);
            due.push(Reminder {
                key_id: key.reminder_id(),
                name: key.reminder_name().to_string(),
                server: server.to_string(),
                class,
                expires_at,
                renew_command: key.renew_command(),
                whereabouts: key.whereabouts(),
            });
        }
        due
    }
}

/// More reminders due at once than this are told in one notification, not one each.
pub const MAX_SEPARATE: usize = 3;

/// One notification for many due reminders: how many, and the soonest.
pub fn summary_of(due: &[Reminder]) -> (String, String) {
    let soonest = due.iter().min_by_key(|r| r.expires_at);
    let body = match soonest {
        Some(first) => format!(
            "The soonest is \"{}\" on {}: {}. Open Keywarden to renew them, or run keywarden \
             check in a terminal.",
            first.name,
            first.server,
            match first.class {
                ExpiryClass::Expired => "it has expired".to_string(),
                _ => format!(
                    "it expires {}",
                    crate::reminders::time_left(first.expires_at)
                ),
            }
        ),
        None => String::new(),
    };
    (format!("{} API keys need renewal", due.len()), body)
}

/// Shows one desktop notification (D-Bus on Linux, native on macOS and Windows). Blocks briefly.
pub fn show(reminder: &Reminder) -> Result<(), NotifyError> {
    show_text(&reminder.summary(), &reminder.body(), reminder.class)
}

/// Shows a notification. Every text in it may come from a server: the summary (plain text) has
/// control and invisible characters escaped, the body (markup to most daemons) `&`, `<` and `>`
/// too.
pub fn show_text(summary: &str, body: &str, class: ExpiryClass) -> Result<(), NotifyError> {
    let urgency = match class {
        ExpiryClass::Critical | ExpiryClass::Expired => notify_rust::Urgency::Critical,
        _ => notify_rust::Urgency::Normal,
    };
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Keywarden")
        .summary(&crate::text::for_terminal(summary))
        .body(&crate::text::for_notification(body))
        .icon("keywarden");
    #[cfg(all(unix, not(target_os = "macos")))]
    notification.urgency(urgency);
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let _ = urgency;
    notification
        .show()
        .map(drop)
        .map_err(|err| NotifyError::Desktop(err.to_string()))
}

/// Loads the log, records what is due, saves the log, then shows it: one notification each, or
/// one for all when more than [`MAX_SEPARATE`] are due at once (a first start with many keys
/// must not flood the desktop). Recorded before shown, so a process stopped meanwhile does not
/// tell them again. Returns how many reminders were due.
pub fn notify_due<K: Reminded>(
    log_path: &Path,
    server: &str,
    keys: &[K],
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Result<usize, NotifyError> {
    let mut log = NotifiedLog::load(log_path)?;
    let due = log.due(server, keys, now, thresholds);
    if due.is_empty() {
        return Ok(0);
    }
    log.save(log_path)?;
    if due.len() > MAX_SEPARATE {
        let (summary, body) = summary_of(&due);
        let class = due
            .iter()
            .map(|r| r.class)
            .max()
            .unwrap_or(ExpiryClass::Expiring);
        show_text(&summary, &body, class)?;
    } else {
        for reminder in &due {
            show(reminder)?;
        }
    }
    Ok(due.len())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    use crate::api::KeyInfo;

    fn key(id: i64, days_left: i64, now: DateTime<Utc>) -> KeyInfo {
        KeyInfo::sample(id, days_left, now)
    }

    /// Found on an earlier version: the body showed Markdown backticks around the command.
    #[test]
    fn reminders_are_plain_sentences() {
        let now = Utc::now();
        for class in [ExpiryClass::Expiring, ExpiryClass::Expired] {
            let reminder = Reminder {
                key_id: "12".into(),
                name: "billing api".into(),
                server: "this computer".into(),
                class,
                expires_at: now + Duration::days(3),
                renew_command: key(12, 3, now).renew_command(),
                whereabouts: None,
            };
            for text in [reminder.summary(), reminder.body()] {
                assert!(
                    !text.contains(['`', '*', '_', '<', '>', '[', ']']),
                    "markup in {text:?}"
                );
                assert!(
                    text.ends_with(|c: char| c.is_alphanumeric() || c == '.'),
                    "{text:?}"
                );
            }
            assert!(reminder.body().contains("keywarden keys rotate 12"));
        }
    }

    #[test]
    fn many_reminders_at_once_are_one_plain_sentence() {
        let now = Utc::now();
        let mut log = NotifiedLog::default();
        let keys: Vec<KeyInfo> = (1..=5).map(|id| key(id, 10 + id, now)).collect();
        let due = log.due("this computer", &keys, now, &Thresholds::default());
        assert!(due.len() > MAX_SEPARATE);
        let (summary, body) = summary_of(&due);
        assert_eq!(summary, "5 API keys need renewal");
        assert!(body.contains(&format!("\"{}\"", keys[0].name)), "{body}");
        for text in [summary, body] {
            assert!(!text.contains(['`', '*', '<', '>']), "{text}");
        }
    }

    #[test]
    fn keys_that_never_expire_are_never_reminded_of() {
        let now = Utc::now();
        let mut log = NotifiedLog::default();
        let mut replaced = crate::sources::sample_key("tracked", "old", Some(1));
        replaced.replaced_by = Some("new".into());
        let keys = [
            crate::sources::sample_key("tb", "6f1c-never", None),
            crate::sources::sample_key("tracked", "soon", Some(2)),
            replaced,
        ];
        let due = log.due("tracked", &keys, now, &Thresholds::default());
        assert_eq!(
            due.iter().map(|r| r.key_id.as_str()).collect::<Vec<_>>(),
            ["soon", "old"],
            "a replaced key not yet retired is reminded of when it expires first"
        );
        assert!(
            due[0]
                .body()
                .contains("keywarden keys renew soon --account tracked")
        );
        assert!(
            due[1]
                .body()
                .contains("keywarden keys delete old --account tracked")
        );
    }

    #[test]
    fn once_per_key_per_threshold_and_a_missed_one_once() {
        let now = Utc::now();
        let thresholds = Thresholds::default();
        let mut log = NotifiedLog::default();
        let keys = vec![key(1, 20, now), key(2, 100, now), key(3, -1, now)];
        let due = log.due("local", &keys, now, &thresholds);
        assert_eq!(
            due.iter()
                .map(|r| (r.key_id.as_str(), r.class))
                .collect::<Vec<_>>(),
            [("1", ExpiryClass::Expiring), ("3", ExpiryClass::Expired)]
        );
        assert!(
            log.due("local", &keys, now, &thresholds).is_empty(),
            "not twice"
        );
        // Thirteen days later key 1 is urgent: reported once more; key 2 is still fine.
        let later = now + Duration::days(13);
        let due = log.due("local", &keys, later, &thresholds);
        assert_eq!(
            due.iter()
                .map(|r| (r.key_id.as_str(), r.class))
                .collect::<Vec<_>>(),
            [("1", ExpiryClass::Urgent)]
        );
        // Another server's key with the same id is another key.
        assert_eq!(
            log.due("https://kw.example.com", &keys[..1], now, &thresholds)
                .len(),
            1
        );
    }

    #[test]
    fn the_log_survives_a_restart_and_a_damaged_one_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reminders.json");
        let now = Utc::now();
        let mut log = NotifiedLog::load(&path).unwrap();
        assert_eq!(
            log.due("local", &[key(1, 5, now)], now, &Thresholds::default())
                .len(),
            1
        );
        log.save(&path).unwrap();
        let mut reloaded = NotifiedLog::load(&path).unwrap();
        assert!(
            reloaded
                .due("local", &[key(1, 5, now)], now, &Thresholds::default())
                .is_empty()
        );
        std::fs::write(&path, "not json").unwrap();
        assert!(NotifiedLog::load(&path).unwrap().reported.is_empty());
        assert_eq!(
            std::fs::read_to_string(path.with_extension("json.bad")).unwrap(),
            "not json"
        );
    }
}
