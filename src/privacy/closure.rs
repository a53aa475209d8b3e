//! F3: closing an account, reopening it within the grace period, and erasing it after.
//!
//! - `close`: one batch marks the account closed (unless a purchase is in flight), ends
//!   every session row and records the event; then every session's KV entry is deleted
//!   (each on its own: a KV failure never leaves a row open, and the erasure deletes the
//!   entries again).
//! - Until `purge_after`, signing in with the right password answers 409
//!   `account-closing` and `reopen` gives the account back.
//! - `purge_due` (daily cron, bounded by the run's budget, resumable at every step):
//!   emails the deletion receipt to the address on file, deletes the account's R2
//!   objects, its KV entries, then its rows in bounded deletes, and last, in one batch,
//!   de-identifies what accounting keeps (purchases, ledger entries, privacy requests,
//!   admin audit rows) under the account's `closure_ref` and deletes the user.

use super::retention::{Budget, Ports, DELETE_BATCH};
use crate::accounts::mail::{Mailer, OutgoingEmail};
use crate::accounts::queries::EndReason;
use crate::accounts::security_events::EventKind;
use crate::accounts::sessions::SessionStore;
use crate::http::problem::AppError;
use crate::platform::clock::HOUR_MS;
use crate::platform::db::{Db, DbError, Statement};
use crate::platform::ports::{Blobs, PortError};
use std::future::Future;
use serde::{Deserialize, Serialize};

/// Stripe Checkout Sessions expire after at most 24 hours: an `open` purchase older than
/// that can no longer be paid and does not hold a closure back.
pub const OPEN_CHECKOUT_MS: i64 = 24 * HOUR_MS;
/// Files, sessions and rows handled per listing during erasure (D1 allows 100 bound
/// parameters per statement; a chunk's `IN (…)` list stays well below).
pub const CHUNK: i64 = 50;

const IN_FLIGHT: &str = "SELECT 1 AS x FROM purchases WHERE user_id = ? AND (status = 'pending' OR (status = 'open' AND created_at > ?))";

/// True while a purchase of this user may still be paid: closing now would leave a
/// payment without its account.
pub async fn purchase_in_flight(db: &impl Db, user_id: &str, now_ms: i64) -> Result<bool, DbError> {
    #[derive(Deserialize)]
    struct X {
        #[allow(dead_code)]
        x: i64,
    }
    Ok(db.query_one::<X>(Statement::new(IN_FLIGHT).bind(user_id).bind(now_ms - OPEN_CHECKOUT_MS)).await?.is_some())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct ClosureState {
    pub closed_at: Option<i64>,
    pub purge_after: Option<i64>,
    pub receipt_sent_at: Option<i64>,
}

impl ClosureState {
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }

    /// Closed, and still within the grace period (nothing erased yet).
    pub fn can_reopen(&self, now_ms: i64) -> bool {
        self.closed_at.is_some() && self.receipt_sent_at.is_none() && self.purge_after.is_some_and(|p| p > now_ms)
    }
}

pub async fn state(db: &impl Db, user_id: &str) -> Result<Option<ClosureState>, DbError> {
    db.query_one(Statement::new("SELECT closed_at, purge_after, receipt_sent_at FROM users WHERE id = ?").bind(user_id)).await
}

/// The event statement, written only when the account is in `closed` state at `now`
/// (so a refused closure records nothing).
fn event_if(user_id: &str, kind: EventKind, device: &str, now_ms: i64, closed: bool) -> Statement {
    let condition = if closed { "closed_at = ?" } else { "closed_at IS NULL AND updated_at = ?" };
    Statement::new(format!(
        "INSERT INTO security_events (id, user_id, kind, device, created_at) SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ? AND {condition})"
    ))
    .bind(crate::platform::ids::new_id("evt"))
    .bind(user_id)
    .bind(kind.as_str())
    .bind(device)
    .bind(now_ms)
    .bind(user_id)
    .bind(now_ms)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closed {
    pub closed_at: i64,
    pub purge_after: i64,
    pub sessions_ended: usize,
    /// KV entries that could not be deleted now (the erasure deletes them again, and
    /// every state change checks the row, which is already ended).
    #[serde(skip)]
    pub kv_failures: usize,
}

/// Closes the account: refused with 409 while a purchase is in flight or when it is
/// already closed. The check and the change are one batch, so a checkout started at the
/// same moment either blocks the closure or is not there.
pub async fn close(db: &impl Db, sessions: &impl SessionStore, user_id: &str, device: &str, now_ms: i64, grace_ms: i64) -> Result<Closed, AppError> {
    if purchase_in_flight(db, user_id, now_ms).await? {
        return Err(in_flight());
    }
    let open: Vec<String> = crate::accounts::queries::open_sessions(db, user_id).await?.into_iter().map(|s| s.token_hash).collect();
    let purge_after = now_ms + grace_ms;
    let closure_ref = crate::platform::ids::new_id("anon");
    let results = db
        .batch(vec![
            Statement::new(format!(
                "UPDATE users SET closed_at = ?, purge_after = ?, closure_ref = ?, receipt_sent_at = NULL, updated_at = ? \
                 WHERE id = ? AND closed_at IS NULL AND NOT EXISTS ({})",
                IN_FLIGHT.replace("SELECT 1 AS x", "SELECT 1")
            ))
            .bind(now_ms)
            .bind(purge_after)
            .bind(&closure_ref)
            .bind(now_ms)
            .bind(user_id)
            .bind(user_id)
            .bind(now_ms - OPEN_CHECKOUT_MS),
            Statement::new(
                "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL \
                 AND EXISTS (SELECT 1 FROM users WHERE id = ? AND closed_at = ?)",
            )
            .bind(now_ms)
            .bind(EndReason::AccountClosed.as_str())
            .bind(user_id)
            .bind(user_id)
            .bind(now_ms),
            event_if(user_id, EventKind::AccountClosed, device, now_ms, true),
        ])
        .await?;
    if results[0].changes == 0 {
        return Err(if purchase_in_flight(db, user_id, now_ms).await? {
            in_flight()
        } else {
            AppError::Conflict { detail: "This account is already closed.".into() }
        });
    }
    let mut kv_failures = 0;
    for hash in &open {
        if let Err(e) = sessions.delete(hash).await {
            kv_failures += 1;
            crate::platform::log::emit(crate::platform::log::Level::Error, "closure: deleting a KV session failed", serde_json::json!({ "user_id": user_id, "error": e.to_string() }));
        }
    }
    Ok(Closed { closed_at: now_ms, purge_after, sessions_ended: open.len(), kv_failures })
}

fn in_flight() -> AppError {
    AppError::Conflict {
        detail: "A purchase of yours is still being paid. Close your account once it has completed or failed (open checkouts expire within 24 hours).".into(),
    }
}

/// Reopens a closed account within its grace period. `Ok(false)` when it cannot be
/// reopened (not closed, past the grace period, or its erasure has begun).
pub async fn reopen(db: &impl Db, user_id: &str, device: &str, now_ms: i64) -> Result<bool, DbError> {
    let results = db
        .batch(vec![
            Statement::new(
                "UPDATE users SET closed_at = NULL, purge_after = NULL, closure_ref = NULL, updated_at = ? \
                 WHERE id = ? AND closed_at IS NOT NULL AND receipt_sent_at IS NULL AND purge_after > ?",
            )
            .bind(now_ms)
            .bind(user_id)
            .bind(now_ms),
            event_if(user_id, EventKind::AccountReopened, device, now_ms, false),
        ])
        .await?;
    Ok(results[0].changes == 1)
}

/// The email that confirms a closure.
pub fn closure_email(from: &str, to: &str, purge_after_text: &str, reopen_link: &str) -> OutgoingEmail {
    let when = format!("Your Blimari account is closed. You were signed out everywhere. Its data will be erased after {purge_after_text} (UTC).");
    crate::accounts::mail::message(
        from,
        to,
        "Your Blimari account is closed",
        &[
            &when,
            "Until then you can reopen it by signing in with your email and password. After that, your profile, brands, uploads, generations and their files, sessions and security events are deleted, and you receive a receipt listing what was removed.",
            "Purchases and credit-ledger entries are kept without your name or email for 10 years, as accounting law requires.",
            "If you did not close your account, sign in now to reopen it and change your password, and write to privacy@blimari.space.",
        ],
        Some(("Sign in to reopen", reopen_link)),
    )
}

/// `YYYY-MM-DD HH:MM` (UTC) of an epoch-ms instant, for emails.
pub fn utc_text(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let minutes = ms.rem_euclid(86_400_000) / 60_000;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
#[test]
fn utc_text_formats_dates() {
    assert_eq!(utc_text(0), "1970-01-01 00:00");
    assert_eq!(utc_text(1_775_088_000_000 + 3_600_000 * 13 + 60_000 * 7), "2026-04-02 13:07");
    assert_eq!(utc_text(951_782_400_000), "2000-02-29 00:00");
}

/// What an erasure removes and keeps, counted before it starts (for the receipt).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Inventory {
    pub brands: i64,
    pub files: i64,
    pub generations: i64,
    pub security_events: i64,
    pub sessions: i64,
    pub purchases: i64,
    pub ledger_entries: i64,
    pub privacy_requests: i64,
    pub exports: i64,
}

pub async fn inventory(db: &impl Db, user_id: &str) -> Result<Inventory, DbError> {
    let count = |table: &str| format!("(SELECT COUNT(*) FROM {table} WHERE user_id = ?)");
    let sql = format!(
        "SELECT {} AS brands, {} AS files, {} AS generations, {} AS security_events, {} AS sessions, {} AS purchases, {} AS ledger_entries, {} AS privacy_requests, {} AS exports",
        count("brands"),
        count("uploads"),
        count("generation_jobs"),
        count("security_events"),
        count("sessions"),
        count("purchases"),
        count("ledger_entries"),
        count("privacy_requests"),
        count("exports"),
    );
    let mut statement = Statement::new(sql);
    for _ in 0..9 {
        statement = statement.bind(user_id);
    }
    Ok(db.query_one(statement).await?.unwrap_or_default())
}

/// The deletion receipt (F3): what was removed, what is kept and why.
pub fn receipt_email(from: &str, to: &str, counted: &Inventory, closure_ref: &str) -> OutgoingEmail {
    let removed = format!(
        "Removed: your profile (name, email address, password), {} brand(s), {} file(s) (uploads and generated images, in storage and the database), {} generation(s) with their prompts and outputs, {} data export(s), {} security event(s), {} session(s) (database and session store).",
        counted.brands, counted.files, counted.generations, counted.exports, counted.security_events, counted.sessions
    );
    let kept = format!(
        "Kept without your name, email address or account id, under the reference {closure_ref}: {} purchase(s) and {} credit-ledger entr{} for 10 years (accounting and tax law), and {} privacy request(s) for 3 years after they were handled (to show they were answered).",
        counted.purchases,
        counted.ledger_entries,
        if counted.ledger_entries == 1 { "y" } else { "ies" },
        counted.privacy_requests
    );
    crate::accounts::mail::message(
        from,
        to,
        "Your Blimari account has been erased",
        &[
            "The grace period of your closed Blimari account is over, and its data is being erased now. This is the last email we send to this address; the address itself is deleted with the account.",
            &removed,
            &kept,
            "Technical logs expire on their own within 7 days (Sentry error reports within 90 days). Quote the reference above to privacy@blimari.space if you have a question about these records.",
        ],
        None,
    )
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    /// Accounts erased completely in this run.
    pub erased: u64,
    /// False when the budget ran out with erasures left.
    pub finished: bool,
    pub failures: u64,
}

#[derive(Debug, Deserialize)]
struct Due {
    id: String,
    email: String,
    closure_ref: Option<String>,
    receipt_sent_at: Option<i64>,
}

enum Progress {
    Done,
    OutOfBudget,
}

/// Erases every closed account whose grace period ended, within `budget`.
pub async fn purge_due<D: Db, B: Blobs, S: SessionStore, M: Mailer>(ports: &Ports<'_, D, B, S, M>, now_ms: i64, budget: &Budget) -> Result<PurgeReport, DbError> {
    let mut report = PurgeReport::default();
    let mut failed: Vec<String> = Vec::new();
    loop {
        if !budget.take(1) {
            return Ok(report);
        }
        let due: Vec<Due> = ports
            .db
            .query(
                Statement::new(
                    "SELECT id, email, closure_ref, receipt_sent_at FROM users WHERE purge_after IS NOT NULL AND purge_after <= ? ORDER BY purge_after, id LIMIT ?",
                )
                .bind(now_ms)
                .bind(10 + failed.len() as i64),
            )
            .await?;
        let due: Vec<Due> = due.into_iter().filter(|d| !failed.contains(&d.id)).collect();
        if due.is_empty() {
            report.finished = true;
            return Ok(report);
        }
        for account in due {
            match purge_one(ports, &account, now_ms, budget).await {
                Ok(Progress::Done) => report.erased += 1,
                Ok(Progress::OutOfBudget) => return Ok(report),
                Err(e) => {
                    crate::platform::log::emit(
                        crate::platform::log::Level::Error,
                        "erasing a closed account failed",
                        serde_json::json!({ "user_id": account.id, "error": e }),
                    );
                    report.failures += 1;
                    failed.push(account.id);
                }
            }
        }
    }
}

/// Deletes the outside copy (an R2 object, a KV entry) of each `(row id, key)` within
/// the budget, keeping one operation for deleting the rows; stops at the first failure.
/// The ids whose copies are gone, and the failure that stopped it, if one did.
async fn delete_each<F: Future<Output = Result<(), PortError>>>(
    budget: &Budget,
    keyed: Vec<(String, String)>,
    what: &str,
    delete: impl Fn(String) -> F,
) -> (Vec<String>, Option<String>) {
    let mut gone = Vec::new();
    for (id, key) in keyed {
        if budget.left() < 2 {
            break;
        }
        budget.take(1);
        if let Err(e) = delete(key).await {
            return (gone, Some(format!("deleting {what}: {e}")));
        }
        gone.push(id);
    }
    (gone, None)
}

/// One account, step by step; each step is safe to repeat, so a run that stops
/// anywhere (budget, failure, crash) is continued by the next.
async fn purge_one<D: Db, B: Blobs, S: SessionStore, M: Mailer>(ports: &Ports<'_, D, B, S, M>, a: &Due, now_ms: i64, budget: &Budget) -> Result<Progress, String> {
    let db = ports.db;
    let closure_ref = a.closure_ref.clone().unwrap_or_else(|| format!("anon_{}", &a.id));
    // 1. The receipt, to the address on file, before anything is erased.
    if a.receipt_sent_at.is_none() {
        if !budget.take(3) {
            return Ok(Progress::OutOfBudget);
        }
        let counted = inventory(db, &a.id).await.map_err(|e| e.to_string())?;
        ports.mailer.send(&receipt_email(ports.from, &a.email, &counted, &closure_ref)).await.map_err(|e| format!("receipt: {e}"))?;
        db.run(Statement::new("UPDATE users SET receipt_sent_at = ?, closure_ref = ? WHERE id = ?").bind(now_ms).bind(&closure_ref).bind(&a.id))
            .await
            .map_err(|e| e.to_string())?;
    }
    // 2. Files: each object, then the rows of the objects that are gone.
    if let Progress::OutOfBudget = chunked(budget, || async move {
        #[derive(Deserialize)]
        struct File {
            id: String,
            r2_key: String,
        }
        let files: Vec<File> = db
            .query(Statement::new("SELECT id, r2_key FROM uploads WHERE user_id = ? ORDER BY id LIMIT ?").bind(&a.id).bind(CHUNK))
            .await
            .map_err(|e| e.to_string())?;
        let listed = files.len();
        let keyed = files.into_iter().map(|f| (f.id, f.r2_key)).collect();
        let (gone, failure) = delete_each(budget, keyed, "an object", |key| async move { ports.blobs.delete(&key).await }).await;
        if !gone.is_empty() {
            budget.take(1);
            db.batch(delete_files(&gone, now_ms)).await.map_err(|e| e.to_string())?;
        }
        if let Some(f) = failure {
            return Err(f);
        }
        Ok((listed, gone.len()))
    })
    .await?
    {
        return Ok(Progress::OutOfBudget);
    }
    // 3. KV: every session's entry, then its row.
    if let Progress::OutOfBudget = chunked(budget, || async move {
        #[derive(Deserialize)]
        struct Session {
            id: String,
            token_hash: String,
        }
        let rows: Vec<Session> = db
            .query(Statement::new("SELECT id, token_hash FROM sessions WHERE user_id = ? ORDER BY id LIMIT ?").bind(&a.id).bind(CHUNK))
            .await
            .map_err(|e| e.to_string())?;
        let listed = rows.len();
        let keyed = rows.into_iter().map(|s| (s.id, s.token_hash)).collect();
        let (gone, failure) = delete_each(budget, keyed, "a KV session", |key| async move { ports.sessions.delete(&key).await }).await;
        if !gone.is_empty() {
            budget.take(1);
            db.run(in_list("DELETE FROM sessions WHERE id IN", &gone)).await.map_err(|e| e.to_string())?;
        }
        if let Some(f) = failure {
            return Err(f);
        }
        Ok((listed, gone.len()))
    })
    .await?
    {
        return Ok(Progress::OutOfBudget);
    }
    // 3b. Data exports (F1): each archive (and any unfinished multipart upload), then its
    // row, as the export feature removes them.
    if let Progress::OutOfBudget = chunked(budget, || async move {
        use crate::privacy::export;
        let rows = export::of_user(db, &a.id, CHUNK).await.map_err(|e| e.to_string())?;
        let mut gone = 0;
        for row in &rows {
            if budget.left() < export::REMOVE_OPERATIONS {
                break;
            }
            let (removed, operations) = export::remove(db, ports.blobs, row).await.map_err(|e| e.to_string())?;
            budget.take(operations);
            if !removed {
                return Err("deleting an export's archive failed".into());
            }
            gone += 1;
        }
        Ok((rows.len(), gone))
    })
    .await?
    {
        return Ok(Progress::OutOfBudget);
    }
    // 4. The larger tables in bounded deletes (the user's delete below cascades the rest).
    for (table, key) in [("generation_jobs", "id"), ("security_events", "id"), ("brands", "id"), ("email_tokens", "token_hash")] {
        loop {
            if !budget.take(1) {
                return Ok(Progress::OutOfBudget);
            }
            let sql = format!("DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE user_id = ? LIMIT ?)");
            let changes = db.run(Statement::new(sql).bind(&a.id).bind(DELETE_BATCH)).await.map_err(|e| e.to_string())?.changes;
            if (changes as i64) < DELETE_BATCH {
                break;
            }
        }
    }
    // 5. Last, one batch: what accounting keeps, de-identified; then the user.
    if !budget.take(1) {
        return Ok(Progress::OutOfBudget);
    }
    db.batch(erase_statements(&a.id, &a.email, &closure_ref)).await.map_err(|e| e.to_string())?;
    Ok(Progress::Done)
}

/// Repeats a chunk until the listing comes back empty. A chunk answers (listed, done);
/// `OutOfBudget` when the budget ended it before the listing emptied.
async fn chunked<F, Fut>(budget: &Budget, mut chunk: F) -> Result<Progress, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(usize, usize), String>>,
{
    loop {
        if !budget.take(1) {
            return Ok(Progress::OutOfBudget);
        }
        let (listed, done) = chunk().await?;
        if listed == 0 {
            return Ok(Progress::Done);
        }
        if done < listed {
            return Ok(Progress::OutOfBudget);
        }
    }
}

fn in_list(prefix: &str, ids: &[String]) -> Statement {
    let marks = vec!["?"; ids.len()].join(", ");
    let mut s = Statement::new(format!("{prefix} ({marks})"));
    for id in ids {
        s = s.bind(id);
    }
    s
}

/// Detaches the files from brands and generations, then deletes their rows.
fn delete_files(ids: &[String], now_ms: i64) -> Vec<Statement> {
    let mut brands = in_list("UPDATE brands SET logo_upload_id = NULL, updated_at = ? WHERE logo_upload_id IN", ids);
    brands.params.insert(0, now_ms.into());
    vec![
        brands,
        in_list("DELETE FROM brand_references WHERE upload_id IN", ids),
        in_list("UPDATE generation_jobs SET output_upload_id = NULL WHERE output_upload_id IN", ids),
        in_list("DELETE FROM uploads WHERE id IN", ids),
    ]
}

/// The last batch of an erasure. Billing rows stay for accounting under `closure_ref`
/// (no name, address or account id); Stripe's charge receipt links (which show the
/// payer's email) and the stored webhook payloads (which carry it) go.
pub fn erase_statements(user_id: &str, email: &str, closure_ref: &str) -> Vec<Statement> {
    vec![
        Statement::new("UPDATE stripe_charges SET receipt_url = NULL WHERE payment_intent IN (SELECT payment_intent FROM purchases WHERE user_id = ?)").bind(user_id),
        Statement::new("DELETE FROM stripe_events WHERE payload LIKE '%' || ? || '%' OR payload LIKE '%' || ? || '%'").bind(user_id).bind(email),
        Statement::new("UPDATE purchases SET user_id = ? WHERE user_id = ?").bind(closure_ref).bind(user_id),
        Statement::new("UPDATE ledger_entries SET user_id = ?, job_id = NULL WHERE user_id = ?").bind(closure_ref).bind(user_id),
        Statement::new("UPDATE privacy_requests SET user_id = ?, email = ?, message = NULL WHERE user_id = ? OR email = ?")
            .bind(closure_ref)
            .bind(closure_ref)
            .bind(user_id)
            .bind(email),
        Statement::new("UPDATE admin_actions SET target_user_id = ? WHERE target_user_id = ?").bind(closure_ref).bind(user_id),
        Statement::new("UPDATE admin_actions SET admin_id = ? WHERE admin_id = ?").bind(closure_ref).bind(user_id),
        Statement::new("UPDATE job_replays SET admin_id = ? WHERE admin_id = ?").bind(closure_ref).bind(user_id),
        // Also cascades what is left: credit account, tokens, brand references.
        Statement::new("DELETE FROM users WHERE id = ?").bind(user_id),
    ]
}
