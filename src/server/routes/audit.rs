//! `GET /v1/audit`: who did what to which key, when, from where.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::keys::visible_key;
use super::{page_limit, paginate, parse_cursor, record_id};
use crate::api::{AuditEvent, AuditPage, AuditQuery, ErrorBody, Role};
use crate::server::AppState;
use crate::server::auth::Authenticated;
use crate::server::error::ApiError;
use crate::server::extract::Query;
use crate::server::store::AuditFilter;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Audit events, newest first. Admins see the whole workspace; members and viewers see events about
/// their own keys and their own actions.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery), responses(
    (status = 200, body = AuditPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_audit(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = page_limit(query.limit)?;
    let before_id = parse_cursor(query.cursor.as_deref())?;
    let requested_workspace = record_id("workspace_id", query.workspace_id)?;
    let requested_key = record_id("key_id", query.key_id)?;
    let (workspace_id, role) = state.role_in(&principal, requested_workspace).await?;
    if let Some(key_id) = requested_key {
        // A key that still exists must be visible; a deleted key's events stay filtered by the rules below.
        if state.store.key(key_id).await?.is_some() {
            visible_key(&state, &principal, key_id).await?;
        }
    }
    let filter = AuditFilter {
        workspace_id,
        involving_user: (role < Role::Admin).then_some(principal.user_id),
        key_id: requested_key,
        before_id,
        limit: limit + 1,
    };
    let rows = state.store.list_audit(filter).await?;
    let (items, next_cursor) = paginate(rows, limit, |e| e.id);
    let items = items.into_iter().map(AuditEvent::from).collect();
    Ok(Json(AuditPage { items, next_cursor }))
}
