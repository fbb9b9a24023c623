-- The box's current configuration version as agreed with the cloud (cloud sync).
CREATE TABLE sync_config (
    node    TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    config  TEXT    NOT NULL,
    origin  TEXT    NOT NULL,
    updated REAL    NOT NULL
);
