//! Cron triggers: which task each schedule runs, and the retention rules the daily
//! run enforces. The schedules here must match `[triggers]` in `wrangler.toml`.

/// Every minute: stuck jobs, unsent outbox rows, stale holds.
pub const SWEEP_CRON: &str = "* * * * *";
/// Daily at 03:17 UTC: the retention purge and the billing reconciliation.
pub const RETENTION_CRON: &str = "17 3 * * *";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronTask {
    Sweep,
    Retention,
}

impl CronTask {
    pub fn for_schedule(cron: &str) -> Option<CronTask> {
        match cron {
            SWEEP_CRON => Some(CronTask::Sweep),
            RETENTION_CRON => Some(CronTask::Retention),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CronTask::Sweep => "sweep",
            CronTask::Retention => "retention",
        }
    }
}

/// What the daily retention run needs besides the database and the bucket: the
/// session store (KV), the mailer (deletion receipts) and its sender, and the run's
/// budget of operations (`privacy::retention`).
pub struct RetentionPorts<'a, S, M> {
    pub sessions: &'a S,
    pub mailer: &'a M,
    pub from: &'a str,
    pub budget: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schedule_runs_its_task() {
        assert_eq!(CronTask::for_schedule(SWEEP_CRON), Some(CronTask::Sweep));
        assert_eq!(CronTask::for_schedule(RETENTION_CRON), Some(CronTask::Retention));
        assert_eq!(CronTask::for_schedule("0 0 * * *"), None);
    }

    #[test]
    fn wrangler_toml_declares_both_schedules() {
        let toml = include_str!("../../wrangler.toml");
        assert!(toml.contains(&format!("\"{SWEEP_CRON}\"")));
        assert!(toml.contains(&format!("\"{RETENTION_CRON}\"")));
    }
}

/// What one cron run did, recorded in `cron_runs`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CronRun {
    pub id: String,
    pub task: String,
    pub cron: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub outcome: String,
    pub detail: String,
}

/// The sweeper: finishes upload writes and deletes that a dying worker left halfway,
/// then the jobs' work (`generation::service::sweep_jobs`). Each step, and each item in
/// it, fails on its own: one broken row never stops recovery for everyone else.
pub async fn sweep(
    db: &impl crate::platform::db::Db,
    blobs: &impl crate::platform::ports::Blobs,
    queues: &impl crate::platform::ports::Jobs,
    now_ms: i64,
) -> Result<String, crate::platform::db::DbError> {
    let uploads = match crate::library::uploads::interrupted(db, now_ms, 100).await {
        Ok(interrupted) => crate::library::uploads::remove_each(db, blobs, &interrupted, now_ms).await,
        Err(e) => {
            crate::platform::log::emit(crate::platform::log::Level::Error, "listing interrupted uploads failed", serde_json::json!({ "error": e.to_string() }));
            crate::library::uploads::Removal { removed: 0, failed: 1 }
        }
    };
    let jobs = crate::generation::service::sweep_jobs(db, queues, now_ms).await;
    let detail = format!(
        "interrupted uploads removed: {} (failed {}); expired leases requeued: {}; jobs failed: {}; stale jobs resent: {}; outbox sent: {}; job errors: {}",
        uploads.removed, uploads.failed, jobs.requeued, jobs.failed, jobs.resent, jobs.sent, jobs.errors
    );
    if uploads.failed + jobs.errors > 0 {
        return Err(crate::platform::db::DbError::Failed { message: detail });
    }
    Ok(detail)
}

/// The daily run: every row of the retention table (F4), within the run's budget.
pub async fn retention<S: crate::accounts::sessions::SessionStore, M: crate::accounts::mail::Mailer>(
    db: &impl crate::platform::db::Db,
    blobs: &impl crate::platform::ports::Blobs,
    ports: &RetentionPorts<'_, S, M>,
    now_ms: i64,
) -> Result<String, String> {
    let report = crate::privacy::retention::enforce(
        &crate::privacy::retention::Ports { db, blobs, sessions: ports.sessions, mailer: ports.mailer, from: ports.from },
        now_ms,
        ports.budget,
    )
    .await;
    let detail = report.detail();
    if report.failures > 0 {
        return Err(detail);
    }
    Ok(detail)
}

/// E4: fulfils paid Checkout Sessions of the last three days that have no grant (their
/// webhook was lost) and reports what it fixed; skipped when Stripe is not configured.
pub async fn reconcile_billing<P: crate::credits::stripe::Payments>(db: &impl crate::platform::db::Db, payments: Option<&P>, now_ms: i64) -> Result<String, String> {
    let Some(payments) = payments else { return Ok("billing reconciliation skipped: Stripe is not configured".into()) };
    let r = crate::credits::billing::reconcile(db, payments, now_ms).await?;
    let detail = format!("billing sessions checked: {}; fulfilled by reconciliation: {}; errors: {}", r.checked, r.fulfilled, r.errors);
    if r.errors > 0 {
        return Err(detail);
    }
    Ok(detail)
}

/// Runs the task for `cron` and records the run, success or failure.
#[allow(clippy::too_many_arguments)]
pub async fn run_scheduled<P: crate::credits::stripe::Payments, S: crate::accounts::sessions::SessionStore, M: crate::accounts::mail::Mailer>(
    db: &impl crate::platform::db::Db,
    blobs: &impl crate::platform::ports::Blobs,
    queues: &impl crate::platform::ports::Jobs,
    payments: Option<&P>,
    retention_ports: &RetentionPorts<'_, S, M>,
    clock: &impl crate::platform::clock::Clock,
    cron: &str,
) -> CronRun {
    let started_at = clock.now_ms();
    let task = CronTask::for_schedule(cron);
    let (outcome, detail) = match task {
        Some(CronTask::Sweep) => match sweep(db, blobs, queues, started_at).await {
            Ok(detail) => ("ok", detail),
            Err(e) => ("error", e.to_string()),
        },
        // Each part runs whatever the other did, and both are reported.
        Some(CronTask::Retention) => {
            let purge = retention(db, blobs, retention_ports, started_at).await;
            let billing = reconcile_billing(db, payments, started_at).await;
            let outcome = if purge.is_ok() && billing.is_ok() { "ok" } else { "error" };
            let part = |r: Result<String, String>| r.unwrap_or_else(|e| e);
            (outcome, format!("{}; {}", part(purge), part(billing)))
        }
        None => ("error", "no task is scheduled on this cron expression".to_string()),
    };
    let run = CronRun {
        id: crate::platform::ids::new_id("crn"),
        task: task.map_or("unknown", CronTask::name).to_string(),
        cron: cron.to_string(),
        started_at,
        finished_at: clock.now_ms(),
        outcome: outcome.to_string(),
        detail,
    };
    let insert = crate::platform::db::Statement::new(
        "INSERT INTO cron_runs (id, task, cron, started_at, finished_at, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&run.id)
    .bind(&run.task)
    .bind(&run.cron)
    .bind(run.started_at)
    .bind(run.finished_at)
    .bind(&run.outcome)
    .bind(&run.detail);
    if let Err(e) = db.run(insert).await {
        crate::platform::log::emit(crate::platform::log::Level::Error, "recording a cron run failed", serde_json::json!({ "task": run.task, "error": e.to_string() }));
    }
    run
}

pub async fn recent_runs(db: &impl crate::platform::db::Db, limit: i64) -> Result<Vec<CronRun>, crate::platform::db::DbError> {
    db.query(
        crate::platform::db::Statement::new(
            "SELECT id, task, cron, started_at, finished_at, outcome, detail FROM cron_runs ORDER BY started_at DESC LIMIT ?",
        )
        .bind(limit),
    )
    .await
}
