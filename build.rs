//! Lays out the release binary's code so that what the app runs at start sits together.
//!
//! `assets/startup-order.txt` lists the functions the desktop app runs from start to its first
//! frames (recorded by `benches/startup-order.sh`); the linker places them first, in that order.
//! Memory that holds code is counted in pages, and the kernel maps code in whole blocks of pages:
//! with those functions spread over the 28 MiB of code, more of it is resident; laid out
//! together, 3.3 MiB less of the binary is resident after start (BENCHMARKS.md §12; 8.5 MiB in
//! §4, when the code was smaller). Names the binary no longer has (the code changed since they
//! were recorded) are skipped; the order only moves code, so a stale list costs memory, never
//! correctness, and tests/package.sh fails once less than 90% of the names are found.
//!
//! Only for a release build whose linker is LLD (the one Rust uses on x86_64 Linux since 1.90;
//! others do not know the option): a probe link shows which it is. `KEYWARDEN_NO_STARTUP_ORDER=1`
//! leaves the order out (to measure what it changes).

use std::io::Write as _;
use std::path::Path;

const ORDER: &str = "assets/startup-order.txt";

fn main() {
    println!("cargo::rerun-if-changed={ORDER}");
    println!("cargo::rerun-if-env-changed=KEYWARDEN_NO_STARTUP_ORDER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join(ORDER);
    // The option is ELF LLD's: Linux only.
    if var("PROFILE") != "release"
        || var("CARGO_CFG_TARGET_OS") != "linux"
        || !var("KEYWARDEN_NO_STARTUP_ORDER").is_empty()
        || !order.is_file()
        // A linker chosen in Cargo's configuration or flags: the probe below would not use it.
        || !var("RUSTC_LINKER").is_empty()
        || ["linker", "fuse-ld"]
            .iter()
            .any(|flag| var("CARGO_ENCODED_RUSTFLAGS").contains(flag))
        || !links_with_lld()
    {
        return;
    }
    // -Xlinker passes each argument whole (-Wl, would cut a path at its commas).
    for arg in [
        "-Xlinker".to_string(),
        format!("--symbol-ordering-file={}", order.display()),
        "-Xlinker".to_string(),
        "--no-warn-symbol-ordering".to_string(),
    ] {
        println!("cargo::rustc-link-arg-bin=keywarden={arg}");
    }
}

/// Whether the compiler building this links the target's programs with LLD: an empty program
/// linked in OUT_DIR, its link command printed.
fn links_with_lld() -> bool {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let probe = Path::new(&var("OUT_DIR")).join("link-probe");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let child = std::process::Command::new(rustc)
        .args(["-", "--crate-name", "link_probe", "--crate-type", "bin"])
        .args(["--target", &var("TARGET"), "--print", "link-args", "-o"])
        .arg(&probe)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(b"fn main() {}\n");
    }
    let Ok(out) = child.wait_with_output() else {
        return false;
    };
    let args = String::from_utf8_lossy(&out.stdout);
    out.status.success() && (args.contains("-fuse-ld=lld") || args.contains("rust-lld"))
}
