//! Accounts: users, their sessions' rows and their emailed tokens, as SQL named by
//! intent. Handlers in `cf::auth` compose these into atomic batches.

use crate::http::pagination::Page;
use crate::platform::db::{Db, DbError, Statement};
use serde::{Deserialize, Serialize};

/// The privacy policy version a user accepts by signing up (F6): its "Last updated" date.
pub const POLICY_VERSION: &str = "2026-04-02";

pub const VERIFY_TOKEN_TTL_MS: i64 = 24 * crate::platform::clock::HOUR_MS;
pub const RESET_TOKEN_TTL_MS: i64 = crate::platform::clock::HOUR_MS;

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified_at: Option<i64>,
    pub password_hash: String,
    pub created_at: i64,
}

/// What `GET /api/me` shows.
#[derive(Debug, Serialize)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub created_at: i64,
}

impl From<Me> for Profile {
    fn from(me: Me) -> Self {
        Profile { id: me.id, name: me.name, email: me.email, email_verified: me.email_verified_at.is_some(), created_at: me.created_at }
    }
}

impl From<&User> for Profile {
    fn from(u: &User) -> Self {
        Profile {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified_at.is_some(),
            created_at: u.created_at,
        }
    }
}

pub async fn find_user_by_email(db: &impl Db, email: &str) -> Result<Option<User>, DbError> {
    db.query_one(
        Statement::new("SELECT id, name, email, email_verified_at, password_hash, created_at FROM users WHERE email = ?")
            .bind(email),
    )
    .await
}

pub async fn find_user(db: &impl Db, id: &str) -> Result<Option<User>, DbError> {
    db.query_one(
        Statement::new("SELECT id, name, email, email_verified_at, password_hash, created_at FROM users WHERE id = ?").bind(id),
    )
    .await
}

/// What `GET /api/me` needs in ONE round trip (an authenticated GET costs one KV read and
/// one query): the user, whether they are an admin, and the newest address still waiting
/// for confirmation (what [`pending_email`] answers on its own).
#[derive(Debug, Clone, Deserialize)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified_at: Option<i64>,
    pub created_at: i64,
    pub role: String,
    pub pending_email: Option<String>,
    pub policy_version: String,
    pub policy_notice_seen: Option<String>,
}

pub async fn find_me(db: &impl Db, id: &str, now_ms: i64) -> Result<Option<Me>, DbError> {
    db.query_one(
        Statement::new(
            "SELECT id, name, email, email_verified_at, created_at, role, policy_version, policy_notice_seen, \
             (SELECT t.email FROM email_tokens t WHERE t.user_id = users.id AND t.purpose = 'verify_email' \
             AND t.email <> users.email AND t.expires_at > ? \
             AND NOT EXISTS (SELECT 1 FROM email_token_uses u WHERE u.token_hash = t.token_hash) \
             ORDER BY t.created_at DESC LIMIT 1) AS pending_email \
             FROM users WHERE id = ?",
        )
        .bind(now_ms)
        .bind(id),
    )
    .await
}

pub fn insert_user(id: &str, name: &str, email: &str, password_hash: &str, now_ms: i64) -> Statement {
    Statement::new(
        "INSERT INTO users (id, name, email, password_hash, policy_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(name)
    .bind(email)
    .bind(password_hash)
    .bind(POLICY_VERSION)
    .bind(now_ms)
    .bind(now_ms)
}

pub fn update_password_hash(user_id: &str, password_hash: &str, now_ms: i64) -> Statement {
    Statement::new("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?").bind(password_hash).bind(now_ms).bind(user_id)
}

pub fn update_name(user_id: &str, name: &str, now_ms: i64) -> Statement {
    Statement::new("UPDATE users SET name = ?, updated_at = ? WHERE id = ?").bind(name).bind(now_ms).bind(user_id)
}

pub fn insert_session(id: &str, user_id: &str, token_hash: &str, device: &str, now_ms: i64, expires_at: i64) -> Statement {
    Statement::new(
        "INSERT INTO sessions (id, user_id, token_hash, device, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(user_id)
    .bind(token_hash)
    .bind(device)
    .bind(now_ms)
    .bind(now_ms)
    .bind(expires_at)
}

pub fn touch_session(id: &str, now_ms: i64) -> Statement {
    Statement::new("UPDATE sessions SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL").bind(now_ms).bind(id)
}

/// A session row that has not been ended.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionRow {
    pub id: String,
    pub token_hash: String,
    pub device: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

pub async fn open_sessions(db: &impl Db, user_id: &str) -> Result<Vec<SessionRow>, DbError> {
    db.query(
        Statement::new(
            "SELECT id, token_hash, device, created_at, last_seen_at, expires_at FROM sessions \
             WHERE user_id = ? AND ended_at IS NULL ORDER BY last_seen_at DESC",
        )
        .bind(user_id),
    )
    .await
}

pub async fn session_is_open(db: &impl Db, session_id: &str) -> Result<bool, DbError> {
    let rows = db.run(Statement::new("SELECT 1 AS open FROM sessions WHERE id = ? AND ended_at IS NULL").bind(session_id)).await?;
    Ok(!rows.rows.is_empty())
}

/// Why a session ended (kept in `sessions.end_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Expired,
    Replaced,
    SignedOut,
    SignedOutEverywhere,
    Revoked,
    PasswordChanged,
    PasswordReset,
    /// F3: the account was closed.
    AccountClosed,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::Replaced => "replaced",
            EndReason::SignedOut => "signed_out",
            EndReason::SignedOutEverywhere => "signed_out_everywhere",
            EndReason::Revoked => "revoked",
            EndReason::PasswordChanged => "password_changed",
            EndReason::PasswordReset => "password_reset",
            EndReason::AccountClosed => "account_closed",
        }
    }
}

pub fn end_session(session_id: &str, user_id: &str, reason: EndReason, now_ms: i64) -> Statement {
    Statement::new("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND user_id = ? AND ended_at IS NULL")
        .bind(now_ms)
        .bind(reason.as_str())
        .bind(session_id)
        .bind(user_id)
}

/// Ends every open session of a user, but `keep` (the one making the request) if given.
pub fn end_sessions_of_user(user_id: &str, keep: Option<&str>, reason: EndReason, now_ms: i64) -> Statement {
    Statement::new("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL AND id <> ?")
        .bind(now_ms)
        .bind(reason.as_str())
        .bind(user_id)
        .bind(keep.unwrap_or(""))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::ResetPassword => "reset_password",
        }
    }
}

pub fn insert_email_token(token_hash: &str, user_id: &str, purpose: TokenPurpose, email: &str, now_ms: i64, ttl_ms: i64) -> Statement {
    Statement::new(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(email)
    .bind(now_ms)
    .bind(now_ms + ttl_ms)
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmailToken {
    pub user_id: String,
    pub email: String,
}

/// A token that exists, has this purpose, is unused and unexpired.
pub async fn find_usable_token(db: &impl Db, token_hash: &str, purpose: TokenPurpose, now_ms: i64) -> Result<Option<EmailToken>, DbError> {
    db.query_one(
        Statement::new(
            "SELECT user_id, email FROM email_tokens t WHERE token_hash = ? AND purpose = ? AND expires_at > ? \
             AND NOT EXISTS (SELECT 1 FROM email_token_uses u WHERE u.token_hash = t.token_hash)",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now_ms),
    )
    .await
}

/// Uses a token. Put it in the batch that acts on the token: a second use violates the
/// primary key of `email_token_uses` and the whole batch rolls back.
pub fn use_token(token_hash: &str, now_ms: i64) -> Statement {
    Statement::new("INSERT INTO email_token_uses (token_hash, used_at) VALUES (?, ?)").bind(token_hash).bind(now_ms)
}

/// True when a constraint error came from a token's second use.
pub fn is_token_reuse(error: &DbError) -> bool {
    error.violates_primary_key("email_token_uses", "token_hash")
}

/// Older tokens of the same purpose stop working when a new one is sent.
pub fn retire_tokens(user_id: &str, purpose: TokenPurpose, now_ms: i64) -> Statement {
    Statement::new(
        "INSERT INTO email_token_uses (token_hash, used_at) SELECT token_hash, ? FROM email_tokens t \
         WHERE user_id = ? AND purpose = ? AND NOT EXISTS (SELECT 1 FROM email_token_uses u WHERE u.token_hash = t.token_hash)",
    )
    .bind(now_ms)
    .bind(user_id)
    .bind(purpose.as_str())
}

/// The address waiting for confirmation after a change of email, if any.
pub async fn pending_email(db: &impl Db, user: &User, now_ms: i64) -> Result<Option<String>, DbError> {
    #[derive(Deserialize)]
    struct Row {
        email: String,
    }
    let row: Option<Row> = db
        .query_one(
            Statement::new(
                "SELECT email FROM email_tokens t WHERE user_id = ? AND purpose = 'verify_email' AND email <> ? AND expires_at > ? \
                 AND NOT EXISTS (SELECT 1 FROM email_token_uses u WHERE u.token_hash = t.token_hash) \
                 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(&user.id)
            .bind(&user.email)
            .bind(now_ms),
        )
        .await?;
    Ok(row.map(|r| r.email))
}

pub fn set_email_verified(user_id: &str, email: &str, now_ms: i64) -> Statement {
    Statement::new("UPDATE users SET email = ?, email_verified_at = ?, updated_at = ? WHERE id = ?")
        .bind(email)
        .bind(now_ms)
        .bind(now_ms)
        .bind(user_id)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityEntry {
    pub id: String,
    pub kind: String,
    pub device: Option<String>,
    pub created_at: i64,
}

/// A5: the user's security events, newest first.
pub async fn activity_page(db: &impl Db, user_id: &str, page: &Page) -> Result<Vec<ActivityEntry>, DbError> {
    db.query(page.newest_first(Statement::new("SELECT id, kind, device, created_at FROM security_events WHERE user_id = ?").bind(user_id)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_version_is_the_published_date() {
        let html = include_str!("../../public/privacy.html");
        assert!(html.contains(&format!("datetime=\"{POLICY_VERSION}\"")));
    }

    /// `find_me` answers in one query what `find_user`, `pending_email` and the role
    /// lookup answer in three.
    #[test]
    fn find_me_is_the_three_lookups_in_one() {
        use crate::testing::{block_on, SqliteDb};
        let db = SqliteDb::migrated();
        let now = 1_800_000_000_000;
        block_on(async {
            db.run(insert_user("usr_1", "Ann", "ann@example.com", "h", now)).await.unwrap();
            let me = find_me(&db, "usr_1", now).await.unwrap().unwrap();
            assert_eq!((me.id.as_str(), me.email.as_str(), me.role.as_str(), me.pending_email), ("usr_1", "ann@example.com", "user", None));
            db.run(insert_email_token("old", "usr_1", TokenPurpose::VerifyEmail, "old@example.com", now - 10, VERIFY_TOKEN_TTL_MS)).await.unwrap();
            db.run(insert_email_token("new", "usr_1", TokenPurpose::VerifyEmail, "new@example.com", now - 5, VERIFY_TOKEN_TTL_MS)).await.unwrap();
            db.run(insert_email_token("rst", "usr_1", TokenPurpose::ResetPassword, "ann@example.com", now, RESET_TOKEN_TTL_MS)).await.unwrap();
            db.run(Statement::new("UPDATE users SET role = 'admin' WHERE id = ?").bind("usr_1")).await.unwrap();
            let user = find_user(&db, "usr_1").await.unwrap().unwrap();
            let me = find_me(&db, "usr_1", now).await.unwrap().unwrap();
            assert_eq!(me.pending_email, pending_email(&db, &user, now).await.unwrap());
            assert_eq!(me.pending_email.as_deref(), Some("new@example.com"));
            assert_eq!(me.role, "admin");
            assert!(crate::admin::is_admin(&db, "usr_1").await.unwrap());
            // Expired links are not pending; an unknown user is nobody.
            assert_eq!(find_me(&db, "usr_1", now + VERIFY_TOKEN_TTL_MS).await.unwrap().unwrap().pending_email, None);
            assert!(find_me(&db, "usr_404", now).await.unwrap().is_none());
        });
    }
}
