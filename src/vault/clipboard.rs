//! The clipboard, cleared after a while if it still holds the secret we put there.
//!
//! On X11 the clipboard's content belongs to a living process: when the owner exits, it is gone. So
//! the app keeps one `arboard::Clipboard` on a dedicated thread for its whole session, and that thread
//! also does the clearing. Content is marked so clipboard managers do not keep it
//! (`x-kde-passwordManagerHint: secret` on Linux).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClipboardError {
    #[error("the clipboard is not available: {0}")]
    Unavailable(String),
    #[error("copying to the clipboard failed: {0}")]
    Failed(String),
}

fn failed(err: arboard::Error) -> ClipboardError {
    ClipboardError::Failed(err.to_string())
}

/// Puts `text` on the clipboard, marked as a secret where the platform allows.
fn set_secret_text(
    clipboard: &mut arboard::Clipboard,
    text: &Secret,
    wait_until: Option<Instant>,
) -> Result<(), ClipboardError> {
    #[cfg(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ))]
    {
        use arboard::SetExtLinux as _;
        let mut set = clipboard.set().exclude_from_history();
        if let Some(deadline) = wait_until {
            set = set.wait_until(deadline);
        }
        set.text(text.expose()).map_err(failed)
    }
    #[cfg(not(all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    )))]
    {
        let _ = wait_until;
        clipboard.set_text(text.expose()).map_err(failed)
    }
}

/// Clears the clipboard if it still holds `text`; `true` when it did.
fn clear_if_unchanged(clipboard: &mut arboard::Clipboard, text: &Secret) -> bool {
    let unchanged = holds(clipboard, text);
    if unchanged {
        let _ = clipboard.clear();
    }
    unchanged
}

enum Command {
    Copy {
        text: Secret,
        clear_after: Option<Duration>,
        reply: mpsc::Sender<Result<(), ClipboardError>>,
    },
    Read {
        reply: mpsc::Sender<Result<Option<Secret>, ClipboardError>>,
    },
}

/// The app's clipboard owner. Dropping it ends the thread.
pub struct ClipboardService {
    commands: mpsc::Sender<Command>,
}

impl ClipboardService {
    pub fn start() -> Result<ClipboardService, ClipboardError> {
        let (commands, receiver) = mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("keywarden-clipboard".into())
            .spawn(move || match arboard::Clipboard::new() {
                Ok(clipboard) => {
                    let _ = ready_tx.send(Ok(()));
                    serve(clipboard, receiver);
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(ClipboardError::Unavailable(err.to_string())));
                }
            })
            .map_err(|err| ClipboardError::Unavailable(err.to_string()))?;
        ready_rx
            .recv()
            .map_err(|err| ClipboardError::Unavailable(err.to_string()))??;
        Ok(ClipboardService { commands })
    }

    /// Copies `text`; after `clear_after` the clipboard is cleared if it still holds it. Blocks only
    /// until the content is set.
    pub fn copy(&self, text: &Secret, clear_after: Option<Duration>) -> Result<(), ClipboardError> {
        let (reply, result) = mpsc::channel();
        let gone = || ClipboardError::Unavailable("the clipboard thread has stopped".to_string());
        self.commands
            .send(Command::Copy {
                text: text.clone(),
                clear_after,
                reply,
            })
            .map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }
}

impl ClipboardService {
    /// The clipboard's text (a key the user copied to paste it here); `None` when it holds no
    /// text. Blocks briefly: call it off the UI thread.
    pub fn read(&self) -> Result<Option<Secret>, ClipboardError> {
        let (reply, result) = mpsc::channel();
        let gone = || ClipboardError::Unavailable("the clipboard thread has stopped".to_string());
        self.commands
            .send(Command::Read { reply })
            .map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }
}

fn serve(mut clipboard: arboard::Clipboard, commands: mpsc::Receiver<Command>) {
    let mut pending: Option<(Instant, Secret)> = None;
    loop {
        let command = match &pending {
            Some((deadline, _)) => {
                commands.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            }
            None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match command {
            Ok(Command::Copy {
                text,
                clear_after,
                reply,
            }) => {
                let result = set_secret_text(&mut clipboard, &text, None);
                pending = match (&result, clear_after) {
                    (Ok(()), Some(after)) => Some((Instant::now() + after, text)),
                    // A new copy without a timer replaces the old timer: the old secret is gone anyway.
                    _ => None,
                };
                let _ = reply.send(result);
            }
            Ok(Command::Read { reply }) => {
                let text = match clipboard.get_text() {
                    Ok(text) => Ok(Some(Secret::new(text))),
                    Err(arboard::Error::ContentNotAvailable) => Ok(None),
                    Err(err) => Err(failed(err)),
                };
                let _ = reply.send(text);
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Some((_, text)) = pending.take() {
                    clear_if_unchanged(&mut clipboard, &text);
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// How often a short-lived copy looks whether the clipboard still holds its text.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// For a short-lived process (the command line): copies `text`, keeps serving it until
/// `clear_after` has passed or someone copied something else, then clears it if unchanged.
/// Returns whether it cleared the clipboard. Blocks for up to `clear_after`.
pub fn copy_and_serve(text: &Secret, clear_after: Duration) -> Result<bool, ClipboardError> {
    let deadline = Instant::now() + clear_after;
    let mut clipboard =
        arboard::Clipboard::new().map_err(|err| ClipboardError::Unavailable(err.to_string()))?;
    // On X11 this serves the text until the deadline, or until another program takes the
    // clipboard. On Wayland with the data-control protocol (wlroots, KDE) a thread of this process
    // serves it and the call returns at once: the wait is here, for both.
    set_secret_text(&mut clipboard, text, Some(deadline))?;
    loop {
        let rest = deadline.saturating_duration_since(Instant::now());
        if rest.is_zero() {
            return Ok(clear_if_unchanged(&mut clipboard, text));
        }
        if !holds(&mut clipboard, text) {
            return Ok(false);
        }
        std::thread::sleep(rest.min(WATCH_EVERY));
    }
}

/// Whether the clipboard holds `text` (the copy read back is wiped).
fn holds(clipboard: &mut arboard::Clipboard, text: &Secret) -> bool {
    clipboard
        .get_text()
        .is_ok_and(|current| zeroize::Zeroizing::new(current).as_str() == text.expose())
}
