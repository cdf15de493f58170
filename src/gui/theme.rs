//! Every colour and spacing the app uses, in one place; status colours defined once.

use egui::Color32;

use crate::api::KeyStatus;
use crate::reminders::ExpiryClass;

pub const ROW_HEIGHT: f32 = 22.0;
pub const DETAIL_WIDTH: f32 = 340.0;
pub const DIALOG_WIDTH: f32 = 420.0;

/// Colour of a status badge, readable on light and dark backgrounds.
pub fn status_color(status: KeyStatus, class: ExpiryClass) -> Color32 {
    match status {
        KeyStatus::Active => class_color(class),
        KeyStatus::Disabled => DISABLED,
        KeyStatus::Expired => EXPIRED,
        KeyStatus::Revoked => REVOKED,
    }
}

pub fn class_color(class: ExpiryClass) -> Color32 {
    match class {
        ExpiryClass::Ok => OK,
        ExpiryClass::Expiring => EXPIRING,
        ExpiryClass::Urgent => URGENT,
        ExpiryClass::Critical => CRITICAL,
        ExpiryClass::Expired => EXPIRED,
    }
}

pub const OK: Color32 = Color32::from_rgb(46, 160, 67);
pub const EXPIRING: Color32 = Color32::from_rgb(210, 153, 34);
pub const URGENT: Color32 = Color32::from_rgb(219, 109, 40);
pub const CRITICAL: Color32 = Color32::from_rgb(235, 60, 60);
pub const EXPIRED: Color32 = Color32::from_rgb(207, 34, 46);
/// Something the user should read before going on (a renewal that stops the old key at once).
pub const WARNING: Color32 = URGENT;
pub const REVOKED: Color32 = Color32::from_rgb(130, 80, 223);
pub const DISABLED: Color32 = Color32::from_rgb(128, 128, 128);
/// The marker of a key that may manage keys and accounts.
pub const MANAGES: Color32 = Color32::from_rgb(219, 109, 40);
pub const ERROR: Color32 = Color32::from_rgb(207, 34, 46);
