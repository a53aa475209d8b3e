//! F6: policy versions. The version a user accepted at sign-up is `users.policy_version`;
//! the published one is `POLICY_VERSION` (the privacy page's "Last updated" date, which a
//! test keeps in step). When the published version is newer than the accepted one, the
//! app shows a notice once: until the user acknowledges it (`policy_notice_seen`).

use crate::accounts::security_events::EventKind;
use crate::platform::db::{Db, DbError, Statement};
use serde::{Deserialize, Serialize};

pub use crate::accounts::queries::POLICY_VERSION;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyView {
    /// The version accepted at sign-up.
    pub accepted: String,
    /// The published version.
    pub current: &'static str,
    /// True when the published version is newer and its notice was not acknowledged.
    pub notice: bool,
}

/// Versions are ISO dates, so they compare as text.
pub fn view(accepted: &str, seen: Option<&str>, current: &'static str) -> PolicyView {
    let notice = current > accepted && seen.is_none_or(|s| s < current);
    PolicyView { accepted: accepted.to_owned(), current, notice }
}

#[derive(Deserialize)]
struct Row {
    policy_version: String,
    policy_notice_seen: Option<String>,
}

pub async fn of(db: &impl Db, user_id: &str) -> Result<Option<PolicyView>, DbError> {
    let row: Option<Row> = db.query_one(Statement::new("SELECT policy_version, policy_notice_seen FROM users WHERE id = ?").bind(user_id)).await?;
    Ok(row.map(|r| view(&r.policy_version, r.policy_notice_seen.as_deref(), POLICY_VERSION)))
}

/// Records that the notice of the published version was shown (once is enough).
pub async fn acknowledge(db: &impl Db, user_id: &str, device: &str, now_ms: i64) -> Result<(), DbError> {
    db.batch(vec![
        Statement::new(
            "INSERT INTO security_events (id, user_id, kind, device, created_at) SELECT ?, ?, ?, ?, ? \
             WHERE EXISTS (SELECT 1 FROM users WHERE id = ? AND (policy_notice_seen IS NULL OR policy_notice_seen < ?) AND policy_version < ?)",
        )
        .bind(crate::platform::ids::new_id("evt"))
        .bind(user_id)
        .bind(EventKind::PolicyNoticeSeen.as_str())
        .bind(device)
        .bind(now_ms)
        .bind(user_id)
        .bind(POLICY_VERSION)
        .bind(POLICY_VERSION),
        Statement::new("UPDATE users SET policy_notice_seen = ? WHERE id = ?").bind(POLICY_VERSION).bind(user_id),
    ])
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{block_on, SqliteDb};

    #[test]
    fn the_notice_shows_for_a_newer_version_until_acknowledged() {
        assert!(!view("2026-04-02", None, "2026-04-02").notice);
        assert!(view("2025-01-01", None, "2026-04-02").notice);
        assert!(view("2025-01-01", Some("2025-06-01"), "2026-04-02").notice);
        assert!(!view("2025-01-01", Some("2026-04-02"), "2026-04-02").notice);
    }

    #[test]
    fn acknowledging_hides_the_notice_and_is_recorded_once() {
        let db = SqliteDb::migrated();
        db.exec("INSERT INTO users (id, name, email, password_hash, policy_version, created_at, updated_at) VALUES ('u1', 'A', 'a@x.io', 'h', '2025-01-01', 0, 0)");
        assert!(block_on(of(&db, "u1")).unwrap().unwrap().notice);
        block_on(acknowledge(&db, "u1", "d", 1)).unwrap();
        block_on(acknowledge(&db, "u1", "d", 2)).unwrap();
        let v = block_on(of(&db, "u1")).unwrap().unwrap();
        assert_eq!((v.notice, v.accepted.as_str(), v.current), (false, "2025-01-01", POLICY_VERSION));
        assert_eq!(db.scalar("SELECT COUNT(*) FROM security_events WHERE kind = 'policy_notice_seen'"), 1);
    }

    #[test]
    fn the_terms_page_shows_its_date_too() {
        for page in [include_str!("../../public/privacy.html"), include_str!("../../public/terms.html")] {
            assert!(page.contains("<time datetime=\"") && page.contains("Last updated"));
        }
    }
}
