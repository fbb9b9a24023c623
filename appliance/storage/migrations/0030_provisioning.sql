-- Desk phones seen by the provisioning server (area 0030-0039).
-- Secrets are never stored in the clear: HTTP passwords and enrollment tokens are argon2
-- hashes. The SIP password is not copied here; it is read from the extension directory
-- when a config is rendered.
CREATE TABLE prov_devices (
    mac                 TEXT PRIMARY KEY CHECK (length(mac) = 12 AND mac NOT GLOB '*[^0-9a-f]*'),
    vendor              TEXT NOT NULL CHECK (vendor IN
                            ('yealink','polycom','grandstream','fanvil','cisco','generic')),
    model               TEXT NOT NULL DEFAULT '',
    state               TEXT NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending','assigned','revoked')),
    extension           TEXT,
    http_username       TEXT UNIQUE,
    http_password_hash  TEXT,
    token_hash          TEXT,
    token_expires       REAL,
    first_seen          REAL NOT NULL,
    last_seen           REAL NOT NULL,
    last_ip             TEXT,
    user_agent          TEXT,
    -- zero-touch: the admin assigned a phone seen at enroll_ip; its next credential-less
    -- fetch from that address before enroll_until receives the config and fresh credentials
    enroll_ip           TEXT,
    enroll_until        REAL,
    CHECK (state != 'assigned' OR (extension IS NOT NULL AND http_username IS NOT NULL
                                   AND http_password_hash IS NOT NULL)),
    CHECK (state = 'assigned' OR (http_password_hash IS NULL AND token_hash IS NULL
                                  AND enroll_ip IS NULL))
);
CREATE INDEX prov_devices_state ON prov_devices(state);
CREATE INDEX prov_devices_extension ON prov_devices(extension);
