-- Agent desk: the disposition code and note an agent gives a call during wrap-up (call data, not configuration).

CREATE TABLE desk_dispositions (
    id         INTEGER PRIMARY KEY,
    call_id    TEXT NOT NULL CHECK (length(call_id) BETWEEN 1 AND 128),
    number     TEXT NOT NULL DEFAULT '',          -- the caller's number, for the history of their next call
    agent      TEXT NOT NULL,                      -- web username who wrote it
    extension  TEXT NOT NULL DEFAULT '',
    code       TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 32),
    note       TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    created_at TEXT NOT NULL
);
CREATE INDEX desk_dispositions_call ON desk_dispositions(call_id);
CREATE INDEX desk_dispositions_number ON desk_dispositions(number, id);
