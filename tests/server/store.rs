//! The store's contract, one suite run on both backends: a SQLite file and a fresh database on the
//! throwaway PostgreSQL cluster. Each test runs its body on each backend in turn and says which one
//! failed.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use keywarden::api::{AuditAction, KeyStatus, Role};
use keywarden::server::store::{
    AuditContext, AuditFilter, KeyChanges, KeyFilter, NewKey, NewUser, Store, StoreError,
};

use crate::common::Backend;

/// Runs `test` on a fresh database of each backend.
async fn on_each_backend<F, Fut>(test: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = backend.fresh_database(dir.path()).await;
        let store = keywarden::server::open_store(&url)
            .await
            .unwrap_or_else(|err| panic!("open a {backend:?} store: {err}"));
        eprintln!("--- on {backend:?}");
        test(store).await;
    }
}

/// A time with sub-millisecond digits, which both backends keep to the millisecond.
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 123_456_789)
        .unwrap()
}

fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

fn system(t: DateTime<Utc>) -> AuditContext {
    AuditContext::system(t)
}

/// A workspace and a member in it: (workspace id, user id).
async fn workspace_and_user(store: &dyn Store, email: &str) -> (i64, i64) {
    let workspace = match store.workspace_by_name("team").await.unwrap() {
        Some(workspace) => workspace,
        None => store
            .create_workspace("team", &system(at(0)))
            .await
            .unwrap(),
    };
    let user = store
        .create_user(
            NewUser {
                email: email.to_string(),
                password_hash: "$argon2id$not-a-real-hash".to_string(),
                is_owner: false,
                workspace_id: workspace.id,
                role: Role::Member,
                created_at: at(0),
            },
            &system(at(0)),
        )
        .await
        .unwrap();
    (workspace.id, user.id)
}

fn new_key(workspace_id: i64, user_id: i64, name: &str, n: u8) -> NewKey {
    NewKey {
        hash: [n; 32],
        hint: format!("kw_…{n:02}"),
        name: name.to_string(),
        description: format!("description of {name}"),
        workspace_id,
        user_id,
        created_at: at(1),
        expires_at: at(86_400),
        scopes: vec!["keys:read".to_string(), "verify".to_string()],
        replaces: None,
    }
}

fn filter(workspace_id: i64, now: DateTime<Utc>) -> KeyFilter {
    KeyFilter {
        workspace_id,
        user_id: None,
        status: None,
        query: None,
        before_id: None,
        limit: 100,
        now,
    }
}

#[tokio::test]
async fn users_are_found_by_email_whatever_its_case_and_unique_in_any_case() {
    on_each_backend(|store| async move {
        let (workspace_id, user_id) = workspace_and_user(store.as_ref(), "Ada@Example.com").await;
        let found = store
            .user_by_email("ada@example.COM")
            .await
            .unwrap()
            .expect("found");
        assert_eq!(found.user.id, user_id);
        assert_eq!(found.user.email, "Ada@Example.com", "kept as given");
        assert_eq!(found.user.created_at, millis(at(0)));
        assert_eq!(
            store.membership(user_id, workspace_id).await.unwrap(),
            Some(Role::Member)
        );
        let again = store
            .create_user(
                NewUser {
                    email: "ADA@example.com".to_string(),
                    password_hash: "x".to_string(),
                    is_owner: false,
                    workspace_id,
                    role: Role::Viewer,
                    created_at: at(1),
                },
                &system(at(1)),
            )
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        assert_eq!(
            store.list_users().await.unwrap().len(),
            1,
            "nothing half-written"
        );
    })
    .await;
}

#[tokio::test]
async fn a_key_reads_back_as_written_to_the_millisecond() {
    on_each_backend(|store| async move {
        let (workspace_id, user_id) = workspace_and_user(store.as_ref(), "a@example.com").await;
        let written = new_key(workspace_id, user_id, "deploy", 1);
        let record = store
            .insert_key(written.clone(), system(at(1)))
            .await
            .unwrap();
        assert_eq!(record.name, "deploy");
        assert_eq!(record.created_at, millis(at(1)));
        assert_eq!(record.expires_at, millis(at(86_400)));
        assert_eq!(record.scopes, written.scopes);
        assert!(record.enabled && record.revoked_at.is_none() && record.last_used_at.is_none());
        assert_eq!(store.key(record.id).await.unwrap(), Some(record.clone()));

        let auth = store
            .key_auth([1; 32])
            .await
            .unwrap()
            .expect("found by hash");
        assert_eq!(
            (auth.key_id, auth.user_id, auth.workspace_id),
            (record.id, user_id, workspace_id)
        );
        assert_eq!(auth.role, Some(Role::Member));
        assert_eq!(auth.scopes, written.scopes);
        assert!(store.key_auth([9; 32]).await.unwrap().is_none());

        let duplicate = store.insert_key(written, system(at(2))).await;
        assert!(
            matches!(duplicate, Err(StoreError::Conflict(_))),
            "{duplicate:?}"
        );

        store.touch_key(record.id, at(10)).await.unwrap();
        store.touch_key(record.id, at(5)).await.unwrap();
        let touched = store.key(record.id).await.unwrap().unwrap();
        assert_eq!(
            touched.last_used_at,
            Some(millis(at(10))),
            "never moves back"
        );
        // At most one write a minute per key, whichever instance records it.
        store.touch_key(record.id, at(69)).await.unwrap();
        let touched = store.key(record.id).await.unwrap().unwrap();
        assert_eq!(
            touched.last_used_at,
            Some(millis(at(10))),
            "not within a minute"
        );
        store.touch_key(record.id, at(70)).await.unwrap();
        let touched = store.key(record.id).await.unwrap().unwrap();
        assert_eq!(touched.last_used_at, Some(millis(at(70))), "a minute later");
    })
    .await;
}

#[tokio::test]
async fn listing_filters_by_owner_text_status_and_pages() {
    on_each_backend(|store| async move {
        let store = store.as_ref();
        let (workspace_id, ada) = workspace_and_user(store, "ada@example.com").await;
        let (_, bob) = workspace_and_user(store, "bob@example.com").await;
        let now = at(1000);
        let mut ids = Vec::new();
        for (n, (owner, name)) in [
            (ada, "Billing 100%"),
            (ada, "billing_eu"),
            (bob, "deploy"),
            (ada, "expired"),
            (bob, "revoked"),
            (ada, "disabled"),
            (ada, "revoked later"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut key = new_key(workspace_id, owner, name, n as u8 + 1);
            if name == "expired" {
                key.expires_at = at(999);
            }
            ids.push(store.insert_key(key, system(at(1))).await.unwrap().id);
        }
        store.revoke_key(ids[4], system(at(500))).await.unwrap();
        let changes = KeyChanges {
            enabled: Some(false),
            ..KeyChanges::default()
        };
        store
            .update_key(ids[5], changes, &[AuditAction::Disabled], system(at(2)))
            .await
            .unwrap();
        // A revocation at a time still to come (a rotation's overlap) leaves the key active.
        store.revoke_key(ids[6], system(at(2000))).await.unwrap();

        let names = |keys: Vec<keywarden::server::store::KeyRecord>| {
            keys.into_iter().map(|k| k.name).collect::<Vec<_>>()
        };
        let all = store.list_keys(filter(workspace_id, now)).await.unwrap();
        assert_eq!(all.len(), 7);
        assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");

        let by_status = |status| {
            let mut f = filter(workspace_id, now);
            f.status = Some(status);
            store.list_keys(f)
        };
        assert_eq!(
            names(by_status(KeyStatus::Revoked).await.unwrap()),
            ["revoked"]
        );
        assert_eq!(
            names(by_status(KeyStatus::Expired).await.unwrap()),
            ["expired"]
        );
        assert_eq!(
            names(by_status(KeyStatus::Disabled).await.unwrap()),
            ["disabled"]
        );
        assert_eq!(
            names(by_status(KeyStatus::Active).await.unwrap()),
            ["revoked later", "deploy", "billing_eu", "Billing 100%"]
        );

        let mut f = filter(workspace_id, now);
        f.query = Some("BILLING".to_string());
        assert_eq!(
            names(store.list_keys(f.clone()).await.unwrap()),
            ["billing_eu", "Billing 100%"]
        );
        f.query = Some("0%".to_string());
        assert_eq!(
            names(store.list_keys(f.clone()).await.unwrap()),
            ["Billing 100%"],
            "% is literal"
        );
        f.query = Some("g_".to_string());
        assert_eq!(
            names(store.list_keys(f.clone()).await.unwrap()),
            ["billing_eu"],
            "_ is literal"
        );
        f.query = Some("DESCRIPTION OF DEPLOY".to_string());
        assert_eq!(
            names(store.list_keys(f).await.unwrap()),
            ["deploy"],
            "descriptions too"
        );

        let mut f = filter(workspace_id, now);
        f.user_id = Some(bob);
        assert_eq!(
            names(store.list_keys(f).await.unwrap()),
            ["revoked", "deploy"]
        );

        // Pages of two, by id, cover every key once; a status filter pages the same way.
        let mut seen = Vec::new();
        let mut f = filter(workspace_id, now);
        f.limit = 2;
        loop {
            let page = store.list_keys(f.clone()).await.unwrap();
            let Some(last) = page.last() else { break };
            f.before_id = Some(last.id);
            seen.extend(page.into_iter().map(|k| k.id));
        }
        assert_eq!(seen.len(), 7);
        let mut f = filter(workspace_id, now);
        f.status = Some(KeyStatus::Active);
        f.limit = 1;
        f.before_id = Some(ids[2]);
        assert_eq!(names(store.list_keys(f).await.unwrap()), ["billing_eu"]);
    })
    .await;
}

#[tokio::test]
async fn revoking_twice_keeps_the_first_time_and_rotating_a_revoked_key_is_refused() {
    on_each_backend(|store| async move {
        let store = store.as_ref();
        let (workspace_id, user_id) = workspace_and_user(store, "a@example.com").await;
        let key = store
            .insert_key(new_key(workspace_id, user_id, "k", 1), system(at(1)))
            .await
            .unwrap();
        let revoked = store.revoke_key(key.id, system(at(10))).await.unwrap();
        assert_eq!(revoked.revoked_at, Some(millis(at(10))));
        let again = store.revoke_key(key.id, system(at(20))).await.unwrap();
        assert_eq!(again.revoked_at, Some(millis(at(10))));
        let rotated = store
            .rotate_key(
                key.id,
                at(30),
                new_key(workspace_id, user_id, "k", 2),
                system(at(30)),
            )
            .await;
        assert!(
            matches!(rotated, Err(StoreError::Conflict(_))),
            "{rotated:?}"
        );
        assert!(
            store.key_auth([2; 32]).await.unwrap().is_none(),
            "no new key half-made"
        );

        let other = store
            .insert_key(new_key(workspace_id, user_id, "other", 3), system(at(1)))
            .await
            .unwrap();
        let mut successor = new_key(workspace_id, user_id, "other", 4);
        successor.replaces = Some(other.id);
        let new = store
            .rotate_key(other.id, at(3600), successor, system(at(40)))
            .await
            .unwrap();
        assert_eq!(new.replaces, Some(other.id));
        let old = store.key(other.id).await.unwrap().unwrap();
        assert_eq!(
            old.revoked_at,
            Some(millis(at(3600))),
            "revoked when the overlap ends"
        );
        assert_eq!(old.status(at(100)), KeyStatus::Active);

        assert!(store.delete_key(other.id, system(at(50))).await.unwrap());
        assert!(!store.delete_key(other.id, system(at(51))).await.unwrap());
        assert!(store.key(other.id).await.unwrap().is_none());

        let mut audit = AuditFilter {
            workspace_id,
            involving_user: None,
            key_id: Some(key.id),
            before_id: None,
            limit: 50,
        };
        let actions: Vec<_> = store
            .list_audit(audit.clone())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            [AuditAction::Revoked, AuditAction::Created],
            "one revocation"
        );
        audit.key_id = Some(other.id);
        let actions: Vec<_> = store
            .list_audit(audit)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            actions,
            [
                AuditAction::Deleted,
                AuditAction::Rotated,
                AuditAction::Created
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn failed_sign_ins_count_within_their_window_and_start_again_after_it() {
    on_each_backend(|store| async move {
        let account = [7; 32];
        let window = Duration::minutes(15);
        assert_eq!(store.login_failures(account).await.unwrap(), None);
        for n in 1..=3 {
            let (started, count) = store
                .record_login_failure(account, None, window, &system(at(n * 60)))
                .await
                .unwrap();
            assert_eq!((started, count), (millis(at(60)), n as u32));
        }
        assert_eq!(
            store.login_failures(account).await.unwrap(),
            Some((millis(at(60)), 3))
        );
        // The window that began at 60 s is over at 60 s + 15 min: counting starts again.
        let (started, count) = store
            .record_login_failure(account, None, window, &system(at(60 + 15 * 60)))
            .await
            .unwrap();
        assert_eq!((started, count), (millis(at(60 + 15 * 60)), 1));
        store.clear_login_failures(account).await.unwrap();
        assert_eq!(store.login_failures(account).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn invitations_are_matched_whatever_the_case_and_taken_up_once() {
    on_each_backend(|store| async move {
        let store = store.as_ref();
        let (workspace_id, _) = workspace_and_user(store, "admin@example.com").await;
        let other = store
            .create_workspace("other", &system(at(0)))
            .await
            .unwrap();
        store
            .invite(
                workspace_id,
                "New@Example.com",
                Role::Viewer,
                &system(at(1)),
            )
            .await
            .unwrap();
        let updated = store
            .invite(
                workspace_id,
                "new@example.com",
                Role::Member,
                &system(at(2)),
            )
            .await
            .unwrap();
        assert_eq!(
            updated.role,
            Role::Member,
            "one invitation per email, whatever its case"
        );
        assert_eq!(store.invitations(workspace_id).await.unwrap().len(), 1);
        store
            .invite(other.id, "NEW@example.com", Role::Admin, &system(at(3)))
            .await
            .unwrap();

        let (_, user_id) = {
            let user = store
                .create_user(
                    NewUser {
                        email: "new@example.com".to_string(),
                        password_hash: "x".to_string(),
                        is_owner: false,
                        workspace_id,
                        role: Role::Viewer,
                        created_at: at(4),
                    },
                    &system(at(4)),
                )
                .await
                .unwrap();
            (workspace_id, user.id)
        };
        let joined = store
            .accept_invitations(user_id, "NEW@EXAMPLE.COM", at(5))
            .await
            .unwrap();
        assert_eq!(joined, [other.id], "an existing membership keeps its role");
        assert_eq!(
            store.membership(user_id, workspace_id).await.unwrap(),
            Some(Role::Viewer)
        );
        assert_eq!(
            store.membership(user_id, other.id).await.unwrap(),
            Some(Role::Admin)
        );
        assert!(store.invitations(workspace_id).await.unwrap().is_empty());
        assert!(
            store
                .accept_invitations(user_id, "new@example.com", at(6))
                .await
                .unwrap()
                .is_empty()
        );

        store
            .invite(
                workspace_id,
                "gone@example.com",
                Role::Viewer,
                &system(at(7)),
            )
            .await
            .unwrap();
        assert!(
            store
                .remove_invitation(workspace_id, "GONE@example.com")
                .await
                .unwrap()
        );
        assert!(
            !store
                .remove_invitation(workspace_id, "gone@example.com")
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn every_loss_of_rights_is_logged_for_its_user_in_order() {
    on_each_backend(|store| async move {
        let store = store.as_ref();
        let (workspace_id, ada) = workspace_and_user(store, "ada@example.com").await;
        let (_, bob) = workspace_and_user(store, "bob@example.com").await;
        let start = store.last_rights_change().await.unwrap();
        let key = store
            .insert_key(new_key(workspace_id, ada, "k", 1), system(at(1)))
            .await
            .unwrap();
        store.revoke_key(key.id, system(at(2))).await.unwrap();
        store
            .set_membership(bob, workspace_id, Role::Viewer, &system(at(3)))
            .await
            .unwrap();
        store
            .remove_membership(bob, workspace_id, &system(at(4)))
            .await
            .unwrap();
        store.set_password(ada, "new hash").await.unwrap();
        let changes = store.rights_changes_since(start).await.unwrap();
        let users: Vec<_> = changes.iter().map(|&(_, user)| user).collect();
        assert_eq!(
            users,
            [Some(ada), Some(ada), Some(bob), Some(bob), Some(ada)]
        );
        assert!(
            changes.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "{changes:?}"
        );
        assert_eq!(
            store.last_rights_change().await.unwrap(),
            changes.last().unwrap().0
        );

        // The key-list revision of one user moves with their changes only.
        let bob_before = store.keys_revision(workspace_id, Some(bob)).await.unwrap();
        store
            .insert_key(new_key(workspace_id, ada, "k2", 2), system(at(5)))
            .await
            .unwrap();
        assert_eq!(
            store.keys_revision(workspace_id, Some(bob)).await.unwrap(),
            bob_before
        );
        let newest = store.last_rights_change().await.unwrap();
        assert_eq!(
            store.keys_revision(workspace_id, Some(ada)).await.unwrap(),
            newest
        );
        assert_eq!(
            store.keys_revision(workspace_id, None).await.unwrap(),
            newest
        );

        store.prune_rights_changes(at(100_000)).await.unwrap();
        assert!(store.rights_changes_since(0).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn sessions_end_with_a_logout_or_a_new_password() {
    on_each_backend(|store| async move {
        let store = store.as_ref();
        let (workspace_id, user_id) = workspace_and_user(store, "a@example.com").await;
        store
            .create_session([1; 32], user_id, at(3600), system(at(0)))
            .await
            .unwrap();
        store
            .create_session([2; 32], user_id, at(3600), system(at(0)))
            .await
            .unwrap();
        let session = store.session([1; 32]).await.unwrap().expect("a session");
        assert_eq!(session.user_id, user_id);
        assert_eq!(session.default_workspace_id, workspace_id);
        assert_eq!(session.role, Some(Role::Member));
        assert_eq!(session.expires_at, millis(at(3600)));
        assert!(store.delete_session([1; 32], &system(at(1))).await.unwrap());
        assert!(!store.delete_session([1; 32], &system(at(2))).await.unwrap());
        assert!(store.session([2; 32]).await.unwrap().is_some());
        store.set_password(user_id, "another hash").await.unwrap();
        assert!(store.session([2; 32]).await.unwrap().is_none());
        let record = store.user_by_email("a@example.com").await.unwrap().unwrap();
        assert_eq!(record.password_hash, "another hash");
    })
    .await;
}
