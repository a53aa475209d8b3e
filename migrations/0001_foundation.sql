-- Foundation: the schema version, cron run records and diagnostic probe events.
-- Portable SQL (runs on D1/SQLite and Postgres): integer epoch-ms times, text ids.

CREATE TABLE schema_version (
  version INTEGER NOT NULL
);
INSERT INTO schema_version (version) VALUES (1);

-- One row per scheduled run: which task, when, and what it did.
CREATE TABLE cron_runs (
  id          TEXT PRIMARY KEY,
  task        TEXT NOT NULL,
  cron        TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
  detail      TEXT NOT NULL
);
CREATE INDEX cron_runs_started_at ON cron_runs (started_at);

-- Each step of a diagnostic probe (development only): delivered, failed, dead-lettered.
CREATE TABLE probe_events (
  probe_id   TEXT NOT NULL,
  queue      TEXT NOT NULL,
  event      TEXT NOT NULL CHECK (event IN ('written', 'delivered', 'failed', 'dead_lettered')),
  attempt    INTEGER NOT NULL CHECK (attempt >= 1),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (probe_id, queue, attempt)
);
CREATE INDEX probe_events_created_at ON probe_events (created_at);
