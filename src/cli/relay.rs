//! What `keywarden run` stands between: the command's output on its way to the terminal (or
//! wherever stdout and stderr go), with the secrets concealed, and the signals sent to
//! `keywarden run`, passed on to the command.
//!
//! - Output: a stream that goes to a terminal reaches the command through a pseudo-terminal set
//!   up like that terminal (so it still sees one: colours, line buffering, the window's size),
//!   anything else through a pipe (also when no pseudo-terminal can be had). When both streams go
//!   to the same place (one terminal, file or pipe: the same device and inode), the command gets
//!   one for both, read by one masker: they keep their order, and a secret split between them is
//!   concealed. The two
//!   terminals keep the same modes: one the command sets on its pseudo-terminal (a full-screen
//!   program's raw mode) is set on the real one, where the keys are typed, and one it sets on the
//!   real terminal (through stdin) on the pseudo-terminal; the real terminal's modes are put back
//!   when the command is done, if it was set from here. When the command has ended, what it had
//!   written is let through however slowly it is read; then the relay ends once the stream is
//!   quiet, or a second later at most, even when something the command started in the
//!   background still holds it open and writes (run directly, the shell would not wait for that
//!   either; that process's later output is lost).
//! - Signals: SIGINT, SIGQUIT, SIGTERM and SIGHUP sent by a process (`kill PID`, systemd) are
//!   passed on, also one that arrives while the command is being started. The command shares
//!   `keywarden run`'s process group, so those the kernel sends for the terminal (Ctrl-C,
//!   Ctrl-\, a closed terminal) have reached it already and are not sent again. One a process
//!   sends to the whole group (`kill -TERM -PGID`, a shell's `kill %1`, `timeout`, systemd's
//!   stop of every process of a service) cannot be told from one sent to `keywarden run` alone,
//!   and reaches the command twice. Once the command has ended, any of them ends
//!   `keywarden run` at once. A signal ignored when `keywarden run` started stays
//!   ignored, for the command too (`nohup`).

use std::io::{Read as _, Write};
use std::os::fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd};
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::mask::Masker;

/// How long a stream must stay quiet after the command ended before the relay stops reading it.
const QUIET_AFTER_EXIT: Duration = Duration::from_millis(50);
/// How long the relay goes on reading, once what the command had written is through, while
/// something it left in the background keeps writing.
const LONGEST_AFTER_EXIT: Duration = Duration::from_secs(1);
/// One read: small enough that the pipe's writer is rarely kept waiting for the reader's copy.
const READ_SIZE: usize = 64 * 1024;

/// This process's stdout or stderr.
#[derive(Clone, Copy, PartialEq)]
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

    /// The device and inode the stream goes to (a terminal, a file, a pipe).
    fn identity(self) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt as _;
        let file = std::fs::File::from(self.ours().try_clone_to_owned().ok()?);
        file.metadata().ok().map(|m| (m.dev(), m.ino()))
    }

    fn is_terminal(self) -> bool {
        std::io::IsTerminal::is_terminal(&self.ours())
    }
}

/// One way the command's output comes back: read here, concealed, written to `to`.
pub struct Output {
    to: Stream,
    reader: OwnedFd,
    /// The real terminal's modes when the reader is a pseudo-terminal set up like it.
    terminal: Option<libc::termios>,
}

/// Gives the command its stdout and stderr: pseudo-terminals or pipes to read them from. When
/// both go to the same place (one terminal, one file, one pipe), the command gets one output for
/// both, read once: a secret it splits between them is still concealed, and their order is kept.
pub fn attach(command: &mut std::process::Command) -> std::io::Result<Vec<Output>> {
    let shared = Stream::Stdout.identity().is_some()
        && Stream::Stdout.identity() == Stream::Stderr.identity();
    let open = |to: Stream| {
        if to.is_terminal() {
            Output::pseudo_terminal(to).or_else(|_| Output::pipe(to))
        } else {
            Output::pipe(to)
        }
    };
    let (stdout, writer) = open(Stream::Stdout)?;
    let mut outputs = vec![stdout];
    let stderr_writer = if shared {
        writer.try_clone()?
    } else {
        let (stderr, writer) = open(Stream::Stderr)?;
        outputs.push(stderr);
        writer
    };
    command.stdout(Stdio::from(writer));
    command.stderr(Stdio::from(stderr_writer));
    Ok(outputs)
}

impl Output {
    fn pipe(to: Stream) -> std::io::Result<(Output, OwnedFd)> {
        let (reader, writer) = std::io::pipe()?;
        grow(&reader);
        let output = Output {
            to,
            reader: reader.into(),
            terminal: None,
        };
        Ok((output, writer.into()))
    }

    /// A pseudo-terminal with the modes and window size of the terminal `to` goes to. Both ends
    /// are opened close-on-exec: the command gets only the end it is given.
    fn pseudo_terminal(to: Stream) -> std::io::Result<(Output, OwnedFd)> {
        let modes = modes(to.fd())?;
        // SAFETY: posix_openpt and the TIOCGPTPEER ioctl return new descriptors (or -1), owned by
        // the OwnedFds made of them; the other calls only set up the pair.
        unsafe {
            let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
            let master = libc::posix_openpt(flags);
            if master < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let master = OwnedFd::from_raw_fd(master);
            if libc::unlockpt(master.as_raw_fd()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let output = Output {
                to,
                reader: master,
                terminal: Some(modes),
            };
            let slave = output.another_end()?;
            if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &modes) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            copy_window_size(to.fd(), output.reader.as_raw_fd());
            PSEUDO_TERMINALS[to as usize].store(output.reader.as_raw_fd(), Ordering::SeqCst);
            Ok((output, slave))
        }
    }

    /// An end of this output's pseudo-terminal for the command (Linux 4.13 and later).
    #[cfg(target_os = "linux")]
    fn another_end(&self) -> std::io::Result<OwnedFd> {
        let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: returns a new descriptor (or -1), owned by the OwnedFd made of it.
        unsafe {
            let slave = libc::ioctl(self.reader.as_raw_fd(), libc::TIOCGPTPEER, flags);
            if slave < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(OwnedFd::from_raw_fd(slave))
        }
    }

    /// Elsewhere (macOS, the BSDs) there is no TIOCGPTPEER: `attach` gives the command pipes.
    #[cfg(not(target_os = "linux"))]
    fn another_end(&self) -> std::io::Result<OwnedFd> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "a pseudo-terminal's other end is opened with TIOCGPTPEER, which only Linux has",
        ))
    }

    /// Copies the output to this process's stream, concealing the secrets, on a thread of its
    /// own, until the output ends, the destination is closed, or the command has ended and the
    /// output has gone quiet.
    pub fn relay(self, masker: Masker, ended: Arc<Ended>) -> std::io::Result<Relay> {
        let to = std::fs::File::from(self.to.ours().try_clone_to_owned()?);
        let thread = std::thread::Builder::new()
            .name("relay".into())
            .spawn(move || {
                let Output {
                    to: stream,
                    reader,
                    terminal,
                } = self;
                let mut from = std::fs::File::from(reader);
                let mut modes = terminal.map(|original| Modes {
                    terminal: stream.fd(),
                    original,
                    last: original,
                    set: None,
                });
                let copied = copy(&mut from, to, masker, &ended, modes.as_mut());
                if let Some(modes) = modes {
                    modes.restore();
                }
                // No window-size handler uses the descriptor once it is closed.
                PSEUDO_TERMINALS[stream as usize].store(-1, Ordering::SeqCst);
                settle();
                drop(from);
                copied
            })?;
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
    mut modes: Option<&mut Modes>,
) -> std::io::Result<()> {
    let mut buffer = vec![0u8; READ_SIZE];
    let mut last_data = Instant::now();
    // Once the command has ended: what it had written and is still to be read, and since when
    // that is read.
    let mut owed: Option<usize> = None;
    let mut paid_at: Option<Instant> = None;
    loop {
        if ended.at.get().is_some() {
            let owed = owed.get_or_insert_with(|| waiting(from.as_raw_fd()));
            if *owed == 0 {
                let paid = *paid_at.get_or_insert_with(Instant::now);
                // Whatever still writes now is not the command: a second more at most.
                if paid.elapsed() >= LONGEST_AFTER_EXIT {
                    masker.abandon(&mut to)?;
                    return to.flush();
                }
            }
        }
        let mut poll = libc::pollfd {
            fd: from.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call.
        let ready = unsafe { libc::poll(&mut poll, 1, QUIET_AFTER_EXIT.as_millis() as i32) };
        if let Some(modes) = modes.as_deref_mut() {
            modes.follow(from.as_raw_fd());
        }
        if ready < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if ready == 0 {
            match ended.at.get() {
                // Quiet since the command ended: whatever still holds the output open is not
                // waited for. A secret's beginning held back is concealed, as its end may never
                // come now.
                Some(&at) if last_data.max(at).elapsed() >= QUIET_AFTER_EXIT => {
                    masker.abandon(&mut to)?;
                    return to.flush();
                }
                _ => continue,
            }
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
        if let Some(owed) = owed.as_mut() {
            *owed = owed.saturating_sub(read);
        }
        masker.push(&buffer[..read], &mut to)?;
    }
    masker.finish(&mut to)?;
    to.flush()
}

/// How many bytes wait to be read from `fd` (a pipe or a pseudo-terminal).
fn waiting(fd: i32) -> usize {
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let asked = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut waiting) };
    if asked == 0 {
        usize::try_from(waiting).unwrap_or(0)
    } else {
        0
    }
}

/// The real terminal's modes while the command's pseudo-terminal stands in for it: the two keep
/// the same modes, whichever the command changes (a full-screen program sets raw mode on its
/// output or on its input), so keys typed at the real one and output shown on it are handled as
/// the command asked; the real terminal's original modes come back at the end when they were
/// changed from here.
struct Modes {
    terminal: i32,
    original: libc::termios,
    last: libc::termios,
    /// Modes this relay set on the real terminal (not to be put back if the command set others).
    set: Option<libc::termios>,
}

impl Modes {
    fn follow(&mut self, pseudo_terminal: i32) {
        let (Ok(theirs), Ok(real)) = (modes(pseudo_terminal), modes(self.terminal)) else {
            return;
        };
        // SAFETY: tcsetattr sets a terminal's modes from a termios read above.
        if !same_modes(&theirs, &self.last) {
            unsafe {
                libc::tcsetattr(self.terminal, libc::TCSADRAIN, &theirs);
            }
            self.set = Some(theirs);
            self.last = theirs;
        } else if !same_modes(&real, &self.last) {
            unsafe {
                libc::tcsetattr(pseudo_terminal, libc::TCSANOW, &real);
            }
            self.last = real;
        }
    }

    fn restore(self) {
        let Ok(real) = modes(self.terminal) else {
            return;
        };
        if let Some(set) = self.set
            && same_modes(&real, &set)
            && !same_modes(&real, &self.original)
        {
            // SAFETY: as above, with the modes read at the start.
            unsafe {
                libc::tcsetattr(self.terminal, libc::TCSADRAIN, &self.original);
            }
        }
    }
}

fn modes(fd: i32) -> std::io::Result<libc::termios> {
    // SAFETY: termios is a plain C struct, filled in by tcgetattr.
    unsafe {
        let mut modes: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut modes) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(modes)
    }
}

fn same_modes(a: &libc::termios, b: &libc::termios) -> bool {
    a.c_iflag == b.c_iflag
        && a.c_oflag == b.c_oflag
        && a.c_cflag == b.c_cflag
        && a.c_lflag == b.c_lflag
        && a.c_cc == b.c_cc
}

/// Sets the window size of the pseudo-terminal `master` to the terminal `terminal`'s.
fn copy_window_size(terminal: i32, master: i32) {
    // SAFETY: winsize is a plain C struct; both ioctls only read or write it.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(terminal, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(master, libc::TIOCSWINSZ, &size);
        }
    }
}

/// The pseudo-terminals' masters for stdout and stderr (-1: none), for the window-size handler.
static PSEUDO_TERMINALS: [AtomicI32; 2] = [AtomicI32::new(-1), AtomicI32::new(-1)];
/// The command's pid while it may be signalled; 0: not started yet; [`ENDED`]: ended (about to be
/// reaped, after which its pid may belong to another process).
static COMMAND: AtomicI32 = AtomicI32::new(0);
const ENDED: i32 = -1;
/// Signals that came before the command was started, to pass on once it is (a bit each).
static EARLY: AtomicU32 = AtomicU32::new(0);
/// Handlers running: between reading the atomics above and acting on what they read.
static SIGNALLING: AtomicUsize = AtomicUsize::new(0);
/// Passed on when sent by another process.
const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP];

/// Waits until no signal handler is between reading the atomics and acting on them.
fn settle() {
    while SIGNALLING.load(Ordering::SeqCst) > 0 {
        std::hint::spin_loop();
    }
}

/// Passes the signals in [`FORWARDED`] sent by other processes on to the command about to be
/// started, and the terminal's window size on to its pseudo-terminals. Call once, before the
/// command starts.
pub fn forward_signals() -> std::io::Result<()> {
    for (bit, signal) in FORWARDED.into_iter().enumerate() {
        if ignored(signal) {
            continue;
        }
        // SAFETY: the handler only uses atomics, kill(2), signal(2) and raise(3), which are
        // async-signal-safe.
        unsafe {
            signal_hook_registry::register_sigaction(signal, move |info: &libc::siginfo_t| {
                SIGNALLING.fetch_add(1, Ordering::SeqCst);
                let pid = COMMAND.load(Ordering::SeqCst);
                if pid == ENDED {
                    // Nothing to pass it on to: it ends keywarden run, as it would have by default.
                    libc::signal(signal, libc::SIG_DFL);
                    libc::raise(signal);
                } else if info.si_code <= 0 {
                    // Sent by a process (a positive code: by the kernel for the terminal, to the
                    // whole group, so the command has it already).
                    match pid {
                        0 => {
                            EARLY.fetch_or(1 << bit, Ordering::SeqCst);
                        }
                        pid => {
                            libc::kill(pid, signal);
                        }
                    }
                }
                SIGNALLING.fetch_sub(1, Ordering::SeqCst);
            })?;
        }
    }
    // SAFETY: the handler only uses atomics, ioctl(2) and kill(2).
    unsafe {
        signal_hook_registry::register(libc::SIGWINCH, || {
            SIGNALLING.fetch_add(1, Ordering::SeqCst);
            let mut resized = false;
            for (stream, master) in [Stream::Stdout, Stream::Stderr]
                .into_iter()
                .zip(&PSEUDO_TERMINALS)
            {
                let master = master.load(Ordering::SeqCst);
                if master >= 0 {
                    copy_window_size(stream.fd(), master);
                    resized = true;
                }
            }
            // The command may have asked for the size before it changed here: tell it again.
            let pid = COMMAND.load(Ordering::SeqCst);
            if resized && pid > 0 {
                libc::kill(pid, libc::SIGWINCH);
            }
            SIGNALLING.fetch_sub(1, Ordering::SeqCst);
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

/// The command has started: signals go to it from now on, those that came before at once.
pub fn started(child: &std::process::Child) {
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    COMMAND.store(pid, Ordering::SeqCst);
    settle();
    let early = EARLY.swap(0, Ordering::SeqCst);
    for (bit, signal) in FORWARDED.into_iter().enumerate() {
        if early & (1 << bit) != 0 {
            // SAFETY: the command has not been waited for, so the pid is still its own.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }
}

/// Waits for the command to end, passing signals on to it until then, and reaps it.
pub fn wait(mut child: std::process::Child) -> std::io::Result<std::process::ExitStatus> {
    let pid = child.id();
    let waited = loop {
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
        let err = std::io::Error::last_os_error();
        if waited == 0 || err.kind() != std::io::ErrorKind::Interrupted {
            break if waited == 0 { Ok(()) } else { Err(err) };
        }
    };
    COMMAND.store(ENDED, Ordering::SeqCst);
    settle();
    waited?;
    child.wait()
}

/// Ends this process as the command ended: by the same signal when it was one that ends a
/// process without a core dump (so a shell sees an interrupted command and stops a script as it
/// would have), else with 128 + the signal, as a shell reports it. Returns the exit code to end
/// with when the command exited, or the signal did not end this process.
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
        // changed is a local one.
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

/// A larger pipe than the default 64 KiB: fewer turns between writer and reader.
#[cfg(target_os = "linux")]
fn grow(reader: &std::io::PipeReader) {
    // SAFETY: F_SETPIPE_SZ only resizes the pipe behind a descriptor this process holds; a
    // refusal leaves the default size.
    unsafe {
        libc::fcntl(reader.as_raw_fd(), libc::F_SETPIPE_SZ, 256 * 1024);
    }
}

/// Elsewhere pipes keep the size they have.
#[cfg(not(target_os = "linux"))]
fn grow(_: &std::io::PipeReader) {}
