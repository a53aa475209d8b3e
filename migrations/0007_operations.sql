-- Operations (G3): the admin audit trail and the jobs admins replayed.

-- Every admin action, once per request: `request_ref` names the admin and the request's
-- Idempotency-Key (or, without one, its request id), so a retried request is recognised.
-- No foreign keys: the trail outlives the accounts it mentions.
CREATE TABLE admin_actions (
  id             TEXT PRIMARY KEY,
  admin_id       TEXT NOT NULL,
  action         TEXT NOT NULL CHECK (action IN ('credit_adjustment', 'job_replay', 'webhook_rerun', 'privacy_request_update')),
  target_user_id TEXT,
  target_id      TEXT,
  reason         TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  credits        INTEGER,
  request_ref    TEXT NOT NULL UNIQUE,
  created_at     INTEGER NOT NULL
);
CREATE INDEX admin_actions_time ON admin_actions (created_at);

-- A failed job is replayed at most once, as a new job with its own hold and settlement
-- (`settle:{replay}`); the primary key makes a second replay of the same job fail.
CREATE TABLE job_replays (
  job_id        TEXT PRIMARY KEY,
  replay_job_id TEXT NOT NULL UNIQUE,
  admin_id      TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);

UPDATE schema_version SET version = 7;
