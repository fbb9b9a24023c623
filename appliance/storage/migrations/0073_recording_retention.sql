-- Recording retention: days kept per queue and a default for calls that went through no queue.
-- The retention sweep deletes recording FILES; their index rows stay, marked, so CDRs and the
-- cloud still know the recording existed. No row is ever deleted.
CREATE TABLE recording_retention (
    scope TEXT PRIMARY KEY,            -- '*' = the default (calls through no queue); else a queue number
    days  INTEGER NOT NULL CHECK (days BETWEEN 1 AND 36500)
);
INSERT INTO recording_retention(scope, days) VALUES ('*', 365);

-- Two marks, in this order, so a crash between them never leaves a row silently pointing at nothing:
-- expired_at is committed BEFORE the file is unlinked (the row already says "gone or going");
-- purged_at is set after the unlink. expired_at without purged_at = deletion pending (retried).
ALTER TABLE recordings ADD COLUMN expired_at TEXT;
ALTER TABLE recordings ADD COLUMN purged_at TEXT;
CREATE INDEX recordings_unexpired ON recordings(started_at) WHERE expired_at IS NULL;
