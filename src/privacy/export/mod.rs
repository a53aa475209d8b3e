//! F1 data export: everything an account owns, as one ZIP in R2, built by a queue job.
//!
//! - `start` (`POST /api/account/export`) makes a `queued` row (at most one queued or
//!   running per user, at most `DAILY_LIMIT` a day) with its security event, then
//!   queues `{"kind":"export"}` on `blimari-exports`.
//! - `job::run` (the consumer) claims the row, streams the archive into a multipart
//!   upload (`archive`), completes it and marks the row `ready` with its event in one
//!   batch, then emails the owner. Any failure aborts the multipart upload; the job is
//!   retried (`MAX_ATTEMPTS`) and then marked `failed`, and the owner told.
//! - The archive stays downloadable until `expires_at` (`EXPORT_TTL_SECONDS`, 7 days by
//!   default); `purge_expired` (the daily retention run) deletes the object, then the row;
//!   `purge_user` does the same for every export of a closed account.
//!
//! Invariant: an export's object exists only while its row does (the row is made first
//! and deleted last), and no multipart upload outlives its attempt unless the row names it
//! (`multipart_id`), so the next attempt or the purge aborts it.

pub mod archive;
pub mod job;

use crate::accounts::security_events::EventKind;
use crate::http::pagination::Page;
use crate::http::problem::AppError;
use crate::platform::clock::DAY_MS;
use crate::platform::db::{Db, DbError, Statement};
use crate::platform::ports::{Blobs, Jobs};
use crate::platform::queue_messages::{QueueMessage, QueueName};
use serde::{Deserialize, Serialize};

/// How long a finished export stays downloadable, unless `EXPORT_TTL_SECONDS` says otherwise.
pub const DEFAULT_TTL_MS: i64 = 7 * DAY_MS;
/// Exports a user may start in 24 hours (failed ones do not count).
pub const DAILY_LIMIT: i64 = 5;
/// Attempts at building one export before it is marked failed.
pub const MAX_ATTEMPTS: i64 = 3;
/// An attempt's claim: a queue consumer runs at most 15 minutes of wall time.
pub const LEASE_MS: i64 = 15 * crate::platform::clock::MINUTE_MS;

/// The archive's key in R2, under the owner's prefix like their uploads.
pub fn r2_key(user_id: &str, export_id: &str) -> String {
    format!("u/{user_id}/exports/{export_id}.zip")
}

/// A row of `exports`.
#[derive(Debug, Clone, Deserialize)]
pub struct ExportRow {
    pub id: String,
    pub user_id: String,
    pub status: String,
    pub r2_key: String,
    pub multipart_id: Option<String>,
    pub attempts: i64,
    pub lease_until: Option<i64>,
    pub size_bytes: Option<i64>,
    pub counts: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub expires_at: i64,
}

const COLUMNS: &str =
    "id, user_id, status, r2_key, multipart_id, attempts, lease_until, size_bytes, counts, failure_reason, created_at, finished_at, expires_at";

/// An export as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExportView {
    pub id: String,
    /// queued, running, ready, failed, or expired (a ready one past `expires_at`).
    pub status: &'static str,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub expires_at: i64,
    pub size_bytes: Option<i64>,
    /// How many of each thing the archive holds (its manifest's counts), once ready.
    pub counts: Option<serde_json::Value>,
    pub failure_reason: Option<String>,
    /// Where to download it, while it can be downloaded.
    pub content_url: Option<String>,
}

impl ExportRow {
    pub fn status_at(&self, now_ms: i64) -> &'static str {
        match self.status.as_str() {
            "ready" if self.expires_at <= now_ms => "expired",
            "ready" => "ready",
            "running" => "running",
            "failed" => "failed",
            _ => "queued",
        }
    }

    pub fn view(&self, now_ms: i64) -> ExportView {
        let status = self.status_at(now_ms);
        ExportView {
            id: self.id.clone(),
            status,
            created_at: self.created_at,
            finished_at: self.finished_at,
            expires_at: self.expires_at,
            size_bytes: self.size_bytes,
            counts: self.counts.as_deref().and_then(|c| serde_json::from_str(c).ok()),
            failure_reason: self.failure_reason.clone(),
            content_url: (status == "ready").then(|| format!("/api/account/exports/{}/content", self.id)),
        }
    }

    /// A download name: `blimari-export-2026-04-02.zip`.
    pub fn filename(&self) -> String {
        format!("blimari-export-{}.zip", &archive::rfc3339(self.created_at)[..10])
    }
}

// ---- queries ------------------------------------------------------------------------------

pub async fn find(db: &impl Db, user_id: &str, id: &str) -> Result<Option<ExportRow>, DbError> {
    db.query_one(Statement::new(format!("SELECT {COLUMNS} FROM exports WHERE id = ? AND user_id = ?")).bind(id).bind(user_id)).await
}

pub async fn find_any(db: &impl Db, id: &str) -> Result<Option<ExportRow>, DbError> {
    db.query_one(Statement::new(format!("SELECT {COLUMNS} FROM exports WHERE id = ?")).bind(id)).await
}

/// The user's exports, newest first.
pub async fn list(db: &impl Db, user_id: &str, page: &Page) -> Result<Vec<ExportRow>, DbError> {
    db.query(page.newest_first(Statement::new(format!("SELECT {COLUMNS} FROM exports WHERE user_id = ?")).bind(user_id))).await
}

// ---- start ----------------------------------------------------------------------------------

/// F1: starts an export for the user. 409 while one is queued or running, 429 past the
/// daily limit; 503 if the queue refused it (the row is then marked failed, not left
/// waiting for ever).
pub async fn start(db: &impl Db, queue: &impl Jobs, user_id: &str, device: &str, now_ms: i64, ttl_ms: i64) -> Result<ExportRow, AppError> {
    let id = crate::platform::ids::new_id("exp");
    let window_start = now_ms - DAY_MS;
    let insert = Statement::new(
        "INSERT INTO exports (id, user_id, status, r2_key, attempts, created_at, expires_at) \
         SELECT ?, ?, 'queued', ?, 0, ?, ? \
         WHERE NOT EXISTS (SELECT 1 FROM exports WHERE user_id = ? AND status IN ('queued', 'running')) \
         AND (SELECT COUNT(*) FROM exports WHERE user_id = ? AND created_at > ? AND status <> 'failed') < ?",
    )
    .bind(&id)
    .bind(user_id)
    .bind(r2_key(user_id, &id))
    .bind(now_ms)
    .bind(now_ms + ttl_ms)
    .bind(user_id)
    .bind(user_id)
    .bind(window_start)
    .bind(DAILY_LIMIT);
    // A5, in the same batch and only if the row was made.
    let event = Statement::new(
        "INSERT INTO security_events (id, user_id, kind, device, created_at) \
         SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM exports WHERE id = ?)",
    )
    .bind(crate::platform::ids::new_id("evt"))
    .bind(user_id)
    .bind(EventKind::ExportRequested.as_str())
    .bind(device)
    .bind(now_ms)
    .bind(&id);
    let already_running = || AppError::Conflict { detail: "An export is already being prepared. You will get an email when it is ready.".into() };
    let inserted = match db.batch(vec![insert, event]).await {
        Ok(results) => results[0].changes,
        Err(e) if e.violates_unique("exports", &["user_id"]) => return Err(already_running()),
        Err(e) => return Err(e.into()),
    };
    if inserted == 0 {
        #[derive(Deserialize)]
        struct Busy {
            active: i64,
            oldest: Option<i64>,
        }
        let busy: Option<Busy> = db
            .query_one(
                Statement::new(
                    "SELECT (SELECT COUNT(*) FROM exports WHERE user_id = ? AND status IN ('queued', 'running')) AS active, \
                     (SELECT MIN(created_at) FROM exports WHERE user_id = ? AND created_at > ? AND status <> 'failed') AS oldest",
                )
                .bind(user_id)
                .bind(user_id)
                .bind(window_start),
            )
            .await?;
        return Err(match busy {
            Some(b) if b.active > 0 => already_running(),
            Some(Busy { oldest: Some(oldest), .. }) => {
                AppError::TooManyRequests { retry_after_seconds: ((oldest + DAY_MS - now_ms).max(1000) / 1000) as u32 }
            }
            _ => already_running(),
        });
    }
    // Read before the message is sent: the answer is the export as it was made (queued),
    // not whatever state the consumer has taken it to by the time a later read ran. A
    // failed read is reported only after sending, so the row never waits for no message.
    let created = find(db, user_id, &id).await;
    if let Err(e) = queue.send(QueueName::Export, &QueueMessage::Export { export_id: id.clone() }).await {
        db.run(mark_failed(&id, "The export could not be started. Try again in a few minutes.", None, now_ms)).await?;
        return Err(AppError::ServiceUnavailable { detail: format!("The export could not be started; try again in a few minutes. ({e})") });
    }
    created?.ok_or_else(|| AppError::internal("export row vanished"))
}

/// Marks an unfinished export failed (never a ready one). `unaborted` is a multipart
/// upload that could not be aborted: the row keeps it, so the purge aborts it.
pub fn mark_failed(id: &str, reason: &str, unaborted: Option<&str>, now_ms: i64) -> Statement {
    Statement::new(
        "UPDATE exports SET status = 'failed', failure_reason = ?, multipart_id = ?, lease_until = NULL, finished_at = ? \
         WHERE id = ? AND status IN ('queued', 'running')",
    )
    .bind(reason)
    .bind(unaborted)
    .bind(now_ms)
    .bind(id)
}

// ---- purge ----------------------------------------------------------------------------------

/// Exports past `expires_at` (ready, failed, or stuck), oldest first, at most `limit`.
pub async fn expired(db: &impl Db, now_ms: i64, limit: i64) -> Result<Vec<ExportRow>, DbError> {
    db.query(Statement::new(format!("SELECT {COLUMNS} FROM exports WHERE expires_at <= ? ORDER BY expires_at, id LIMIT ?")).bind(now_ms).bind(limit))
        .await
}

/// Every export of one user (F3 closure), at most `limit`.
pub async fn of_user(db: &impl Db, user_id: &str, limit: i64) -> Result<Vec<ExportRow>, DbError> {
    db.query(Statement::new(format!("SELECT {COLUMNS} FROM exports WHERE user_id = ? ORDER BY created_at, id LIMIT ?")).bind(user_id).bind(limit)).await
}

/// The most operations `remove` makes for one export (abort, delete the object, delete
/// the row), for callers that work within a budget.
pub const REMOVE_OPERATIONS: u32 = 3;

/// Deletes one export, object first and row second: an object whose delete fails keeps
/// its row, and is tried again later. Answers whether it is gone and the operations
/// (binding calls) it made.
pub async fn remove(db: &impl Db, blobs: &impl Blobs, row: &ExportRow) -> Result<(bool, u32), DbError> {
    let mut operations = 0;
    if let Some(upload_id) = &row.multipart_id {
        // Unfinished parts: R2 also drops them after 7 days, so a failure is not fatal.
        operations += 1;
        let _ = blobs.abort_multipart(&row.r2_key, upload_id).await;
    }
    operations += 1;
    if let Err(e) = blobs.delete(&row.r2_key).await {
        crate::platform::log::emit(crate::platform::log::Level::Warn, "export object not deleted", serde_json::json!({ "export_id": row.id, "error": e.0 }));
        return Ok((false, operations));
    }
    db.run(Statement::new("DELETE FROM exports WHERE id = ?").bind(&row.id)).await?;
    Ok((true, operations + 1))
}

async fn purge(db: &impl Db, blobs: &impl Blobs, rows: Vec<ExportRow>) -> Result<usize, DbError> {
    let mut purged = 0;
    for row in rows {
        if remove(db, blobs, &row).await?.0 {
            purged += 1;
        }
    }
    Ok(purged)
}

/// F4 retention: exports past `expires_at`, at most `limit` per call, oldest first.
/// Returns how many were deleted.
pub async fn purge_expired(db: &impl Db, blobs: &impl Blobs, now_ms: i64, limit: i64) -> Result<usize, DbError> {
    purge(db, blobs, expired(db, now_ms, limit).await?).await
}

/// F3 closure: every export of the user, at most `limit` per call (call until 0).
pub async fn purge_user(db: &impl Db, blobs: &impl Blobs, user_id: &str, limit: i64) -> Result<usize, DbError> {
    purge(db, blobs, of_user(db, user_id, limit).await?).await
}

#[cfg(test)]
mod tests;
