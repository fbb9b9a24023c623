-- Contact-center queues: configuration, members, and the append-only queue event log.

CREATE TABLE queues (
    number         TEXT PRIMARY KEY CHECK (number GLOB '[0-9]*' AND length(number) BETWEEN 2 AND 8),
    name           TEXT NOT NULL,
    strategy       TEXT NOT NULL DEFAULT 'leastrecent',
    wrap_up_s      REAL NOT NULL DEFAULT 5 CHECK (wrap_up_s BETWEEN 0 AND 3600),
    ring_timeout_s REAL NOT NULL DEFAULT 15 CHECK (ring_timeout_s BETWEEN 3 AND 120),
    max_wait_s     REAL CHECK (max_wait_s IS NULL OR max_wait_s > 0),
    on_timeout     TEXT NOT NULL DEFAULT 'hangup',   -- a Destination: extension:600, hangup, ...
    language       TEXT NOT NULL DEFAULT 'en',
    record         INTEGER NOT NULL DEFAULT 1,
    max_misses     INTEGER NOT NULL DEFAULT 3 CHECK (max_misses BETWEEN 1 AND 20)
);

CREATE TABLE queue_members (
    queue     TEXT NOT NULL REFERENCES queues(number) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    extension TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
    penalty   INTEGER NOT NULL DEFAULT 0 CHECK (penalty >= 0),
    PRIMARY KEY (queue, position),
    UNIQUE (queue, extension)
);

-- One row per ACD event (queue calls and agent state changes), in the order they happened.
-- Written by the controller's queue service only.
CREATE TABLE queue_events (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,        -- wall time (UTC ISO-8601)
    mono      REAL NOT NULL,        -- the controller clock's monotonic seconds (event.at)
    type      TEXT NOT NULL,        -- CallerJoined, CallOffered, AgentPaused, ...
    queue_id  TEXT NOT NULL DEFAULT '',
    call_id   TEXT NOT NULL DEFAULT '',
    agent_id  TEXT NOT NULL DEFAULT '',
    data      TEXT NOT NULL         -- the event's fields as JSON
);
CREATE INDEX queue_events_queue ON queue_events(queue_id, id);
CREATE INDEX queue_events_call ON queue_events(call_id);
