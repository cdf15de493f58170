//! 1Password's 1PUX export: a ZIP archive whose `export.data` is JSON (accounts, vaults,
//! items). Items of the *API Credential* category are keys: `credential`, `expires`,
//! `valid from`, `hostname` and the notes map to a tracked key. Other items (a login's password,
//! a password item, a concealed field) are candidates only with `--all`. Archived items are left.

use std::io::Read as _;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Candidate, MAX_FILE_BYTES};

/// 1Password's category of *API Credential* items.
const API_CREDENTIAL: &str = "112";

#[derive(Deserialize)]
struct Export {
    accounts: Vec<Account>,
}

#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    vaults: Vec<Vault>,
}

#[derive(Deserialize)]
struct Vault {
    attrs: VaultAttrs,
    #[serde(default)]
    items: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct VaultAttrs {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    category_uuid: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    details: Details,
    #[serde(default)]
    overview: Overview,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Details {
    #[serde(default)]
    login_fields: Vec<LoginField>,
    #[serde(default)]
    notes_plain: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    sections: Vec<Section>,
}

#[derive(Deserialize)]
struct LoginField {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    designation: Option<String>,
}

#[derive(Deserialize)]
struct Section {
    #[serde(default)]
    fields: Vec<SectionField>,
}

#[derive(Deserialize)]
struct SectionField {
    #[serde(default)]
    id: String,
    /// One of `{"concealed": …}`, `{"string": …}`, `{"date": …}`, `{"menu": …}`, …
    #[serde(default)]
    value: serde_json::Map<String, serde_json::Value>,
}

#[derive(Default, Deserialize)]
struct Overview {
    #[serde(default)]
    title: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

impl Item {
    fn field(&self, id: &str) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.details
            .sections
            .iter()
            .flat_map(|s| &s.fields)
            .find(|f| f.id == id)
            .map(|f| &f.value)
    }

    fn text(&self, id: &str, kind: &str) -> Option<String> {
        let value = self.field(id)?.get(kind)?.as_str()?;
        (!value.is_empty()).then(|| value.to_string())
    }

    fn date(&self, id: &str) -> Option<DateTime<Utc>> {
        let seconds = self.field(id)?.get("date")?.as_i64()?;
        DateTime::from_timestamp(seconds, 0)
    }

    /// The secret of an item of another category: a login's password, a password item's, or
    /// its first concealed field.
    fn any_secret(&self) -> Option<String> {
        let login = self
            .details
            .login_fields
            .iter()
            .find(|f| f.designation.as_deref() == Some("password"))
            .and_then(|f| f.value.clone());
        login
            .or_else(|| self.details.password.clone())
            .or_else(|| {
                self.details
                    .sections
                    .iter()
                    .flat_map(|s| &s.fields)
                    .find_map(|f| f.value.get("concealed")?.as_str().map(str::to_string))
            })
            .filter(|s| !s.is_empty())
    }
}

pub(super) fn read(bytes: &[u8], all: bool) -> Result<Vec<Candidate>, String> {
    let not_1pux = |why: String| format!("not a 1Password 1PUX export: {why}");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|err| not_1pux(format!("the ZIP archive cannot be read ({err})")))?;
    let file = archive
        .by_name("export.data")
        .map_err(|_| not_1pux("it has no export.data".into()))?;
    let mut data = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|err| not_1pux(format!("export.data cannot be read ({err})")))?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(not_1pux("export.data is larger than 64 MiB".into()));
    }
    let export: Export = serde_json::from_slice(&data).map_err(|err| {
        format!(
            "export.data, line {}: {}",
            err.line(),
            super::bitwarden::classify(&err)
        )
    })?;
    let mut candidates = Vec::new();
    for vault in export.accounts.iter().flat_map(|a| &a.vaults) {
        for (number, item) in vault.items.iter().enumerate() {
            let item: Item = serde_json::from_value(item.clone()).map_err(|err| {
                format!(
                    "vault {:?}, item {}: not a 1Password item ({})",
                    crate::text::for_terminal(&vault.attrs.name),
                    number + 1,
                    super::bitwarden::classify(&err)
                )
            })?;
            let place = format!(
                "item {:?}",
                crate::text::for_terminal(&format!("{}/{}", vault.attrs.name, item.overview.title))
            );
            let common = Candidate {
                place,
                title: item.overview.title.clone(),
                notes: item.details.notes_plain.clone(),
                tags: item.overview.tags.clone(),
                url: item.overview.url.clone().filter(|u| !u.is_empty()),
                ..Default::default()
            };
            if item.state.as_deref() == Some("archived") {
                // Counted as left alone.
                candidates.push(common);
            } else if item.category_uuid == API_CREDENTIAL {
                let mut more = Vec::new();
                if let Some(from) = item.date("validFrom") {
                    more.push(format!("valid from {}", from.format("%Y-%m-%d")));
                }
                candidates.push(Candidate {
                    secret: item.text("credential", "concealed").unwrap_or_default(),
                    url: item.text("hostname", "string").or(common.url.clone()),
                    expires_at: item.date("expires"),
                    more,
                    is_key: true,
                    ..common
                });
            } else if all {
                candidates.push(Candidate {
                    secret: item.any_secret().unwrap_or_default(),
                    ..common
                });
            } else {
                // Counted as left alone.
                candidates.push(Candidate { ..common });
            }
        }
    }
    Ok(candidates)
}
