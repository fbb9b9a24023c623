-- Skills with levels: an agent's own skills (across every queue), a queue's required skills and
-- its widening tiers, and per-queue member overrides (penalty already exists on queue_members).

CREATE TABLE agent_skills (
    extension TEXT NOT NULL REFERENCES extensions(number) ON DELETE CASCADE,
    skill     TEXT NOT NULL CHECK (length(skill) BETWEEN 1 AND 32),
    level     INTEGER NOT NULL CHECK (level BETWEEN 1 AND 10),
    PRIMARY KEY (extension, skill)
);

-- JSON list of skill names every caller of the queue needs, e.g. ["he"]
ALTER TABLE queues ADD COLUMN skills TEXT NOT NULL DEFAULT '[]';
-- JSON list of [after_s, min_level], first at 0, widening: e.g. [[0, 8], [5, 3]]
ALTER TABLE queues ADD COLUMN tiers TEXT NOT NULL DEFAULT '[[0, 1]]';
-- JSON object {skill: level} that overrides the agent's own levels in this queue only
ALTER TABLE queue_members ADD COLUMN skills TEXT NOT NULL DEFAULT '{}';
