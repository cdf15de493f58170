//! Expiry classes and renewal reminders: one function decides how urgent a key is; the app, the
//! command line and notifications all use it.

pub mod notify;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::api::{KeyInfo, KeyStatus};

/// Days before expiry at which a key becomes expiring, urgent and critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    pub expiring_days: i64,
    pub urgent_days: i64,
    pub critical_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            expiring_days: 30,
            urgent_days: 7,
            critical_days: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryClass {
    Ok,
    Expiring,
    Urgent,
    Critical,
    Expired,
}

impl ExpiryClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryClass::Ok => "ok",
            ExpiryClass::Expiring => "expiring",
            ExpiryClass::Urgent => "urgent",
            ExpiryClass::Critical => "critical",
            ExpiryClass::Expired => "expired",
        }
    }

    /// Expiring, urgent or critical: not expired yet, but soon.
    pub fn is_soon(self) -> bool {
        matches!(
            self,
            ExpiryClass::Expiring | ExpiryClass::Urgent | ExpiryClass::Critical
        )
    }
}

/// The class of a key expiring at `expires_at`, seen at `now`. A key with exactly N days left is
/// within N days; a key at its expiry instant is expired.
pub fn classify(
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> ExpiryClass {
    let left = expires_at - now;
    if left <= Duration::zero() {
        ExpiryClass::Expired
    } else if left <= Duration::days(thresholds.critical_days) {
        ExpiryClass::Critical
    } else if left <= Duration::days(thresholds.urgent_days) {
        ExpiryClass::Urgent
    } else if left <= Duration::days(thresholds.expiring_days) {
        ExpiryClass::Expiring
    } else {
        ExpiryClass::Ok
    }
}

/// What reminders need of a key, whatever its source.
pub trait Reminded {
    /// The key's id on its source.
    fn reminder_id(&self) -> String;
    fn reminder_name(&self) -> &str;
    /// `None`: the key never expires and is never reminded of.
    fn expiry(&self) -> Option<DateTime<Utc>>;
    /// The key needs no reminder any more: revoked, or replaced by a renewal.
    fn revoked_by(&self, now: DateTime<Utc>) -> bool;
    /// The command that renews the key, for a notification's text.
    fn renew_command(&self) -> String;
    /// Where the key is, in words for a notification (`a GitHub key kept on this computer`);
    /// `None`: the account's name says it.
    fn whereabouts(&self) -> Option<String> {
        None
    }
}

impl Reminded for KeyInfo {
    fn reminder_id(&self) -> String {
        self.id.to_string()
    }

    fn reminder_name(&self) -> &str {
        &self.name
    }

    fn expiry(&self) -> Option<DateTime<Utc>> {
        Some(self.expires_at)
    }

    fn revoked_by(&self, now: DateTime<Utc>) -> bool {
        self.status_at(now) == KeyStatus::Revoked
    }

    fn renew_command(&self) -> String {
        format!("keywarden keys rotate {}", self.id)
    }
}

/// The class that matters for reminders: revoked or replaced keys and keys that never expire need
/// none, whatever their expiry.
pub fn key_class<K: Reminded + ?Sized>(
    key: &K,
    now: DateTime<Utc>,
    thresholds: &Thresholds,
) -> Option<ExpiryClass> {
    let expires_at = key.expiry()?;
    (!key.revoked_by(now)).then(|| classify(expires_at, now, thresholds))
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, TimeZone};

    use super::*;

    fn class_at(left: Duration) -> ExpiryClass {
        let now = Utc::now();
        classify(now + left, now, &Thresholds::default())
    }

    #[test]
    fn every_boundary() {
        let second = Duration::seconds(1);
        assert_eq!(class_at(Duration::days(31)), ExpiryClass::Ok);
        assert_eq!(class_at(Duration::days(30) + second), ExpiryClass::Ok);
        assert_eq!(class_at(Duration::days(30)), ExpiryClass::Expiring);
        assert_eq!(class_at(Duration::days(29)), ExpiryClass::Expiring);
        assert_eq!(class_at(Duration::days(7) + second), ExpiryClass::Expiring);
        assert_eq!(class_at(Duration::days(7)), ExpiryClass::Urgent);
        assert_eq!(class_at(Duration::days(1) + second), ExpiryClass::Urgent);
        assert_eq!(class_at(Duration::days(1)), ExpiryClass::Critical);
        assert_eq!(class_at(second), ExpiryClass::Critical);
        assert_eq!(
            class_at(Duration::zero()),
            ExpiryClass::Expired,
            "exactly at expiry"
        );
        assert_eq!(class_at(-Duration::days(3)), ExpiryClass::Expired);
    }

    #[test]
    fn thresholds_are_configurable() {
        let now = Utc::now();
        let custom = Thresholds {
            expiring_days: 60,
            urgent_days: 14,
            critical_days: 3,
        };
        assert_eq!(
            classify(now + Duration::days(45), now, &custom),
            ExpiryClass::Expiring
        );
        assert_eq!(
            classify(now + Duration::days(10), now, &custom),
            ExpiryClass::Urgent
        );
        assert_eq!(
            classify(now + Duration::days(2), now, &custom),
            ExpiryClass::Critical
        );
    }

    #[test]
    fn time_zones_do_not_move_the_boundary() {
        // 2027-03-01 00:00 at UTC+14 is 2027-02-28 10:00 UTC; 2027-01-28 14:00 at UTC-10 is
        // 2027-01-29 00:00 UTC: 30 days and 10 hours apart, whatever the offsets say.
        let expires = FixedOffset::east_opt(14 * 3600)
            .unwrap()
            .with_ymd_and_hms(2027, 3, 1, 0, 0, 0)
            .unwrap();
        let now = FixedOffset::west_opt(10 * 3600)
            .unwrap()
            .with_ymd_and_hms(2027, 1, 28, 14, 0, 0)
            .unwrap();
        let expires = expires.with_timezone(&Utc);
        assert_eq!(
            classify(expires, now.with_timezone(&Utc), &Thresholds::default()),
            ExpiryClass::Ok
        );
        let thirty_days_left = (now + Duration::hours(10)).with_timezone(&Utc);
        assert_eq!(
            classify(expires, thirty_days_left, &Thresholds::default()),
            ExpiryClass::Expiring
        );
    }
}

/// "in 6 days", "in 3 hours": how long until `at`, from now.
pub fn time_left(at: DateTime<Utc>) -> String {
    relative_time(at, Utc::now())
}

/// How long until (or since) `at`, as people say it: "in 6 days", "3 hours ago".
pub fn relative_time(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let delta = at - now;
    let (amount, future) = if delta >= Duration::zero() {
        (delta, true)
    } else {
        (-delta, false)
    };
    let text = if amount.num_days() >= 2 {
        format!("{} days", amount.num_days())
    } else if amount.num_hours() >= 2 {
        format!("{} hours", amount.num_hours())
    } else if amount.num_minutes() >= 2 {
        format!("{} minutes", amount.num_minutes())
    } else {
        return if future {
            "in a moment".into()
        } else {
            "just now".into()
        };
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod relative_time_tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc::now();
        assert_eq!(
            relative_time(now + Duration::days(6) + Duration::hours(1), now),
            "in 6 days"
        );
        assert_eq!(relative_time(now - Duration::hours(3), now), "3 hours ago");
        assert_eq!(
            relative_time(now + Duration::seconds(20), now),
            "in a moment"
        );
    }
}
