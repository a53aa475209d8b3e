//! The admin area (G3): for accounts whose `users.role` is `admin` only. Everyone else
//! is told an admin route does not exist (404), never that it is forbidden.
//!
//! Every action is audited three ways in the batch that makes the change: a row in
//! `admin_actions` (whose unique `request_ref` makes the action happen once per
//! request), a security event of the admin, and, where it touches a user, a security
//! event in that user's activity.
//!
//! - `users`: find users, one user's read-only detail;
//! - `adjustments`: credit adjustments as `adjustment` ledger entries with a reason;
//! - `jobs`: failed and dead-lettered jobs, and their replay;
//! - `requests`: Stripe webhook events (re-run) and privacy requests (status).

pub mod adjustments;
pub mod jobs;
pub mod requests;
pub mod users;

use crate::accounts::security_events::{record, EventKind};
use crate::http::problem::AppError;
use crate::platform::db::{Db, DbError, Statement};
use serde::{Deserialize, Serialize};

/// The device label a user's activity shows for what an admin did to the account.
pub const SUPPORT_DEVICE: &str = "Blimari support";

/// Who is acting, from where, under which request reference.
pub struct Admin<'a> {
    pub user_id: &'a str,
    pub device: &'a str,
    /// The request's `Idempotency-Key`, or its request id: one action per reference.
    pub request_key: &'a str,
}

impl Admin<'_> {
    /// `{action}:{admin}:{key}`: unique per admin and request.
    pub fn reference(&self, action: Action) -> String {
        format!("{}:{}:{}", action.as_str(), self.user_id, self.request_key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    CreditAdjustment,
    JobReplay,
    WebhookRerun,
    PrivacyRequestUpdate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::CreditAdjustment => "credit_adjustment",
            Action::JobReplay => "job_replay",
            Action::WebhookRerun => "webhook_rerun",
            Action::PrivacyRequestUpdate => "privacy_request_update",
        }
    }
}

/// True when the user has the admin role.
pub async fn is_admin(db: &impl Db, user_id: &str) -> Result<bool, DbError> {
    #[derive(Deserialize)]
    struct Row {
        role: String,
    }
    let row: Option<Row> = db.query_one(Statement::new("SELECT role FROM users WHERE id = ?").bind(user_id)).await?;
    Ok(row.is_some_and(|r| r.role == "admin"))
}

/// What an admin did, as `admin_actions` keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionRecord {
    pub id: String,
    pub admin_id: String,
    pub action: String,
    pub target_user_id: Option<String>,
    pub target_id: Option<String>,
    pub reason: String,
    pub credits: Option<i64>,
    pub created_at: i64,
}

pub struct NewAction<'a> {
    pub action: Action,
    pub target_user_id: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub reason: &'a str,
    pub credits: Option<i64>,
}

/// The audit statements of one action: its row, the admin's event and the user's.
pub fn audit(admin: &Admin<'_>, new: &NewAction<'_>, admin_event: EventKind, user_event: Option<EventKind>, now_ms: i64) -> Vec<Statement> {
    let mut statements = vec![
        Statement::new(
            "INSERT INTO admin_actions (id, admin_id, action, target_user_id, target_id, reason, credits, request_ref, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(crate::platform::ids::new_id("adm"))
        .bind(admin.user_id)
        .bind(new.action.as_str())
        .bind(new.target_user_id)
        .bind(new.target_id)
        .bind(new.reason)
        .bind(new.credits)
        .bind(admin.reference(new.action))
        .bind(now_ms),
        record(admin.user_id, admin_event, admin.device, now_ms),
    ];
    if let (Some(user_id), Some(kind)) = (new.target_user_id, user_event) {
        statements.push(record(user_id, kind, SUPPORT_DEVICE, now_ms));
    }
    statements
}

/// A batch failed because this request's action was already recorded.
pub fn is_repeated_request(e: &DbError) -> bool {
    e.violates_unique("admin_actions", &["request_ref"])
}

pub async fn find_action(db: &impl Db, admin: &Admin<'_>, action: Action) -> Result<Option<ActionRecord>, DbError> {
    db.query_one(
        Statement::new(
            "SELECT id, admin_id, action, target_user_id, target_id, reason, credits, created_at FROM admin_actions WHERE request_ref = ?",
        )
        .bind(admin.reference(action)),
    )
    .await
}

/// A reason an admin gives: trimmed, 3–500 characters.
pub fn parse_reason(raw: &str) -> Result<&str, AppError> {
    let reason = raw.trim();
    let chars = reason.chars().count();
    if !(3..=500).contains(&chars) {
        return Err(AppError::validation("reason", "Give a reason of 3 to 500 characters; it is kept with the change."));
    }
    Ok(reason)
}

#[cfg(test)]
mod tests;
