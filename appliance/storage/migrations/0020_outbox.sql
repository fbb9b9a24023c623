-- Cloud sync outbox: one row per event, deleted only after the broker acknowledged it.
CREATE TABLE sync_outbox (
    rowid      INTEGER PRIMARY KEY AUTOINCREMENT,
    stream     TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    id         TEXT    NOT NULL UNIQUE,
    seq        INTEGER NOT NULL,
    session    TEXT    NOT NULL,
    ts         REAL    NOT NULL,
    data       TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX sync_outbox_stream ON sync_outbox(stream, rowid);

-- The per-node sequence: monotonic across restarts.
CREATE TABLE sync_node (
    node TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL DEFAULT 0
);
