-- IVR menus, DIDs, voicemail (mailboxes and messages) and uploaded prompts.

-- One IVR (auto-attendant) per internal number; `config` is the JSON the pure IVR loads
-- (entry, menus, switches), validated before it is written.
CREATE TABLE ivrs (
    number     TEXT PRIMARY KEY CHECK (number GLOB '[0-9]*' AND length(number) BETWEEN 2 AND 8),
    name       TEXT NOT NULL,
    language   TEXT NOT NULL DEFAULT 'en',
    config     TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The called number (DNIS) of inbound calls -> where they go: queue:N, ivr:N, extension:N, voicemail:N.
CREATE TABLE dids (
    did         TEXT PRIMARY KEY CHECK (length(did) BETWEEN 3 AND 20),
    destination TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);

-- Mailbox settings (an extension's or a queue's number); a mailbox without a PIN cannot be
-- listened to by phone. PINs are argon2 hashes only.
CREATE TABLE mailboxes (
    mailbox      TEXT PRIMARY KEY,
    pin_hash     TEXT,
    greeting     TEXT,                         -- a recorded greeting (path under the data dir) or NULL
    language     TEXT NOT NULL DEFAULT 'en',
    failed_pins  INTEGER NOT NULL DEFAULT 0,   -- wrong PINs in a row (reset by a right one)
    locked_until TEXT                          -- UTC ISO-8601: PIN entry refused until then
);

-- One row per message, written before recording starts (state 'recording') and completed
-- after the file is closed (state 'ready'); a crash in between is finished at the next start.
CREATE TABLE voicemails (
    id         INTEGER PRIMARY KEY,
    mailbox    TEXT NOT NULL,
    caller     TEXT NOT NULL,
    call_id    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    path       TEXT NOT NULL,                  -- relative to the data dir
    heard      INTEGER NOT NULL DEFAULT 0,
    state      TEXT NOT NULL DEFAULT 'recording' CHECK (state IN ('recording', 'ready'))
);
CREATE INDEX voicemails_mailbox ON voicemails(mailbox, state, heard);

-- Uploaded prompts (converted to 8 kHz mono 16-bit), by name and language.
CREATE TABLE custom_prompts (
    name        TEXT NOT NULL,
    language    TEXT NOT NULL,
    path        TEXT NOT NULL,
    duration_s  REAL NOT NULL,
    size_bytes  INTEGER NOT NULL,
    uploaded_at TEXT NOT NULL,
    PRIMARY KEY (name, language)
);
