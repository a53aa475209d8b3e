//! The credit ledger (E1, E2, D2, D4). Every change of credits is an entry with a kind
//! and a unique reference, written in the same batch as the change of the account's
//! balance and held amounts. The schema makes the rules impossible to break: a
//! negative balance or held amount fails its CHECK, a second entry with a reference
//! fails its UNIQUE, and either failure rolls back the whole batch.
//!
//! A job's hold is settled exactly once, by capture (success) or release (failure),
//! both under the reference `settle:{job}`; so a job can never be both charged and
//! refunded, nor either twice.

use crate::platform::db::{ConstraintKind, Db, DbError, Statement};
use serde::{Deserialize, Serialize};

pub const STARTER_GRANT: i64 = 50;
pub const LOW_BALANCE_THRESHOLD: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Grant,
    Purchase,
    Hold,
    Capture,
    Release,
    Refund,
    Clawback,
    Adjustment,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Grant => "grant",
            EntryKind::Purchase => "purchase",
            EntryKind::Hold => "hold",
            EntryKind::Capture => "capture",
            EntryKind::Release => "release",
            EntryKind::Refund => "refund",
            EntryKind::Clawback => "clawback",
            EntryKind::Adjustment => "adjustment",
        }
    }
}

fn entry(user_id: &str, kind: EntryKind, amount: i64, reference: &str, job_id: Option<&str>, now_ms: i64) -> Statement {
    Statement::new(
        "INSERT INTO ledger_entries (id, user_id, kind, amount, reference, job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(crate::platform::ids::new_id("led"))
    .bind(user_id)
    .bind(kind.as_str())
    .bind(amount)
    .bind(reference)
    .bind(job_id)
    .bind(now_ms)
}

/// The account row every user has from sign-up on.
pub fn open_account(user_id: &str, now_ms: i64) -> Statement {
    Statement::new("INSERT INTO credit_accounts (user_id, balance, held, debt, updated_at) VALUES (?, 0, 0, 0, ?)")
        .bind(user_id)
        .bind(now_ms)
}

/// Adds credits (starter grant, purchase, adjustment).
pub fn grant(user_id: &str, kind: EntryKind, amount: i64, reference: &str, now_ms: i64) -> Vec<Statement> {
    vec![
        entry(user_id, kind, amount, reference, None, now_ms),
        Statement::new("UPDATE credit_accounts SET balance = balance + ?, updated_at = ? WHERE user_id = ?")
            .bind(amount)
            .bind(now_ms)
            .bind(user_id),
    ]
}

/// E2: every new account's starter credits, once (the reference names the user).
pub fn starter_grant(user_id: &str, amount: i64, now_ms: i64) -> Vec<Statement> {
    grant(user_id, EntryKind::Grant, amount, &format!("grant:starter:{user_id}"), now_ms)
}

/// Moves `price` from balance to held for a job. Fails (CHECK) if the balance is short.
/// (Debt, from clawbacks, is checked by the caller before: it blocks new generations.)
pub fn hold(user_id: &str, job_id: &str, price: i64, now_ms: i64) -> Vec<Statement> {
    vec![
        entry(user_id, EntryKind::Hold, price, &format!("hold:{job_id}"), Some(job_id), now_ms),
        Statement::new("UPDATE credit_accounts SET balance = balance - ?, held = held + ?, updated_at = ? WHERE user_id = ?")
        .bind(price)
        .bind(price)
        .bind(now_ms)
        .bind(user_id),
    ]
}

/// Success: the held credits are spent.
pub fn capture(user_id: &str, job_id: &str, price: i64, now_ms: i64) -> Vec<Statement> {
    vec![
        entry(user_id, EntryKind::Capture, price, &format!("settle:{job_id}"), Some(job_id), now_ms),
        Statement::new("UPDATE credit_accounts SET held = held - ?, updated_at = ? WHERE user_id = ?").bind(price).bind(now_ms).bind(user_id),
    ]
}

/// Failure: the held credits go back to the balance.
pub fn release(user_id: &str, job_id: &str, price: i64, now_ms: i64) -> Vec<Statement> {
    vec![
        entry(user_id, EntryKind::Release, price, &format!("settle:{job_id}"), Some(job_id), now_ms),
        Statement::new("UPDATE credit_accounts SET balance = balance + ?, held = held - ?, updated_at = ? WHERE user_id = ?")
            .bind(price)
            .bind(price)
            .bind(now_ms)
            .bind(user_id),
    ]
}

/// A batch failed because this reference was already applied.
pub fn is_duplicate_reference(e: &DbError) -> bool {
    e.violates_unique("ledger_entries", &["reference"])
}

/// A batch failed because a balance would have gone negative.
pub fn is_insufficient(e: &DbError) -> bool {
    matches!(e, DbError::Constraint { kind: ConstraintKind::Check, .. })
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Balance {
    pub balance: i64,
    pub held: i64,
    pub debt: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub kind: String,
    pub amount: i64,
    pub reference: String,
    pub job_id: Option<String>,
    pub created_at: i64,
}

/// E2: the user's ledger, newest first.
pub async fn entries(db: &impl Db, user_id: &str, page: &crate::http::pagination::Page) -> Result<Vec<Entry>, DbError> {
    db.query(page.newest_first(
        Statement::new("SELECT id, kind, amount, reference, job_id, created_at FROM ledger_entries WHERE user_id = ?").bind(user_id),
    ))
    .await
}

/// The user's credit account as the API shows it.
pub async fn balance(db: &impl Db, user_id: &str) -> Result<Balance, crate::http::problem::AppError> {
    db.query_one(Statement::new("SELECT balance, held, debt FROM credit_accounts WHERE user_id = ?").bind(user_id))
        .await?
        .ok_or_else(|| crate::http::problem::AppError::internal(format!("no credit account for {user_id}")))
}

impl Balance {
    pub fn low(&self) -> bool {
        self.balance < LOW_BALANCE_THRESHOLD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_and_release_share_one_settlement_reference() {
        let c = capture("usr_1", "job_1", 3, 0);
        let r = release("usr_1", "job_1", 3, 0);
        let reference = |s: &Statement| s.params[4].clone();
        assert_eq!(reference(&c[0]), reference(&r[0]));
        assert_eq!(reference(&c[0]), crate::platform::db::SqlValue::Text("settle:job_1".into()));
    }

    #[test]
    fn a_hold_moves_the_price_from_balance_to_held() {
        let h = hold("u", "j", 4, 0);
        assert!(h[1].sql.contains("balance = balance - ?, held = held + ?"));
        assert_eq!(h[1].params[0], crate::platform::db::SqlValue::Int(4));
    }

    #[test]
    fn constraint_failures_are_told_apart() {
        assert!(is_duplicate_reference(&DbError::classify("UNIQUE constraint failed: ledger_entries.reference", None)));
        assert!(!is_duplicate_reference(&DbError::classify("UNIQUE constraint failed: users.email", None)));
        assert!(is_insufficient(&DbError::classify("CHECK constraint failed: balance >= 0", None)));
    }

    #[test]
    fn low_balance_is_below_the_threshold() {
        assert!(Balance { balance: LOW_BALANCE_THRESHOLD - 1, held: 0, debt: 0 }.low());
        assert!(!Balance { balance: LOW_BALANCE_THRESHOLD, held: 0, debt: 0 }.low());
    }
}
