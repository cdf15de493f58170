//! A repository's keys by name: `.keywarden.toml` found from a subdirectory, profiles, consent
//! before any key is handed out (and again after an edit), `keywarden env` evaluated by bash,
//! zsh, fish and direnv itself (Debian packages), `run` with no flags, and the refusals: a
//! secret in the file, a variable that steers, a revoked key.

use std::path::Path;
use std::process::{Command, Output};

use super::sources::{add, sha256_hex};
use super::{BIN, Setup, stderr, stdout};

const GH: &str = "ghp_projectProjectProjectProject01";
const GH_STAGING: &str = "ghp_stagingStagingStagingStaging01";

/// keywarden, run in `dir`.
fn in_dir(setup: &Setup, dir: &Path, args: &[&str]) -> Output {
    setup.command(args).current_dir(dir).output().unwrap()
}

/// A shell (or direnv) in `dir`, with keywarden on its PATH and this computer's directories.
fn shell(setup: &Setup, dir: &Path, program: &str, args: &[&str]) -> Output {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", setup.home.path())
        .env("XDG_CONFIG_HOME", setup.computer.join("config"))
        .env("XDG_DATA_HOME", setup.computer.join("data"))
        .env("XDG_CACHE_HOME", setup.computer.join("cache"))
        .env_remove("DIRENV_DIR")
        .env_remove("DIRENV_FILE")
        .output()
        .unwrap_or_else(|err| {
            panic!("{program} (Debian package) is needed for this test and cannot start: {err}")
        })
}

fn digest_line(secret: &str) -> String {
    format!("{}\n", sha256_hex(secret))
}

#[test]
fn a_project_file_gives_its_keys_only_once_allowed() {
    let setup = Setup::new();
    for (name, secret) in [("gh", GH), ("gh-staging", GH_STAGING)] {
        let out = add(
            &setup,
            &["--service", "github", "--name", name, "--expires", "60d"],
            secret,
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let project = setup.home.path().join("project");
    let deep = project.join("src/deep");
    std::fs::create_dir_all(&deep).unwrap();
    let file = project.join(".keywarden.toml");
    let text = "[env]\nGH = \"kw://tracked/gh\"\nREGION = \"eu\"\n\
                [profiles.staging.env]\nGH = \"kw://tracked/gh-staging\"\n";
    std::fs::write(&file, text).unwrap();

    // Not allowed yet: refused from a subdirectory, the key named, nothing on stdout.
    let out = in_dir(&setup, &deep, &["env"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let said = stderr(&out);
    assert!(
        said.contains("GH = kw://tracked/gh: \"gh\" of tracked (GitHub), expires "),
        "{said}"
    );
    assert!(said.contains("Agree with: keywarden allow "), "{said}");
    let out = in_dir(&setup, &deep, &["run", "--", "sh", "-c", "echo ran"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty(), "nothing ran");

    let out = in_dir(&setup, &deep, &["allow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(GH));

    // Evaluated by the shells people use.
    let digest = r#"printf %s "$GH" | sha256sum | cut -c1-64"#;
    for sh in ["bash", "zsh"] {
        let out = shell(
            &setup,
            &deep,
            sh,
            &[
                "-c",
                &format!(r#"eval "$(keywarden env)" && echo "$REGION" && {digest}"#),
            ],
        );
        assert!(out.status.success(), "{sh}: {}", stderr(&out));
        assert_eq!(stdout(&out), format!("eu\n{}", digest_line(GH)), "{sh}");
    }
    let out = shell(
        &setup,
        &deep,
        "fish",
        &[
            "-c",
            "keywarden env --format fish | source; and echo $REGION; and printf %s $GH | sha256sum | cut -c1-64",
        ],
    );
    assert!(out.status.success(), "fish: {}", stderr(&out));
    assert_eq!(stdout(&out), format!("eu\n{}", digest_line(GH)));
    let json: serde_json::Value = serde_json::from_slice(
        &in_dir(
            &setup,
            &deep,
            &["env", "--format", "json", "--profile", "staging"],
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(json["GH"], GH_STAGING);
    assert_eq!(json["REGION"], "eu");
    let dotenv = stdout(&in_dir(&setup, &deep, &["env", "--format", "dotenv"]));
    assert_eq!(dotenv, format!("GH=\"{GH}\"\nREGION=\"eu\"\n"));

    // `run` with no flags takes the project's variables; --no-project leaves them out.
    let out = in_dir(&setup, &deep, &["run", "--", "sh", "-c", digest]);
    assert_eq!(stdout(&out), digest_line(GH), "{}", stderr(&out));
    let out = in_dir(
        &setup,
        &deep,
        &[
            "run",
            "--no-project",
            "--env",
            "X=kw://tracked/gh-staging",
            "--",
            "sh",
            "-c",
            r#"echo "[$GH]""#,
        ],
    );
    assert_eq!(stdout(&out), "[]\n", "{}", stderr(&out));

    // direnv itself, with `use keywarden` installed by one command.
    let out = shell(&setup, &deep, BIN, &["env", "--install-direnv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(project.join(".envrc"), "use keywarden\n").unwrap();
    let out = shell(&setup, &project, "direnv", &["allow", "."]);
    assert!(out.status.success(), "direnv allow: {}", stderr(&out));
    let out = shell(
        &setup,
        setup.home.path(),
        "direnv",
        &["exec", project.to_str().unwrap(), "sh", "-c", digest],
    );
    assert_eq!(
        stdout(&out),
        digest_line(GH),
        "direnv exec: {}",
        stderr(&out)
    );

    // An edit asks again; deny takes consent back.
    std::fs::write(&file, format!("{text}# edited\n")).unwrap();
    let out = in_dir(&setup, &deep, &["env"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let out = in_dir(&setup, &deep, &["allow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = setup.json(&["allow", "--list", "--json"]);
    assert!(
        list.to_string().contains("project/.keywarden.toml"),
        "{list}"
    );
    let out = in_dir(&setup, &deep, &["deny"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = in_dir(&setup, &deep, &["env"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
}

/// What a project file may not do: hold a secret; set a variable that steers (PATH) without
/// consent, which names it apart; use a revoked key (exit 2, nothing on stdout).
#[test]
fn a_project_file_is_refused_for_a_secret_a_steering_variable_or_a_revoked_key() {
    let setup = Setup::new();
    let dir = setup.home.path().join("p");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let file = dir.join(".keywarden.toml");

    std::fs::write(&file, format!("[env]\nGITHUB_TOKEN = \"{GH}\"\n")).unwrap();
    let out = in_dir(&setup, &dir, &["env"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("GITHUB_TOKEN looks like an API key"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(GH));

    // The repository's own bin/git would run instead of git.
    std::fs::write(dir.join("bin/git"), "#!/bin/sh\necho not git\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.join("bin/git"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&file, "[env]\nPATH = \"./bin:/usr/bin:/bin\"\n").unwrap();
    let out = in_dir(&setup, &dir, &["run", "--", "git", "--version"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!stdout(&out).contains("not git"));
    assert!(
        stderr(&out).contains(
            "sets what decides which programs run or where keys go:\n  PATH = ./bin:/usr/bin:/bin"
        ),
        "{}",
        stderr(&out)
    );

    let made = setup.json(&[
        "keys",
        "generate",
        "--name",
        "old",
        "--account",
        "local",
        "--json",
    ]);
    assert_eq!(made["stored"], true);
    let out = setup.run(&["keys", "revoke", "old", "--account", "local", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(&file, "[env]\nK = \"kw://local/old\"\n").unwrap();
    let out = in_dir(&setup, &dir, &["allow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = in_dir(&setup, &dir, &["env"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("is revoked"), "{}", stderr(&out));
}
