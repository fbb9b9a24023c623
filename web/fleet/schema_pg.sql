-- Fleet store (PostgreSQL): the same tables as schema.sql. Idempotent: applied at every open.
-- `arrival` stands in for SQLite's rowid (arrival order).
CREATE TABLE IF NOT EXISTS boxes (
    node        TEXT PRIMARY KEY,
    online      INTEGER NOT NULL DEFAULT 0,
    since       DOUBLE PRECISION,
    last_seen   DOUBLE PRECISION,
    session     TEXT,
    version     TEXT,
    birth       TEXT,
    metrics     TEXT,
    backlog     BIGINT,
    seq_floor   BIGINT NOT NULL DEFAULT 0,
    last_resync DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS events (
    arrival  BIGSERIAL,
    node     TEXT    NOT NULL,
    id       TEXT    NOT NULL,
    stream   TEXT    NOT NULL,
    seq      BIGINT  NOT NULL,
    type     TEXT    NOT NULL,
    ts       DOUBLE PRECISION NOT NULL,
    hist     INTEGER NOT NULL,
    data     TEXT    NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (node, id)
);
CREATE INDEX IF NOT EXISTS events_stream ON events(node, stream, seq);
CREATE INDEX IF NOT EXISTS events_arrival ON events(node, arrival);
CREATE TABLE IF NOT EXISTS config (
    node             TEXT PRIMARY KEY,
    desired_version  BIGINT,
    desired          TEXT,
    desired_at       DOUBLE PRECISION,
    reported_version BIGINT,
    reported         TEXT,
    reported_at      DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS command_results (
    arrival  BIGSERIAL,
    node     TEXT NOT NULL,
    cmd_id   TEXT NOT NULL,
    status   TEXT NOT NULL,
    body     TEXT NOT NULL,
    received DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (node, cmd_id, status)
);
