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
            the database refuse it within a second (on PostgreSQL at once). A server that cannot confirm \
            its cache is current checks credentials against the database, and answers 503 with \
            `Retry-After` while it cannot reach it.\n\n\
            Every operation lists every status it can answer, and the request schemas state the limits \
            the server checks; rules that depend on the moment or on rights are in the descriptions."
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

/// Adds to every operation of the generated document the answers the layers around the handlers
/// give, so each route lists every status it can answer: a deadline (408), a URI or headers too
/// long (414, 431), an unreachable database or too many connections (503), and, where they apply, a
/// missing or rejected credential and the guessing limit (401, 429), a body that is not JSON, too
/// large, of another type or with a wrong field (400, 413, 415, 422), a path naming nothing the
/// credential may see (404) and a wrong query parameter (422). What a handler answers itself stays
/// in its own annotation.
pub fn add_generic_responses(document: &mut serde_json::Value) {
    const AUTH: [(&str, &str); 2] = [
        (
            "401",
            "No usable credential: missing, malformed, unknown, expired, disabled or revoked.",
        ),
        (
            "429",
            "Too many failed authentications from this address; `Retry-After` says when to try again.",
        ),
    ];
    const BODY: [(&str, &str); 4] = [
        ("400", "The body is not JSON."),
        ("413", "The body is over 64 KiB."),
        (
            "415",
            "The body is not sent as `Content-Type: application/json`.",
        ),
        ("422", "A field is missing or wrong; the message names it."),
    ];
    const ALWAYS: [(&str, &str); 4] = [
        ("408", "The request took too long to arrive or to answer."),
        ("414", "The path and query are over 8 KiB."),
        ("431", "The headers are over 16 KiB."),
        (
            "503",
            "The server cannot reach its database, or has too many open connections; \
             `Retry-After` says when to try again.",
        ),
    ];
    let schemas = document
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or_default();
    let Some(paths) = document.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if !["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            // No `security` inherits the document's; `[{}]` is "no credential needed".
            let secured = operation
                .get("security")
                .and_then(|s| s.as_array())
                .is_none_or(|s| {
                    s.iter()
                        .any(|r| r.as_object().is_some_and(|r| !r.is_empty()))
                });
            let located = |place: &str| {
                operation
                    .get("parameters")
                    .and_then(|p| p.as_array())
                    .is_some_and(|p| p.iter().any(|p| p["in"] == place))
            };
            let (in_path, in_query) = (located("path"), located("query"));
            let has_body = operation.get("requestBody").is_some();
            let names_record = operation
                .get("parameters")
                .and_then(|p| p.as_array())
                .is_some_and(|p| {
                    p.iter()
                        .any(|p| p["in"] == "query" && is_record_id(p["name"].as_str()))
                })
                || body_names_record(operation, &schemas);
            let mut statuses: Vec<(&str, &str)> = ALWAYS.to_vec();
            if secured {
                statuses.extend(AUTH);
            }
            if has_body {
                statuses.extend(BODY);
            }
            if in_path {
                statuses.push(("404", "Not found, or not visible to this credential."));
            } else if names_record {
                statuses.push((
                    "404",
                    "A query parameter or body field names a record that does not exist or that \
                     this credential may not see.",
                ));
            }
            if in_query {
                statuses.push(("422", "A query parameter is wrong; the message names it."));
            }
            let Some(responses) = operation
                .as_object_mut()
                .map(|o| {
                    o.entry("responses")
                        .or_insert_with(|| serde_json::json!({}))
                })
                .and_then(|r| r.as_object_mut())
            else {
                continue;
            };
            for (status, description) in statuses {
                responses.entry(status).or_insert_with(|| {
                    serde_json::json!({
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                    })
                });
            }
        }
    }
}

/// A parameter or property that names a record by its id (`workspace_id`, `user_id`, `key_id`).
fn is_record_id(name: Option<&str>) -> bool {
    name.is_some_and(|name| name.ends_with("_id"))
}

/// Whether the operation's JSON body has a property that names a record.
fn body_names_record(operation: &serde_json::Value, schemas: &serde_json::Value) -> bool {
    let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema") else {
        return false;
    };
    let schema = match schema["$ref"].as_str() {
        Some(reference) => &schemas[reference.rsplit('/').next().unwrap_or_default()],
        None => schema,
    };
    schema["properties"]
        .as_object()
        .is_some_and(|properties| properties.keys().any(|name| is_record_id(Some(name))))
}

/// Writes into the request schemas the limits the server checks, from the same constants (and the
/// server's `max_key_days`), so a request built within the document is never refused for a limit
/// it does not state. Rules that depend on the moment or on rights (an expiry in the future, who
/// may name an owner) are in the fields' descriptions.
pub fn add_request_constraints(document: &mut serde_json::Value, max_key_days: i64) {
    use serde_json::json;

    use super::accounts::{EMAIL_MAX_CHARS, MIN_PASSWORD_CHARS, WORKSPACE_NAME_MAX_CHARS};
    use crate::api::limits::{
        KEY_DESCRIPTION_MAX_CHARS as DESCRIPTION_MAX_CHARS, KEY_NAME_MAX_CHARS as NAME_MAX_CHARS,
        MAX_GRACE_SECONDS, MAX_SCOPES, SCOPE_MAX_CHARS,
    };
    use crate::text::UNSAFE_CLASS;

    let safe = format!("^[^{UNSAFE_CLASS}]*$");
    // Not blank: names are trimmed before their length is checked.
    let named = format!("^[^{UNSAFE_CLASS}]*[^\\s{UNSAFE_CLASS}][^{UNSAFE_CLASS}]*$");
    let name = json!({"minLength": 1, "maxLength": NAME_MAX_CHARS, "pattern": named});
    let description = json!({"maxLength": DESCRIPTION_MAX_CHARS, "pattern": safe});
    let days = json!({"minimum": 1, "maximum": max_key_days});
    let email = json!({
        "maxLength": EMAIL_MAX_CHARS,
        "pattern": format!("^[^@\\s{UNSAFE_CLASS}]+@[^\\s{UNSAFE_CLASS}]+$"),
    });
    let workspace_role = json!({"type": "string", "enum": ["viewer", "member", "admin"],
        "description": "`admin`, `member` or `viewer` (`owner` is server-wide, not a workspace role)."});
    let constraints = [
        ("CreateKeyRequest", "name", name.clone()),
        ("CreateKeyRequest", "description", description.clone()),
        ("CreateKeyRequest", "expires_in_days", days.clone()),
        (
            "CreateKeyRequest",
            "scopes",
            json!({"maxItems": MAX_SCOPES, "items": {"type": "string", "minLength": 1,
                "maxLength": SCOPE_MAX_CHARS, "pattern": format!("^[^\\s{UNSAFE_CLASS}]+$")}}),
        ),
        ("UpdateKeyRequest", "name", name.clone()),
        ("UpdateKeyRequest", "description", description),
        ("RotateKeyRequest", "expires_in_days", days),
        (
            "RotateKeyRequest",
            "grace_seconds",
            json!({"minimum": 0, "maximum": MAX_GRACE_SECONDS}),
        ),
        ("CreateUserRequest", "email", email.clone()),
        (
            "CreateUserRequest",
            "password",
            json!({"minLength": MIN_PASSWORD_CHARS}),
        ),
        (
            "CreateWorkspaceRequest",
            "name",
            json!({"minLength": 1, "maxLength": WORKSPACE_NAME_MAX_CHARS,
                "pattern": format!("^[^{UNSAFE_CLASS}]*[^\\s{UNSAFE_CLASS}][^{UNSAFE_CLASS}]*$")}),
        ),
        ("CreateKeyRequest", "workspace_id", json!({"minimum": 1})),
        ("CreateKeyRequest", "user_id", json!({"minimum": 1})),
        ("CreateUserRequest", "workspace_id", json!({"minimum": 1})),
        ("AddMemberRequest", "email", email),
        ("AddMemberRequest", "role", workspace_role.clone()),
        ("SetMemberRequest", "role", workspace_role),
    ];
    // Query parameters: ids are 1 or more, a page has 1 to PAGE_LIMIT_MAX items.
    for operation in document
        .get_mut("paths")
        .and_then(|p| p.as_object_mut())
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
    {
        for parameter in operation
            .get_mut("parameters")
            .and_then(|p| p.as_array_mut())
            .into_iter()
            .flatten()
        {
            if parameter["in"] != "query" {
                continue;
            }
            let limits = match parameter["name"].as_str() {
                name if is_record_id(name) => json!({"minimum": 1}),
                Some("limit") => json!({"minimum": 1, "maximum": super::routes::PAGE_LIMIT_MAX}),
                _ => continue,
            };
            if let Some(schema) = parameter.get_mut("schema").and_then(|s| s.as_object_mut()) {
                for (name, value) in limits.as_object().into_iter().flatten() {
                    schema.insert(name.clone(), value.clone());
                }
            }
        }
    }
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    else {
        return;
    };
    // A new key's expiry: exactly one of the two, and not null.
    if let Some(create) = schemas
        .get_mut("CreateKeyRequest")
        .and_then(|s| s.as_object_mut())
    {
        create.insert(
            "oneOf".to_string(),
            json!([
                {"required": ["expires_in_days"],
                 "properties": {"expires_in_days": {"type": "integer", "minimum": 1, "maximum": max_key_days}}},
                {"required": ["expires_at"],
                 "properties": {"expires_at": {"type": "string", "format": "date-time"}}},
            ]),
        );
    }
    for (schema, property, limits) in constraints {
        let Some(target) = schemas
            .get_mut(schema)
            .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
            .and_then(|p| p.as_object_mut())
        else {
            continue;
        };
        // A `$ref` cannot carry siblings that change it: the role is replaced, the rest merged.
        if target.contains_key("$ref") {
            target.clear();
        }
        for (name, value) in limits.as_object().into_iter().flatten() {
            target.insert(name.clone(), value.clone());
        }
    }
}
