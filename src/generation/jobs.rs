//! Generation jobs (D2, D3, D8): the state machine and its SQL.
//!
//! queued → running (claimed with a lease) → succeeded | failed. A claim is one
//! conditional UPDATE, so of two deliveries of the same message only one gets the job:
//! the other finds it running (or done) and acks without calling the provider.

use crate::http::pagination::Page;
use crate::platform::db::{Db, DbError, Statement};
use serde::{Deserialize, Serialize};

/// Deliveries a job gets before a transient failure becomes final (Cloudflare delivers a
/// message at most 1 + max_retries = 4 times with `max_retries = 3`).
pub const MAX_ATTEMPTS: i64 = 4;
/// Claims a job may get in all, crashes included: a job whose consumer died this many
/// times is failed by the sweeper (or the next delivery) and its hold released, so a
/// poison job can never loop (issue 10).
pub const MAX_CLAIMS: i64 = 6;
/// Beyond the provider's own timeout, the time a delivery may take for everything else.
pub const LEASE_MARGIN_MS: i64 = crate::platform::clock::MINUTE_MS;
/// A queued job the queue took but never delivered (a lost message) is sent again after
/// this long, and failed after `QUEUED_GIVE_UP_MS`.
pub const STALE_QUEUED_MS: i64 = 15 * crate::platform::clock::MINUTE_MS;
pub const QUEUED_GIVE_UP_MS: i64 = crate::platform::clock::DAY_MS;

/// How long a claim holds a job: the provider's timeout plus a margin, so a slow provider
/// call never outlives its lease (which would let a second delivery call it again).
pub fn lease_ms(provider_timeout_ms: i64) -> i64 {
    provider_timeout_ms + LEASE_MARGIN_MS
}
/// The outbox waits this long for the submit request's own send before the sweeper sends.
pub const OUTBOX_GRACE_MS: i64 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl Status {
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed)
    }
}

/// What went wrong at the provider, by whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderError {
    /// 429, 5xx, a timeout, a dropped connection, a reply we could not read.
    Transient(String),
    /// The provider refused the request itself (4xx): retrying gives the same answer.
    Permanent(String),
}

impl ProviderError {
    /// The body is not kept: a provider's error text can echo the prompt (README, logs).
    pub fn from_status(status: u16) -> ProviderError {
        match status {
            408 | 409 | 425 | 429 | 500..=599 => ProviderError::Transient(format!("provider answered {status}")),
            _ => ProviderError::Permanent(format!("provider refused the request ({status})")),
        }
    }

    /// A short description for logs: the class and our own words, never the provider's.
    pub fn kind(&self) -> &str {
        match self {
            ProviderError::Transient(what) | ProviderError::Permanent(what) => what,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    RetryIn { seconds: u32 },
    Fail { reason: String },
}

/// D8: transient errors are retried with backoff until the attempts run out.
pub fn after_failure(error: &ProviderError, attempts: i64) -> AfterFailure {
    match error {
        ProviderError::Transient(_) if attempts < MAX_ATTEMPTS => {
            AfterFailure::RetryIn { seconds: crate::platform::queue_messages::backoff_seconds(attempts as u32, 60) }
        }
        ProviderError::Transient(_) => AfterFailure::Fail {
            reason: format!("The AI provider was unavailable after {attempts} attempts. No credits were used; try again in a few minutes."),
        },
        ProviderError::Permanent(_) => AfterFailure::Fail {
            reason: "The AI provider could not make this request. No credits were used; try rewording the prompt.".into(),
        },
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: String,
    pub user_id: String,
    pub brand_id: String,
    pub brand_snapshot: String,
    pub content_type: String,
    pub prompt: String,
    pub price: i64,
    pub status: Status,
    pub attempts: i64,
    pub request_hash: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub failure_reason: Option<String>,
    pub model: Option<String>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub output_text: Option<String>,
    pub output_upload_id: Option<String>,
    pub brand_check: Option<String>,
    /// The palette check of an image (JSON of `palette_check::PaletteCheck`).
    #[serde(default)]
    pub palette_check: Option<String>,
    /// 0 or 1 (a portable boolean).
    pub favorite: i64,
}

const COLUMNS: &str = "id, user_id, brand_id, brand_snapshot, content_type, prompt, price, status, attempts, request_hash, \
    created_at, started_at, finished_at, failure_reason, model, tokens_in, tokens_out, output_text, output_upload_id, brand_check, palette_check, favorite";

pub struct NewJob<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub brand_id: &'a str,
    pub brand_snapshot: &'a str,
    pub content_type: &'a str,
    pub prompt: &'a str,
    pub price: i64,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: &'a str,
}

pub fn insert(j: &NewJob, now_ms: i64) -> Statement {
    Statement::new(
        "INSERT INTO generation_jobs (id, user_id, brand_id, brand_snapshot, content_type, prompt, price, status, \
         idempotency_key, request_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
    )
    .bind(j.id)
    .bind(j.user_id)
    .bind(j.brand_id)
    .bind(j.brand_snapshot)
    .bind(j.content_type)
    .bind(j.prompt)
    .bind(j.price)
    .bind(j.idempotency_key)
    .bind(j.request_hash)
    .bind(now_ms)
}

/// A submit raced another with the same `Idempotency-Key`.
pub fn is_duplicate_idempotency_key(e: &DbError) -> bool {
    e.violates_unique("generation_jobs", &["user_id", "idempotency_key"])
}

pub async fn find(db: &impl Db, user_id: &str, id: &str) -> Result<Option<Job>, DbError> {
    db.query_one(Statement::new(format!("SELECT {COLUMNS} FROM generation_jobs WHERE id = ? AND user_id = ?")).bind(id).bind(user_id))
        .await
}

pub async fn find_any(db: &impl Db, id: &str) -> Result<Option<Job>, DbError> {
    db.query_one(Statement::new(format!("SELECT {COLUMNS} FROM generation_jobs WHERE id = ?")).bind(id)).await
}

pub async fn find_by_idempotency_key(db: &impl Db, user_id: &str, key: &str) -> Result<Option<Job>, DbError> {
    db.query_one(
        Statement::new(format!("SELECT {COLUMNS} FROM generation_jobs WHERE user_id = ? AND idempotency_key = ?")).bind(user_id).bind(key),
    )
    .await
}

pub struct ListFilter<'a> {
    pub brand_id: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub query: Option<&'a str>,
    pub favorites_only: bool,
}

pub async fn list(db: &impl Db, user_id: &str, filter: &ListFilter<'_>, page: &Page) -> Result<Vec<Job>, DbError> {
    let like = filter.query.map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let statement = Statement::new(format!(
        "SELECT {COLUMNS} FROM generation_jobs WHERE user_id = ? \
         AND (? IS NULL OR brand_id = ?) AND (? IS NULL OR content_type = ?) AND (? IS NULL OR lower(prompt) LIKE lower(?) ESCAPE '\\') AND (? = 0 OR favorite = 1)"
    ))
    .bind(user_id)
    .bind(filter.brand_id)
    .bind(filter.brand_id)
    .bind(filter.content_type)
    .bind(filter.content_type)
    .bind(like.clone())
    .bind(like)
    .bind(filter.favorites_only);
    db.query(page.newest_first(statement)).await
}

/// Claims a queued job (or one whose lease ran out) for this delivery, unless it has
/// used up its claims.
pub async fn claim(db: &impl Db, id: &str, now_ms: i64, lease_ms: i64) -> Result<Option<Job>, DbError> {
    let rows = db
        .run(
            Statement::new(format!(
                "UPDATE generation_jobs SET status = 'running', attempts = attempts + 1, lease_until = ?, \
                 started_at = COALESCE(started_at, ?) \
                 WHERE id = ? AND (status = 'queued' OR (status = 'running' AND lease_until < ?)) AND attempts < ? RETURNING {COLUMNS}"
            ))
            .bind(now_ms + lease_ms)
            .bind(now_ms)
            .bind(id)
            .bind(now_ms)
            .bind(MAX_CLAIMS),
        )
        .await?
        .rows;
    crate::platform::db::decode_rows(rows).map(|mut v| v.pop())
}

/// Back to the queue after a transient failure (the message is retried with a delay).
pub fn requeue(id: &str) -> Statement {
    Statement::new("UPDATE generation_jobs SET status = 'queued', lease_until = NULL WHERE id = ? AND status = 'running'").bind(id)
}

pub fn delete(id: &str, user_id: &str) -> Statement {
    Statement::new("DELETE FROM generation_jobs WHERE id = ? AND user_id = ?").bind(id).bind(user_id)
}

pub fn set_favorite(id: &str, user_id: &str, favorite: bool) -> Statement {
    Statement::new("UPDATE generation_jobs SET favorite = ? WHERE id = ? AND user_id = ?").bind(favorite).bind(id).bind(user_id)
}

pub fn mark_enqueued(id: &str, now_ms: i64) -> Statement {
    Statement::new("UPDATE generation_jobs SET enqueued_at = ? WHERE id = ? AND enqueued_at IS NULL").bind(now_ms).bind(id)
}

pub struct Success<'a> {
    pub model: &'a str,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub output_text: Option<&'a str>,
    pub output_upload_id: Option<&'a str>,
    pub brand_check: Option<&'a str>,
    pub palette_check: Option<&'a str>,
}

pub fn succeed(id: &str, s: &Success, now_ms: i64) -> Statement {
    Statement::new(
        "UPDATE generation_jobs SET status = 'succeeded', finished_at = ?, lease_until = NULL, failure_reason = NULL, \
         model = ?, tokens_in = ?, tokens_out = ?, output_text = ?, output_upload_id = ?, brand_check = ?, palette_check = ? \
         WHERE id = ? AND status IN ('queued', 'running')",
    )
    .bind(now_ms)
    .bind(s.model)
    .bind(s.tokens_in)
    .bind(s.tokens_out)
    .bind(s.output_text)
    .bind(s.output_upload_id)
    .bind(s.brand_check)
    .bind(s.palette_check)
    .bind(id)
}

pub fn fail(id: &str, reason: &str, now_ms: i64) -> Statement {
    Statement::new(
        "UPDATE generation_jobs SET status = 'failed', finished_at = ?, lease_until = NULL, failure_reason = ? \
         WHERE id = ? AND status IN ('queued', 'running')",
    )
    .bind(now_ms)
    .bind(reason)
    .bind(id)
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobRef {
    pub id: String,
}

/// Sweeper: jobs whose message was never accepted by the queue (the outbox).
pub async fn unsent(db: &impl Db, now_ms: i64, limit: i64) -> Result<Vec<JobRef>, DbError> {
    db.query(
        Statement::new("SELECT id FROM generation_jobs WHERE status = 'queued' AND enqueued_at IS NULL AND created_at < ? LIMIT ?")
            .bind(now_ms - OUTBOX_GRACE_MS)
            .bind(limit),
    )
    .await
}

/// Sweeper: running jobs whose worker died (lease over).
pub async fn expired_leases(db: &impl Db, now_ms: i64, limit: i64) -> Result<Vec<Job>, DbError> {
    db.query(
        Statement::new(format!("SELECT {COLUMNS} FROM generation_jobs WHERE status = 'running' AND lease_until < ? LIMIT ?"))
            .bind(now_ms)
            .bind(limit),
    )
    .await
}

/// Back to the outbox (the sweeper sends it again), if its lease is still expired.
pub fn requeue_expired(id: &str, now_ms: i64) -> Statement {
    Statement::new(
        "UPDATE generation_jobs SET status = 'queued', lease_until = NULL, enqueued_at = NULL \
         WHERE id = ? AND status = 'running' AND lease_until < ?",
    )
    .bind(id)
    .bind(now_ms)
}

/// Sweeper: queued jobs the queue took long ago but never delivered.
pub async fn stale_queued(db: &impl Db, now_ms: i64, limit: i64) -> Result<Vec<Job>, DbError> {
    db.query(
        Statement::new(format!(
            "SELECT {COLUMNS} FROM generation_jobs WHERE status = 'queued' AND enqueued_at IS NOT NULL AND enqueued_at < ? LIMIT ?"
        ))
        .bind(now_ms - STALE_QUEUED_MS)
        .bind(limit),
    )
    .await
}

/// Back to the outbox, so the sweeper sends its message again.
pub fn resend(id: &str) -> Statement {
    Statement::new("UPDATE generation_jobs SET enqueued_at = NULL WHERE id = ? AND status = 'queued'").bind(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_retry_with_growing_delays_then_fail() {
        let e = ProviderError::Transient("503".into());
        assert_eq!(after_failure(&e, 1), AfterFailure::RetryIn { seconds: 1 });
        assert_eq!(after_failure(&e, 3), AfterFailure::RetryIn { seconds: 4 });
        assert!(matches!(after_failure(&e, MAX_ATTEMPTS), AfterFailure::Fail { .. }));
    }

    #[test]
    fn permanent_failures_fail_at_once_with_a_readable_reason() {
        match after_failure(&ProviderError::Permanent("400".into()), 1) {
            AfterFailure::Fail { reason } => assert!(reason.contains("No credits were used")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn provider_statuses_are_classified() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(ProviderError::from_status(s), ProviderError::Transient(_)), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(matches!(ProviderError::from_status(s), ProviderError::Permanent(_)), "{s}");
        }
    }

    #[test]
    fn only_succeeded_and_failed_are_terminal() {
        assert!(Status::Succeeded.is_terminal() && Status::Failed.is_terminal());
        assert!(!Status::Queued.is_terminal() && !Status::Running.is_terminal());
    }
}
