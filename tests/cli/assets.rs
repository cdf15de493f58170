//! `keywarden assets DIR`, what a package installs for the shells and `man`: a page for
//! `keywarden` and every subcommand, found by the real `man`, and completions that bash and fish
//! complete with and zsh reads (Debian packages man-db, bash, fish, zsh).

use std::process::Command;

use super::{Setup, stderr, stdout};

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(program);
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap_or_else(|err| {
        panic!("{program} (a Debian package) is needed for this test and cannot start: {err}")
    })
}

#[test]
fn man_pages_and_completions_are_made_from_the_command_line() {
    let setup = Setup::new();
    let dir = setup.home.path().join("assets");
    let out = setup.run(&["assets", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let man = dir.join("man");
    let manpath = man.to_str().unwrap();
    for page in [
        "keywarden",
        "keywarden-keys",
        "keywarden-keys-list",
        "keywarden-env",
        "keywarden-allow",
    ] {
        let out = run("man", &["-w", page], &[("MANPATH", manpath)]);
        assert!(out.status.success(), "man -w {page}: {}", stderr(&out));
        assert!(
            stdout(&out).trim().ends_with(&format!("man1/{page}.1")),
            "{}",
            stdout(&out)
        );
    }
    let out = run(
        "man",
        &["-P", "cat", "keywarden-keys-list"],
        &[("MANPATH", manpath), ("MANWIDTH", "100")],
    );
    assert!(
        stdout(&out).contains("keywarden keys list"),
        "{}",
        stdout(&out)
    );
    // Every subcommand `keywarden --help` lists has its page; the hidden one has none.
    let help = stdout(&setup.run(&["--help"]));
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(listed.len() > 10, "{help}");
    for name in listed {
        assert!(
            man.join(format!("man1/keywarden-{name}.1")).is_file(),
            "no page for {name}"
        );
    }
    assert!(!man.join("man1/keywarden-assets.1").exists());

    let completions = dir.join("completions");
    let bash = format!(
        r#"source '{}'; COMP_WORDS=(keywarden ke); COMP_CWORD=1; COMP_LINE="keywarden ke"; COMP_POINT=12; _keywarden keywarden ke keywarden; echo "${{COMPREPLY[@]}}""#,
        completions.join("keywarden.bash").display()
    );
    let out = run("bash", &["-c", &bash], &[]);
    assert_eq!(stdout(&out).trim(), "keys", "{}", stderr(&out));
    let fish = format!(
        "source '{}'; complete -C 'keywarden ke'",
        completions.join("keywarden.fish").display()
    );
    let out = run("fish", &["-c", &fish], &[]);
    assert!(
        stdout(&out).starts_with("keys\t"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = run(
        "zsh",
        &["-n", completions.join("_keywarden").to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "zsh reads it: {}", stderr(&out));
}

/// The desktop entry and the AppStream data pass their validators (Debian's desktop-file-utils
/// and appstream), both are named after the app's ID, and the app's real window under Xvfb
/// carries that ID as its WM_CLASS, so the desktop finds its entry and icon (x11-utils' xprop).
#[test]
fn the_desktop_entry_and_appstream_data_validate_and_the_window_carries_the_app_id() {
    use keywarden::gui::APP_ID;
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let entry = assets.join(format!("{APP_ID}.desktop"));
    let out = run("desktop-file-validate", &[entry.to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = std::fs::read_to_string(&entry).unwrap();
    assert!(text.contains(&format!("\nIcon={APP_ID}\n")), "{text}");
    assert!(
        text.contains(&format!("\nStartupWMClass={APP_ID}\n")),
        "{text}"
    );
    let metainfo = assets.join(format!("{APP_ID}.metainfo.xml"));
    let out = run(
        "appstreamcli",
        &["validate", "--no-net", metainfo.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let xml = std::fs::read_to_string(&metainfo).unwrap();
    assert!(xml.contains(&format!("<id>{APP_ID}</id>")));
    assert!(xml.contains(&format!(
        "<launchable type=\"desktop-id\">{APP_ID}.desktop</launchable>"
    )));
    assert!(xml.contains(&format!(
        "<release version=\"{}\"",
        env!("CARGO_PKG_VERSION")
    )));

    // The real window.
    let setup = Setup::new();
    assert!(
        std::env::var_os("DISPLAY").is_some(),
        "this test needs the X display of the session tests/run.sh starts"
    );
    let mut app = setup
        .command(&[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let window = loop {
        let tree = stdout(&run("xwininfo", &["-root", "-tree"], &[]));
        if let Some(line) = tree.lines().find(|l| l.contains("\"Keywarden\"")) {
            break line.split_whitespace().next().unwrap().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no Keywarden window in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let class = stdout(&run("xprop", &["-id", &window, "WM_CLASS"], &[]));
    let _ = app.kill();
    let _ = app.wait();
    assert!(class.contains(&format!("\"{APP_ID}\"")), "{class}");
}

/// The icon, named after the app's ID: the SVG and a PNG in every hicolor size from 16 to 512
/// pixels, each as large as its name says.
#[test]
fn the_icon_comes_in_every_hicolor_size() {
    use keywarden::gui::APP_ID;
    let icons = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/icons");
    let svg = std::fs::read_to_string(icons.join(format!("{APP_ID}.svg"))).unwrap();
    assert!(svg.contains("<svg") && svg.contains("viewBox=\"0 0 128 128\""));
    for size in [16u32, 24, 32, 48, 64, 128, 256, 512] {
        let png = std::fs::read(icons.join(format!("{APP_ID}-{size}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{size}");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
        assert_eq!((width, height), (size, size));
    }
}
