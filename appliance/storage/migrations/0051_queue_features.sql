-- Queue features on real calls: announcements, callbacks, overflow and empty rules, survey.

ALTER TABLE queues ADD COLUMN position_every_s REAL CHECK (position_every_s IS NULL OR position_every_s >= 5);
ALTER TABLE queues ADD COLUMN periodic_prompt TEXT;                  -- a prompt name, e.g. queue-periodic
ALTER TABLE queues ADD COLUMN periodic_every_s REAL CHECK (periodic_every_s IS NULL OR periodic_every_s >= 5);
ALTER TABLE queues ADD COLUMN default_aht_s REAL NOT NULL DEFAULT 180 CHECK (default_aht_s > 0);
ALTER TABLE queues ADD COLUMN callback_after_s REAL CHECK (callback_after_s IS NULL OR callback_after_s > 0);
ALTER TABLE queues ADD COLUMN callback_max_attempts INTEGER NOT NULL DEFAULT 3
    CHECK (callback_max_attempts BETWEEN 1 AND 10);
ALTER TABLE queues ADD COLUMN callback_retry_s REAL NOT NULL DEFAULT 300 CHECK (callback_retry_s >= 0);
ALTER TABLE queues ADD COLUMN max_len INTEGER CHECK (max_len IS NULL OR max_len >= 1);
ALTER TABLE queues ADD COLUMN on_full TEXT NOT NULL DEFAULT 'hangup';          -- a Destination
ALTER TABLE queues ADD COLUMN join_empty TEXT NOT NULL DEFAULT 'never'
    CHECK (join_empty IN ('never', 'no_agent_logged_in', 'no_agent_ready'));
ALTER TABLE queues ADD COLUMN leave_when_empty TEXT NOT NULL DEFAULT 'never'
    CHECK (leave_when_empty IN ('never', 'no_agent_logged_in', 'no_agent_ready'));
ALTER TABLE queues ADD COLUMN on_empty TEXT NOT NULL DEFAULT 'hangup';         -- a Destination
ALTER TABLE queues ADD COLUMN survey INTEGER NOT NULL DEFAULT 0;               -- post-call survey on/off
