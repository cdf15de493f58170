//! The limits on a key that the server enforces and every client checks before sending (the
//! app's dialogs, the command line, tracked keys, imports): each defined once, here, with the
//! check and its wording. The OpenAPI document states the same numbers (`server::openapi`).

use chrono::{DateTime, Utc};

/// A key's name is 1 to this many characters, after trimming.
pub const KEY_NAME_MAX_CHARS: usize = 100;
/// A key's description is at most this many characters.
pub const KEY_DESCRIPTION_MAX_CHARS: usize = 500;
/// The longest lifetime a Keywarden key may have (a server may allow less: `max_key_days`).
pub const MAX_KEY_DAYS: i64 = 365;
/// The longest a replaced key may keep working beside its successor: 7 days.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;
/// A key's lifetime in whole days, rounded up (at least 1): what a renewal that names no expiry
/// gives the new key, so that the lifetime stays the same renewal after renewal (a key made
/// "for 30 days" by a client whose clock read a few milliseconds before the server's lives
/// 29.99 days, and must renew as 30).
pub fn lifetime_days(created_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> i64 {
    const DAY: i64 = 86_400;
    let seconds = (expires_at - created_at).num_seconds();
    (seconds.saturating_add(DAY - 1) / DAY).max(1)
}

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

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn a_lifetime_is_whole_days_rounded_up() {
        let made = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
        let days = |d: Duration| super::lifetime_days(made, made + d);
        assert_eq!(days(Duration::days(30)), 30);
        assert_eq!(days(Duration::days(30) - Duration::milliseconds(5)), 30);
        assert_eq!(days(Duration::days(30) + Duration::seconds(1)), 31);
        assert_eq!(days(Duration::hours(1)), 1);
        assert_eq!(days(-Duration::days(3)), 1, "at least a day");
    }
}
