//! Fulfilment of Stripe purchases (E3–E5): checkout, the webhook's event store, the
//! billing consumer, daily reconciliation and the purchases list, as functions over the
//! `Db` and `Payments` ports.
//!
//! The rule that makes it safe whatever Stripe does: events only add *facts* (a session
//! is paid, a charge has had this much refunded, a dispute has this status), merged so
//! that a late or repeated event never moves a fact backwards; then `settle` computes
//! what the purchase should have credited from all facts known, compares it with what
//! the ledger holds for it (`purchases.credits_applied`), and writes the difference as
//! one ledger entry, in one batch with the account and the purchase. Entry references
//! are `purchase:{session}` then `purchase:{session}:{n}`, numbered by the purchase's
//! version, so two consumers settling the same purchase at once cannot both write: the
//! second batch fails on the unique reference and settles again from the new state.
//!
//! Target for a paid purchase = credits − clawed, where clawed = credits × (refunded
//! so far + disputed and not won) / amount paid, rounded down and at most the credits.

use crate::credits::ledger::{self, EntryKind};
use crate::credits::stripe::{self, ChargeFacts, CheckoutRequest, CreatedSession, DisputeFacts, Fact, Pack, Payments, SessionFacts};
use crate::http::problem::AppError;
use crate::platform::db::{Db, DbError, Statement};
use crate::platform::log::{self, Level};
use crate::platform::queue_messages::Outcome;
use serde::{Deserialize, Serialize};

/// Dispute statuses under which the disputed money has left (Stripe withdraws it when a
/// dispute opens; `won` returns it; inquiries, `warning_*`, move no money).
const CLAWING_DISPUTE_STATUSES: &str = "('needs_response', 'under_review', 'lost')";

/// How far back the daily reconciliation looks.
pub const RECONCILE_WINDOW_SECONDS: i64 = 3 * 24 * 3600;

// ---- checkout -------------------------------------------------------------------------------

pub fn find_pack<'a>(packs: &'a [Pack], id: &str) -> Option<&'a Pack> {
    packs.iter().find(|p| p.id == id)
}

fn upsert_purchase(s: &SessionFacts, status: &str, now: i64) -> Statement {
    Statement::new(
        "INSERT INTO purchases (session_id, user_id, pack_id, credits, amount_total, currency, status, payment_intent, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(&s.id)
    .bind(&s.user_id)
    .bind(&s.pack_id)
    .bind(s.credits)
    .bind(s.amount_total)
    .bind(&s.currency)
    .bind(status)
    .bind(s.payment_intent.as_deref())
    .bind(now)
    .bind(now)
}

/// E3: creates a Checkout Session for `pack` and records the purchase as open. The same
/// `idempotency_key` gives the same session (Stripe's idempotency, and the row's key).
pub async fn start_checkout(
    db: &impl Db,
    payments: &impl Payments,
    request: &CheckoutRequest<'_>,
    idempotency_key: &str,
    now: i64,
) -> Result<CreatedSession, AppError> {
    let created = payments.create_checkout_session(request, idempotency_key).await.map_err(|e| {
        log::emit(Level::Error, "creating a checkout session failed", serde_json::json!({ "error": e.0 }));
        AppError::ServiceUnavailable { detail: "Payments are unavailable right now. Nothing was charged; try again shortly.".into() }
    })?;
    let facts = SessionFacts {
        id: created.id.clone(),
        user_id: request.user_id.into(),
        pack_id: request.pack.id.clone(),
        credits: request.pack.credits,
        amount_total: request.pack.amount,
        currency: request.pack.currency.clone(),
        payment_intent: None,
        status: "open".into(),
        payment_status: "unpaid".into(),
    };
    db.run(upsert_purchase(&facts, "open", now)).await?;
    Ok(created)
}

// ---- facts ----------------------------------------------------------------------------------

fn session_statements(s: &SessionFacts, status: &str, now: i64) -> Vec<Statement> {
    // paid is final; pending only replaces open; failed replaces open or pending.
    let from = match status {
        "paid" => "('open', 'pending', 'failed')",
        "pending" => "('open')",
        _ => "('open', 'pending')",
    };
    vec![
        upsert_purchase(s, status, now),
        Statement::new(format!(
            "UPDATE purchases SET status = CASE WHEN status IN {from} THEN ? ELSE status END, \
             payment_intent = COALESCE(payment_intent, ?), updated_at = ? WHERE session_id = ?"
        ))
        .bind(status)
        .bind(s.payment_intent.as_deref())
        .bind(now)
        .bind(&s.id),
    ]
}

fn charge_statement(c: &ChargeFacts, now: i64) -> Statement {
    Statement::new(
        "INSERT INTO stripe_charges (payment_intent, charge_id, amount, amount_refunded, receipt_url, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (payment_intent) DO UPDATE SET \
         amount_refunded = CASE WHEN excluded.amount_refunded > stripe_charges.amount_refunded THEN excluded.amount_refunded ELSE stripe_charges.amount_refunded END, \
         receipt_url = COALESCE(stripe_charges.receipt_url, excluded.receipt_url), updated_at = excluded.updated_at",
    )
    .bind(&c.payment_intent)
    .bind(&c.id)
    .bind(c.amount)
    .bind(c.amount_refunded)
    .bind(c.receipt_url.as_deref())
    .bind(now)
}

fn dispute_statement(d: &DisputeFacts, now: i64) -> Statement {
    Statement::new(
        "INSERT INTO stripe_disputes (id, payment_intent, amount, status, updated_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET \
         status = CASE WHEN stripe_disputes.status IN ('won', 'lost', 'warning_closed') THEN stripe_disputes.status ELSE excluded.status END, \
         updated_at = excluded.updated_at",
    )
    .bind(&d.id)
    .bind(&d.payment_intent)
    .bind(d.amount)
    .bind(&d.status)
    .bind(now)
}

#[derive(Debug, Deserialize)]
struct SessionRow {
    session_id: String,
}

/// Records what an event says and settles the purchase it concerns. Safe to run any
/// number of times, in any order, concurrently.
pub async fn apply_fact(db: &impl Db, fact: &Fact, now: i64) -> Result<(), DbError> {
    let session = match fact {
        Fact::SessionPaid(s) => {
            db.batch(session_statements(s, "paid", now)).await?;
            Some(s.id.clone())
        }
        Fact::SessionPending(s) => {
            db.batch(session_statements(s, "pending", now)).await?;
            Some(s.id.clone())
        }
        Fact::SessionFailed(s) => {
            db.batch(session_statements(s, "failed", now)).await?;
            Some(s.id.clone())
        }
        Fact::Charge(c) => {
            db.run(charge_statement(c, now)).await?;
            session_of(db, &c.payment_intent).await?
        }
        Fact::Dispute(d) => {
            db.run(dispute_statement(d, now)).await?;
            session_of(db, &d.payment_intent).await?
        }
        Fact::Ignored => None,
    };
    // A charge or dispute that arrives before its session waits in its table; the
    // session's event settles it.
    match session {
        Some(id) => settle(db, &id, now).await,
        None => Ok(()),
    }
}

async fn session_of(db: &impl Db, payment_intent: &str) -> Result<Option<String>, DbError> {
    let row: Option<SessionRow> =
        db.query_one(Statement::new("SELECT session_id FROM purchases WHERE payment_intent = ?").bind(payment_intent)).await?;
    Ok(row.map(|r| r.session_id))
}

#[derive(Debug, Deserialize)]
struct SettleRow {
    user_id: String,
    credits: i64,
    amount_total: i64,
    status: String,
    credits_applied: i64,
    version: i64,
    amount_refunded: Option<i64>,
    disputed: Option<i64>,
}

/// What a purchase should have credited, from the facts: nothing unless paid; then its
/// credits less the refunded and disputed share (rounded down, never below zero).
pub fn target_credits(paid: bool, credits: i64, amount_total: i64, refunded: i64, disputed: i64) -> i64 {
    if !paid {
        return 0;
    }
    if amount_total <= 0 {
        return credits;
    }
    let taken = (refunded.max(0) + disputed.max(0)).min(amount_total);
    let clawed = ((credits as i128 * taken as i128) / amount_total as i128) as i64;
    credits - clawed.min(credits)
}

/// Brings the ledger in line with the purchase's facts: at most one entry per call.
pub async fn settle(db: &impl Db, session_id: &str, now: i64) -> Result<(), DbError> {
    for _ in 0..8 {
        let row: Option<SettleRow> = db
            .query_one(
                Statement::new(format!(
                    "SELECT p.user_id, p.credits, p.amount_total, p.status, p.credits_applied, p.version, \
                     (SELECT c.amount_refunded FROM stripe_charges c WHERE c.payment_intent = p.payment_intent) AS amount_refunded, \
                     (SELECT SUM(d.amount) FROM stripe_disputes d WHERE d.payment_intent = p.payment_intent AND d.status IN {CLAWING_DISPUTE_STATUSES}) AS disputed \
                     FROM purchases p WHERE p.session_id = ?"
                ))
                .bind(session_id),
            )
            .await?;
        let Some(p) = row else { return Ok(()) };
        let target = target_credits(p.status == "paid", p.credits, p.amount_total, p.amount_refunded.unwrap_or(0), p.disputed.unwrap_or(0));
        let delta = target - p.credits_applied;
        if delta == 0 {
            return Ok(());
        }
        let reference = if p.version == 0 { format!("purchase:{session_id}") } else { format!("purchase:{session_id}:{}", p.version + 1) };
        let mut batch = if delta > 0 {
            let kind = if p.version == 0 { EntryKind::Purchase } else { EntryKind::Adjustment };
            ledger::credit_paying_debt(&p.user_id, kind, delta, &reference, now)
        } else {
            ledger::clawback(&p.user_id, -delta, &reference, now)
        };
        batch.push(
            Statement::new("UPDATE purchases SET credits_applied = ?, version = version + 1, updated_at = ? WHERE session_id = ? AND version = ?")
                .bind(target)
                .bind(now)
                .bind(session_id)
                .bind(p.version),
        );
        match db.batch(batch).await {
            Ok(_) => {
                log::emit(Level::Info, "purchase settled", serde_json::json!({ "session_id": session_id, "user_id": p.user_id, "delta": delta }));
            }
            // Another consumer wrote this step first: read again and go on from there.
            Err(e) if ledger::is_duplicate_reference(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Err(DbError::Failed { message: format!("settling {session_id} did not converge") })
}

// ---- the webhook's event store and the consumer ----------------------------------------------

/// Whether an event is new (to be queued) or one we already have (a replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Duplicate,
    /// A type we do not act on: stored for the record, not queued.
    Ignored,
}

/// Stores a verified event once by its id.
pub async fn record_event(db: &impl Db, envelope: &stripe::EventEnvelope, payload: &[u8], now: i64) -> Result<Recorded, DbError> {
    let handled = stripe::HANDLED_TYPES.contains(&envelope.event_type.as_str());
    let insert = Statement::new("INSERT INTO stripe_events (id, type, payload, received_at, processed_at, outcome) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&envelope.id)
        .bind(&envelope.event_type)
        .bind(String::from_utf8_lossy(payload).into_owned())
        .bind(now)
        .bind((!handled).then_some(now))
        .bind((!handled).then_some("ignored"));
    match db.run(insert).await {
        Ok(_) if handled => Ok(Recorded::New),
        Ok(_) => Ok(Recorded::Ignored),
        Err(e) if e.violates_primary_key("stripe_events", "id") => Ok(Recorded::Duplicate),
        Err(e) => Err(e),
    }
}

/// Forgets an event whose queue send failed, so Stripe's retry stores and queues it again.
pub fn forget_event(event_id: &str) -> Statement {
    Statement::new("DELETE FROM stripe_events WHERE id = ? AND processed_at IS NULL").bind(event_id)
}

fn mark_event(event_id: &str, outcome: &str, now: i64) -> Statement {
    Statement::new("UPDATE stripe_events SET processed_at = ?, outcome = ? WHERE id = ?").bind(now).bind(outcome).bind(event_id)
}

#[derive(Debug, Deserialize)]
struct EventRow {
    payload: String,
}

/// E4: the billing consumer. Applies one stored event; database trouble is retried,
/// an event that is not ours (no Blimari metadata) is recorded as ignored.
pub async fn consume_event(db: &impl Db, event_id: &str, now: i64) -> Outcome {
    let row: Option<EventRow> = match db.query_one(Statement::new("SELECT payload FROM stripe_events WHERE id = ?").bind(event_id)).await {
        Ok(row) => row,
        Err(_) => return Outcome::Retry { delay_seconds: 5 },
    };
    let Some(row) = row else { return Outcome::DeadLetter { reason: "no stored event with this id".into() } };
    let fact = match stripe::parse_event(row.payload.as_bytes()) {
        Ok((_, fact)) => fact,
        Err(e) => {
            log::emit(Level::Error, "a billing event could not be read", serde_json::json!({ "event_id": event_id, "error": e.0 }));
            let _ = db.run(mark_event(event_id, "unreadable", now)).await;
            return Outcome::Ack;
        }
    };
    match apply_fact(db, &fact, now).await {
        Ok(()) => {
            let _ = db.run(mark_event(event_id, if fact == Fact::Ignored { "ignored" } else { "applied" }, now)).await;
            Outcome::Ack
        }
        Err(e) => {
            log::emit(Level::Error, "applying a billing event failed", serde_json::json!({ "event_id": event_id, "error": e.to_string() }));
            Outcome::Retry { delay_seconds: 10 }
        }
    }
}

/// The billing dead-letter queue: the event is recorded as such for a person to look
/// at; a paid session it concerned is still fulfilled by the daily reconciliation.
pub async fn dead_lettered(db: &impl Db, event_id: &str, now: i64) -> Outcome {
    match db.run(Statement::new("UPDATE stripe_events SET outcome = 'dead_lettered', processed_at = ? WHERE id = ? AND processed_at IS NULL").bind(now).bind(event_id)).await {
        Ok(_) => Outcome::Ack,
        Err(_) => Outcome::Retry { delay_seconds: 30 },
    }
}

// ---- reconciliation -------------------------------------------------------------------------

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub checked: u32,
    pub fulfilled: u32,
    pub errors: u32,
}

#[derive(Debug, Deserialize)]
struct StatusRow {
    status: String,
}

/// The daily check: every paid Checkout Session of the last three days that has no
/// paid purchase here (its webhook never arrived) is fulfilled now.
pub async fn reconcile(db: &impl Db, payments: &impl Payments, now_ms: i64) -> Result<Reconciliation, String> {
    let mut report = Reconciliation::default();
    let since = now_ms / 1000 - RECONCILE_WINDOW_SECONDS;
    let mut after: Option<String> = None;
    for _ in 0..50 {
        let page = payments.list_checkout_sessions(since, after.as_deref()).await.map_err(|e| e.0)?;
        for object in &page.data {
            report.checked += 1;
            // Sessions made by anything but this app carry no Blimari metadata.
            let Ok(session) = stripe::session_facts(object) else { continue };
            if session.status != "complete" || session.payment_status != "paid" {
                continue;
            }
            let known: Result<Option<StatusRow>, DbError> =
                db.query_one(Statement::new("SELECT status FROM purchases WHERE session_id = ?").bind(&session.id)).await;
            match known {
                Ok(Some(row)) if row.status == "paid" => continue,
                Ok(_) => {}
                Err(_) => {
                    report.errors += 1;
                    continue;
                }
            }
            match apply_fact(db, &Fact::SessionPaid(session.clone()), now_ms).await {
                Ok(()) => {
                    report.fulfilled += 1;
                    log::emit(Level::Info, "reconciliation fulfilled a session", serde_json::json!({ "session_id": session.id }));
                }
                Err(_) => report.errors += 1,
            }
        }
        after = page.data.last().and_then(|o| o.get("id")).and_then(|v| v.as_str()).map(str::to_owned);
        if !page.has_more || after.is_none() {
            break;
        }
    }
    Ok(report)
}

// ---- purchases (E5) -------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PurchaseRow {
    pub id: String,
    pub pack_id: String,
    pub credits: i64,
    pub amount_total: i64,
    pub currency: String,
    pub status: String,
    pub credits_applied: i64,
    pub amount_refunded: Option<i64>,
    pub receipt_url: Option<String>,
    pub disputes: i64,
    pub created_at: i64,
}

/// The purchase as the API shows it: paid, pending, failed, refunded or disputed.
#[derive(Debug, Clone, Serialize)]
pub struct PurchaseView {
    pub id: String,
    pub pack: String,
    pub credits: i64,
    pub credits_kept: i64,
    pub amount: i64,
    pub currency: String,
    pub amount_refunded: i64,
    pub status: &'static str,
    pub receipt_url: Option<String>,
    pub created_at: i64,
}

impl PurchaseRow {
    pub fn view(&self) -> PurchaseView {
        let refunded = self.amount_refunded.unwrap_or(0);
        let status = match self.status.as_str() {
            "paid" if self.disputes > 0 => "disputed",
            "paid" if refunded > 0 => "refunded",
            "paid" => "paid",
            "failed" => "failed",
            _ => "pending",
        };
        PurchaseView {
            id: self.id.clone(),
            pack: self.pack_id.clone(),
            credits: self.credits,
            credits_kept: self.credits_applied,
            amount: self.amount_total,
            currency: self.currency.clone(),
            amount_refunded: refunded,
            status,
            receipt_url: self.receipt_url.clone(),
            created_at: self.created_at,
        }
    }
}

/// E5: the user's purchases (checkouts that reached Stripe's completion), newest first.
pub async fn purchases(db: &impl Db, user_id: &str, page: &crate::http::pagination::Page) -> Result<Vec<PurchaseRow>, DbError> {
    db.query(page.newest_first(
        Statement::new(format!(
            "SELECT * FROM (SELECT p.session_id AS id, p.pack_id, p.credits, p.amount_total, p.currency, p.status, p.credits_applied, \
             c.amount_refunded, c.receipt_url, p.created_at, p.user_id, \
             (SELECT COUNT(*) FROM stripe_disputes d WHERE d.payment_intent = p.payment_intent AND d.status IN {CLAWING_DISPUTE_STATUSES}) AS disputes \
             FROM purchases p LEFT JOIN stripe_charges c ON c.payment_intent = p.payment_intent) AS v \
             WHERE user_id = ? AND status <> 'open'"
        ))
        .bind(user_id),
    ))
    .await
}

#[cfg(test)]
#[path = "billing_tests.rs"]
mod tests;
