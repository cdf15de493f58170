//! Keys of a Keywarden server (the embedded local one or a remote one), through its HTTP API.

use chrono::Utc;

use super::{
    Capabilities, Created, Edit, KeySource, NewKey, Renewal, Renewed, SourceError, SourceKey,
    SourceKind,
};
use crate::api::{
    CreateKeyRequest, KeyInfo, ListKeysQuery, MANAGE_SCOPE, MeResponse, RotateKeyRequest,
    UpdateKeyRequest,
};
use crate::client::ApiClient;

pub mod session;

pub struct KeywardenSource {
    name: String,
    client: ApiClient,
    me: MeResponse,
    /// Workspace names by id, asked once (a credential that may not list them shows ids).
    workspaces: tokio::sync::OnceCell<std::collections::BTreeMap<String, String>>,
}

impl KeywardenSource {
    /// A signed-in client of the server named `name` (`local`, or the server's name).
    pub fn new(name: &str, client: ApiClient, me: MeResponse) -> KeywardenSource {
        KeywardenSource {
            name: name.to_string(),
            client,
            me,
            workspaces: tokio::sync::OnceCell::new(),
        }
    }

    pub fn me(&self) -> &MeResponse {
        &self.me
    }

    pub fn client(&self) -> &ApiClient {
        &self.client
    }

    /// A key as the server reported it, as every source reports keys.
    pub fn key(&self, info: KeyInfo) -> SourceKey {
        let mut key = to_source_key(&self.name, self.client.base_url(), info);
        key.workspace_name = key
            .workspace
            .as_ref()
            .and_then(|id| self.workspaces.get()?.get(id).cloned());
        key
    }

    /// Asks the workspace names once; a credential that may not list them shows ids.
    async fn load_workspace_names(&self) {
        self.workspaces
            .get_or_init(|| async {
                match self.client.workspaces().await {
                    Ok(workspaces) => workspaces
                        .into_iter()
                        .map(|w| (w.id.to_string(), w.name))
                        .collect(),
                    Err(err) => {
                        tracing::debug!("workspace names are not shown: {err}");
                        Default::default()
                    }
                }
            })
            .await;
    }

    fn error(&self, err: crate::client::ClientError) -> SourceError {
        SourceError::from_client(&self.name, err)
    }

    fn id(id: &str) -> Result<i64, SourceError> {
        id.parse().map_err(|_| {
            SourceError::NotFound(format!("a Keywarden key's id is a number, not {id:?}"))
        })
    }
}

/// `KeyInfo` of the server named `source` at `base_url`, as a [`SourceKey`].
pub fn to_source_key(source: &str, base_url: &str, info: KeyInfo) -> SourceKey {
    SourceKey {
        source: source.to_string(),
        kind: SourceKind::Keywarden,
        service: super::services::KEYWARDEN.id.to_string(),
        id: info.id.to_string(),
        manages: info.manages(),
        scopes: info.scopes,
        name: info.name,
        description: info.description,
        hint: info.hint,
        owner: Some(info.user_id.to_string()),
        created_at: info.created_at,
        expires_at: Some(info.expires_at),
        enabled: info.enabled,
        revoked_at: info.revoked_at,
        last_used_at: info.last_used_at,
        replaces: info.replaces.map(|id| id.to_string()),
        replaced_by: None,
        base_url: Some(base_url.to_string()),
        workspace: Some(info.workspace_id.to_string()),
        workspace_name: None,
    }
}

#[async_trait::async_trait]
impl KeySource for KeywardenSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Keywarden
    }

    fn capabilities(&self) -> Capabilities {
        let change = self.me.role >= crate::api::Role::Member;
        Capabilities {
            generate: change,
            add: false,
            enable: change,
            edit: change,
            revoke: change,
            delete: change,
            renew: change,
            manage_scope: self.me.manage,
            never_expires: false,
            overlap_by_client: false,
            renew_by_paste: false,
            describe: true,
            last_used: true,
            audit: true,
            ..Capabilities::default()
        }
    }

    fn who(&self) -> String {
        self.me.user.email.clone()
    }

    fn user_id(&self) -> Option<String> {
        Some(self.me.user.id.to_string())
    }

    fn role(&self) -> String {
        self.me.role.as_str().to_string()
    }

    fn is_admin(&self) -> bool {
        self.me.role >= crate::api::Role::Admin
    }

    fn watch(&self) -> super::Watch {
        super::Watch::Revision
    }

    async fn sign_out(&self) -> Result<(), SourceError> {
        self.client.logout().await.map_err(|e| self.error(e))
    }

    async fn audit(&self, id: &str) -> Result<Vec<crate::api::AuditEvent>, SourceError> {
        let query = crate::api::AuditQuery {
            key_id: Some(Self::id(id)?),
            limit: Some(50),
            ..Default::default()
        };
        let page = self.client.audit(&query).await.map_err(|e| self.error(e))?;
        Ok(page.items)
    }

    async fn list(&self) -> Result<Vec<SourceKey>, SourceError> {
        let keys = self
            .client
            .list_all_keys(&ListKeysQuery::default())
            .await
            .map_err(|e| self.error(e))?;
        self.load_workspace_names().await;
        Ok(keys.into_iter().map(|k| self.key(k)).collect())
    }

    async fn users(&self) -> Result<Vec<(String, String)>, SourceError> {
        if self.me.role < crate::api::Role::Admin {
            return Ok(Vec::new());
        }
        let members = self
            .client
            .members(self.me.workspace_id)
            .await
            .map_err(|e| self.error(e))?;
        Ok(members
            .into_iter()
            .map(|m| (m.user_id.to_string(), m.email))
            .collect())
    }

    async fn revision(&self) -> Result<Option<String>, SourceError> {
        let revision = self
            .client
            .keys_revision()
            .await
            .map_err(|e| self.error(e))?;
        Ok(Some(revision.to_string()))
    }

    async fn create(&self, new: &NewKey) -> Result<Created, SourceError> {
        self.load_workspace_names().await;
        let Some(expires_at) = new.expires_at else {
            return Err(SourceError::Invalid(
                "a Keywarden key expires within a year; give an expiry".into(),
            ));
        };
        let owner = match &new.owner {
            Some(owner) => Some(Self::id(owner)?),
            None => None,
        };
        let request = CreateKeyRequest {
            name: new.name.clone(),
            description: (!new.description.is_empty()).then(|| new.description.clone()),
            expires_at: Some(expires_at),
            user_id: owner,
            scopes: new.manage.then(|| vec![MANAGE_SCOPE.to_string()]),
            ..Default::default()
        };
        let created = self
            .client
            .create_key(&request)
            .await
            .map_err(|e| self.error(e))?;
        Ok(Created {
            key: self.key(created.key),
            secret: created.secret,
        })
    }

    async fn set_enabled(&self, id: &str, enabled: bool) -> Result<SourceKey, SourceError> {
        let request = UpdateKeyRequest {
            enabled: Some(enabled),
            ..Default::default()
        };
        let key = self
            .client
            .update_key(Self::id(id)?, &request)
            .await
            .map_err(|e| self.error(e))?;
        Ok(self.key(key))
    }

    async fn edit(&self, id: &str, edit: &Edit) -> Result<SourceKey, SourceError> {
        let request = UpdateKeyRequest {
            name: edit.name.clone(),
            description: edit.description.clone(),
            enabled: None,
        };
        let key = self
            .client
            .update_key(Self::id(id)?, &request)
            .await
            .map_err(|e| self.error(e))?;
        Ok(self.key(key))
    }

    async fn revoke(&self, id: &str) -> Result<SourceKey, SourceError> {
        let key = self
            .client
            .revoke_key(Self::id(id)?)
            .await
            .map_err(|e| self.error(e))?;
        Ok(self.key(key))
    }

    async fn delete(&self, id: &str) -> Result<(), SourceError> {
        self.client
            .delete_key(Self::id(id)?)
            .await
            .map_err(|e| self.error(e))
    }

    async fn renew(&self, id: &str, renewal: &Renewal) -> Result<Renewed, SourceError> {
        let old_id = Self::id(id)?;
        let now = Utc::now();
        let request = RotateKeyRequest {
            // Whole days, rounded up, so the chosen date is never cut short.
            expires_in_days: renewal
                .expires_at
                .map(|at| ((at - now).num_seconds() + 86_399) / 86_400),
            grace_seconds: Some(renewal.overlap.num_seconds().max(0)),
        };
        let rotated = self
            .client
            .rotate_key(old_id, &request)
            .await
            .map_err(|e| self.error(e))?;
        let old = self
            .client
            .get_key(old_id)
            .await
            .map_err(|e| self.error(e))?;
        Ok(Renewed {
            key: self.key(rotated.key),
            secret: rotated.secret,
            old: self.key(old),
        })
    }
}
