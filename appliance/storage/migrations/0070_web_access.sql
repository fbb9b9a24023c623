-- Local web UI: users with roles, server-side sessions, the audit log.

CREATE TABLE web_users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE
                  CHECK (length(username) BETWEEN 1 AND 64),
    password_hash TEXT NOT NULL,           -- argon2id encoded hash; the password is never stored
    role          TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    enabled       INTEGER NOT NULL DEFAULT 1,
    token_hash    TEXT UNIQUE,              -- sha256 of the user's API bearer token, if any
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

-- One row per logged-in browser. The cookie carries the token; only its sha256 is stored.
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);

-- Configuration changes, logins (failed ones too) and recording access. Append-only.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,                  -- username, or '' before login
    action  TEXT NOT NULL,                  -- e.g. login.ok, extension.create, recording.download
    target  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL DEFAULT '{}',     -- JSON
    source  TEXT NOT NULL DEFAULT ''        -- client address
);
CREATE INDEX audit_log_at ON audit_log(at);
