//! The limits on a key that the server enforces and every client checks before sending (the
//! app's dialogs, the command line, tracked keys, imports): each defined once, here, with the
//! check and its wording. The OpenAPI document states the same numbers (`server::openapi`).

/// A key's name is 1 to this many characters, after trimming.
pub const KEY_NAME_MAX_CHARS: usize = 100;
/// A key's description is at most this many characters.
pub const KEY_DESCRIPTION_MAX_CHARS: usize = 500;
/// The longest lifetime a Keywarden key may have (a server may allow less: `max_key_days`).
pub const MAX_KEY_DAYS: i64 = 365;
/// The longest a replaced key may keep working beside its successor: 7 days.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;
/// A page of a list (keys, audit events) holds 1 to this many items (`limit`); 100 unless asked.
pub const PAGE_LIMIT_MAX: u32 = 1000;
pub const PAGE_LIMIT_DEFAULT: u32 = 100;
/// A key has at most this many scopes, each 1 to `SCOPE_MAX_CHARS` characters.
pub const MAX_SCOPES: usize = 50;
pub const SCOPE_MAX_CHARS: usize = 100;

/// A key's name as it is kept (trimmed), or what is wrong with it.
pub fn key_name(name: &str) -> Result<String, String> {
    crate::text::check_field("name", name)?;
    let name = name.trim();
    match name.chars().count() {
        1..=KEY_NAME_MAX_CHARS => Ok(name.to_string()),
        _ => Err(format!(
            "name: must be 1 to {KEY_NAME_MAX_CHARS} characters"
        )),
    }
}

/// A key's description as it is kept (trimmed), or what is wrong with it.
pub fn key_description(description: &str) -> Result<String, String> {
    crate::text::check_field("description", description)?;
    if description.chars().count() > KEY_DESCRIPTION_MAX_CHARS {
        return Err(format!(
            "description: must be at most {KEY_DESCRIPTION_MAX_CHARS} characters"
        ));
    }
    Ok(description.trim().to_string())
}

/// Names and descriptions at and beside the limits, for the tests that check that every side
/// agrees with the server.
#[cfg(test)]
pub(crate) fn boundary_texts(max: usize) -> Vec<String> {
    vec![
        String::new(),
        "   ".into(),
        "a".into(),
        "a".repeat(max),
        "a".repeat(max + 1),
        "é".repeat(max),
        "ü".repeat(max + 1),
        format!("  {}  ", "b".repeat(max)),
        "with\u{202e}override".into(),
        "tab\tinside".into(),
    ]
}
