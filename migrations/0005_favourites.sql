-- D7: favourite generations.
ALTER TABLE generation_jobs ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0 CHECK (favorite IN (0, 1));
UPDATE schema_version SET version = 5;
