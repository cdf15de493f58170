//! The desktop's own file chooser, through the XDG desktop portal's `FileChooser` interface on
//! the session bus (GNOME, KDE and most Wayland desktops have one; flatpak apps use nothing
//! else). Where there is none, the dialogs keep their path field alone. Every call blocks until
//! the user answers: the app makes them off the UI thread.
//!
//! The contract followed (flatpak.github.io/xdg-desktop-portal, *FileChooser* and *Request*):
//! `OpenFile(s parent_window, s title, a{sv} options) → o handle` (and `SaveFile`, with
//! `current_name`); the answer is the `Response(u code, a{sv} results)` signal of the request
//! object, whose path is known beforehand from the `handle_token` given, so the signal is
//! subscribed to before the call; code 0 carries `uris` (`as`), 1 is a cancel.

use std::collections::HashMap;
use std::path::PathBuf;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

const PORTAL: &str = "org.freedesktop.portal.Desktop";
const PORTAL_PATH: &str = "/org/freedesktop/portal/desktop";
const FILE_CHOOSER: &str = "org.freedesktop.portal.FileChooser";
const REQUEST: &str = "org.freedesktop.portal.Request";

/// What the chooser is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// A file to read.
    Open,
    /// A file to write, suggesting this name.
    Save(String),
}

/// Whether the session has a file chooser portal.
pub fn available() -> bool {
    let version = || -> zbus::Result<u32> {
        let connection = zbus::blocking::Connection::session()?;
        let proxy = zbus::blocking::Proxy::new(&connection, PORTAL, PORTAL_PATH, FILE_CHOOSER)?;
        proxy.get_property("version")
    };
    version().is_ok_and(|v| v >= 1)
}

/// Asks the desktop for a file; `Ok(None)` when the user cancels.
pub fn choose(title: &str, purpose: &Purpose) -> Result<Option<PathBuf>, String> {
    let failed = |err: zbus::Error| format!("the desktop's file chooser failed: {err}");
    let connection = zbus::blocking::Connection::session().map_err(failed)?;
    let sender = connection
        .unique_name()
        .ok_or("the desktop's file chooser failed: no name on the session bus")?
        .trim_start_matches(':')
        .replace('.', "_");
    let mut token_bytes = [0u8; 8];
    getrandom::fill(&mut token_bytes).map_err(|err| err.to_string())?;
    let token: String = std::iter::once("keywarden_".to_string())
        .chain(token_bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let request_path = format!("{PORTAL_PATH}/request/{sender}/{token}");
    let request = zbus::blocking::Proxy::new(&connection, PORTAL, request_path.as_str(), REQUEST)
        .map_err(failed)?;
    let mut responses = request.receive_signal("Response").map_err(failed)?;

    let mut options: HashMap<&str, Value<'_>> = HashMap::new();
    options.insert("handle_token", Value::from(token.as_str()));
    options.insert("modal", Value::from(true));
    let method = match purpose {
        Purpose::Open => {
            options.insert("multiple", Value::from(false));
            "OpenFile"
        }
        Purpose::Save(name) => {
            options.insert("current_name", Value::from(name.as_str()));
            "SaveFile"
        }
    };
    let chooser = zbus::blocking::Proxy::new(&connection, PORTAL, PORTAL_PATH, FILE_CHOOSER)
        .map_err(failed)?;
    let handle: OwnedObjectPath = chooser
        .call(method, &("", title, options))
        .map_err(failed)?;
    // An old portal answers on a path of its own choosing.
    if handle.as_str() != request_path {
        let request = zbus::blocking::Proxy::new(&connection, PORTAL, handle.as_str(), REQUEST)
            .map_err(failed)?;
        responses = request.receive_signal("Response").map_err(failed)?;
    }
    let response = responses
        .next()
        .ok_or("the desktop's file chooser closed without an answer")?;
    let (code, results): (u32, HashMap<String, OwnedValue>) =
        response.body().deserialize().map_err(failed)?;
    match code {
        0 => {}
        1 => return Ok(None),
        _ => return Err("the desktop's file chooser stopped without a file".into()),
    }
    let uris: Vec<String> = results
        .get("uris")
        .and_then(|uris| Vec::<String>::try_from(uris.clone()).ok())
        .unwrap_or_default();
    let uri = uris
        .first()
        .ok_or("the desktop's file chooser answered without a file")?;
    path_of(uri).map(Some)
}

/// The local path of a `file://` URI, percent-decoded.
fn path_of(uri: &str) -> Result<PathBuf, String> {
    let url = reqwest::Url::parse(uri)
        .ok()
        .filter(|u| u.scheme() == "file")
        .ok_or_else(|| {
            format!(
                "the desktop's file chooser gave {:?}, which is not a local file",
                crate::text::for_terminal(uri)
            )
        })?;
    url.to_file_path()
        .map_err(|()| "the desktop's file chooser gave a file that is not on this computer".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_become_paths() {
        assert_eq!(
            path_of("file:///home/dev/My%20Keys/vault.kdbx").unwrap(),
            PathBuf::from("/home/dev/My Keys/vault.kdbx")
        );
        assert!(path_of("https://example.com/x").is_err());
        assert!(path_of("file://other-host/x").is_err());
    }
}
