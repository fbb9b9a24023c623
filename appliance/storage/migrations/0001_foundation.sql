-- Foundation schema: extensions, media numbers, CDRs, recordings, alarms, service events.

CREATE TABLE extensions (
    number       TEXT PRIMARY KEY CHECK (number GLOB '[0-9]*' AND length(number) BETWEEN 2 AND 8),
    display_name TEXT NOT NULL DEFAULT '',
    ha1          TEXT NOT NULL,            -- md5(user:realm:password); the password is never stored
    realm        TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE ring_groups (
    number       TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    ring_seconds INTEGER NOT NULL DEFAULT 15 CHECK (ring_seconds BETWEEN 3 AND 120),
    record       INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE ring_group_members (
    ring_group TEXT NOT NULL REFERENCES ring_groups(number) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    extension  TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
    PRIMARY KEY (ring_group, position)
);

-- One row per call attempt, failed ones included. Written by the controller only.
CREATE TABLE cdrs (
    id            INTEGER PRIMARY KEY,
    call_id       TEXT NOT NULL,
    kind          TEXT NOT NULL,          -- extension | echo | ring_group | rejected
    caller        TEXT NOT NULL,
    callee        TEXT NOT NULL,
    answered_by   TEXT,
    worker        TEXT,
    started_at    TEXT NOT NULL,
    answered_at   TEXT,
    ended_at      TEXT,
    duration_s    REAL NOT NULL DEFAULT 0,
    sip_code      INTEGER,
    cause         TEXT NOT NULL DEFAULT '',
    recording_id  INTEGER
);
CREATE INDEX cdrs_started ON cdrs(started_at);
CREATE UNIQUE INDEX cdrs_call_id ON cdrs(call_id);

CREATE TABLE recordings (
    id              INTEGER PRIMARY KEY,
    call_id         TEXT NOT NULL,
    path            TEXT NOT NULL UNIQUE,   -- relative to the data directory
    parties         TEXT NOT NULL,          -- JSON list, one per channel
    started_at      TEXT NOT NULL,
    duration_s      REAL NOT NULL,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    channels        INTEGER NOT NULL,
    retention_class TEXT NOT NULL DEFAULT 'standard',
    legal_hold      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX recordings_call ON recordings(call_id);

CREATE TABLE alarms (
    id         INTEGER PRIMARY KEY,
    raised_at  TEXT NOT NULL,
    cleared_at TEXT,
    severity   TEXT NOT NULL CHECK (severity IN ('info','warning','major','critical')),
    code       TEXT NOT NULL,
    message    TEXT NOT NULL
);
CREATE INDEX alarms_open ON alarms(code) WHERE cleared_at IS NULL;

-- Written by the supervisor: children started, died, restarted.
CREATE TABLE service_events (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    service  TEXT NOT NULL,
    event    TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT ''
);
