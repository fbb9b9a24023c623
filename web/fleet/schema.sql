-- Fleet store (SQLite). Idempotent: applied at every open.
CREATE TABLE IF NOT EXISTS boxes (
    node        TEXT PRIMARY KEY,
    online      INTEGER NOT NULL DEFAULT 0,
    since       REAL,
    last_seen   REAL,
    session     TEXT,
    version     TEXT,
    birth       TEXT,
    metrics     TEXT,
    backlog     INTEGER,
    seq_floor   INTEGER NOT NULL DEFAULT 0,
    last_resync REAL
);
CREATE TABLE IF NOT EXISTS events (
    node     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    stream   TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    ts       REAL    NOT NULL,
    hist     INTEGER NOT NULL,
    data     TEXT    NOT NULL,
    received REAL    NOT NULL,
    PRIMARY KEY (node, id)
);
CREATE INDEX IF NOT EXISTS events_stream ON events(node, stream, seq);
CREATE TABLE IF NOT EXISTS config (
    node             TEXT PRIMARY KEY,
    desired_version  INTEGER,
    desired          TEXT,
    desired_at       REAL,
    reported_version INTEGER,
    reported         TEXT,
    reported_at      REAL
);
CREATE TABLE IF NOT EXISTS command_results (
    node     TEXT NOT NULL,
    cmd_id   TEXT NOT NULL,
    status   TEXT NOT NULL,
    body     TEXT NOT NULL,
    received REAL NOT NULL,
    PRIMARY KEY (node, cmd_id, status)
);
