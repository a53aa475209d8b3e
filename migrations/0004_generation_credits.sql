-- Generation (D1–D8) and the credit ledger (E1, E2).

CREATE TABLE credit_accounts (
  user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  -- Available credits; held ones are set aside for running jobs.
  balance    INTEGER NOT NULL CHECK (balance >= 0),
  held       INTEGER NOT NULL CHECK (held >= 0),
  debt       INTEGER NOT NULL DEFAULT 0 CHECK (debt >= 0),
  updated_at INTEGER NOT NULL
);
INSERT INTO credit_accounts (user_id, balance, held, debt, updated_at) SELECT id, 0, 0, 0, created_at FROM users;

CREATE TABLE ledger_entries (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind       TEXT NOT NULL CHECK (kind IN ('grant', 'purchase', 'hold', 'capture', 'release', 'refund', 'clawback', 'adjustment')),
  amount     INTEGER NOT NULL CHECK (amount > 0),
  -- What this entry is for; the same reference can never apply twice.
  reference  TEXT NOT NULL UNIQUE,
  job_id     TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX ledger_entries_user_time ON ledger_entries (user_id, created_at);

CREATE TABLE generation_jobs (
  id               TEXT PRIMARY KEY,
  user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  brand_id         TEXT NOT NULL,
  -- The brand as it was at submission (JSON), so edits or deletion do not change a job.
  brand_snapshot   TEXT NOT NULL,
  content_type     TEXT NOT NULL,
  prompt           TEXT NOT NULL,
  price            INTEGER NOT NULL CHECK (price > 0),
  status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  idempotency_key  TEXT,
  request_hash     TEXT NOT NULL,
  -- Outbox: NULL until the queue accepted the job's message.
  enqueued_at      INTEGER,
  lease_until      INTEGER,
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  failure_reason   TEXT,
  model            TEXT,
  tokens_in        INTEGER,
  tokens_out       INTEGER,
  output_text      TEXT,
  output_upload_id TEXT REFERENCES uploads (id),
  brand_check      TEXT,
  UNIQUE (user_id, idempotency_key)
);
CREATE INDEX generation_jobs_user_time ON generation_jobs (user_id, created_at);
CREATE INDEX generation_jobs_status ON generation_jobs (status, enqueued_at);

UPDATE schema_version SET version = 4;
