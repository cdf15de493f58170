//! The desktop's file chooser, through a loopback stand-in of the XDG desktop portal on the test
//! session's bus.
//!
//! STAND-IN: this is not xdg-desktop-portal. It follows the documented contract of
//! `org.freedesktop.portal.FileChooser` (version 4) and `org.freedesktop.portal.Request`
//! (flatpak.github.io/xdg-desktop-portal) field by field, and is strict where the real portal is:
//! `parent_window` is empty or `x11:`/`wayland:` handle, the title is set, `handle_token` is a
//! valid object-path element, options have their documented types, and the request's path is
//! `/org/freedesktop/portal/desktop/request/SENDER/TOKEN`. The answer is the `Response` signal of
//! that path: code 0 with `uris`, or 1 (cancelled).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::support::Fixture;

const PORTAL: &str = "org.freedesktop.portal.Desktop";
const PATH: &str = "/org/freedesktop/portal/desktop";

/// What the stand-in answers, and what it was asked.
#[derive(Default)]
struct Script {
    /// `Some(uri)`: choose it; `None`: the user cancels.
    answer: Option<String>,
    asked: Vec<(String, String, Option<String>)>,
}

struct FileChooser {
    script: Arc<Mutex<Script>>,
}

fn check_options(
    options: &HashMap<String, OwnedValue>,
    allowed: &[(&str, &str)],
) -> zbus::fdo::Result<String> {
    for (name, value) in options {
        let signature = value.value_signature().to_string();
        match allowed.iter().find(|(n, _)| n == name) {
            Some((_, expected)) if *expected == signature => {}
            Some((_, expected)) => {
                return Err(zbus::fdo::Error::InvalidArgs(format!(
                    "option {name} is {signature}, not {expected}"
                )));
            }
            None => {
                return Err(zbus::fdo::Error::InvalidArgs(format!(
                    "unknown option {name}"
                )));
            }
        }
    }
    let token = options
        .get("handle_token")
        .and_then(|v| String::try_from(v.clone()).ok())
        .ok_or_else(|| zbus::fdo::Error::InvalidArgs("no handle_token".into()))?;
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(zbus::fdo::Error::InvalidArgs(format!(
            "bad handle_token {token:?}"
        )));
    }
    Ok(token)
}

/// One call of `OpenFile` or `SaveFile`, its options checked.
struct Call<'a> {
    method: &'static str,
    parent_window: &'a str,
    title: &'a str,
    token: String,
    current_name: Option<String>,
}

impl FileChooser {
    fn answer(
        &self,
        header: &zbus::message::Header<'_>,
        connection: &zbus::Connection,
        call: Call<'_>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let Call {
            method,
            parent_window,
            title,
            token,
            current_name,
        } = call;
        if !(parent_window.is_empty()
            || parent_window.starts_with("x11:")
            || parent_window.starts_with("wayland:"))
        {
            return Err(zbus::fdo::Error::InvalidArgs("bad parent_window".into()));
        }
        if title.is_empty() {
            return Err(zbus::fdo::Error::InvalidArgs("no title".into()));
        }
        let sender = header
            .sender()
            .ok_or_else(|| zbus::fdo::Error::Failed("no sender".into()))?
            .to_string();
        let path = format!(
            "{PATH}/request/{}/{token}",
            sender.trim_start_matches(':').replace('.', "_")
        );
        let answer = {
            let mut script = self.script.lock().unwrap();
            script
                .asked
                .push((method.to_string(), title.to_string(), current_name));
            script.answer.clone()
        };
        let connection = zbus::blocking::Connection::from(connection.clone());
        let signal_path = path.clone();
        // The answer comes when the user has chosen: after this call has returned.
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let mut results: HashMap<&str, Value<'_>> = HashMap::new();
            let code: u32 = match &answer {
                Some(uri) => {
                    results.insert("uris", Value::from(vec![uri.as_str()]));
                    0
                }
                None => 1,
            };
            connection
                .emit_signal(
                    Some(sender.as_str()),
                    signal_path.as_str(),
                    "org.freedesktop.portal.Request",
                    "Response",
                    &(code, results),
                )
                .unwrap();
        });
        OwnedObjectPath::try_from(path).map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }
}

#[zbus::interface(name = "org.freedesktop.portal.FileChooser")]
impl FileChooser {
    fn open_file(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        parent_window: &str,
        title: &str,
        options: HashMap<String, OwnedValue>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let token = check_options(
            &options,
            &[
                ("handle_token", "s"),
                ("accept_label", "s"),
                ("modal", "b"),
                ("multiple", "b"),
                ("directory", "b"),
                ("filters", "a(sa(us))"),
                ("current_filter", "(sa(us))"),
                ("choices", "a(ssa(ss)s)"),
                ("current_folder", "ay"),
            ],
        )?;
        let call = Call {
            method: "OpenFile",
            parent_window,
            title,
            token,
            current_name: None,
        };
        self.answer(&header, connection, call)
    }

    fn save_file(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        parent_window: &str,
        title: &str,
        options: HashMap<String, OwnedValue>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let token = check_options(
            &options,
            &[
                ("handle_token", "s"),
                ("accept_label", "s"),
                ("modal", "b"),
                ("filters", "a(sa(us))"),
                ("current_filter", "(sa(us))"),
                ("choices", "a(ssa(ss)s)"),
                ("current_name", "s"),
                ("current_folder", "ay"),
                ("current_file", "ay"),
            ],
        )?;
        let name = options
            .get("current_name")
            .and_then(|v| String::try_from(v.clone()).ok());
        let call = Call {
            method: "SaveFile",
            parent_window,
            title,
            token,
            current_name: name,
        };
        self.answer(&header, connection, call)
    }

    /// The portal's property is `version`, in lower case.
    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        4
    }
}

/// With a file chooser on the desktop, the import and backup dialogs offer *Choose…*: the file
/// chosen fills the path (a name with a space, percent-encoded in the URI), a cancel leaves it,
/// and a backup asks where to save with a suggested name.
#[test]
fn dialogs_fill_their_path_from_the_desktops_file_chooser() {
    let script = Arc::new(Mutex::new(Script::default()));
    let _portal = zbus::blocking::connection::Builder::session()
        .and_then(|b| b.name(PORTAL))
        .and_then(|b| {
            b.serve_at(
                PATH,
                FileChooser {
                    script: script.clone(),
                },
            )
        })
        .and_then(|b| b.build())
        .unwrap_or_else(|err| {
            panic!("the portal stand-in needs the test session's D-Bus (tests/run.sh): {err}")
        });
    let mut fx = Fixture::new();
    fx.wait_connected();
    let env = fx.dir.path().join("my keys.env");
    std::fs::write(&env, "A_TOKEN=q8Zr2Lm5Vx9Tb3Nc7Kd1\n").unwrap();
    script.lock().unwrap().answer = Some(reqwest::Url::from_file_path(&env).unwrap().to_string());

    fx.click("Add key");
    fx.click(keywarden::gui::IMPORT_FROM_FILE);
    fx.wait_until("the file chooser is found", |app| {
        app.state.file_chooser == Some(true)
    });
    fx.settle();
    fx.click(keywarden::gui::CHOOSE);
    let expected = env.display().to_string();
    fx.wait_until("the chosen file fills the path", |app| {
        matches!(&app.state.dialog, Some(keywarden::gui::state::Dialog::Import(d)) if d.path == expected)
    });

    // Cancelled: the path stays.
    script.lock().unwrap().answer = None;
    fx.click(keywarden::gui::CHOOSE);
    fx.wait_until("the chooser answered", |app| !app.busy());
    assert!(
        matches!(&fx.app().state.dialog, Some(keywarden::gui::state::Dialog::Import(d)) if d.path == expected)
    );
    fx.click("Close");

    let backup = fx.dir.path().join("keys.age");
    script.lock().unwrap().answer =
        Some(reqwest::Url::from_file_path(&backup).unwrap().to_string());
    fx.click("Settings");
    fx.click("Back up…");
    fx.settle();
    fx.click(keywarden::gui::CHOOSE);
    let expected = backup.display().to_string();
    fx.wait_until("the backup's path is filled", |app| {
        matches!(&app.state.dialog, Some(keywarden::gui::state::Dialog::Transfer(d)) if d.path == expected)
    });
    let asked = &script.lock().unwrap().asked;
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_eq!(asked[0].0, "OpenFile");
    assert_eq!(asked[2].0, "SaveFile");
    assert!(
        asked[2]
            .2
            .as_deref()
            .is_some_and(|name| name.starts_with("keywarden-backup-") && name.ends_with(".age")),
        "{asked:?}"
    );
}
