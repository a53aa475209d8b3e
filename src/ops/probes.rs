//! Diagnostic probes: messages that prove, end to end, that a queue delivers, retries
//! with backoff and dead-letters, and that D1 round-trips. Each step a probe takes is a
//! row in `probe_events`, which the development-only `/api/_diag/probes/{id}` shows.

use crate::platform::db::{Db, DbError, Statement};
use crate::platform::queue_messages::{backoff_seconds, Outcome, QueueName};
use serde::Serialize;

#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct ProbeEvent {
    pub queue: String,
    pub event: String,
    pub attempt: i64,
    pub created_at: i64,
}

pub async fn record_event(db: &impl Db, probe_id: &str, queue: &str, event: &str, now_ms: i64) -> Result<i64, DbError> {
    // The attempt number is computed in the same statement, so two deliveries racing
    // still get distinct numbers (the UNIQUE constraint refuses a duplicate).
    let rows = db
        .run(
            Statement::new(
                "INSERT INTO probe_events (probe_id, queue, event, attempt, created_at) \
                 SELECT ?, ?, ?, COUNT(*) + 1, ? FROM probe_events WHERE probe_id = ? AND queue = ? \
                 RETURNING attempt",
            )
            .bind(probe_id)
            .bind(queue)
            .bind(event)
            .bind(now_ms)
            .bind(probe_id)
            .bind(queue),
        )
        .await?
        .rows;
    Ok(rows.first().and_then(|r| r.get("attempt")).and_then(|v| v.as_i64()).unwrap_or(1))
}

pub async fn list_events(db: &impl Db, probe_id: &str) -> Result<Vec<ProbeEvent>, DbError> {
    db.query(
        Statement::new(
            "SELECT queue, event, attempt, created_at FROM probe_events WHERE probe_id = ? ORDER BY created_at, queue, attempt",
        )
        .bind(probe_id),
    )
    .await
}

/// A probe delivered on `queue`: recorded; a failing probe on a work queue asks for a
/// retry with backoff; on a dead-letter queue it is recorded as dead-lettered.
pub async fn consume(db: &impl Db, queue: QueueName, probe_id: &str, fail: bool, now_ms: i64) -> Outcome {
    let event = match (queue.is_dead_letter(), fail) {
        (true, _) => "dead_lettered",
        (false, true) => "failed",
        (false, false) => "delivered",
    };
    match record_event(db, probe_id, queue.short(), event, now_ms).await {
        Ok(attempt) if event == "failed" => Outcome::Retry { delay_seconds: backoff_seconds(attempt as u32, 8) },
        Ok(_) => Outcome::Ack,
        Err(_) => Outcome::Retry { delay_seconds: 1 },
    }
}
