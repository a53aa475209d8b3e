-- Privacy requests (F5): anyone, signed in or not, may ask for access, correction,
-- deletion, objection or anything else; the request is confirmed by email and its
-- status is shown to a signed-in requester. No foreign key to users: the record of a
-- request outlives the account it was about (kept as the retention table says, F4).
-- `user_id` is set when the requester was signed in, or when the address matched an
-- account; `email` is where the confirmation went.
CREATE TABLE privacy_requests (
  id         TEXT PRIMARY KEY,
  user_id    TEXT,
  email      TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('access', 'correction', 'deletion', 'objection', 'other')),
  message    TEXT CHECK (message IS NULL OR length(message) <= 5000),
  status     TEXT NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'in_progress', 'completed', 'rejected')),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX privacy_requests_user_time ON privacy_requests (user_id, created_at);
CREATE INDEX privacy_requests_time ON privacy_requests (created_at);

UPDATE schema_version SET version = 8;
