//! The words that depend on where a key comes from, one home for the app and the command line:
//! what deleting a key means on its source, what a renewal does with the old key, and what rights
//! a key holds.

use super::{SourceKey, SourceKind};

impl SourceKey {
    /// The delete button's label: what deleting does to this key.
    pub fn delete_label(&self) -> &'static str {
        match self.kind {
            SourceKind::Thingsboard => "Delete (revokes it)",
            SourceKind::Tracked if self.replaced_by.is_some() => "Retired: forget it",
            SourceKind::Tracked => "Forget",
            SourceKind::Keywarden | SourceKind::Gitlab => "Delete",
        }
    }

    /// The question asked before deleting, naming the key and what deleting does.
    pub fn delete_question(&self) -> String {
        match self.kind {
            SourceKind::Thingsboard => format!(
                "Delete \"{}\" on ThingsBoard? ThingsBoard has no revoke: deleting it is \
                 revoking it, at once and for good.",
                self.name
            ),
            SourceKind::Tracked => format!(
                "Forget \"{}\" here? Its secret leaves this computer's keychain. Revoke it on {} \
                 itself if it still works.",
                self.name,
                self.service().name
            ),
            SourceKind::Keywarden | SourceKind::Gitlab => format!(
                "Delete \"{}\" for good? It stops working and disappears from the list.",
                self.name
            ),
        }
    }

    /// What renewing does before it is done, where the old key stops at once (GitLab's rotate).
    pub fn renew_warning(&self) -> Option<String> {
        match self.kind {
            SourceKind::Gitlab => Some(format!(
                "Renewing \"{}\" rotates it on GitLab: the current token stops working at once, \
                 and every copy of it outside Keywarden with it.",
                self.name
            )),
            _ => None,
        }
    }

    /// What turning on automatic renewal means for copies of the key kept elsewhere.
    pub fn auto_renew_warning(&self) -> String {
        match self.kind {
            SourceKind::Gitlab => format!(
                "each automatic renewal rotates \"{}\" on GitLab: copies of the token outside \
                 Keywarden stop working at every rotation",
                self.name
            ),
            _ => format!(
                "each automatic renewal replaces \"{}\" with a new key: copies of it outside \
                 Keywarden stop working when the old key does",
                self.name
            ),
        }
    }

    /// The question asked before revoking.
    pub fn revoke_question(&self) -> String {
        format!(
            "Revoke \"{}\"? It stops working at once and cannot be enabled again.",
            self.name
        )
    }

    /// What a renewal does with the old key once the overlap ends.
    pub fn old_key_fate(&self) -> &'static str {
        match self.kind {
            SourceKind::Thingsboard => "Delete the old key",
            _ => "Revoke the old key",
        }
    }

    /// `manage` for a key that may manage like a session, `read` for one that only reads and
    /// verifies; `None` where the source has no such distinction.
    pub fn rights(&self) -> Option<&'static str> {
        match (self.kind, self.manages) {
            (SourceKind::Keywarden, true) => Some("manage"),
            (SourceKind::Keywarden, false) => Some("read"),
            _ => None,
        }
    }

    /// The rights in a sentence, for the detail views.
    pub fn rights_sentence(&self) -> Option<&'static str> {
        Some(match self.rights()? {
            "manage" => "manages keys and accounts, like a session (keywarden:manage)",
            _ => "reads and verifies only",
        })
    }
}
