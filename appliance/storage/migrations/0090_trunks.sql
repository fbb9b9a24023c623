-- SIP/GSM trunks, outbound routes with ordered trunks and caller-ID rules, toll-fraud limits.
-- Written by the controller's trunk service only.

CREATE TABLE trunks (
    name             TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
    kind             TEXT NOT NULL CHECK (kind IN ('sip', 'gsm')),
    host             TEXT NOT NULL,
    port             INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    transport        TEXT NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp')),
    username         TEXT,
    secret           BLOB,              -- the digest password, sealed (AES-GCM, key file apart)
    enabled          INTEGER NOT NULL DEFAULT 1,
    answer_timeout_s REAL NOT NULL DEFAULT 4 CHECK (answer_timeout_s BETWEEN 1 AND 60),
    health_check     INTEGER NOT NULL DEFAULT 1,
    UNIQUE (host, port)
);

CREATE TABLE outbound_routes (
    name         TEXT PRIMARY KEY,
    pattern      TEXT NOT NULL,
    strip        INTEGER NOT NULL DEFAULT 0 CHECK (strip BETWEEN 0 AND 12),
    prepend      TEXT NOT NULL DEFAULT '',
    ring_seconds INTEGER NOT NULL DEFAULT 60 CHECK (ring_seconds BETWEEN 5 AND 300),
    record       INTEGER NOT NULL DEFAULT 1,
    priority     INTEGER NOT NULL DEFAULT 100
);

CREATE TABLE outbound_route_trunks (
    route    TEXT NOT NULL REFERENCES outbound_routes(name) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    trunk    TEXT NOT NULL REFERENCES trunks(name) ON DELETE RESTRICT,
    PRIMARY KEY (route, position),
    UNIQUE (route, trunk)
);

CREATE TABLE outbound_caller_ids (
    route  TEXT NOT NULL REFERENCES outbound_routes(name) ON DELETE CASCADE,
    kind   TEXT NOT NULL CHECK (kind IN ('sip', 'gsm')),
    mode   TEXT NOT NULL CHECK (mode IN ('keep', 'fixed', 'rewrite')),
    number TEXT NOT NULL DEFAULT '',
    strip  INTEGER NOT NULL DEFAULT 0,
    prefix TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (route, kind)
);

-- One row: the box's toll-fraud limits.
CREATE TABLE toll_policy (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    allowed_patterns   TEXT NOT NULL,    -- JSON list of regular expressions
    blocked            TEXT NOT NULL,    -- JSON list of {"prefix": ..., "needs": class}
    default_class      TEXT NOT NULL,
    max_calls_per_hour INTEGER NOT NULL CHECK (max_calls_per_hour BETWEEN 1 AND 10000)
);

CREATE TABLE toll_classes (
    extension TEXT PRIMARY KEY REFERENCES extensions(number) ON DELETE CASCADE,
    class     TEXT NOT NULL CHECK (class IN ('internal', 'local', 'national', 'international', 'premium'))
);

CREATE INDEX cdrs_outbound_caller ON cdrs(caller, started_at) WHERE kind = 'outbound';
