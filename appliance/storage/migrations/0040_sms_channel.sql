-- SMS as a contact-center channel: conversations, messages, the opt-out block list,
-- the channel's settings, and the modem's health events (issue 6 items 6, 7).

CREATE TABLE sms_conversations (
    id              INTEGER PRIMARY KEY,
    number          TEXT NOT NULL,              -- the customer's number as the network gives it
    state           TEXT NOT NULL CHECK (state IN ('waiting', 'assigned', 'closed')),
    agent           TEXT,                       -- the extension (ACD agent) handling it
    queue           TEXT,                       -- the queue it was routed through
    opened_at       TEXT NOT NULL,
    closed_at       TEXT,
    last_message_at TEXT NOT NULL
);
-- at most one open conversation per number
CREATE UNIQUE INDEX sms_conversations_open ON sms_conversations(number) WHERE state != 'closed';
CREATE INDEX sms_conversations_agent ON sms_conversations(agent, state);

CREATE TABLE sms_messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES sms_conversations(id),
    direction       TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    number          TEXT NOT NULL,
    body            TEXT NOT NULL,
    at              TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('received', 'queued', 'sending', 'sent', 'delivered', 'failed')),
    agent           TEXT,                       -- who wrote it (outbound)
    link_id         TEXT UNIQUE,                -- the bridge's id of an inbound message: retries are no-ops
    parts           INTEGER NOT NULL DEFAULT 1,
    missing         TEXT,                       -- JSON list of parts that never arrived (expired partial)
    refs            TEXT,                       -- JSON list of TP-MR, one per part, once sent
    reports         TEXT,                       -- JSON {TP-MR: TP-ST} of delivery reports
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    claimed_at      TEXT,                       -- handed to the bridge for sending at
    updated_at      TEXT NOT NULL
);
CREATE INDEX sms_messages_conversation ON sms_messages(conversation_id, id);
CREATE INDEX sms_messages_outbound ON sms_messages(status, id) WHERE direction = 'out';

CREATE TABLE sms_blocklist (
    number     TEXT PRIMARY KEY,
    since      TEXT NOT NULL,
    keyword    TEXT NOT NULL,                   -- the message that opted out, or 'admin'
    message_id INTEGER REFERENCES sms_messages(id)
);

CREATE TABLE sms_settings (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    queue TEXT                                  -- the ACD queue whose agents answer SMS (NULL: the first queue)
);
INSERT INTO sms_settings(id, queue) VALUES (1, NULL);

CREATE TABLE modem_events (
    id   INTEGER PRIMARY KEY,
    at   TEXT NOT NULL,
    type TEXT NOT NULL,                         -- modem_state | modem_registration | modem_sim
    data TEXT NOT NULL                          -- JSON
);
