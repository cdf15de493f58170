//! `.env` files: each variable is a candidate named by the variable; `rewrite` then puts each
//! imported value's `kw://` reference in its place.

use std::path::Path;

use super::{Candidate, Read, Report};
use crate::dotenv;
use crate::secret::Secret;
use crate::sources::keeper::Keeper;

pub(super) fn read(bytes: &[u8]) -> Result<Vec<Candidate>, String> {
    let text = std::str::from_utf8(bytes).map_err(|err| {
        let line = bytes[..err.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        format!("line {}: not UTF-8 text", line + 1)
    })?;
    Ok(dotenv::parse_lines(text)?
        .into_iter()
        .map(|variable| Candidate {
            place: format!("line {} ({})", variable.line + 1, variable.name),
            title: variable.name,
            secret: variable.value,
            line: Some(variable.line),
            ..Default::default()
        })
        .collect())
}

/// Replaces each imported value of `file` (whose text was `text` when it was read) with its
/// reference, once every secret is confirmed in the keychain; written atomically, keeping the
/// file's mode. Returns what it says.
pub async fn rewrite(
    file: &Path,
    text: &str,
    read: &Read,
    report: &Report,
    keeper: &Keeper,
) -> Result<String, String> {
    let shown = file.display();
    let variables = dotenv::parse_lines(text)?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for stored in &report.held {
        let found = &read.found[stored.index];
        let Some(variable) = variables.iter().find(|v| Some(v.line) == found.line) else {
            continue;
        };
        let confirmed = keeper
            .secret(&stored.key)
            .await
            .map_err(|err| format!("{shown} was not rewritten: {err}"))?;
        if confirmed.as_ref().map(Secret::expose) != Some(variable.value.as_str()) {
            return Err(format!(
                "{shown} was not rewritten: the secret of {} is not confirmed in the keychain",
                variable.name
            ));
        }
        lines[variable.line] = format!(
            "{}{}={}",
            if variable.exported { "export " } else { "" },
            variable.name,
            stored.reference
        );
    }
    let mut rewritten = lines.join("\n");
    if text.ends_with('\n') {
        rewritten.push('\n');
    }
    let mode = std::fs::metadata(file)
        .map_err(|err| format!("cannot rewrite {shown}: {err}"))?
        .permissions();
    crate::files::write_atomic(file, rewritten.as_bytes())
        .map_err(|err| format!("cannot rewrite {shown}: {err}"))?;
    std::fs::set_permissions(file, mode)
        .map_err(|err| format!("cannot keep {shown}'s mode: {err}"))?;
    Ok(format!(
        "{shown}: {} value(s) replaced by their kw:// references",
        report.held.len()
    ))
}
