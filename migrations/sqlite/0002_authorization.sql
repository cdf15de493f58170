-- Pending invitations: an admin adds someone by email; the membership is made when an account with
-- that email signs in or is created, so adding answers the same whether or not the account exists.
CREATE TABLE invitations (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email        TEXT    NOT NULL COLLATE NOCASE,
    role         TEXT    NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, email)
);
CREATE INDEX invitations_by_email ON invitations (email);

-- Failed sign-ins per account, by SHA-256 of the lower-cased email (known or not, so counting
-- reveals nothing, and a password typed into the email field is not stored), shared by every
-- process on this database and kept across restarts.
CREATE TABLE login_failures (
    account    BLOB    PRIMARY KEY,
    started_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL
);

-- The audit trail names the key a request was made with, the user an account or membership event
-- is about, and the role it gave.
ALTER TABLE audit_events ADD COLUMN actor_key_id INTEGER;
ALTER TABLE audit_events ADD COLUMN subject_user_id INTEGER;
ALTER TABLE audit_events ADD COLUMN role TEXT;
CREATE INDEX audit_events_by_subject ON audit_events (subject_user_id, id);

-- Every change that can take a right away is logged by the store, in the same transaction, with
-- the user it concerns (NULL: everyone), so each server process on this database drops only those
-- users' cached credentials. This replaces the single revision counter and its triggers: what
-- counts as a change of rights is decided in Rust, in one place, not in one backend's triggers.
CREATE TABLE rights_changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER,
    at      INTEGER NOT NULL
);
CREATE INDEX rights_changes_by_time ON rights_changes (at);
DROP TRIGGER api_keys_rights_changed;
DROP TRIGGER api_keys_deleted;
DROP TRIGGER memberships_added;
DROP TRIGGER memberships_changed;
DROP TRIGGER memberships_removed;
DROP TRIGGER users_changed;
DROP TRIGGER users_removed;
DROP TRIGGER sessions_removed;
DROP TABLE revision;
