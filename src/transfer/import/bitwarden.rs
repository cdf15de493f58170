//! Bitwarden's JSON export (*Tools → Export vault → .json*): each login item's password and each
//! item's hidden custom fields are candidates (other item types' only with `--all`). An encrypted
//! export is refused with what to do instead: Bitwarden's password-protected format has no
//! well-kept Rust reader, and an account-restricted one opens only in Bitwarden.

use serde::Deserialize;

use super::{Candidate, Options};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Export {
    #[serde(default)]
    encrypted: bool,
    #[serde(default)]
    password_protected: bool,
    #[serde(default)]
    folders: Vec<Folder>,
    /// An organisation's export has collections where a person's has folders.
    #[serde(default)]
    collections: Vec<Folder>,
    items: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct Folder {
    id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    #[serde(rename = "type")]
    kind: u8,
    name: String,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default)]
    folder_id: Option<String>,
    #[serde(default)]
    collection_ids: Option<Vec<String>>,
    #[serde(default)]
    fields: Option<Vec<Field>>,
    #[serde(default)]
    login: Option<Login>,
    #[serde(default)]
    deleted_date: Option<String>,
}

#[derive(Deserialize)]
struct Field {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(rename = "type")]
    kind: u8,
}

#[derive(Deserialize)]
struct Login {
    #[serde(default)]
    uris: Option<Vec<Uri>>,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct Uri {
    #[serde(default)]
    uri: Option<String>,
}

/// Bitwarden's item types and custom field types.
const LOGIN: u8 = 1;
const HIDDEN: u8 = 1;

pub(super) fn read(bytes: &[u8], options: &Options) -> Result<Vec<Candidate>, String> {
    let export: Export = serde_json::from_slice(bytes).map_err(|err| {
        format!(
            "line {}: not a Bitwarden JSON export ({})",
            err.line(),
            classify(&err)
        )
    })?;
    if export.encrypted {
        return Err(if export.password_protected {
            "this Bitwarden export is password-protected, which Keywarden cannot open: export \
             the vault again as .json (not encrypted), import that file and delete it"
                .into()
        } else {
            "this Bitwarden export is encrypted with the account's key and opens only in \
             Bitwarden: export the vault again as .json (not encrypted), import that file and \
             delete it"
                .into()
        });
    }
    let items = export
        .items
        .ok_or("not a Bitwarden JSON export: it has no \"items\"")?;
    let folders: Vec<&Folder> = export.folders.iter().chain(&export.collections).collect();
    let within = match options.within.as_deref() {
        None => None,
        Some(name) => Some(
            folders
                .iter()
                .find(|f| f.name.trim().eq_ignore_ascii_case(name.trim()))
                .map(|f| f.id.as_str())
                .ok_or_else(|| {
                    format!(
                        "the export has no folder {:?}",
                        crate::text::for_terminal(name)
                    )
                })?,
        ),
    };
    let mut candidates = Vec::new();
    for (number, item) in items.into_iter().enumerate() {
        let place = format!(
            "item {} ({:?})",
            number + 1,
            crate::text::for_terminal(item.get("name").and_then(|n| n.as_str()).unwrap_or(""))
        );
        let item: Item = serde_json::from_value(item)
            .map_err(|err| format!("{place}: not a Bitwarden item ({})", classify(&err)))?;
        if item.deleted_date.is_some() {
            continue;
        }
        let in_folder = |id: &str| {
            item.folder_id.as_deref() == Some(id)
                || item.collection_ids.iter().flatten().any(|c| c == id)
        };
        if within.is_some_and(|id| !in_folder(id)) {
            continue;
        }
        let url = item
            .login
            .as_ref()
            .and_then(|l| l.uris.iter().flatten().find_map(|u| u.uri.clone()));
        let login = item.kind == LOGIN;
        if let Some(password) = item.login.as_ref().and_then(|l| l.password.clone()) {
            candidates.push(Candidate {
                place: place.clone(),
                title: item.name.clone(),
                secret: password,
                url: url.clone(),
                notes: item.notes.clone(),
                ..Default::default()
            });
        }
        for field in item.fields.iter().flatten() {
            let (Some(value), HIDDEN) = (&field.value, field.kind) else {
                continue;
            };
            if !login && !options.all {
                continue;
            }
            let field_name = field.name.clone().unwrap_or_default();
            candidates.push(Candidate {
                place: format!(
                    "{place}, field {:?}",
                    crate::text::for_terminal(&field_name)
                ),
                title: if field_name.is_empty() {
                    item.name.clone()
                } else {
                    format!("{}: {field_name}", item.name)
                },
                secret: value.clone(),
                url: url.clone(),
                notes: item.notes.clone(),
                ..Default::default()
            });
        }
    }
    Ok(candidates)
}

/// What is wrong, without the value that is (it may be a secret).
pub(super) fn classify(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match err.classify() {
        serde_json::error::Category::Syntax => "the JSON is malformed".into(),
        serde_json::error::Category::Eof => "the file ends too early".into(),
        // "missing field `name`" names a field, never a value.
        serde_json::error::Category::Data if message.starts_with("missing field") => message
            .split(" at line")
            .next()
            .unwrap_or_default()
            .to_string(),
        serde_json::error::Category::Data => "a field has the wrong type".into(),
        serde_json::error::Category::Io => "it cannot be read".into(),
    }
}
