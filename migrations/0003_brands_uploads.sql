-- Brands (B1, B4) and uploads (C1–C3).

CREATE TABLE uploads (
  id             TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  r2_key         TEXT NOT NULL UNIQUE,
  filename       TEXT NOT NULL,
  content_type   TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
  size_bytes     INTEGER NOT NULL CHECK (size_bytes > 0),
  width          INTEGER,
  height         INTEGER,
  -- pending: row made, object not yet confirmed; ready; deleting: object being removed.
  status         TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'deleting')),
  deleting_since INTEGER,
  created_at     INTEGER NOT NULL
);
CREATE INDEX uploads_user_time ON uploads (user_id, created_at);
CREATE INDEX uploads_status_time ON uploads (status, created_at);

CREATE TABLE brands (
  id              TEXT PRIMARY KEY,
  user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
  description     TEXT NOT NULL DEFAULT '',
  voice           TEXT NOT NULL DEFAULT '',
  audience        TEXT NOT NULL DEFAULT '',
  -- JSON arrays: of strings, and of {"hex","role"} for colors.
  words_to_use    TEXT NOT NULL DEFAULT '[]',
  words_to_avoid  TEXT NOT NULL DEFAULT '[]',
  banned_claims   TEXT NOT NULL DEFAULT '[]',
  colors          TEXT NOT NULL DEFAULT '[]',
  fonts           TEXT NOT NULL DEFAULT '[]',
  example_content TEXT NOT NULL DEFAULT '[]',
  logo_upload_id  TEXT REFERENCES uploads (id),
  archived_at     INTEGER,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX brands_user_time ON brands (user_id, created_at);
CREATE INDEX brands_logo ON brands (logo_upload_id);

CREATE TABLE brand_references (
  brand_id  TEXT NOT NULL REFERENCES brands (id) ON DELETE CASCADE,
  upload_id TEXT NOT NULL REFERENCES uploads (id),
  position  INTEGER NOT NULL,
  PRIMARY KEY (brand_id, upload_id)
);
CREATE INDEX brand_references_upload ON brand_references (upload_id);

UPDATE schema_version SET version = 3;
