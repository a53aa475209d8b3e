//! Finding users and one user's read-only detail: profile, role, balance, recent jobs
//! (without their prompts), open sessions, recent activity and adjustments.

use crate::accounts::queries::{self as acc};
use crate::credits::ledger::{self, Balance};
use crate::http::problem::AppError;
use crate::platform::db::{Db, Statement};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserSummary {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub email_verified_at: Option<i64>,
    pub created_at: i64,
}

const SUMMARY: &str = "SELECT id, name, email, role, email_verified_at, created_at FROM users";

/// By exact id, or by a part of the email address (case-insensitive), newest first.
pub async fn search(db: &impl Db, query: &str, limit: i64) -> Result<Vec<UserSummary>, AppError> {
    let q = query.trim();
    if q.is_empty() || q.chars().count() > 254 {
        return Err(AppError::validation("q", "Search by an email address (or part of one) or a user id."));
    }
    if q.starts_with("usr_") {
        return Ok(db.query(Statement::new(format!("{SUMMARY} WHERE id = ?")).bind(q)).await?);
    }
    let like = format!("%{}%", q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    Ok(db
        .query(
            Statement::new(format!("{SUMMARY} WHERE lower(email) LIKE ? ESCAPE '\\' ORDER BY created_at DESC, id DESC LIMIT ?"))
                .bind(like)
                .bind(limit),
        )
        .await?)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecentJob {
    pub id: String,
    pub content_type: String,
    pub status: String,
    pub price: i64,
    pub attempts: i64,
    pub failure_reason: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionSummary {
    pub id: String,
    pub device: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActivitySummary {
    pub kind: String,
    pub device: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Serialize)]
pub struct UserDetail {
    pub user: UserSummary,
    pub credits: Balance,
    pub recent_jobs: Vec<RecentJob>,
    pub sessions: Vec<SessionSummary>,
    pub activity: Vec<ActivitySummary>,
    pub adjustments: Vec<super::ActionRecord>,
}

pub async fn detail(db: &impl Db, user_id: &str) -> Result<UserDetail, AppError> {
    let user: UserSummary =
        db.query_one(Statement::new(format!("{SUMMARY} WHERE id = ?")).bind(user_id)).await?.ok_or(AppError::NotFound)?;
    let recent_jobs = db
        .query(
            Statement::new(
                "SELECT id, content_type, status, price, attempts, failure_reason, created_at, finished_at FROM generation_jobs \
                 WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT 20",
            )
            .bind(user_id),
        )
        .await?;
    let sessions = acc::open_sessions(db, user_id)
        .await?
        .into_iter()
        .map(|s| SessionSummary { id: s.id, device: s.device, created_at: s.created_at, last_seen_at: s.last_seen_at })
        .collect();
    let activity = db
        .query(
            Statement::new("SELECT kind, device, created_at FROM security_events WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT 20")
                .bind(user_id),
        )
        .await?;
    let adjustments = db
        .query(
            Statement::new(
                "SELECT id, admin_id, action, target_user_id, target_id, reason, credits, created_at FROM admin_actions \
                 WHERE target_user_id = ? AND action = 'credit_adjustment' ORDER BY created_at DESC, id DESC LIMIT 20",
            )
            .bind(user_id),
        )
        .await?;
    Ok(UserDetail { credits: ledger::balance(db, user_id).await?, user, recent_jobs, sessions, activity, adjustments })
}
