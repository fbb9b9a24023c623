-- Plain SIP passwords that provisioning must write into phone configs, sealed with
-- AES-256-GCM under a key kept in a separate file (not in this database). One row per
-- extension whose phone is provisioned; the extensions table itself keeps only HA1.
CREATE TABLE prov_sip_secrets (
    extension   TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    updated     REAL NOT NULL
);
