//! The layer rules of ARCHITECTURE.md ("Layers and who may import whom"), checked on the source:
//! which top-level module of `src/` names which (`crate::…` paths, `use` lists included), no cycle
//! between top-level modules, and no file over 800 lines. Test modules (`#[cfg(test)] mod tests`,
//! at the end of a file by this code's habit) are not counted: a test may reach across layers.
//!
//! What breaks a rule today is listed in `KNOWN_EDGES` and `LONG_FILES`, each with the work that
//! removes it (issue 21). Those lists can only shrink: an entry that no longer breaks anything
//! fails the test too, so it is taken out when the work is done.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Imports no top-level module may make: (from, to).
const FORBIDDEN: &[(&str, &str, &str)] = &[
    ("server", "gui", "the server never knows the desktop side"),
    ("server", "cli", "the server never knows the command line"),
    ("server", "client", "the server never knows its client"),
    ("server", "sources", "the server never knows the sources"),
    ("server", "vault", "the server never reaches the keychain"),
    (
        "server",
        "transfer",
        "the server never knows the transfer of keys",
    ),
    (
        "gui",
        "server",
        "the app reaches this computer's server through `local` only",
    ),
    (
        "client",
        "server",
        "the client speaks to a server over HTTP only",
    ),
    (
        "sources",
        "server",
        "sources speak to servers over HTTP only",
    ),
    (
        "client",
        "sources",
        "the API client knows no source: sources use it",
    ),
    (
        "settings",
        "sources",
        "the settings file names kinds of account, and sources read it",
    ),
    ("vault", "server", "the keychain knows no server"),
    ("reminders", "server", "reminders know no server"),
    (
        "transfer",
        "server",
        "transfer speaks to sources, never to a backend",
    ),
    (
        "transfer",
        "client",
        "transfer speaks to sources, never to a backend",
    ),
];

/// Imports that break a rule today, and the work that removes them.
const KNOWN_EDGES: &[(&str, &str, &str)] = &[];

/// Files over 800 lines today, and the work that splits them.
const LONG_FILES: &[(&str, &str)] = &[];

const MAX_LINES: usize = 800;

#[test]
fn the_layers_import_only_what_architecture_md_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "only {} files under src/", files.len());

    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut long = BTreeSet::new();
    for file in &files {
        let relative = file
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
            .unwrap();
        let from = top_module(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        if text.lines().count() > MAX_LINES {
            long.insert(relative.display().to_string());
        }
        for to in named_modules(&text, module_depth(&src, file)) {
            if to != from {
                edges
                    .entry((from.clone(), to))
                    .or_default()
                    .insert(relative.display().to_string());
            }
        }
    }

    let mut broken = Vec::new();
    for (from, to, why) in FORBIDDEN {
        let key = (from.to_string(), to.to_string());
        if let Some(where_) = edges.get(&key)
            && !KNOWN_EDGES.iter().any(|(f, t, _)| f == from && t == to)
        {
            broken.push(format!("{from} → {to} ({why}): {where_:?}"));
        }
    }
    for (from, to, why) in KNOWN_EDGES {
        if !edges.contains_key(&(from.to_string(), to.to_string())) {
            broken.push(format!(
                "{from} → {to} is gone ({why}): take it out of KNOWN_EDGES"
            ));
        }
    }
    // Cycles between top-level modules, the known edges left out.
    let graph: BTreeMap<&str, BTreeSet<&str>> = edges
        .keys()
        .filter(|(from, to)| !KNOWN_EDGES.iter().any(|(f, t, _)| f == from && t == to))
        .fold(BTreeMap::new(), |mut graph, (from, to)| {
            graph.entry(from.as_str()).or_default().insert(to.as_str());
            graph
        });
    for cycle in cycles(&graph) {
        broken.push(format!("an import cycle: {}", cycle.join(" → ")));
    }
    for file in &long {
        if !LONG_FILES.iter().any(|(known, _)| known == file) {
            broken.push(format!("{file} is over {MAX_LINES} lines"));
        }
    }
    for (file, why) in LONG_FILES {
        if !long.contains(*file) {
            broken.push(format!(
                "{file} is {MAX_LINES} lines or less now ({why}): take it out of LONG_FILES"
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "layer rules broken:\n{}",
        broken.join("\n")
    );
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `server` for src/server/… and src/server.rs; `main` and `lib` for those files.
fn top_module(src: &Path, file: &Path) -> String {
    let first = file.strip_prefix(src).unwrap().components().next().unwrap();
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// How deep a file's module is: 0 for lib.rs and main.rs, 1 for src/server.rs and
/// src/server/mod.rs, 2 for src/server/store/mod.rs and src/server/routes.rs, …
fn module_depth(src: &Path, file: &Path) -> usize {
    let relative = file.strip_prefix(src).unwrap();
    let parts = relative.components().count();
    match relative.file_name().and_then(|n| n.to_str()) {
        Some("mod.rs") => parts - 1,
        Some("lib.rs" | "main.rs") if parts == 1 => 0,
        _ => parts,
    }
}

/// `line` without its `//` comment; a `//` inside a string (a URL) is kept.
fn without_comment(line: &str) -> &str {
    let mut in_string = false;
    let mut escaped = false;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '/' if !in_string && previous == '/' => return &line[..at - 1],
            _ => {}
        }
        previous = c;
    }
    line
}

/// `super::` chains that climb to the crate's root, written `crate::`, so that they are read like
/// the paths that name it.
fn rooted(code: &str, depth: usize) -> String {
    const SUPER: &str = "super::";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(SUPER) {
        let before = rest[..at].chars().next_back();
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let mut climbed = 0;
        while let Some(after) = rest.strip_prefix(SUPER) {
            climbed += 1;
            rest = after;
        }
        let whole_word = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
        if whole_word && climbed >= depth {
            out.push_str("crate::");
        } else {
            out.push_str(&SUPER.repeat(climbed));
        }
    }
    out.push_str(rest);
    out
}

/// The top-level modules a file's code names (`crate::x::…`, `crate::{x, y::…}`, or a `super::`
/// chain that climbs to the root), its test module and comments left out.
fn named_modules(text: &str, depth: usize) -> BTreeSet<String> {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            break;
        }
        code.push_str(without_comment(line));
        code.push('\n');
    }
    let code = rooted(&code, depth);
    let mut named = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `keywarden::crate::` cannot occur; `$crate::` is a macro's.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // A `use` list: each item's first name, at the list's top level.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        add_first_name(&item, &mut named);
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            add_first_name(&item, &mut named);
        } else {
            add_first_name(rest, &mut named);
        }
    }
    named
}

fn add_first_name(path: &str, named: &mut BTreeSet<String>) {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !name.is_empty() && name != "self" {
        named.insert(name);
    }
}

/// Every cycle of the graph, each once (from its smallest module).
fn cycles<'a>(graph: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    fn walk<'a>(
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        start: &'a str,
        at: &'a str,
        path: &mut Vec<&'a str>,
        found: &mut Vec<Vec<&'a str>>,
    ) {
        for &next in graph.get(at).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start);
                found.push(cycle);
            } else if next > start && !path.contains(&next) {
                path.push(next);
                walk(graph, start, next, path, found);
                path.pop();
            }
        }
    }
    let mut found = Vec::new();
    for &start in graph.keys() {
        walk(graph, start, start, &mut vec![start], &mut found);
    }
    found
}

/// The reader itself: a `super::` chain that climbs out of `server` names the module it reaches,
/// and a URL in a string does not hide the rest of its line.
#[test]
fn the_reader_finds_paths_that_climb_and_paths_after_a_url() {
    let climbing = "use super::super::super::gui::App;\nuse super::Row;\n";
    let named = named_modules(climbing, 3);
    assert!(named.contains("gui"), "{named:?}");
    assert!(!named.contains("Row"), "{named:?}");
    assert!(named_modules(climbing, 4).is_empty());
    let after_url = "let u = \"http://x\"; crate::vault::open(); // crate::gui\n";
    let named = named_modules(after_url, 1);
    assert_eq!(named, BTreeSet::from(["vault".to_string()]));
    let src = Path::new("src");
    assert_eq!(module_depth(src, Path::new("src/lib.rs")), 0);
    assert_eq!(module_depth(src, Path::new("src/server/mod.rs")), 1);
    assert_eq!(module_depth(src, Path::new("src/server/store/keys.rs")), 3);
}
