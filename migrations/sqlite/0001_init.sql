-- Keywarden schema. Times are Unix milliseconds (UTC). Keys and sessions are stored as SHA-256 only.

CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    email                TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash        TEXT    NOT NULL,
    is_owner             INTEGER NOT NULL DEFAULT 0,
    default_workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    created_at           INTEGER NOT NULL
);

CREATE TABLE memberships (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
    PRIMARY KEY (user_id, workspace_id)
);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    key_hash     BLOB    NOT NULL UNIQUE,
    hint         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    user_id      INTEGER NOT NULL REFERENCES users(id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    scopes       TEXT    NOT NULL DEFAULT '[]',
    replaces     INTEGER
);
CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id, id);
CREATE INDEX api_keys_by_owner ON api_keys (user_id, id);

CREATE TABLE sessions (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    action        TEXT    NOT NULL,
    actor_user_id INTEGER,
    key_id        INTEGER,
    key_name      TEXT,
    key_owner_id  INTEGER,
    workspace_id  INTEGER,
    ip            TEXT
);
CREATE INDEX audit_events_by_workspace ON audit_events (workspace_id, id);
CREATE INDEX audit_events_by_key ON audit_events (key_id, id);

-- Bumped by every change that can take a right away (revoke, disable, delete, role change, logout),
-- so every server process sharing this database can drop its cached credentials.
CREATE TABLE revision (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO revision (id, value) VALUES (1, 0);

CREATE TRIGGER api_keys_rights_changed AFTER UPDATE OF enabled, revoked_at, expires_at, user_id, workspace_id, name, scopes ON api_keys
BEGIN UPDATE revision SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
BEGIN UPDATE revision SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER memberships_added AFTER INSERT ON memberships
BEGIN UPDATE revision SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER memberships_changed AFTER UPDATE ON memberships
BEGIN UPDATE revision SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER memberships_removed AFTER DELETE ON memberships
BEGIN UPDATE revision SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER users_changed AFTER UPDATE ON users
BEGIN UPDATE revision SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER users_removed AFTER DELETE ON users
BEGIN UPDATE revision SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER sessions_removed AFTER DELETE ON sessions
BEGIN UPDATE revision SET value = value + 1 WHERE id = 1; END;
