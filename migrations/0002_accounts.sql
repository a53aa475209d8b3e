-- Accounts (A1–A5): users, session rows (the tokens' hashes live in KV too), emailed
-- tokens (verification, reset), security events, and throttling counters.

CREATE TABLE users (
  id                TEXT PRIMARY KEY,
  name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  email             TEXT NOT NULL UNIQUE,
  email_verified_at INTEGER,
  password_hash     TEXT NOT NULL,
  role              TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  policy_version    TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
);

CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash   TEXT NOT NULL UNIQUE,
  device       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  ended_at     INTEGER,
  end_reason   TEXT
);
CREATE INDEX sessions_user_open ON sessions (user_id, ended_at);

CREATE TABLE email_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
  -- The address the token was sent to: for a change of email, the new one.
  email      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose);

-- A token is used by inserting its row here. The primary key makes a second use fail,
-- which rolls back the whole batch that acted on the token: a link works exactly once.
CREATE TABLE email_token_uses (
  token_hash TEXT PRIMARY KEY REFERENCES email_tokens (token_hash) ON DELETE CASCADE,
  used_at    INTEGER NOT NULL
);

CREATE TABLE security_events (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  kind       TEXT NOT NULL,
  device     TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX security_events_user_time ON security_events (user_id, created_at);

CREATE TABLE throttle_counters (
  bucket       TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  hits         INTEGER NOT NULL CHECK (hits >= 1),
  PRIMARY KEY (bucket, window_start)
);

UPDATE schema_version SET version = 2;
