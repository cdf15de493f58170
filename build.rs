//! Lays out the release binary's code so that what the app runs at start sits together.
//!
//! `assets/startup-order.txt` lists the functions the desktop app runs from start to its first
//! frames (recorded by `benches/startup-order.sh`); the linker places them first, in that order.
//! Memory that holds code is counted in pages, and the kernel maps code in whole blocks of pages:
//! with those functions spread over the 25 MiB of code, nearly all of it was resident (21 MiB);
//! together, the app starts with about 11 MiB less (BENCHMARKS.md §4). Names the binary no longer
//! has (the code changed since it was recorded) are skipped; the order only moves code, so a
//! stale list costs memory, never correctness.
//!
//! Only for a release build with LLD, the linker Rust uses on x86_64 Linux since 1.90 (others do
//! not know the option), and only when no other linker is configured.

use std::path::Path;

const ORDER: &str = "assets/startup-order.txt";

fn main() {
    println!("cargo::rerun-if-changed={ORDER}");
    println!("cargo::rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let lld_by_default = var("TARGET") == "x86_64-unknown-linux-gnu" && rustc_minor() >= Some(90);
    let other_linker = !var("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_empty()
        || ["linker", "fuse-ld"]
            .iter()
            .any(|flag| var("CARGO_ENCODED_RUSTFLAGS").contains(flag));
    if var("PROFILE") != "release" || !lld_by_default || other_linker {
        return;
    }
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join(ORDER);
    if order.is_file() {
        println!(
            "cargo::rustc-link-arg-bin=keywarden=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo::rustc-link-arg-bin=keywarden=-Wl,--no-warn-symbol-ordering");
    }
}

/// The minor version of the compiler building this (1.N), when it says.
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()?;
    let version = String::from_utf8(out.stdout).ok()?;
    version
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}
