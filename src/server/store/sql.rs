//! The store's queries, written once for both backends.
//!
//! `sql_store!` expands to the [`Store`](super::Store) implementation of a backend. The SQL is the
//! subset SQLite and PostgreSQL share (`$N` placeholders, `RETURNING`, `ON CONFLICT`), and the
//! backend module around the expansion supplies what differs, under fixed names:
//! - `Time`, `db_time(DateTime<Utc>) -> Time` and `from_db_time(Time) -> StoreResult<DateTime<Utc>>`
//!   (SQLite: Unix milliseconds; PostgreSQL: `timestamptz`, written with millisecond precision);
//! - `Scopes`, `db_scopes(&[String]) -> StoreResult<Scopes>`, `from_db_scopes(Scopes)` (SQLite: JSON
//!   text; PostgreSQL: `text[]`);
//! - `self.pool` and `self.write()`, a transaction that holds the database's write lock, so writers
//!   queue instead of failing, and the rights log's ids follow commit order;
//! - `announce_rights_change(tx)`, which tells other instances at commit where the backend can, and
//!   `self.watch(wake)`, which listens for that ([`Store::watch_rights_changes`](super::Store));
//! - the case-insensitive `LIKE` operator (`like = "LIKE"` on SQLite, `"ILIKE"` on PostgreSQL).
//!
//! What a change means (its audit events, whose cached rights it drops) is decided here, once.

/// The columns of `api_keys` a [`KeyRecord`](super::KeyRecord) is read from.
macro_rules! key_columns {
    () => {
        "id, name, description, workspace_id, user_id, created_at, expires_at, enabled, \
         revoked_at, last_used_at, scopes, hint, replaces"
    };
}

macro_rules! sql_store {
    ($store:ident, $db:ty, like = $like:literal) => {
        use $crate::api::{AuditAction, AuditEvent, Invitation, MemberInfo, Role, UserInfo};
        use $crate::server::store::{
            About, AuditContext, AuditFilter, KeyAuth, KeyChanges, KeyFilter, KeyRecord, NewKey,
            NewUser, SessionAuth, Store, StoreError, StoreResult, UserRecord, Workspace,
            conflict_on_unique, parse_role,
        };

        type Tx = sqlx::Transaction<'static, $db>;

        fn opt_time(at: Option<Time>) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
            at.map(from_db_time).transpose()
        }

        #[derive(sqlx::FromRow)]
        struct WorkspaceRow {
            id: i64,
            name: String,
            created_at: Time,
        }

        impl WorkspaceRow {
            fn into_workspace(self) -> StoreResult<Workspace> {
                Ok(Workspace {
                    id: self.id,
                    name: self.name,
                    created_at: from_db_time(self.created_at)?,
                })
            }
        }

        #[derive(sqlx::FromRow)]
        struct UserRow {
            id: i64,
            email: String,
            password_hash: String,
            is_owner: bool,
            default_workspace_id: i64,
            created_at: Time,
        }

        impl UserRow {
            fn into_record(self) -> StoreResult<UserRecord> {
                Ok(UserRecord {
                    info: UserInfo {
                        id: self.id,
                        email: self.email,
                        owner: self.is_owner,
                        default_workspace_id: self.default_workspace_id,
                        created_at: from_db_time(self.created_at)?,
                    },
                    password_hash: self.password_hash,
                })
            }
        }

        #[derive(sqlx::FromRow)]
        struct KeyRow {
            id: i64,
            name: String,
            description: String,
            workspace_id: i64,
            user_id: i64,
            created_at: Time,
            expires_at: Time,
            enabled: bool,
            revoked_at: Option<Time>,
            last_used_at: Option<Time>,
            scopes: Scopes,
            hint: String,
            replaces: Option<i64>,
        }

        impl KeyRow {
            fn into_record(self) -> StoreResult<KeyRecord> {
                Ok(KeyRecord {
                    id: self.id,
                    name: self.name,
                    description: self.description,
                    workspace_id: self.workspace_id,
                    user_id: self.user_id,
                    created_at: from_db_time(self.created_at)?,
                    expires_at: from_db_time(self.expires_at)?,
                    enabled: self.enabled,
                    revoked_at: opt_time(self.revoked_at)?,
                    last_used_at: opt_time(self.last_used_at)?,
                    scopes: from_db_scopes(self.scopes)?,
                    hint: self.hint,
                    replaces: self.replaces,
                })
            }
        }

        #[derive(sqlx::FromRow)]
        struct KeyAuthRow {
            id: i64,
            name: String,
            user_id: i64,
            workspace_id: i64,
            is_owner: bool,
            default_workspace_id: i64,
            role: Option<String>,
            expires_at: Time,
            enabled: bool,
            revoked_at: Option<Time>,
            last_used_at: Option<Time>,
            scopes: Scopes,
        }

        #[derive(sqlx::FromRow)]
        struct AuditRow {
            id: i64,
            at: Time,
            action: String,
            actor_user_id: Option<i64>,
            actor_key_id: Option<i64>,
            subject_user_id: Option<i64>,
            role: Option<String>,
            key_id: Option<i64>,
            key_name: Option<String>,
            workspace_id: Option<i64>,
            ip: Option<String>,
        }

        async fn insert_key_row(tx: &mut Tx, key: &NewKey) -> StoreResult<i64> {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_keys (key_hash, hint, name, description, workspace_id, user_id, \
                 created_at, expires_at, enabled, scopes, replaces) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $10) RETURNING id",
            )
            .bind(&key.hash[..])
            .bind(&key.hint)
            .bind(&key.name)
            .bind(&key.description)
            .bind(key.workspace_id)
            .bind(key.user_id)
            .bind(db_time(key.created_at))
            .bind(db_time(key.expires_at))
            .bind(db_scopes(&key.scopes)?)
            .bind(key.replaces)
            .fetch_one(&mut **tx)
            .await
            .map_err(|err| {
                conflict_on_unique(err, || "a key with this hash already exists".to_string())
            })?;
            Ok(id)
        }

        async fn key_in(tx: &mut Tx, id: i64) -> StoreResult<KeyRecord> {
            let row: Option<KeyRow> =
                sqlx::query_as(concat!("SELECT ", key_columns!(), " FROM api_keys WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
            row.ok_or(StoreError::NotFound)?.into_record()
        }

        /// Logs that `user_id`'s rights may have shrunk or their keys changed, for the other
        /// processes on this database and for the key-list revision.
        async fn log_rights_change(
            tx: &mut Tx,
            user_id: i64,
            at: chrono::DateTime<chrono::Utc>,
        ) -> StoreResult<()> {
            sqlx::query("INSERT INTO rights_changes (user_id, at) VALUES ($1, $2)")
                .bind(user_id)
                .bind(db_time(at))
                .execute(&mut **tx)
                .await?;
            announce_rights_change(tx).await
        }

        async fn record_audit(
            tx: &mut Tx,
            action: AuditAction,
            about: About<'_>,
            audit: &AuditContext,
        ) -> StoreResult<()> {
            let key = about.key;
            sqlx::query(
                "INSERT INTO audit_events (at, action, actor_user_id, actor_key_id, key_id, \
                 key_name, key_owner_id, workspace_id, subject_user_id, role, ip) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(db_time(audit.at))
            .bind(action.as_str())
            .bind(audit.actor_user_id)
            .bind(audit.actor_key_id)
            .bind(key.map(|k| k.id))
            .bind(key.map(|k| k.name.as_str()))
            .bind(key.map(|k| k.user_id))
            .bind(key.map(|k| k.workspace_id).or(about.workspace_id))
            .bind(about.user_id)
            .bind(about.role.map(Role::as_str))
            .bind(audit.ip.as_deref())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn role_in(tx: &mut Tx, user_id: i64, workspace_id: i64) -> StoreResult<Option<Role>> {
            let role: Option<String> = sqlx::query_scalar(
                "SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2",
            )
            .bind(user_id)
            .bind(workspace_id)
            .fetch_optional(&mut **tx)
            .await?;
            role.as_deref().map(parse_role).transpose()
        }

        #[async_trait::async_trait]
        impl Store for $store {
            async fn last_rights_change(&self) -> StoreResult<i64> {
                Ok(
                    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM rights_changes")
                        .fetch_one(&self.pool)
                        .await?,
                )
            }

            async fn keys_revision(
                &self,
                workspace_id: i64,
                user_id: Option<i64>,
            ) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COALESCE(MAX(id), 0) FROM rights_changes WHERE user_id IS NULL \
                     OR ($2 IS NOT NULL AND user_id = $2) \
                     OR ($2 IS NULL AND (\
                         user_id IN (SELECT user_id FROM memberships WHERE workspace_id = $1) \
                         OR user_id IN (SELECT user_id FROM api_keys WHERE workspace_id = $1)))",
                )
                .bind(workspace_id)
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn rights_changes_since(&self, after: i64) -> StoreResult<Vec<(i64, Option<i64>)>> {
                Ok(sqlx::query_as(
                    "SELECT id, user_id FROM rights_changes WHERE id > $1 ORDER BY id",
                )
                .bind(after)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn prune_rights_changes(
                &self,
                before: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<()> {
                sqlx::query("DELETE FROM rights_changes WHERE at < $1")
                    .bind(db_time(before))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn create_workspace(
                &self,
                name: &str,
                audit: &AuditContext,
            ) -> StoreResult<Workspace> {
                let mut tx = self.write().await?;
                let row: WorkspaceRow = sqlx::query_as(
                    "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) \
                     RETURNING id, name, created_at",
                )
                .bind(name)
                .bind(db_time(audit.at))
                .fetch_one(&mut *tx)
                .await
                .map_err(|err| {
                    conflict_on_unique(err, || format!("a workspace named {name:?} already exists"))
                })?;
                let about = About {
                    workspace_id: Some(row.id),
                    ..About::default()
                };
                record_audit(&mut tx, AuditAction::WorkspaceCreated, about, audit).await?;
                tx.commit().await?;
                row.into_workspace()
            }

            async fn workspace(&self, id: i64) -> StoreResult<Option<Workspace>> {
                let row: Option<WorkspaceRow> =
                    sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(WorkspaceRow::into_workspace).transpose()
            }

            async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>> {
                let row: Option<WorkspaceRow> =
                    sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(WorkspaceRow::into_workspace).transpose()
            }

            async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
                let rows: Vec<WorkspaceRow> =
                    sqlx::query_as("SELECT id, name, created_at FROM workspaces ORDER BY id")
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter().map(WorkspaceRow::into_workspace).collect()
            }

            async fn user_workspaces(&self, user_id: i64) -> StoreResult<Vec<(Workspace, Role)>> {
                let rows: Vec<(i64, String, Time, String)> = sqlx::query_as(
                    "SELECT w.id, w.name, w.created_at, m.role FROM workspaces w \
                     JOIN memberships m ON m.workspace_id = w.id WHERE m.user_id = $1 ORDER BY w.id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(id, name, created_at, role)| {
                        let workspace = WorkspaceRow {
                            id,
                            name,
                            created_at,
                        }
                        .into_workspace()?;
                        Ok((workspace, parse_role(&role)?))
                    })
                    .collect()
            }

            async fn create_user(&self, user: NewUser, audit: &AuditContext) -> StoreResult<UserInfo> {
                let membership_role = if user.role == Role::Owner {
                    Role::Admin
                } else {
                    user.role
                };
                let mut tx = self.write().await?;
                let row: UserRow = sqlx::query_as(
                    "INSERT INTO users (email, password_hash, is_owner, default_workspace_id, \
                     created_at) VALUES ($1, $2, $3, $4, $5) \
                     RETURNING id, email, password_hash, is_owner, default_workspace_id, created_at",
                )
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(user.is_owner)
                .bind(user.workspace_id)
                .bind(db_time(user.created_at))
                .fetch_one(&mut *tx)
                .await
                .map_err(|err| {
                    conflict_on_unique(err, || {
                        format!("a user with email {} already exists", user.email)
                    })
                })?;
                sqlx::query(
                    "INSERT INTO memberships (user_id, workspace_id, role) VALUES ($1, $2, $3)",
                )
                .bind(row.id)
                .bind(user.workspace_id)
                .bind(membership_role.as_str())
                .execute(&mut *tx)
                .await?;
                let about = About::member(row.id, user.workspace_id, Some(user.role));
                record_audit(&mut tx, AuditAction::UserCreated, about, audit).await?;
                tx.commit().await?;
                Ok(row.into_record()?.info)
            }

            async fn user(&self, id: i64) -> StoreResult<Option<UserInfo>> {
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT id, email, password_hash, is_owner, default_workspace_id, created_at \
                     FROM users WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(UserRow::into_record).transpose()?.map(|r| r.info))
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
                let row: Option<UserRow> = sqlx::query_as(
                    "SELECT id, email, password_hash, is_owner, default_workspace_id, created_at \
                     FROM users WHERE email = $1",
                )
                .bind(email)
                .fetch_optional(&self.pool)
                .await?;
                row.map(UserRow::into_record).transpose()
            }

            async fn list_users(&self) -> StoreResult<Vec<UserInfo>> {
                let rows: Vec<UserRow> = sqlx::query_as(
                    "SELECT id, email, password_hash, is_owner, default_workspace_id, created_at \
                     FROM users ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|row| Ok(row.into_record()?.info))
                    .collect()
            }

            async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()> {
                let mut tx = self.write().await?;
                let result = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if result.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                log_rights_change(&mut tx, user_id, chrono::Utc::now()).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn membership(&self, user_id: i64, workspace_id: i64) -> StoreResult<Option<Role>> {
                let role: Option<String> = sqlx::query_scalar(
                    "SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2",
                )
                .bind(user_id)
                .bind(workspace_id)
                .fetch_optional(&self.pool)
                .await?;
                role.as_deref().map(parse_role).transpose()
            }

            async fn set_membership(
                &self,
                user_id: i64,
                workspace_id: i64,
                role: Role,
                audit: &AuditContext,
            ) -> StoreResult<Option<Role>> {
                let mut tx = self.write().await?;
                let before = role_in(&mut tx, user_id, workspace_id).await?;
                sqlx::query(
                    "INSERT INTO memberships (user_id, workspace_id, role) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id, workspace_id) DO UPDATE SET role = excluded.role",
                )
                .bind(user_id)
                .bind(workspace_id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
                let action = match before {
                    None => AuditAction::MemberAdded,
                    Some(_) => AuditAction::RoleChanged,
                };
                let about = About::member(user_id, workspace_id, Some(role));
                record_audit(&mut tx, action, about, audit).await?;
                log_rights_change(&mut tx, user_id, audit.at).await?;
                tx.commit().await?;
                Ok(before)
            }

            async fn remove_membership(
                &self,
                user_id: i64,
                workspace_id: i64,
                audit: &AuditContext,
            ) -> StoreResult<bool> {
                let mut tx = self.write().await?;
                let result =
                    sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND workspace_id = $2")
                        .bind(user_id)
                        .bind(workspace_id)
                        .execute(&mut *tx)
                        .await?;
                if result.rows_affected() == 0 {
                    return Ok(false);
                }
                let about = About::member(user_id, workspace_id, None);
                record_audit(&mut tx, AuditAction::MemberRemoved, about, audit).await?;
                log_rights_change(&mut tx, user_id, audit.at).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn members(&self, workspace_id: i64) -> StoreResult<Vec<MemberInfo>> {
                let rows: Vec<(i64, String, String)> = sqlx::query_as(
                    "SELECT u.id, u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
                     WHERE m.workspace_id = $1 ORDER BY u.id",
                )
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(user_id, email, role)| {
                        Ok(MemberInfo {
                            user_id,
                            email,
                            role: parse_role(&role)?,
                        })
                    })
                    .collect()
            }

            async fn invite(
                &self,
                workspace_id: i64,
                email: &str,
                role: Role,
                audit: &AuditContext,
            ) -> StoreResult<Invitation> {
                let mut tx = self.write().await?;
                let (email, role_text, created_at): (String, String, Time) = sqlx::query_as(
                    "INSERT INTO invitations (workspace_id, email, role, created_at) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (workspace_id, email) DO UPDATE SET role = excluded.role \
                     RETURNING email, role, created_at",
                )
                .bind(workspace_id)
                .bind(email)
                .bind(role.as_str())
                .bind(db_time(audit.at))
                .fetch_one(&mut *tx)
                .await?;
                let about = About {
                    workspace_id: Some(workspace_id),
                    role: Some(role),
                    ..About::default()
                };
                record_audit(&mut tx, AuditAction::Invited, about, audit).await?;
                tx.commit().await?;
                Ok(Invitation {
                    email,
                    role: parse_role(&role_text)?,
                    created_at: from_db_time(created_at)?,
                })
            }

            async fn invitations(&self, workspace_id: i64) -> StoreResult<Vec<Invitation>> {
                let rows: Vec<(String, String, Time)> = sqlx::query_as(
                    "SELECT email, role, created_at FROM invitations WHERE workspace_id = $1 \
                     ORDER BY email",
                )
                .bind(workspace_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(email, role, created_at)| {
                        Ok(Invitation {
                            email,
                            role: parse_role(&role)?,
                            created_at: from_db_time(created_at)?,
                        })
                    })
                    .collect()
            }

            async fn remove_invitation(&self, workspace_id: i64, email: &str) -> StoreResult<bool> {
                let result =
                    sqlx::query("DELETE FROM invitations WHERE workspace_id = $1 AND email = $2")
                        .bind(workspace_id)
                        .bind(email)
                        .execute(&self.pool)
                        .await?;
                Ok(result.rows_affected() > 0)
            }

            async fn accept_invitations(
                &self,
                user_id: i64,
                email: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> StoreResult<Vec<i64>> {
                // Every sign-in asks; almost always there is nothing, and that costs no write lock.
                let pending: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM invitations WHERE email = $1)")
                        .bind(email)
                        .fetch_one(&self.pool)
                        .await?;
                if !pending {
                    return Ok(Vec::new());
                }
                let mut tx = self.write().await?;
                let joined: Vec<(i64, String)> = sqlx::query_as(
                    "INSERT INTO memberships (user_id, workspace_id, role) \
                     SELECT $1, workspace_id, role FROM invitations WHERE email = $2 AND TRUE \
                     ON CONFLICT (user_id, workspace_id) DO NOTHING RETURNING workspace_id, role",
                )
                .bind(user_id)
                .bind(email)
                .fetch_all(&mut *tx)
                .await?;
                let audit = AuditContext {
                    actor_user_id: Some(user_id),
                    ..AuditContext::system(at)
                };
                for (workspace_id, role) in &joined {
                    let about = About::member(user_id, *workspace_id, Some(parse_role(role)?));
                    record_audit(&mut tx, AuditAction::MemberAdded, about, &audit).await?;
                }
                sqlx::query("DELETE FROM invitations WHERE email = $1")
                    .bind(email)
                    .execute(&mut *tx)
                    .await?;
                log_rights_change(&mut tx, user_id, at).await?;
                tx.commit().await?;
                Ok(joined.into_iter().map(|(id, _)| id).collect())
            }

            async fn login_failures(
                &self,
                account: [u8; 32],
            ) -> StoreResult<Option<(chrono::DateTime<chrono::Utc>, u32)>> {
                let row: Option<(Time, i64)> = sqlx::query_as(
                    "SELECT started_at, failures FROM login_failures WHERE account = $1",
                )
                .bind(&account[..])
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(started_at, failures)| {
                    Ok((
                        from_db_time(started_at)?,
                        u32::try_from(failures).unwrap_or(u32::MAX),
                    ))
                })
                .transpose()
            }

            async fn record_login_failure(
                &self,
                account: [u8; 32],
                user: Option<&UserInfo>,
                window: chrono::Duration,
                audit: &AuditContext,
            ) -> StoreResult<(chrono::DateTime<chrono::Utc>, u32)> {
                let mut tx = self.write().await?;
                // A window that began at or before `$3` is over: counting starts again.
                let (started_at, failures): (Time, i64) = sqlx::query_as(
                    "INSERT INTO login_failures (account, started_at, failures) VALUES ($1, $2, 1) \
                     ON CONFLICT (account) DO UPDATE SET \
                       started_at = CASE WHEN login_failures.started_at <= $3 THEN $2 \
                                    ELSE login_failures.started_at END, \
                       failures = CASE WHEN login_failures.started_at <= $3 THEN 1 \
                                  ELSE login_failures.failures + 1 END \
                     RETURNING started_at, failures",
                )
                .bind(&account[..])
                .bind(db_time(audit.at))
                .bind(db_time(audit.at - window))
                .fetch_one(&mut *tx)
                .await?;
                let about = About {
                    workspace_id: user.map(|u| u.default_workspace_id),
                    user_id: user.map(|u| u.id),
                    ..About::default()
                };
                record_audit(&mut tx, AuditAction::LoginFailed, about, audit).await?;
                tx.commit().await?;
                Ok((
                    from_db_time(started_at)?,
                    u32::try_from(failures).unwrap_or(u32::MAX),
                ))
            }

            async fn clear_login_failures(&self, account: [u8; 32]) -> StoreResult<()> {
                sqlx::query("DELETE FROM login_failures WHERE account = $1")
                    .bind(&account[..])
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn create_session(
                &self,
                token_hash: [u8; 32],
                user_id: i64,
                expires_at: chrono::DateTime<chrono::Utc>,
                audit: AuditContext,
            ) -> StoreResult<()> {
                let mut tx = self.write().await?;
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                    .bind(db_time(audit.at))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&token_hash[..])
                .bind(user_id)
                .bind(db_time(audit.at))
                .bind(db_time(expires_at))
                .execute(&mut *tx)
                .await?;
                let workspace_id: Option<i64> =
                    sqlx::query_scalar("SELECT default_workspace_id FROM users WHERE id = $1")
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                let about = About {
                    workspace_id,
                    user_id: Some(user_id),
                    ..About::default()
                };
                record_audit(&mut tx, AuditAction::Login, about, &audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session(&self, token_hash: [u8; 32]) -> StoreResult<Option<SessionAuth>> {
                let row: Option<(i64, bool, i64, Option<String>, Time)> = sqlx::query_as(
                    "SELECT s.user_id, u.is_owner, u.default_workspace_id, m.role, s.expires_at \
                     FROM sessions s JOIN users u ON u.id = s.user_id \
                     LEFT JOIN memberships m \
                       ON m.user_id = u.id AND m.workspace_id = u.default_workspace_id \
                     WHERE s.token_hash = $1",
                )
                .bind(&token_hash[..])
                .fetch_optional(&self.pool)
                .await?;
                row.map(|(user_id, is_owner, default_workspace_id, role, expires_at)| {
                    Ok(SessionAuth {
                        user_id,
                        is_owner,
                        default_workspace_id,
                        role: role.as_deref().map(parse_role).transpose()?,
                        expires_at: from_db_time(expires_at)?,
                    })
                })
                .transpose()
            }

            async fn delete_session(
                &self,
                token_hash: [u8; 32],
                audit: &AuditContext,
            ) -> StoreResult<bool> {
                let mut tx = self.write().await?;
                let ended: Option<(i64, i64)> = sqlx::query_as(
                    "DELETE FROM sessions WHERE token_hash = $1 RETURNING user_id, \
                     (SELECT default_workspace_id FROM users WHERE users.id = sessions.user_id)",
                )
                .bind(&token_hash[..])
                .fetch_optional(&mut *tx)
                .await?;
                let Some((user_id, workspace_id)) = ended else {
                    return Ok(false);
                };
                let about = About::member(user_id, workspace_id, None);
                record_audit(&mut tx, AuditAction::Logout, about, audit).await?;
                log_rights_change(&mut tx, user_id, audit.at).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn insert_key(&self, key: NewKey, audit: AuditContext) -> StoreResult<KeyRecord> {
                let mut tx = self.write().await?;
                let id = insert_key_row(&mut tx, &key).await?;
                let record = key_in(&mut tx, id).await?;
                record_audit(&mut tx, AuditAction::Created, About::key(&record), &audit).await?;
                // Not a loss of rights, but a change of the owner's key list: open apps reload it.
                log_rights_change(&mut tx, record.user_id, audit.at).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn key(&self, id: i64) -> StoreResult<Option<KeyRecord>> {
                let row: Option<KeyRow> =
                    sqlx::query_as(concat!("SELECT ", key_columns!(), " FROM api_keys WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(KeyRow::into_record).transpose()
            }

            async fn key_auth(&self, hash: [u8; 32]) -> StoreResult<Option<KeyAuth>> {
                let row: Option<KeyAuthRow> = sqlx::query_as(
                    "SELECT k.id, k.name, k.user_id, k.workspace_id, u.is_owner, \
                            u.default_workspace_id, m.role, k.expires_at, k.enabled, k.revoked_at, \
                            k.last_used_at, k.scopes \
                     FROM api_keys k JOIN users u ON u.id = k.user_id \
                     LEFT JOIN memberships m \
                       ON m.user_id = k.user_id AND m.workspace_id = k.workspace_id \
                     WHERE k.key_hash = $1",
                )
                .bind(&hash[..])
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Some(KeyAuth {
                    key_id: row.id,
                    name: row.name,
                    user_id: row.user_id,
                    workspace_id: row.workspace_id,
                    is_owner: row.is_owner,
                    default_workspace_id: row.default_workspace_id,
                    role: row.role.as_deref().map(parse_role).transpose()?,
                    expires_at: from_db_time(row.expires_at)?,
                    enabled: row.enabled,
                    revoked_at: opt_time(row.revoked_at)?,
                    last_used_at: opt_time(row.last_used_at)?,
                    scopes: from_db_scopes(row.scopes)?,
                }))
            }

            async fn list_keys(&self, filter: KeyFilter) -> StoreResult<Vec<KeyRecord>> {
                let pattern = filter.query.as_deref().map($crate::server::store::like_pattern);
                let limit = i64::from(filter.limit);
                // The status is derived from the row in Rust (`KeyRecord::status`), nowhere else:
                // with a status asked for, rows are read newest first in batches until enough match.
                let batch = if filter.status.is_some() { limit.max(500) } else { limit };
                let mut keys = Vec::new();
                let mut before_id = filter.before_id;
                loop {
                    let rows: Vec<KeyRow> = sqlx::query_as(concat!(
                        "SELECT ", key_columns!(), " FROM api_keys WHERE workspace_id = $1 \
                         AND ($2 IS NULL OR user_id = $2) \
                         AND ($3 IS NULL OR id < $3) \
                         AND ($4 IS NULL OR name ", $like, " $4 ESCAPE '\\' \
                              OR description ", $like, " $4 ESCAPE '\\') \
                         ORDER BY id DESC LIMIT $5"
                    ))
                    .bind(filter.workspace_id)
                    .bind(filter.user_id)
                    .bind(before_id)
                    .bind(pattern.as_deref())
                    .bind(batch)
                    .fetch_all(&self.pool)
                    .await?;
                    let exhausted = (rows.len() as i64) < batch;
                    before_id = rows.last().map(|row| row.id);
                    for row in rows {
                        let key = row.into_record()?;
                        if filter.status.is_none_or(|status| key.status(filter.now) == status) {
                            keys.push(key);
                            if keys.len() as i64 == limit {
                                return Ok(keys);
                            }
                        }
                    }
                    if exhausted {
                        return Ok(keys);
                    }
                }
            }

            async fn update_key(
                &self,
                id: i64,
                changes: KeyChanges,
                actions: &[AuditAction],
                audit: AuditContext,
            ) -> StoreResult<KeyRecord> {
                let mut tx = self.write().await?;
                let result = sqlx::query(
                    "UPDATE api_keys SET name = COALESCE($1, name), \
                     description = COALESCE($2, description), enabled = COALESCE($3, enabled) \
                     WHERE id = $4",
                )
                .bind(changes.name)
                .bind(changes.description)
                .bind(changes.enabled)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if result.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                let record = key_in(&mut tx, id).await?;
                for &action in actions {
                    record_audit(&mut tx, action, About::key(&record), &audit).await?;
                }
                log_rights_change(&mut tx, record.user_id, audit.at).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn revoke_key(&self, id: i64, audit: AuditContext) -> StoreResult<KeyRecord> {
                let mut tx = self.write().await?;
                let result = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 \
                     WHERE id = $2 AND (revoked_at IS NULL OR revoked_at > $1)",
                )
                .bind(db_time(audit.at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let record = key_in(&mut tx, id).await?;
                if result.rows_affected() > 0 {
                    record_audit(&mut tx, AuditAction::Revoked, About::key(&record), &audit).await?;
                    log_rights_change(&mut tx, record.user_id, audit.at).await?;
                }
                tx.commit().await?;
                Ok(record)
            }

            async fn rotate_key(
                &self,
                old_id: i64,
                old_revoked_at: chrono::DateTime<chrono::Utc>,
                new: NewKey,
                audit: AuditContext,
            ) -> StoreResult<KeyRecord> {
                let mut tx = self.write().await?;
                let result = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 \
                     WHERE id = $2 AND (revoked_at IS NULL OR revoked_at > $1)",
                )
                .bind(db_time(old_revoked_at))
                .bind(old_id)
                .execute(&mut *tx)
                .await?;
                if result.rows_affected() == 0 {
                    // Either gone, or revoked by someone else since the caller looked: nothing
                    // half-done.
                    return Err(match key_in(&mut tx, old_id).await {
                        Ok(_) => StoreError::Conflict("the key is already revoked".to_string()),
                        Err(err) => err,
                    });
                }
                let old = key_in(&mut tx, old_id).await?;
                let id = insert_key_row(&mut tx, &new).await?;
                let record = key_in(&mut tx, id).await?;
                record_audit(&mut tx, AuditAction::Rotated, About::key(&old), &audit).await?;
                record_audit(&mut tx, AuditAction::Created, About::key(&record), &audit).await?;
                log_rights_change(&mut tx, old.user_id, audit.at).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn delete_key(&self, id: i64, audit: AuditContext) -> StoreResult<bool> {
                let mut tx = self.write().await?;
                let record = match key_in(&mut tx, id).await {
                    Ok(record) => record,
                    Err(StoreError::NotFound) => return Ok(false),
                    Err(err) => return Err(err),
                };
                sqlx::query("DELETE FROM api_keys WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                record_audit(&mut tx, AuditAction::Deleted, About::key(&record), &audit).await?;
                log_rights_change(&mut tx, record.user_id, audit.at).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn touch_key(&self, id: i64, at: chrono::DateTime<chrono::Utc>) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE api_keys SET last_used_at = $1 \
                     WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
                )
                .bind(db_time(at))
                .bind(id)
                .bind(db_time(at - $crate::server::store::TOUCH_INTERVAL))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn list_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditEvent>> {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, at, action, actor_user_id, actor_key_id, subject_user_id, role, \
                     key_id, key_name, workspace_id, ip FROM audit_events \
                     WHERE workspace_id = $1 \
                     AND ($2 IS NULL OR key_owner_id = $2 OR actor_user_id = $2 \
                          OR subject_user_id = $2) \
                     AND ($3 IS NULL OR key_id = $3) \
                     AND ($4 IS NULL OR id < $4) \
                     ORDER BY id DESC LIMIT $5",
                )
                .bind(filter.workspace_id)
                .bind(filter.involving_user)
                .bind(filter.key_id)
                .bind(filter.before_id)
                .bind(i64::from(filter.limit))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|row| {
                        Ok(AuditEvent {
                            id: row.id,
                            at: from_db_time(row.at)?,
                            action: AuditAction::parse(&row.action).ok_or_else(|| {
                                StoreError::Corrupt(format!(
                                    "unknown audit action {:?}",
                                    row.action
                                ))
                            })?,
                            actor_user_id: row.actor_user_id,
                            actor_key_id: row.actor_key_id,
                            subject_user_id: row.subject_user_id,
                            role: row.role.as_deref().map(parse_role).transpose()?,
                            key_id: row.key_id,
                            key_name: row.key_name,
                            workspace_id: row.workspace_id,
                            ip: row.ip,
                        })
                    })
                    .collect()
            }

            fn watch_rights_changes(
                &self,
                wake: std::sync::Arc<tokio::sync::Notify>,
            ) -> Option<tokio::task::AbortHandle> {
                self.watch(wake)
            }
        }
    };
}
