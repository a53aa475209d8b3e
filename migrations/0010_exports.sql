-- F1 data exports. A row is made before its ZIP exists in R2 (at r2_key) and outlives
-- it: purging deletes the object first, then the row, so no object is ever without one.
-- queued → running → ready | failed; a ready export is downloadable until expires_at.
CREATE TABLE exports (
  id             TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ready', 'failed')),
  r2_key         TEXT NOT NULL UNIQUE,
  -- The R2 multipart upload of the attempt under way, to abort it if that attempt died.
  multipart_id   TEXT,
  attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_until    INTEGER,
  size_bytes     INTEGER CHECK (size_bytes IS NULL OR size_bytes >= 0),
  -- JSON: the manifest's counts (brands, uploads, generations, …) once ready.
  counts         TEXT,
  failure_reason TEXT,
  created_at     INTEGER NOT NULL,
  started_at     INTEGER,
  finished_at    INTEGER,
  expires_at     INTEGER NOT NULL
);
CREATE INDEX exports_user_time ON exports (user_id, created_at);
CREATE INDEX exports_expiry ON exports (expires_at);
-- At most one export queued or running per user. Named as Postgres names a unique
-- constraint on (user_id), so DbError::violates_unique("exports", ["user_id"]) reads
-- the violation alike on D1 and Postgres.
CREATE UNIQUE INDEX exports_user_id_key ON exports (user_id) WHERE status IN ('queued', 'running');

UPDATE schema_version SET version = 10;
