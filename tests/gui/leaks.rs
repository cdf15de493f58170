//! After a full scenario (sign in, generate, copy, rotate, revoke) no secret the test was shown is in
//! any file under the data, config or cache directories, nor in the log.

use std::path::Path;
use std::sync::Mutex;

use keywarden::gui::state::Dialog;
use keywarden::vault::LOCAL_OWNER_ACCOUNT;

use crate::support::{Fixture, Options, clipboard_lock, real_clipboard};

static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out)
        } else {
            out.push(path)
        }
    }
}

#[test]
fn no_secret_lands_in_a_file_or_the_log() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(|| LogWriter)
        .try_init();
    let _turn = clipboard_lock();
    let mut fx = Fixture::with(Options {
        clipboard: Ok(real_clipboard()),
        ..Default::default()
    });
    fx.wait_connected();
    let mut secrets = vec![
        fx.vault
            .get(LOCAL_OWNER_ACCOUNT)
            .unwrap()
            .expect("owner password"),
    ];

    let key = fx.generate("leak check");
    secrets.push(fx.held_secret(&key).unwrap());
    fx.select("leak check");
    fx.click("Copy as curl command");
    fx.wait_until("copied", |app| app.state.clipboard_clears_at.is_some());
    fx.click("Renew");
    fx.click(keywarden::gui::RENEW);
    fx.wait_until(
        "rotated",
        |app| matches!(&app.state.dialog, Some(Dialog::Secret(s)) if s.key.id != key.id),
    );
    let new_key = match &fx.app().state.dialog {
        Some(Dialog::Secret(shown)) => shown.key.clone(),
        _ => unreachable!(),
    };
    secrets.push(fx.held_secret(&new_key).unwrap());
    fx.click(keywarden::gui::GOT_IT);
    fx.select_id(&new_key.key_ref());
    fx.click("Revoke");
    fx.click("Yes, revoke");
    fx.wait_until("revoked", |app| {
        app.state
            .key(&new_key.key_ref())
            .is_some_and(|k| k.revoked_at.is_some())
    });

    let mut files = Vec::new();
    files_under(fx.dir.path(), &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("server.db")),
        "the scenario wrote its database: {files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("config.toml")) || !fx.dir.path().join("config").exists()
    );
    let log = LOG.lock().unwrap().clone();
    assert!(!log.is_empty(), "the log captured something");
    for secret in &secrets {
        // The random part alone: it is what must never be written anywhere.
        let needle = secret.expose().trim_start_matches("kw_");
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "a secret is in {}",
                file.display()
            );
        }
        assert!(!contains(&log, needle.as_bytes()), "a secret is in the log");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
