//! Who may do what to whom: the one place the server decides rights over other users' credentials
//! and memberships. Handlers ask these functions; they never compare roles themselves for this.
//!
//! The rule everything here follows: nobody creates (or keeps alive) a credential that holds more
//! rights than they do. A key acts in its own workspace only, whoever owns it; server-wide rights
//! (owners) are exercised only with a session.

use super::AppState;
use super::auth::Principal;
use super::error::ApiError;
use crate::api::Role;

pub use crate::api::MANAGE_SCOPE;

/// What a user holds, as far as deciding rights over them needs: seen from one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub user_id: i64,
    pub is_owner: bool,
    /// Their membership role in the workspace in question.
    pub role_here: Option<Role>,
    /// They are a member of some other workspace too: their rights reach outside this one.
    pub member_elsewhere: bool,
}

impl AppState {
    /// `user_id`'s standing seen from `workspace_id`; `None` when no such user exists.
    pub async fn standing(
        &self,
        user_id: i64,
        workspace_id: i64,
    ) -> Result<Option<Standing>, ApiError> {
        let Some(user) = self.store.user(user_id).await? else {
            return Ok(None);
        };
        let memberships = self.store.user_workspaces(user_id).await?;
        Ok(Some(Standing {
            user_id,
            is_owner: user.owner,
            role_here: memberships
                .iter()
                .find(|(w, _)| w.id == workspace_id)
                .map(|&(_, role)| role),
            member_elsewhere: memberships.iter().any(|(w, _)| w.id != workspace_id),
        }))
    }
}

/// May `actor` (whose effective role in the workspace is `actor_role`) create, rotate, change,
/// revoke or delete credentials of `subject` in that workspace?
///
/// - Everyone with at least the member role manages their own keys.
/// - A server owner manages everyone's.
/// - An admin manages the keys of members and viewers of the workspace whose rights stay inside
///   it: never a key of an owner, of another admin, or of someone who is also a member elsewhere.
/// - Nobody else manages anyone's.
pub fn manages_credentials_of(actor: &Principal, actor_role: Role, subject: &Standing) -> bool {
    if subject.user_id == actor.user_id {
        return actor_role >= Role::Member;
    }
    match actor_role {
        Role::Owner => true,
        Role::Admin => {
            !subject.is_owner
                && matches!(subject.role_here, Some(Role::Member | Role::Viewer))
                && !subject.member_elsewhere
        }
        Role::Member | Role::Viewer => false,
    }
}

/// May `actor` change the role of `subject` in the workspace, or remove them from it, and give
/// them `new_role` (None when removing)? Admins act on members and viewers only, and make at most
/// admins; owners act on anyone who is not an owner.
pub fn manages_membership_of(
    actor_role: Role,
    subject: &Standing,
    new_role: Option<Role>,
) -> Result<(), ApiError> {
    if let Some(role) = new_role {
        workspace_role(role)?;
    }
    if subject.is_owner {
        return Err(ApiError::Forbidden(
            "a server owner holds every right in every workspace; their memberships are not changed".to_string(),
        ));
    }
    match actor_role {
        Role::Owner => Ok(()),
        Role::Admin if subject.role_here < Some(Role::Admin) => Ok(()),
        Role::Admin => Err(ApiError::Forbidden(
            "an admin cannot change another admin's membership".to_string(),
        )),
        Role::Member | Role::Viewer => Err(ApiError::Forbidden(
            "this needs the admin role in the workspace".to_string(),
        )),
    }
}

/// `role` if it can be held in a workspace: admin, member or viewer; owner is server-wide.
pub fn workspace_role(role: Role) -> Result<Role, ApiError> {
    if role == Role::Owner {
        return Err(ApiError::Invalid(
            "role: owner is server-wide, not a workspace role".to_string(),
        ));
    }
    Ok(role)
}

/// `what` needs a session: a key, even one that manages, never makes a credential that could
/// outlive it (a managing key, an account, a membership or role it could hand to an account of the
/// holder's choosing), so a leaked key cannot make its own successors.
pub fn session_only(actor: &Principal, what: &str) -> Result<(), ApiError> {
    if actor.key_id.is_some() {
        return Err(ApiError::Forbidden(format!(
            "{what} needs a session, not a key: a key never makes credentials that could outlive it"
        )));
    }
    Ok(())
}

/// May this credential create a key carrying [`MANAGE_SCOPE`] for `subject`? Only with a session
/// ([`session_only`]), and only for someone who may manage (at least a member, or an owner).
pub fn may_grant_manage_scope(actor: &Principal, subject: &Standing) -> Result<(), ApiError> {
    session_only(
        actor,
        &format!("creating a key with the scope {MANAGE_SCOPE}"),
    )?;
    if !subject.is_owner && subject.role_here < Some(Role::Member) {
        return Err(ApiError::Forbidden(format!(
            "the scope {MANAGE_SCOPE} is only for users who may manage keys (members and up)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(user_id: i64) -> Principal {
        Principal {
            user_id,
            is_owner: false,
            workspace_id: 1,
            role: Some(Role::Admin),
            key_id: None,
            manage: true,
            ip: None,
        }
    }

    fn subject(user_id: i64, role_here: Option<Role>, elsewhere: bool) -> Standing {
        Standing {
            user_id,
            is_owner: false,
            role_here,
            member_elsewhere: elsewhere,
        }
    }

    #[test]
    fn admins_manage_members_and_viewers_who_stay_inside() {
        let admin = actor(1);
        assert!(manages_credentials_of(
            &admin,
            Role::Admin,
            &subject(2, Some(Role::Member), false)
        ));
        assert!(manages_credentials_of(
            &admin,
            Role::Admin,
            &subject(2, Some(Role::Viewer), false)
        ));
        assert!(!manages_credentials_of(
            &admin,
            Role::Admin,
            &subject(2, Some(Role::Admin), false)
        ));
        assert!(!manages_credentials_of(
            &admin,
            Role::Admin,
            &subject(2, Some(Role::Member), true)
        ));
        let owner = Standing {
            is_owner: true,
            ..subject(2, Some(Role::Admin), false)
        };
        assert!(!manages_credentials_of(&admin, Role::Admin, &owner));
        assert!(manages_credentials_of(&admin, Role::Owner, &owner));
    }

    #[test]
    fn viewers_manage_nothing_not_even_their_own() {
        let viewer = actor(1);
        assert!(!manages_credentials_of(
            &viewer,
            Role::Viewer,
            &subject(1, Some(Role::Viewer), false)
        ));
        assert!(manages_credentials_of(
            &viewer,
            Role::Member,
            &subject(1, Some(Role::Member), false)
        ));
    }
}
