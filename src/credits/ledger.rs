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
use sha2::Digest;

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

/// G3: an admin's correction, up (`credits` > 0) or down; the entry holds the size, the
/// reference says which request made it. A correction below zero fails the CHECK.
pub fn adjustment(user_id: &str, credits: i64, reference: &str, now_ms: i64) -> Vec<Statement> {
    vec![
        entry(user_id, EntryKind::Adjustment, credits.abs(), reference, None, now_ms),
        Statement::new("UPDATE credit_accounts SET balance = balance + ?, updated_at = ? WHERE user_id = ?")
            .bind(credits)
            .bind(now_ms)
            .bind(user_id),
    ]
}

/// E2: the starter credits, granted when an address is verified: once per address ever
/// (the reference names a hash of the address, and ledger entries outlive accounts) and
/// once per account (changing the address does not earn a second grant). When either
/// was granted before, both statements change nothing and the batch still succeeds.
pub fn starter_grant(user_id: &str, verified_email: &str, amount: i64, now_ms: i64) -> Vec<Statement> {
    let id = crate::platform::ids::new_id("led");
    let address = crate::platform::ids::hex(&sha2::Sha256::digest(verified_email.as_bytes())[..16]);
    let reference = format!("grant:starter:{address}");
    vec![
        Statement::new(
            "INSERT INTO ledger_entries (id, user_id, kind, amount, reference, job_id, created_at) \
             SELECT ?, ?, 'grant', ?, ?, NULL, ? WHERE NOT EXISTS (SELECT 1 FROM ledger_entries \
             WHERE reference = ? OR (user_id = ? AND kind = 'grant' AND reference LIKE 'grant:starter:%'))",
        )
        .bind(&id)
        .bind(user_id)
        .bind(amount)
        .bind(&reference)
        .bind(now_ms)
        .bind(&reference)
        .bind(user_id),
        Statement::new(
            "UPDATE credit_accounts SET balance = balance + ?, updated_at = ? WHERE user_id = ? \
             AND EXISTS (SELECT 1 FROM ledger_entries WHERE id = ?)",
        )
        .bind(amount)
        .bind(now_ms)
        .bind(user_id)
        .bind(&id),
    ]
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

/// B5: pays for work already done in the request (a website import): one `capture`
/// entry under a reference used once, so it is charged at most once; fails (CHECK) when
/// the balance has become too short, and then nothing is charged.
pub fn charge(user_id: &str, reference: &str, price: i64, now_ms: i64) -> Vec<Statement> {
    vec![
        entry(user_id, EntryKind::Capture, price, reference, None, now_ms),
        Statement::new("UPDATE credit_accounts SET balance = balance - ?, updated_at = ? WHERE user_id = ?").bind(price).bind(now_ms).bind(user_id),
    ]
}

/// Adds credits that first pay off any debt (purchases, restores after a dispute won):
/// of `amount`, `min(debt, amount)` settles the debt and the rest joins the balance.
pub fn credit_paying_debt(user_id: &str, kind: EntryKind, amount: i64, reference: &str, now_ms: i64) -> Vec<Statement> {
    vec![
        entry(user_id, kind, amount, reference, None, now_ms),
        // Both SET expressions read the row as it was (SQLite and Postgres alike).
        Statement::new(
            "UPDATE credit_accounts SET balance = balance + CASE WHEN debt >= ? THEN 0 ELSE ? - debt END, \
             debt = CASE WHEN debt >= ? THEN debt - ? ELSE 0 END, updated_at = ? WHERE user_id = ?",
        )
        .bind(amount)
        .bind(amount)
        .bind(amount)
        .bind(amount)
        .bind(now_ms)
        .bind(user_id),
    ]
}

/// E4: takes credits back (refunds, disputes). What the balance does not cover becomes
/// debt, which blocks new generations until a purchase pays it; held credits belong to
/// running jobs and are left alone.
pub fn clawback(user_id: &str, amount: i64, reference: &str, now_ms: i64) -> Vec<Statement> {
    vec![
        entry(user_id, EntryKind::Clawback, amount, reference, None, now_ms),
        Statement::new(
            "UPDATE credit_accounts SET balance = CASE WHEN balance >= ? THEN balance - ? ELSE 0 END, \
             debt = debt + CASE WHEN balance >= ? THEN 0 ELSE ? - balance END, updated_at = ? WHERE user_id = ?",
        )
        .bind(amount)
        .bind(amount)
        .bind(amount)
        .bind(amount)
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
    fn the_starter_grant_is_once_per_address_and_once_per_account() {
        use crate::testing::{block_on, SqliteDb};
        let db = SqliteDb::migrated();
        for (user, email) in [("u1", "a@example.com"), ("u2", "b@example.com")] {
            let mut setup = vec![crate::accounts::queries::insert_user(user, "N", email, "x", 0), open_account(user, 0)];
            setup.extend(starter_grant(user, email, 50, 1));
            block_on(db.batch(setup)).unwrap();
        }
        let balance = |u: &str| db.scalar(&format!("SELECT balance FROM credit_accounts WHERE user_id = '{u}'"));
        assert_eq!((balance("u1"), balance("u2")), (50, 50));
        // u1 verifies the address again, then changes to a new one: nothing more.
        block_on(db.batch(starter_grant("u1", "a@example.com", 50, 2))).unwrap();
        block_on(db.batch(starter_grant("u1", "c@example.com", 50, 3))).unwrap();
        assert_eq!(balance("u1"), 50);
        // A new account on an address that was granted before (e.g. after closing): nothing.
        block_on(db.batch(vec![crate::accounts::queries::insert_user("u3", "N", "z@example.com", "x", 0), open_account("u3", 0)])).unwrap();
        block_on(db.batch(starter_grant("u3", "b@example.com", 50, 4))).unwrap();
        assert_eq!(balance("u3"), 0);
        assert_eq!(db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'grant'"), 2);
    }

    #[test]
    fn low_balance_is_below_the_threshold() {
        assert!(Balance { balance: LOW_BALANCE_THRESHOLD - 1, held: 0, debt: 0 }.low());
        assert!(!Balance { balance: LOW_BALANCE_THRESHOLD, held: 0, debt: 0 }.low());
    }
}
