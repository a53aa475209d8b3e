-- Account closure (F3) and policy notices (F6).
--
-- A closed account keeps its rows until `purge_after` (closure + the grace period,
-- ACCOUNT_DELETION_GRACE_SECONDS); until then signing in offers to reopen it. The daily
-- retention job then emails the deletion receipt (`receipt_sent_at`), deletes the
-- account's files, KV entries and rows, and keeps its billing records under
-- `closure_ref`, a random name that says nothing about the person.
ALTER TABLE users ADD COLUMN closed_at INTEGER;
ALTER TABLE users ADD COLUMN purge_after INTEGER;
ALTER TABLE users ADD COLUMN closure_ref TEXT;
ALTER TABLE users ADD COLUMN receipt_sent_at INTEGER;
-- F6: the newest policy version whose notice the user has seen (NULL: none since sign-up).
ALTER TABLE users ADD COLUMN policy_notice_seen TEXT;
CREATE INDEX users_purge_after ON users (purge_after);

-- Ledger entries outlive the account (billing records, kept de-identified for the legal
-- period, and the starter grant's once-per-address reference): the table is rebuilt
-- without its foreign key to users, which deleted them with the user.
-- (Copied aside first and recreated under its own name, so Postgres names its
-- constraints ledger_entries_pkey and ledger_entries_reference_key as before.)
CREATE TABLE ledger_entries_copy AS SELECT id, user_id, kind, amount, reference, job_id, created_at FROM ledger_entries;
DROP TABLE ledger_entries;
CREATE TABLE ledger_entries (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('grant', 'purchase', 'hold', 'capture', 'release', 'refund', 'clawback', 'adjustment')),
  amount     INTEGER NOT NULL CHECK (amount > 0),
  -- What this entry is for; the same reference can never apply twice.
  reference  TEXT NOT NULL UNIQUE,
  job_id     TEXT,
  created_at INTEGER NOT NULL
);
INSERT INTO ledger_entries (id, user_id, kind, amount, reference, job_id, created_at)
  SELECT id, user_id, kind, amount, reference, job_id, created_at FROM ledger_entries_copy;
DROP TABLE ledger_entries_copy;
CREATE INDEX ledger_entries_user_time ON ledger_entries (user_id, created_at);
CREATE INDEX ledger_entries_time ON ledger_entries (created_at);

-- Retention (F4) deletes by age; these indexes keep each bounded batch cheap.
CREATE INDEX security_events_time ON security_events (created_at);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX generation_jobs_finished ON generation_jobs (status, finished_at);
CREATE INDEX purchases_time ON purchases (created_at);
CREATE INDEX stripe_events_processed ON stripe_events (processed_at);
CREATE INDEX privacy_requests_updated ON privacy_requests (status, updated_at);
CREATE INDEX throttle_counters_window ON throttle_counters (window_start);
CREATE INDEX email_tokens_expiry ON email_tokens (expires_at);

UPDATE schema_version SET version = 9;
