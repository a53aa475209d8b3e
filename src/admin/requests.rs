//! Stripe webhook events (re-run) and privacy requests (status), for the admin: billing's
//! `stripe_events` (migration 0006) and data rights' `privacy_requests` (0008).

use super::{audit, find_action, is_repeated_request, Action, Admin, NewAction};
use crate::accounts::security_events::EventKind;
use crate::http::pagination::Page;
use crate::http::problem::AppError;
use crate::platform::db::{Db, Statement};
use crate::platform::ports::Jobs;
use crate::platform::queue_messages::{QueueMessage, QueueName};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WebhookEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub processed_at: Option<i64>,
}

/// Billing's `stripe_events` (0006) as the admin sees them: `received` until the billing
/// consumer applied it, then its outcome (`applied`, `ignored`, `dead_lettered`).
const WEBHOOK_COLUMNS: &str = "SELECT * FROM (SELECT id, type, COALESCE(outcome, 'received') AS status, 0 AS attempts, \
    CAST(NULL AS TEXT) AS last_error, received_at AS created_at, processed_at FROM stripe_events) e";

pub async fn webhook_events(db: &impl Db, status: Option<&str>, page: &Page) -> Result<Vec<WebhookEvent>, AppError> {
    let statement = Statement::new(format!("{WEBHOOK_COLUMNS} WHERE (? IS NULL OR status = ?)")).bind(status).bind(status);
    Ok(db.query(page.newest_first(statement)).await?)
}

/// Hands a stored event to the billing queue again, whatever its state: the billing
/// consumer is idempotent by event id (E4), so a re-run can only finish what is missing.
pub async fn rerun_webhook_event(db: &impl Db, queue: &impl Jobs, admin: &Admin<'_>, id: &str, now: i64) -> Result<WebhookEvent, AppError> {
    let find = |id: String| async move { Ok::<_, AppError>(db.query_one::<WebhookEvent>(Statement::new(format!("{WEBHOOK_COLUMNS} WHERE id = ?")).bind(id)).await?) };
    let event = find(id.to_owned()).await?.ok_or(AppError::NotFound)?;
    if find_action(db, admin, Action::WebhookRerun).await?.is_some() {
        return Ok(event);
    }
    let action = NewAction { action: Action::WebhookRerun, target_user_id: None, target_id: Some(id), reason: &event.event_type, credits: None };
    let mut batch = vec![Statement::new("UPDATE stripe_events SET processed_at = NULL, outcome = NULL WHERE id = ?").bind(id)];
    batch.extend(audit(admin, &action, EventKind::AdminWebhookRerun, None, now));
    match db.batch(batch).await {
        Ok(_) => {}
        Err(e) if is_repeated_request(&e) => return Ok(event),
        Err(e) => return Err(e.into()),
    }
    queue.send(QueueName::Billing, &QueueMessage::StripeEvent { event_id: id.to_owned() }).await?;
    find(id.to_owned()).await?.ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PrivacyRequest {
    pub id: String,
    pub user_id: Option<String>,
    pub email: String,
    pub kind: String,
    pub message: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub const PRIVACY_STATUSES: [&str; 4] = ["received", "in_progress", "completed", "rejected"];

const PRIVACY_COLUMNS: &str = "SELECT id, user_id, email, kind, message, status, created_at, updated_at FROM privacy_requests";

pub async fn privacy_requests(db: &impl Db, status: Option<&str>, page: &Page) -> Result<Vec<PrivacyRequest>, AppError> {
    let statement = Statement::new(format!("{PRIVACY_COLUMNS} WHERE (? IS NULL OR status = ?)")).bind(status).bind(status);
    Ok(db.query(page.newest_first(statement)).await?)
}

pub async fn update_privacy_request(db: &impl Db, admin: &Admin<'_>, id: &str, status: &str, note: Option<&str>, now: i64) -> Result<PrivacyRequest, AppError> {
    if !PRIVACY_STATUSES.contains(&status) {
        return Err(AppError::validation("status", "Choose received, in_progress, completed or rejected."));
    }
    let note = note.map(super::parse_reason).transpose()?;
    let find = |id: String| async move { Ok::<_, AppError>(db.query_one::<PrivacyRequest>(Statement::new(format!("{PRIVACY_COLUMNS} WHERE id = ?")).bind(id)).await?) };
    let request = find(id.to_owned()).await?.ok_or(AppError::NotFound)?;
    if find_action(db, admin, Action::PrivacyRequestUpdate).await?.is_some() {
        return Ok(request);
    }
    let reason = note.map_or_else(|| format!("status: {status}"), |n| format!("status: {status}; {n}"));
    let action = NewAction {
        action: Action::PrivacyRequestUpdate,
        target_user_id: request.user_id.as_deref(),
        target_id: Some(id),
        reason: &reason,
        credits: None,
    };
    let mut batch = vec![Statement::new("UPDATE privacy_requests SET status = ?, updated_at = ? WHERE id = ?").bind(status).bind(now).bind(id)];
    batch.extend(audit(admin, &action, EventKind::AdminPrivacyRequestUpdated, Some(EventKind::PrivacyRequestUpdated), now));
    match db.batch(batch).await {
        Ok(_) => {}
        Err(e) if is_repeated_request(&e) => {}
        Err(e) => return Err(e.into()),
    }
    find(id.to_owned()).await?.ok_or(AppError::NotFound)
}
