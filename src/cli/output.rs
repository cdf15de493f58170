//! How the command line prints keys: the `--json` object of a key, the table of `keys list`, the
//! details of `keys show`. Every string from a server or a file is escaped for the terminal.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::KeyStatus;
use crate::reminders::{Thresholds, key_class, relative_time};
use crate::sources::SourceKey;
use crate::sources::reference::Reference;
use crate::text;

/// A key as `--json` prints it.
#[derive(Serialize)]
pub struct KeyItem {
    #[serde(flatten)]
    pub key: SourceKey,
    pub status: KeyStatus,
    pub held: bool,
    /// ok, expiring, urgent, critical, expired, or never.
    pub class: &'static str,
    /// `kw://ACCOUNT/KEY`, for `keywarden run` and `inject`.
    pub reference: String,
    /// The status as the app's list shows it (`SourceKey::status_word`), for the tables.
    #[serde(skip)]
    pub word: &'static str,
}

impl KeyItem {
    /// `key` as printed; `others` are the keys listed beside it (its reference names it by name
    /// when no other key of its account has that name).
    pub fn new(
        key: SourceKey,
        others: &[SourceKey],
        held: bool,
        now: DateTime<Utc>,
        thresholds: &Thresholds,
    ) -> KeyItem {
        KeyItem {
            reference: Reference::of(&key, others).to_string(),
            status: key.status_at(now),
            class: match (key.expires_at, key_class(&key, now, thresholds)) {
                (None, _) => "never",
                (Some(_), Some(class)) => class.as_str(),
                (Some(_), None) => "ok",
            },
            held,
            word: key.status_word(now, thresholds),
            key,
        }
    }
}

/// Pretty JSON for stdout, with the characters that could act on a terminal escaped.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<String> {
    Ok(text::json_for_terminal(
        serde_json::to_string_pretty(value)? + "\n",
    ))
}

pub fn expiry_text(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match expires_at {
        Some(at) => format!(
            "expires {} ({})",
            at.format("%Y-%m-%d"),
            relative_time(at, now)
        ),
        None => "never expires".to_string(),
    }
}

pub fn table(items: &[KeyItem], now: DateTime<Utc>) -> String {
    if items.is_empty() {
        return "no keys\n".to_string();
    }
    let rows: Vec<[String; 9]> = items
        .iter()
        .map(|i| {
            let status = i.word.to_string();
            let (expires, left) = match i.key.expires_at {
                Some(at) => (at.format("%Y-%m-%d").to_string(), relative_time(at, now)),
                None => ("never".to_string(), "-".to_string()),
            };
            [
                i.key.id.clone(),
                text::for_terminal(&i.key.name).into_owned(),
                text::for_terminal(&i.key.source).into_owned(),
                i.key.service.clone(),
                status,
                expires,
                left,
                rights_label(&i.key).into(),
                if i.held { "held".into() } else { "-".into() },
            ]
        })
        .collect();
    let header = [
        "ID", "NAME", "ACCOUNT", "SERVICE", "STATUS", "EXPIRES", "LEFT", "RIGHTS", "KEYCHAIN",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    // Ids, services and anything else a server sent are escaped with the rest.
    text::for_terminal_lines(&out).into_owned()
}

/// `manage`, `read`, or `-` where the service has no such distinction.
fn rights_label(key: &SourceKey) -> &'static str {
    key.rights().unwrap_or("-")
}

pub fn details(item: &KeyItem, now: DateTime<Utc>) -> String {
    let key = &item.key;
    let service = key.service();
    let mut lines = vec![
        format!("id:          {}", key.id),
        format!("name:        {}", text::for_terminal(&key.name)),
        format!("reference:   {}", text::for_terminal(&item.reference)),
        format!("description: {}", text::for_terminal(&key.description)),
        format!(
            "account:     {} ({})",
            text::for_terminal(&key.source),
            key.kind.as_str()
        ),
        format!("service:     {}", service.name),
        format!("status:      {}", item.word),
        format!("key:         {}", text::for_terminal(&key.hint)),
        format!(
            "expires:     {}",
            match key.expires_at {
                Some(at) => format!("{} ({})", at.to_rfc3339(), relative_time(at, now)),
                None => "never".to_string(),
            }
        ),
        format!("created:     {}", key.created_at.to_rfc3339()),
        format!(
            "last used:   {}",
            key.last_used_at
                .map_or("never".into(), |at| at.to_rfc3339())
        ),
    ];
    if let Some(owner) = &key.owner {
        lines.push(format!("owner:       user {}", text::for_terminal(owner)));
    }
    if let Some(workspace) = &key.workspace {
        lines.push(format!("workspace:   {}", text::for_terminal(workspace)));
    }
    if let Some(url) = &key.base_url {
        lines.push(format!("used at:     {}", text::for_terminal(url)));
    }
    lines.push(format!(
        "header:      {}: {}…",
        service.header.name, service.header.scheme
    ));
    if !key.scopes.is_empty() {
        lines.push(format!(
            "scopes:      {}",
            text::for_terminal(&key.scopes.join(", "))
        ));
    }
    if let Some(rights) = key.rights_sentence() {
        lines.push(format!("rights:      {rights}"));
    }
    lines.push(format!(
        "keychain:    {}",
        if item.held {
            "held on this computer"
        } else {
            "not held here"
        }
    ));
    if let Some(newer) = &key.replaced_by {
        lines.push(format!(
            "replaced by: {newer}; delete this key once it is retired on the service"
        ));
    }
    if let Some(at) = key.revoked_at {
        let label = if at > now {
            "old key still valid until"
        } else {
            "revoked"
        };
        lines.push(format!("{label}: {}", at.to_rfc3339()));
    }
    text::for_terminal_lines(&(lines.join("\n") + "\n")).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line's table and details print the word the app's list shows
    /// (`SourceKey::status_word`), for a renewed key revoked after its overlap too.
    #[test]
    fn the_table_and_the_details_print_the_apps_status_word() {
        let now = Utc::now();
        let thresholds = Thresholds::default();
        let mut key = crate::sources::sample_key("local", "1", Some(200));
        key.replaced_by = Some("2".into());
        key.revoked_at = Some(now - chrono::Duration::hours(1));
        let word = key.status_word(now, &thresholds);
        assert_eq!(word, "revoked");
        let item = KeyItem::new(
            key.clone(),
            std::slice::from_ref(&key),
            true,
            now,
            &thresholds,
        );
        let table = table(std::slice::from_ref(&item), now);
        let row = table.lines().nth(1).unwrap();
        assert!(
            row.contains(" revoked ") && !row.contains("replaced"),
            "{table}"
        );
        assert!(details(&item, now).contains("status:      revoked\n"));
    }
}
