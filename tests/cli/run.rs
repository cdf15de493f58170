//! `keywarden run` and `keywarden inject` against the real keychain: tracked keys added the way a
//! developer adds them, used without ever being printed.

use std::io::BufRead as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{Setup, assert_one_line_error, stderr, stdout};

const SECRET: &str = "ghp_runRunRunRunRunRunRunRunRunRunRun12";
const OTHER: &str = "glpat-injectInjectInject123";

/// A tracked key held in the keychain.
fn add(setup: &Setup, service: &str, name: &str, expires: &str, secret: &str) {
    let out = setup.run_with_stdin(
        &[
            "keys",
            "add",
            "--service",
            service,
            "--name",
            name,
            "--expires",
            expires,
        ],
        &format!("{secret}\n"),
    );
    assert!(out.status.success(), "keys add {name}: {}", stderr(&out));
}

/// `keywarden run --env GH=kw://tracked/gh -- COMMAND…`, to be started as the test needs.
fn run_gh(setup: &Setup, command: &[&str]) -> std::process::Command {
    let mut args = vec!["run", "--env", "GH=kw://tracked/gh", "--"];
    args.extend_from_slice(command);
    setup.command(&args)
}

fn sh(setup: &Setup, args: &[&str], script: &str) -> std::process::Output {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", "sh", "-c", script]);
    setup.run(&all)
}

#[test]
fn the_command_gets_the_secret_and_its_output_never_shows_it() {
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let env = ["--env", "GH=kw://tracked/gh"];
    // The secret is in the environment, whole; every print of it is concealed, in both streams.
    let out = sh(
        &setup,
        &env,
        r#"printf '%s' "$GH" | wc -c; echo "out $GH"; echo "err $GH" >&2"#,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (printed, errors) = (stdout(&out), stderr(&out));
    assert!(printed.starts_with(&SECRET.len().to_string()), "{printed}");
    assert!(
        printed.contains("out <concealed by keywarden>"),
        "{printed}"
    );
    assert!(errors.contains("err <concealed by keywarden>"), "{errors}");
    assert!(!printed.contains(SECRET) && !errors.contains(SECRET));
    // Printed in two pieces a moment apart (two reads): still concealed.
    let out = sh(
        &setup,
        &env,
        r#"head=${GH%????????????}; printf '%s' "$head"; printf '%s' "$head" >&2; sleep 0.3;
           printf '%s\n' "${GH#"$head"}"; printf '%s\n' "${GH#"$head"}" >&2"#,
    );
    assert_eq!(stdout(&out), "<concealed by keywarden>\n");
    assert!(
        stderr(&out).ends_with("<concealed by keywarden>\n"),
        "{}",
        stderr(&out)
    );
    // --no-masking passes the output through untouched.
    let out = sh(
        &setup,
        &["--no-masking", "--env", "GH=kw://tracked/gh"],
        r#"echo "$GH""#,
    );
    assert_eq!(stdout(&out), format!("{SECRET}\n"));
    // The reference is what `keys show` gives, in its JSON and its details.
    let shown = setup.json(&["keys", "show", "gh", "--json"]);
    assert_eq!(shown["reference"], "kw://tracked/gh");
    let details = setup.run(&["keys", "show", "gh"]);
    assert!(
        stdout(&details).contains("reference:   kw://tracked/gh"),
        "{}",
        stdout(&details)
    );
    // `ps` shows only the reference: nothing resolved is on keywarden's own command line.
    let out = sh(&setup, &env, r#"tr '\0' ' ' < /proc/$PPID/cmdline"#);
    assert!(
        stdout(&out).contains("GH=kw://tracked/gh"),
        "{}",
        stdout(&out)
    );
}

/// The lines a child prints, as they come, for reading with a deadline (a regression then fails
/// the test instead of hanging it).
fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let (send, receive) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn wait_at_most(child: &mut std::process::Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keywarden run did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_exit_code_and_signals_are_passed_through() {
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let out = sh(&setup, &["--env", "GH=kw://tracked/gh"], "exit 7");
    assert_eq!(out.status.code(), Some(7));

    // Each signal a process sends to keywarden run reaches the command (SIGINT and SIGQUIT only
    // when they do not come from a terminal: then the command has them already).
    for (signal, code) in [("INT", 40), ("QUIT", 41), ("TERM", 42), ("HUP", 43)] {
        let mut run = run_gh(
            &setup,
            &[
                "sh",
                "-c",
                &format!(
                    "trap 'echo got {signal}; exit {code}' {signal}; echo ready; \
                     while :; do sleep 0.05; done"
                ),
            ],
        );
        // Started as a terminal's shell starts it: with the signals' default actions. (A shell
        // script's `&` job inherits SIGINT and SIGQUIT ignored, and keywarden run keeps an
        // ignored signal ignored, as `nohup` wants.)
        // SAFETY: signal(2) is async-signal-safe, as the time between fork and exec requires.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut run, || {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGQUIT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = run
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(&mut child);
        let within = Duration::from_secs(10);
        assert_eq!(lines.recv_timeout(within).unwrap(), "ready");
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        assert_eq!(lines.recv_timeout(within).unwrap(), format!("got {signal}"));
        assert_eq!(wait_at_most(&mut child, within).code(), Some(code));
    }
}

#[test]
fn keys_about_to_expire_are_named_and_expired_ones_stop_the_run() {
    let setup = Setup::new();
    add(&setup, "github", "soon", "3d", SECRET);
    let out = sh(&setup, &["--env", "K=kw://tracked/soon"], "echo ran");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ran\n");
    let warning = stderr(&out);
    assert!(
        warning.contains("urgent: kw://tracked/soon (\"soon\") expires in 2 days")
            || warning.contains("urgent: kw://tracked/soon (\"soon\") expires in 3 days"),
        "{warning}"
    );
    assert!(
        warning.contains("renew it with: keywarden keys"),
        "{warning}"
    );

    // Expired since it was added: the list on this computer says so, and nothing runs.
    add(&setup, "gitlab", "old", "30d", OTHER);
    let tracked = setup.data_dir().join("tracked.json");
    let text = std::fs::read_to_string(&tracked).unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in file["keys"].as_array_mut().unwrap() {
        if key["name"] == "old" {
            key["expires_at"] = serde_json::json!("2020-01-01T00:00:00Z");
        }
    }
    std::fs::write(&tracked, serde_json::to_string(&file).unwrap()).unwrap();
    let marker = setup.home.path().join("ran");
    let script = format!("touch {}", marker.display());
    let out = sh(&setup, &["--env", "K=kw://tracked/old"], &script);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kw://tracked/old (\"old\") expired"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists(), "nothing was run");
    let out = sh(
        &setup,
        &["--allow-expired", "--env", "K=kw://tracked/old"],
        &script,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(marker.exists());
}

#[test]
fn references_that_do_not_resolve_stop_before_anything_runs() {
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let marker = setup.home.path().join("ran");
    let script = format!("touch {}", marker.display());
    for (reference, says) in [
        ("kw://nowhere/gh", "is not a known account"),
        ("kw://tracked/missing", "missing"),
        ("kw://tracked", "not a key reference"),
        ("tracked/gh", "the value is a reference"),
    ] {
        let out = sh(&setup, &["--env", &format!("K={reference}")], &script);
        assert_one_line_error(&out, says);
        assert!(!marker.exists(), "{reference}: nothing runs");
    }
    // A key whose secret this computer does not hold.
    std::fs::remove_dir_all(setup.home.path().join("data")).ok();
    let out = sh(&setup, &["--env", "K=kw://local/nothing"], &script);
    assert!(!out.status.success());
    assert!(!marker.exists());
}

#[test]
fn env_files_resolve_their_references_and_pass_the_rest_through() {
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let file = setup.home.path().join(".env");
    std::fs::write(
        &file,
        "# keys for the demo\n\
         export GH=kw://tracked/gh\n\
         GREETING=\"hello world\" \n\
         PLAIN=as-is # a comment\n",
    )
    .unwrap();
    let script = r#"printf '%s|%s|%s|%s\n' "$GH" "$GREETING" "$PLAIN" "${#GH}""#;
    // A file naming keys is used only once allowed.
    let out = sh(&setup, &["--env-file", file.to_str().unwrap()], script);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("keywarden allow "),
        "{}",
        stderr(&out)
    );
    let out = setup.run(&["allow", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sh(&setup, &["--env-file", file.to_str().unwrap()], script);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "<concealed by keywarden>|hello world|as-is|{}\n",
            SECRET.len()
        )
    );
}

#[test]
fn inject_writes_a_private_file_and_does_not_overwrite_one() {
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    add(&setup, "gitlab", "gl lab", "90d", OTHER);
    let template = setup.home.path().join("config.tmpl");
    std::fs::write(
        &template,
        "github = \"{{ kw://tracked/gh }}\"\ngitlab = \"{{kw://tracked/gl%20lab}}\"\nleft = {{ other }}\n",
    )
    .unwrap();
    let want = format!("github = \"{SECRET}\"\ngitlab = \"{OTHER}\"\nleft = {{{{ other }}}}\n");
    // Found in review: an unclosed `{{` before a placeholder left the placeholder unfilled.
    let stray = setup.home.path().join("stray.tmpl");
    std::fs::write(&stray, "a {{ b {{ kw://tracked/gh }} c").unwrap();
    let out = setup.run(&["inject", "-i", stray.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a template naming keys needs consent"
    );
    assert!(stdout(&out).is_empty());
    for file in [&stray, &template] {
        let out = setup.run(&["allow", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        // Read as a template (its placeholders), not as a .env file it also parses as.
        assert!(
            stdout(&out).contains("{{ }} = kw://tracked/gh: \"gh\" of tracked (GitHub)"),
            "{}",
            stdout(&out)
        );
    }
    let out = setup.run(&["inject", "-i", stray.to_str().unwrap()]);
    assert_eq!(
        stdout(&out),
        format!("a {{{{ b {SECRET} c"),
        "{}",
        stderr(&out)
    );
    let out = setup.run(&["inject", "-i", template.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), want);

    let written = setup.home.path().join("config.toml");
    let path = written.to_str().unwrap();
    let out = setup.run(&["inject", "-i", template.to_str().unwrap(), "-o", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&written).unwrap(), want);
    let mode = std::fs::metadata(&written).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(stdout(&out).is_empty() && !stderr(&out).contains(SECRET));

    std::fs::write(&written, "mine").unwrap();
    let out = setup.run(&["inject", "-i", template.to_str().unwrap(), "-o", path]);
    assert_one_line_error(&out, "exists: give --force");
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        "mine",
        "left as it was"
    );
    let out = setup.run(&[
        "inject",
        "-i",
        template.to_str().unwrap(),
        "-o",
        path,
        "--force",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&written).unwrap(), want);
}

/// A key of a Keywarden server (the remote test server, signed in to), made here: its reference
/// resolves from the keychain, and its secret works against that server from the command.
#[test]
fn a_keywarden_servers_key_is_used_by_its_reference() {
    let setup = Setup::new();
    setup.login();
    let created = setup.json(&[
        "keys",
        "generate",
        "--name",
        "ci deploy",
        "--print",
        "--json",
    ]);
    let secret = created["secret"].as_str().unwrap().to_string();
    let reference = setup.json(&["keys", "show", "ci deploy", "--json"])["reference"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reference.ends_with("/ci%20deploy"), "{reference}");
    let ping = format!("{}/v1/ping", setup.url);
    let out = sh(
        &setup,
        &["--env", &format!("KEY={reference}")],
        &format!(r#"curl -s -o /dev/null -w '%{{http_code}}' -H "X-API-Key: $KEY" {ping}"#),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "200",
        "the server accepted the key the command was given"
    );
    let out = sh(
        &setup,
        &["--env", &format!("KEY={reference}")],
        r#"echo "$KEY""#,
    );
    assert_eq!(stdout(&out), "<concealed by keywarden>\n");
    assert!(!stderr(&out).contains(&secret));
}

/// Found in review: a process the command left running in the background, holding its output,
/// kept `keywarden run` waiting for it after the command had ended.
#[test]
fn run_ends_with_the_command_not_with_what_it_left_in_the_background() {
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let started = Instant::now();
    let out = sh(
        &setup,
        &["--env", "GH=kw://tracked/gh"],
        r#"sleep 20 & echo "done $GH"; echo "err $GH" >&2"#,
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "keywarden run waited {:?} for a background sleep",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "done <concealed by keywarden>\n");
    assert!(stderr(&out).ends_with("err <concealed by keywarden>\n"));
}

/// A command killed by a signal ends `keywarden run` by the same signal, as a shell would see
/// the command itself end (before: exit code 143).
#[test]
fn a_command_killed_by_a_signal_ends_run_by_that_signal() {
    use std::os::unix::process::ExitStatusExt as _;
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let out = sh(&setup, &["--env", "GH=kw://tracked/gh"], "kill -TERM $$");
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{:?}", out.status);
}

/// Found in review: under `nohup` (SIGHUP ignored), the command got SIGHUP's default back.
#[test]
fn a_signal_ignored_by_whoever_started_run_stays_ignored_for_the_command() {
    use std::os::unix::process::CommandExt as _;
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let mut command = run_gh(&setup, &["sh", "-c", "grep SigIgn /proc/$$/status"]);
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = command.output().unwrap();
    let mask = stdout(&out);
    let mask = mask.trim().trim_start_matches("SigIgn:").trim();
    let mask = u64::from_str_radix(mask, 16).unwrap_or_else(|_| panic!("{:?}", stdout(&out)));
    assert_eq!(mask & 1, 1, "SIGHUP is no longer ignored: {mask:x}");
}

/// A pseudo-terminal pair for the tests below, its window 33 rows by 77 columns.
fn terminal() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd as _;
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 33,
        ws_col: 77,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors, owned by the Files made of them.
    unsafe {
        assert_eq!(
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size
            ),
            0
        );
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(slave),
        )
    }
}

/// Everything the terminal shows until every process has let go of it.
fn shown(mut master: std::fs::File) -> String {
    use std::io::Read as _;
    let mut shown = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match master.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => shown.extend_from_slice(&buffer[..n]),
            // EIO: the other end is closed by all.
            Err(_) => break,
        }
    }
    // A terminal shows a line's end as \r\n, and a pseudo-terminal between as \r\r\n.
    String::from_utf8_lossy(&shown).replace('\r', "")
}

/// With masking on, a command whose output goes to a terminal still writes to a terminal (its
/// own pseudo-terminal, of the same size; one for both streams when both go to the same
/// terminal, so their order is kept), and what it shows is concealed on the way. It holds no
/// other descriptor of keywarden run's.
#[test]
fn a_command_writing_to_a_terminal_still_sees_one() {
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let (master, slave) = terminal();
    let mut child = run_gh(
        &setup,
        &[
            "sh",
            "-c",
            r#"test -t 1 && test -t 2 && echo "a terminal: $GH"; stty size <&1
               echo one; echo two >&2; echo three"#,
        ],
    )
    .stdout(slave.try_clone().unwrap())
    .stderr(slave.try_clone().unwrap())
    .spawn()
    .unwrap();
    drop(slave);
    let shown = shown(master);
    let status = wait_at_most(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(
        shown.contains("a terminal: <concealed by keywarden>\n33 77\none\ntwo\nthree\n"),
        "{shown:?}"
    );
    assert!(!shown.contains(SECRET));

    // Started with nothing open beyond 0, 1 and 2, the command has nothing more (`ls` itself
    // opens 3 to read the directory).
    use std::os::unix::process::CommandExt as _;
    let (master, slave) = terminal();
    let mut command = run_gh(&setup, &["ls", "/proc/self/fd"]);
    command
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: close(2) is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            for fd in 3..1024 {
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    drop((command, slave));
    let listed = self::shown(master);
    assert!(wait_at_most(&mut child, Duration::from_secs(10)).success());
    let fds: Vec<&str> = listed.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{listed:?}");
}

/// The command's pseudo-terminal and the real terminal keep the same modes: one it sets on the
/// real terminal (through stdin) reaches its pseudo-terminal (found in review: output processing
/// then happened twice); one it sets on its output (no echo, as a full-screen program does) is set
/// on the real terminal, where the keys are typed, and put back afterwards.
#[test]
fn terminal_modes_set_by_the_command_reach_the_real_terminal_until_it_ends() {
    use std::io::Read as _;
    use std::os::fd::AsRawFd as _;
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let (mut master, slave) = terminal();
    let echo = |fd: i32| {
        // SAFETY: tcgetattr fills a plain C struct.
        let mut modes: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(fd, &mut modes) }, 0);
        modes.c_lflag & libc::ECHO != 0
    };
    assert!(echo(slave.as_raw_fd()));
    let mut child = run_gh(
        &setup,
        &[
            "sh",
            "-c",
            "exec 3>&1; stty -opost; sleep 0.3; stty -a <&3 | grep -o -- -opost; stty opost; sleep 0.3
             stty -echo <&1; echo quiet; sleep 1; echo done",
        ],
    )
    .stdin(slave.try_clone().unwrap())
    .stdout(slave.try_clone().unwrap())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("quiet") {
        let n = master.read(&mut buffer).unwrap();
        assert!(n > 0, "the command never said it was quiet");
        seen.extend_from_slice(&buffer[..n]);
    }
    assert!(
        String::from_utf8_lossy(&seen).contains("-opost"),
        "the pseudo-terminal did not follow the real one: {:?}",
        String::from_utf8_lossy(&seen)
    );
    assert!(
        !echo(slave.as_raw_fd()),
        "echo still on at the real terminal"
    );
    let status = wait_at_most(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    assert!(echo(slave.as_raw_fd()), "echo not put back");
}

/// Found in review: something the command left in the background writing all the time kept
/// `keywarden run` going for ever (and deaf to Ctrl-C) after the command had ended.
#[test]
fn a_background_process_writing_all_the_time_does_not_keep_run_going() {
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let mut child = run_gh(
        &setup,
        &[
            "sh",
            "-c",
            "(while :; do echo tick; sleep 0.01; done) & echo started",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let lines = lines_of(&mut child);
    // The background's ticks may come first.
    while lines.recv_timeout(Duration::from_secs(10)).unwrap() != "started" {}
    assert!(wait_at_most(&mut child, Duration::from_secs(10)).success());
}

/// Found in review: after the command ended, output still on its way was cut off after a second
/// when the reader was slow.
#[test]
fn output_still_on_its_way_when_the_command_ends_all_arrives() {
    use std::io::Read as _;
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let mut child = run_gh(
        &setup,
        &["sh", "-c", "head -c 600000 /dev/zero | tr '\\0' a"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (mut total, mut buffer) = (0, [0u8; 4096]);
    loop {
        let n = stdout.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        assert!(buffer[..n].iter().all(|&b| b == b'a'));
        total += n;
        // A slow reader: 4 KiB every 20 ms, 3 s for it all.
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(total, 600_000);
    assert!(wait_at_most(&mut child, Duration::from_secs(10)).success());
}

/// Ctrl-C at the terminal reaches the command once: as a member of `keywarden run`'s process
/// group it gets it from the terminal itself, and `keywarden run` does not send another (before:
/// it did whenever its stdin was not the terminal).
#[test]
fn ctrl_c_at_the_terminal_reaches_the_command_once() {
    use std::io::Write as _;
    use std::os::fd::AsRawFd as _;
    use std::os::unix::process::CommandExt as _;
    let setup = Setup::new();
    add(&setup, "github", "gh", "90d", SECRET);
    let (mut master, slave) = terminal();
    let mut command = run_gh(
        &setup,
        &[
            // Perl counts every delivery (a shell's trap runs once for several).
            "perl",
            "-e",
            r#"$| = 1; my $n = 0; $SIG{INT} = sub { $n++ }; print "ready\n";
           select(undef, undef, undef, 0.05) for 1 .. 30; print "interrupts: $n\n";"#,
        ],
    );
    command
        .stdout(slave.try_clone().unwrap())
        .stderr(Stdio::piped());
    let slave_fd = slave.as_raw_fd();
    // SAFETY: setsid and ioctl are async-signal-safe: keywarden run leads a session whose
    // controlling terminal is the pair's, in its foreground, as a shell would start it.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    // Only keywarden run and its command hold the terminal now: its end is theirs.
    drop((command, slave));
    let mut seen = Vec::new();
    let mut buffer = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("ready") {
        let n = std::io::Read::read(&mut master, &mut buffer).unwrap();
        assert!(n > 0, "the command never said it was ready");
        seen.extend_from_slice(&buffer[..n]);
    }
    master.write_all(b"\x03").unwrap();
    let shown = shown(master);
    let status = wait_at_most(&mut child, Duration::from_secs(10));
    assert!(shown.contains("interrupts: 1"), "{shown:?} {status:?}");
    assert!(status.success(), "{status:?}");
}

/// Issue 22's two repros, with a key made on this computer: its random part without the
/// checksum, ending a line, is concealed; and a key split between stdout and stderr that go to
/// the same file is concealed (one masker for both).
#[test]
fn a_keys_random_part_and_a_key_split_across_one_file_are_concealed() {
    let setup = Setup::new();
    let made = setup.json(&[
        "keys",
        "generate",
        "--name",
        "m",
        "--account",
        "local",
        "--print",
        "--json",
    ]);
    assert!(made["secret"].as_str().unwrap().starts_with("kw_"));

    let piped = setup
        .command(&[
            "run",
            "--env",
            "K=kw://local/m",
            "--",
            "sh",
            "-c",
            r#"printf "token=%s\n" "${K%??????}""#,
        ])
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(stdout(&piped), "token=<concealed by keywarden>\n");

    // `>FILE 2>&1`, as a shell sets it up: both streams are the one file. First the issue's
    // repro, then the key in 7-character pieces, one to each stream in turn: only one masker
    // for both sees them as the key.
    let split_script = r#"printf %s "${K%??????????}"; printf "%s\n" "${K#${K%??????????}}" >&2"#;
    let pieces_script = r#"k=$K; i=0
        while [ -n "$k" ]; do
          c=${k%"${k#???????}"}; [ -n "$c" ] || c=$k
          if [ $((i % 2)) = 0 ]; then printf %s "$c"; else printf %s "$c" >&2; fi
          k=${k#"$c"}; i=$((i + 1))
        done; echo"#;
    for script in [split_script, pieces_script] {
        let file = setup.home.path().join("out");
        let status = std::process::Command::new("sh")
            .args([
                "-c",
                r#""$0" run --env K=kw://local/m -- sh -c "$1" >"$2" 2>&1"#,
                super::BIN,
                script,
                file.to_str().unwrap(),
            ])
            .env("XDG_CONFIG_HOME", setup.computer.join("config"))
            .env("XDG_DATA_HOME", setup.computer.join("data"))
            .env("XDG_CACHE_HOME", setup.computer.join("cache"))
            .status()
            .unwrap();
        assert!(status.success());
        let written = std::fs::read_to_string(&file).unwrap();
        assert_eq!(written, "<concealed by keywarden>\n", "{script}");
    }
}

/// Found as a new user (issue 19): after `keys revoke deploy`, `run` said the secret "is not held
/// on this computer" and exited 1. The key's state is checked first: revoked, exit 2, nothing
/// runs; the same for `inject`.
#[test]
fn a_revoked_key_stops_run_and_inject_with_exit_2() {
    let setup = Setup::new();
    let made = setup.json(&[
        "keys",
        "generate",
        "--name",
        "deploy",
        "--account",
        "local",
        "--json",
    ]);
    assert_eq!(made["stored"], true);
    let out = setup.run(&["keys", "revoke", "deploy", "--account", "local", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let marker = setup.home.path().join("ran");
    let out = setup.run(&[
        "run",
        "--env",
        "K=kw://local/deploy",
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(\"deploy\") is revoked"),
        "{}",
        stderr(&out)
    );
    assert!(!marker.exists(), "nothing ran");
    let template = setup.home.path().join("t.tmpl");
    std::fs::write(&template, "K={{ kw://local/deploy }}\n").unwrap();
    let out = setup.run(&["inject", "-i", template.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}
