-- What the cloud exporter has put into the outbox: written in the same transaction as
-- the outbox rows, so a row is exported exactly once whatever crashes when.
CREATE TABLE sync_exports (
    stream TEXT NOT NULL,
    key    TEXT NOT NULL,
    PRIMARY KEY (stream, key)
);
