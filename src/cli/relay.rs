//! What `keywarden run` stands between: the command's output on its way to the terminal (or
//! wherever stdout and stderr go), with the secrets concealed, and the signals sent to
//! `keywarden run`, passed on to the command.
//!
//! - Output: a stream that goes to a terminal reaches the command through a pseudo-terminal of its
//!   own (so it still sees a terminal: colours, line buffering, the window's size), anything else
//!   through a pipe. When the command has ended, what it wrote is let through and the relay ends
//!   once the stream has been quiet for a moment, even when something the command started in the
//!   background still holds it open (run directly, the shell would not wait for that either).
//! - Signals: SIGINT, SIGTERM and SIGHUP sent by a process (`kill`, `timeout`, systemd) are passed
//!   on; those the kernel sends for the terminal (Ctrl-C, a closed terminal) already reached the
//!   command, which shares `keywarden run`'s process group, and are not sent twice. A signal that
//!   was ignored when `keywarden run` started stays ignored, for the command as well (`nohup`).

use std::io::{Read as _, Write};
use std::os::fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::mask::Masker;

/// How long a stream may stay quiet after the command ended before the relay stops reading it.
const QUIET_AFTER_EXIT: Duration = Duration::from_millis(50);
/// The longest the relay keeps reading after the command ended, however busy the stream.
const LONGEST_AFTER_EXIT: Duration = Duration::from_secs(1);
/// One read: small enough that the pipe's writer is rarely kept waiting for the reader's copy.
const READ_SIZE: usize = 64 * 1024;

/// Where a stream of the command's goes: this process's stdout or stderr.
#[derive(Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// This process's descriptor for the stream (a plain number: read in a signal handler too).
    fn fd(self) -> i32 {
        match self {
            Stream::Stdout => libc::STDOUT_FILENO,
            Stream::Stderr => libc::STDERR_FILENO,
        }
    }

    fn ours(self) -> BorrowedFd<'static> {
        // SAFETY: descriptors 1 and 2 stay open for the whole process (the standard library opens
        // /dev/null on them at start when they were closed).
        unsafe { BorrowedFd::borrow_raw(self.fd()) }
    }
}

/// One of the command's output streams, between its end (given to the command) and this
/// process's (read, masked and written on).
pub struct Output {
    stream: Stream,
    reader: OwnedFd,
    writer: Option<OwnedFd>,
}

impl Output {
    /// A pseudo-terminal when `stream` is a terminal, a pipe otherwise.
    pub fn new(stream: Stream) -> std::io::Result<Output> {
        let terminal = stream.ours();
        let (reader, writer) = if std::io::IsTerminal::is_terminal(&terminal) {
            let (master, slave) = pseudo_terminal(terminal)?;
            PSEUDO_TERMINALS[stream as usize].store(master.as_raw_fd(), Ordering::SeqCst);
            (master, slave)
        } else {
            let (reader, writer) = std::io::pipe()?;
            // A larger pipe than the default 64 KiB: fewer turns between writer and reader.
            // SAFETY: F_SETPIPE_SZ only resizes the pipe behind a descriptor this process holds;
            // a refusal leaves the default size.
            unsafe {
                libc::fcntl(reader.as_raw_fd(), libc::F_SETPIPE_SZ, 256 * 1024);
            }
            (OwnedFd::from(reader), OwnedFd::from(writer))
        };
        Ok(Output {
            stream,
            reader,
            writer: Some(writer),
        })
    }

    /// The command's end, for `Command::stdout`/`stderr`. Dropped with the `Command` once the
    /// command has started, so only the command holds it and its end is seen.
    pub fn for_command(&mut self) -> Stdio {
        Stdio::from(self.writer.take().expect("given to the command once"))
    }

    /// Copies the stream to this process's own, concealing the secrets, on a thread of its own,
    /// until the stream ends, the destination is closed, or the command has ended and the stream
    /// has gone quiet.
    pub fn relay(self, masker: Masker, ended: Arc<Ended>) -> std::io::Result<Relay> {
        let to = std::fs::File::from(self.stream.ours().try_clone_to_owned()?);
        let (stream, mut from) = (self.stream, std::fs::File::from(self.reader));
        let thread = std::thread::spawn(move || {
            let copied = copy(&mut from, to, masker, &ended);
            PSEUDO_TERMINALS[stream as usize].store(-1, Ordering::SeqCst);
            drop(from);
            copied
        });
        Ok(Relay(thread))
    }
}

/// A stream being relayed.
pub struct Relay(std::thread::JoinHandle<std::io::Result<()>>);

impl Relay {
    /// Waits for the relay to end.
    pub fn join(self) {
        let _ = self.0.join();
    }
}

/// Whether, and since when, the command has ended: the relays' cue to stop waiting for more.
#[derive(Default)]
pub struct Ended {
    at: OnceLock<Instant>,
}

impl Ended {
    pub fn now(&self) {
        let _ = self.at.set(Instant::now());
    }
}

fn copy(
    from: &mut std::fs::File,
    mut to: std::fs::File,
    mut masker: Masker,
    ended: &Ended,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; READ_SIZE];
    let mut last_data = Instant::now();
    loop {
        let mut poll = libc::pollfd {
            fd: from.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call.
        let ready = unsafe { libc::poll(&mut poll, 1, QUIET_AFTER_EXIT.as_millis() as i32) };
        if ready < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if ready == 0 {
            match ended.at.get() {
                Some(&at) if last_data.max(at).elapsed() >= QUIET_AFTER_EXIT => break,
                _ => continue,
            }
        }
        if let Some(&at) = ended.at.get()
            && at.elapsed() >= LONGEST_AFTER_EXIT
        {
            break;
        }
        let read = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            // A pseudo-terminal whose other end every process has closed.
            Err(err) if err.raw_os_error() == Some(libc::EIO) => break,
            Err(err) => return Err(err),
        };
        last_data = Instant::now();
        masker.push(&buffer[..read], &mut to)?;
    }
    masker.finish(&mut to)?;
    to.flush()
}

/// A pseudo-terminal for the command, set up like `terminal` (its modes and window size), except
/// that output processing is left to `terminal` itself: bytes pass through the pair untouched, so
/// `terminal` treats them as it would the command's own (also when the command puts it in raw
/// mode).
fn pseudo_terminal(terminal: BorrowedFd<'_>) -> std::io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: termios and winsize are plain C structs, filled in by the calls below before use.
    let mut modes: libc::termios = unsafe { std::mem::zeroed() };
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: both calls write into the structs given; a failure leaves them zeroed.
    unsafe {
        if libc::tcgetattr(terminal.as_raw_fd(), &mut modes) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::ioctl(terminal.as_raw_fd(), libc::TIOCGWINSZ, &mut size);
    }
    modes.c_oflag &= !libc::OPOST;
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes the two descriptors; the name pointer may be null.
    let opened =
        unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), &modes, &size) };
    if opened != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: openpty returned two new descriptors this process owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // Not inherited by the command beyond the end it is given.
        // SAFETY: sets a flag on a descriptor this process owns.
        unsafe {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok((master, slave))
}

/// The pseudo-terminals' masters for stdout and stderr (-1: none), for the window-size handler.
static PSEUDO_TERMINALS: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];
/// The command's pid while it may be signalled (0: none: not started, or ended and about to be
/// reaped, after which its pid may belong to another process).
static COMMAND: AtomicI32 = AtomicI32::new(0);
/// Handlers between reading `COMMAND` and signalling it.
static SIGNALLING: AtomicUsize = AtomicUsize::new(0);
static HANDLERS: AtomicBool = AtomicBool::new(false);

/// Passes SIGINT, SIGTERM and SIGHUP sent by other processes on to the command started next, and
/// the terminal's window size on to its pseudo-terminals.
pub fn forward_signals() -> std::io::Result<()> {
    if HANDLERS.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        if ignored(signal) {
            continue;
        }
        // SAFETY: the handler only reads and writes atomics and calls kill(2), which are
        // async-signal-safe.
        unsafe {
            signal_hook_registry::register_sigaction(signal, move |info: &libc::siginfo_t| {
                // A positive code: sent by the kernel (the terminal), to the whole process group.
                if info.si_code > 0 {
                    return;
                }
                SIGNALLING.fetch_add(1, Ordering::SeqCst);
                let pid = COMMAND.load(Ordering::SeqCst);
                if pid > 0 {
                    libc::kill(pid, signal);
                }
                SIGNALLING.fetch_sub(1, Ordering::SeqCst);
            })?;
        }
    }
    // SAFETY: the handler only reads atomics and calls ioctl(2) on descriptors.
    unsafe {
        signal_hook_registry::register(libc::SIGWINCH, || {
            for (stream, master) in [Stream::Stdout, Stream::Stderr]
                .into_iter()
                .zip(&PSEUDO_TERMINALS)
            {
                let master = master.load(Ordering::SeqCst);
                if master < 0 {
                    continue;
                }
                let mut size: libc::winsize = std::mem::zeroed();
                if libc::ioctl(stream.fd(), libc::TIOCGWINSZ, &mut size) == 0 {
                    libc::ioctl(master, libc::TIOCSWINSZ, &size);
                }
            }
        })?;
    }
    Ok(())
}

/// Whether `signal` was set to be ignored when this process started.
fn ignored(signal: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `current`.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}

/// Waits for the command to end, passing signals on to it until then, and reaps it.
pub fn wait(mut child: std::process::Child) -> std::io::Result<std::process::ExitStatus> {
    let pid = i32::try_from(child.id()).map_err(std::io::Error::other)?;
    COMMAND.store(pid, Ordering::SeqCst);
    loop {
        // SAFETY: waitid writes into `info`; WNOWAIT leaves the command a zombie, so its pid
        // cannot be taken by another process while a handler may still signal it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let waited = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if waited == 0 {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            COMMAND.store(0, Ordering::SeqCst);
            return Err(err);
        }
    }
    COMMAND.store(0, Ordering::SeqCst);
    while SIGNALLING.load(Ordering::SeqCst) > 0 {
        std::hint::spin_loop();
    }
    child.wait()
}

/// Ends this process as the command ended: by the same signal, when it was one that ends a
/// process without a core dump (so a shell sees an interrupted command and stops a script as it
/// would have), else with 128 + the signal, as a shell reports it. Returns when the status was an
/// exit code, or the signal did not end this process.
pub fn end_like(status: std::process::ExitStatus) -> std::process::ExitCode {
    use std::os::unix::process::ExitStatusExt as _;
    if let Some(code) = status.code() {
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let Some(signal) = status.signal() else {
        return std::process::ExitCode::FAILURE;
    };
    if [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGKILL,
        libc::SIGPIPE,
        libc::SIGALRM,
        libc::SIGTERM,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ]
    .contains(&signal)
    {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        // SAFETY: restores the default action and raises the signal on this thread; the set
        // manipulated is a local one.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(signal);
        }
    }
    std::process::ExitCode::from(u8::try_from(128 + signal).unwrap_or(1))
}
