//! The OpenAPI document's frame: title, description and security schemes. The paths come from the
//! handlers themselves (utoipa-axum), so the document cannot drift from the real routes.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keywarden",
        description = "Key-management API: issue, verify, rotate and revoke API keys.\n\n\
            Every endpoint except `GET /healthz` and `GET /v1/openapi.json` needs a credential: a session \
            token from `POST /v1/auth/login` as `Authorization: Bearer kws_…`, or an API key in any of \
            `Authorization: Bearer`, `X-API-Key`, `x-custom-api-key`, `X-Authorization: ApiKey`, \
            `Authentication: Bearer`, `Authorization: Basic <key>` or `Authorization: Basic base64(user:key)`. \
            When a session and a key are both sent, the session wins.\n\n\
            What a credential may do: a session may do everything its user's role allows. An API key \
            acts in its own workspace only (an owner's key included) and by default may only read \
            (its owner's keys, their audit events, `GET /v1/me`, `GET /v1/ping`) and, for an admin's \
            key, call `POST /v1/verify`. Creating, changing, rotating, revoking or deleting keys, and \
            anything on users, workspaces and memberships, needs a session or a key created with the \
            reserved scope `keywarden:manage`, which only a session of someone who may manage can \
            create. A key never makes a credential that could outlive it: creating a managing key, \
            an account, adding a member or changing a role needs a session. Nobody creates a credential that holds more \
            rights than they do: an admin manages the keys of members and viewers of their own \
            workspace only, never those of an owner, another admin or a member of other workspaces.\n\n\
            Errors are `{\"error\": \"<sentence>\", \"code\": \"<snake_case>\"}`: 401 for a missing, malformed, \
            unknown, expired, disabled or revoked credential; 403 when the credential is valid but lacks the \
            right; 404 for what the credential may not see.\n\n\
            `last_used_at` is updated on successful key authentication at most once a minute per key, so \
            authentication does not write to the database on every request. A revoked key fails from the \
            moment the revoke response is sent on the server that revoked it; other server processes sharing \
            the database notice within a quarter of a second."
    ),
    modifiers(&SecuritySchemes),
    security(("session_or_key" = []), ("api_key_header" = []))
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_or_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}
