//! The store's records as the API shows them: the one place where the wire contract (`api.rs`)
//! meets what the store keeps, so a change of either is not a change of the other.

use chrono::{DateTime, Utc};

use super::store::{AuditEntry, KeyRecord, Member, PendingInvitation, User};
use crate::api::{AuditEvent, Invitation, KeyInfo, MemberInfo, UserInfo};

impl KeyRecord {
    /// The key as the API shows it, its status as of `now`.
    pub fn into_info(self, now: DateTime<Utc>) -> KeyInfo {
        let status = self.status(now);
        KeyInfo {
            id: self.id,
            name: self.name,
            description: self.description,
            workspace_id: self.workspace_id,
            user_id: self.user_id,
            created_at: self.created_at,
            expires_at: self.expires_at,
            enabled: self.enabled,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            scopes: self.scopes,
            status,
            hint: self.hint,
            replaces: self.replaces,
        }
    }
}

impl From<User> for UserInfo {
    fn from(user: User) -> UserInfo {
        UserInfo {
            id: user.id,
            email: user.email,
            owner: user.owner,
            default_workspace_id: user.default_workspace_id,
            created_at: user.created_at,
        }
    }
}

impl From<Member> for MemberInfo {
    fn from(member: Member) -> MemberInfo {
        MemberInfo {
            user_id: member.user_id,
            email: member.email,
            role: member.role,
        }
    }
}

impl From<PendingInvitation> for Invitation {
    fn from(invitation: PendingInvitation) -> Invitation {
        Invitation {
            email: invitation.email,
            role: invitation.role,
            created_at: invitation.created_at,
        }
    }
}

impl From<AuditEntry> for AuditEvent {
    fn from(entry: AuditEntry) -> AuditEvent {
        AuditEvent {
            id: entry.id,
            at: entry.at,
            action: entry.action,
            actor_user_id: entry.actor_user_id,
            actor_key_id: entry.actor_key_id,
            subject_user_id: entry.subject_user_id,
            role: entry.role,
            key_id: entry.key_id,
            key_name: entry.key_name,
            workspace_id: entry.workspace_id,
            ip: entry.ip,
        }
    }
}
