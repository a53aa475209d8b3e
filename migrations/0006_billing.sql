-- Billing with Stripe (E3–E5): purchases (one per Checkout Session), the Stripe facts
-- fulfilment is computed from, and every webhook event, stored once by its id.

-- One row per Checkout Session. No foreign key to users: billing records outlive an
-- account (F3). `credits_applied` is what the ledger has credited for this session so
-- far (grant minus clawbacks); `version` numbers the ledger entries made for it, and
-- their unique references (`purchase:{session}`, `purchase:{session}:{n}`) make a
-- concurrent second application fail as a whole.
CREATE TABLE purchases (
  session_id      TEXT PRIMARY KEY,
  user_id         TEXT NOT NULL,
  pack_id         TEXT NOT NULL,
  credits         INTEGER NOT NULL CHECK (credits > 0),
  amount_total    INTEGER NOT NULL CHECK (amount_total >= 0),
  currency        TEXT NOT NULL,
  -- open (checkout started), pending (a delayed payment is on its way), paid, failed.
  status          TEXT NOT NULL CHECK (status IN ('open', 'pending', 'paid', 'failed')),
  payment_intent  TEXT UNIQUE,
  credits_applied INTEGER NOT NULL DEFAULT 0 CHECK (credits_applied >= 0 AND credits_applied <= credits),
  version         INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX purchases_user_time ON purchases (user_id, created_at);

-- The latest we know of each charge, by payment intent; amount_refunded only grows.
CREATE TABLE stripe_charges (
  payment_intent  TEXT PRIMARY KEY,
  charge_id       TEXT NOT NULL,
  amount          INTEGER NOT NULL CHECK (amount >= 0),
  amount_refunded INTEGER NOT NULL CHECK (amount_refunded >= 0),
  receipt_url     TEXT,
  updated_at      INTEGER NOT NULL
);

-- Disputes; a closed status (won, lost) is final and never overwritten by an older event.
CREATE TABLE stripe_disputes (
  id             TEXT PRIMARY KEY,
  payment_intent TEXT NOT NULL,
  amount         INTEGER NOT NULL CHECK (amount >= 0),
  status         TEXT NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX stripe_disputes_payment_intent ON stripe_disputes (payment_intent);

-- Every verified webhook event, once (its id is the primary key).
CREATE TABLE stripe_events (
  id           TEXT PRIMARY KEY,
  type         TEXT NOT NULL,
  payload      TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  -- NULL until the billing consumer applied it; then applied, ignored or dead_lettered.
  processed_at INTEGER,
  outcome      TEXT
);
CREATE INDEX stripe_events_received ON stripe_events (received_at);

UPDATE schema_version SET version = 6;
