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
