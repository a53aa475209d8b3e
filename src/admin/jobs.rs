//! Failed and dead-lettered jobs (G3, D8) and their replay.
//!
//! A failed job has settled (its hold released under `settle:{job}`), so it is never run
//! again itself. A replay is a new job with the same brand snapshot, type and prompt: a
//! new hold, its own settlement reference, the normal queue path, so it runs and settles
//! exactly once like any job. `job_replays` (primary key: the failed job) lets a failed
//! job be replayed once; a repeated request answers with the replay already made.

use super::{audit, Action, Admin, NewAction};
use crate::accounts::security_events::EventKind;
use crate::credits::ledger;
use crate::generation::jobs::{self, NewJob, Status};
use crate::generation::service;
use crate::http::pagination::Page;
use crate::http::problem::AppError;
use crate::platform::db::{Db, DbError, Statement};
use crate::platform::ports::Jobs;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobSummary {
    pub id: String,
    pub user_id: String,
    pub content_type: String,
    pub status: String,
    pub price: i64,
    pub attempts: i64,
    pub failure_reason: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// The job that replayed this one, if any.
    pub replayed_as: Option<String>,
}

const SUMMARY: &str = "SELECT id, user_id, content_type, status, price, attempts, failure_reason, created_at, finished_at, \
    (SELECT replay_job_id FROM job_replays WHERE job_replays.job_id = generation_jobs.id) AS replayed_as FROM generation_jobs";

/// `failed` (dead-lettered jobs end failed too), `queued` or `running`, newest first.
pub async fn list(db: &impl Db, status: &str, page: &Page) -> Result<Vec<JobSummary>, AppError> {
    if !matches!(status, "failed" | "queued" | "running") {
        return Err(AppError::validation("status", "Choose failed, queued or running."));
    }
    Ok(db.query(page.newest_first(Statement::new(format!("{SUMMARY} WHERE status = ?")).bind(status))).await?)
}

pub async fn find(db: &impl Db, id: &str) -> Result<Option<JobSummary>, DbError> {
    db.query_one(Statement::new(format!("{SUMMARY} WHERE id = ?")).bind(id)).await
}

pub struct Replayed {
    pub original: JobSummary,
    pub replay: JobSummary,
    /// True when this job had been replayed before (nothing new was made now).
    pub existing: bool,
}

async fn existing_replay(db: &impl Db, original: JobSummary) -> Result<Replayed, AppError> {
    let replay_id = original.replayed_as.clone().ok_or_else(|| AppError::internal("replay without its row"))?;
    let replay = find(db, &replay_id).await?.ok_or_else(|| AppError::internal("replayed job vanished"))?;
    Ok(Replayed { original, replay, existing: true })
}

pub async fn replay(db: &impl Db, queue: &impl Jobs, admin: &Admin<'_>, job_id: &str, now: i64) -> Result<Replayed, AppError> {
    let job = jobs::find_any(db, job_id).await?.ok_or(AppError::NotFound)?;
    let original = find(db, job_id).await?.ok_or(AppError::NotFound)?;
    if original.replayed_as.is_some() {
        return existing_replay(db, original).await;
    }
    if job.status != Status::Failed {
        return Err(AppError::Conflict { detail: "Only failed jobs can be replayed; this one has not failed.".into() });
    }
    let id = crate::platform::ids::new_id("gen");
    let new = NewJob {
        id: &id,
        user_id: &job.user_id,
        brand_id: &job.brand_id,
        brand_snapshot: &job.brand_snapshot,
        content_type: &job.content_type,
        prompt: &job.prompt,
        price: job.price,
        idempotency_key: None,
        request_hash: &job.request_hash,
    };
    let reason = format!("replay of {job_id}");
    let action = NewAction { action: Action::JobReplay, target_user_id: Some(&job.user_id), target_id: Some(job_id), reason: &reason, credits: None };
    let mut batch = vec![jobs::insert(&new, now)];
    batch.extend(ledger::hold(&job.user_id, &id, job.price, now));
    batch.push(
        Statement::new("INSERT INTO job_replays (job_id, replay_job_id, admin_id, created_at) VALUES (?, ?, ?, ?)")
            .bind(job_id)
            .bind(&id)
            .bind(admin.user_id)
            .bind(now),
    );
    batch.extend(audit(admin, &action, EventKind::AdminJobReplayed, Some(EventKind::GenerationReplayed), now));
    if let Err(e) = db.batch(batch).await {
        if e.violates_primary_key("job_replays", "job_id") || super::is_repeated_request(&e) {
            let original = find(db, job_id).await?.ok_or(AppError::NotFound)?;
            return existing_replay(db, original).await;
        }
        if ledger::is_insufficient(&e) {
            let b = ledger::balance(db, &job.user_id).await?;
            return Err(AppError::PaymentRequired {
                detail: format!("The replay costs {} credits and the user has {}. Adjust their credits first.", job.price, b.balance),
            });
        }
        return Err(e.into());
    }
    service::enqueue(db, queue, &id, now).await;
    let original = find(db, job_id).await?.ok_or(AppError::NotFound)?;
    let replay = find(db, &id).await?.ok_or_else(|| AppError::internal("replay vanished"))?;
    Ok(Replayed { original, replay, existing: false })
}
