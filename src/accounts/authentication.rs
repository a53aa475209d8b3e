//! Who is calling: the session cookie's token, resolved through the session store (KV)
//! and, for state changes, confirmed in the database (README, "Sessions").

use crate::accounts::queries::{self as acc, EndReason};
use crate::accounts::sessions::{self, Freshness, Lifetimes, SessionStore};
use crate::http::problem::AppError;
use crate::http::routes::Access;
use crate::platform::db::Db;
use crate::platform::log::{self, Level};

/// The signed-in session making the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: String,
    pub session_id: String,
}

/// Resolves the presented token for a route of the given access. State-changing
/// requests also confirm in the database that the session was not revoked: KV reads
/// in other locations may lag a revocation by up to 60 s, the database does not.
pub async fn authenticate(
    store: &impl SessionStore,
    db: &impl Db,
    token: Option<&str>,
    access: Access,
    lifetimes: Lifetimes,
    now: i64,
) -> Result<SignedIn, AppError> {
    let token = token.ok_or(AppError::Unauthorized)?;
    let token_hash = sessions::token_hash(token);
    let mut record = store.get(&token_hash).await?.ok_or(AppError::Unauthorized)?;
    match record.freshness(now, lifetimes) {
        Freshness::Expired => {
            store.delete(&token_hash).await?;
            db.run(acc::end_session(&record.session_id, &record.user_id, EndReason::Expired, now)).await?;
            return Err(AppError::Unauthorized);
        }
        Freshness::ValidTouch => {
            // The database first: a session it has ended is gone, even if deleting its
            // KV record failed when it was revoked.
            if db.run(acc::touch_session(&record.session_id, now)).await?.changes == 0 {
                let _ = store.delete(&token_hash).await;
                return Err(AppError::Unauthorized);
            }
            // Best effort: KV allows one write per key per second, and parallel requests
            // of one session all reach the refresh at once. A lost write only means the
            // next request refreshes again.
            record.last_seen_at = now;
            if let Err(e) = store.put(&token_hash, &record, record.kv_ttl_seconds(now, lifetimes)).await {
                log::emit(Level::Warn, "session refresh not written to KV", serde_json::json!({ "session_id": record.session_id, "error": e.0 }));
            }
        }
        Freshness::Valid => {}
    }
    if access == Access::ConfirmedSession && !acc::session_is_open(db, &record.session_id).await? {
        store.delete(&token_hash).await?;
        return Err(AppError::Unauthorized);
    }
    Ok(SignedIn { user_id: record.user_id, session_id: record.session_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::sessions::{SessionRecord, TOUCH_TEST_LIFETIMES as LIFETIMES};
    use crate::platform::db::Statement;
    use crate::testing::{block_on, MemorySessions, SqliteDb};

    const T0: i64 = 1_800_000_000_000;

    /// A signed-in user with one session row and its KV record; returns the token.
    fn signed_in(db: &SqliteDb, store: &MemorySessions) -> String {
        let token = sessions::new_token();
        let hash = sessions::token_hash(&token);
        block_on(db.batch(vec![
            acc::insert_user("usr_1", "Ada", "ada@example.com", "x", T0),
            acc::insert_session("ses_1", "usr_1", &hash, "Firefox on Linux", T0, T0 + LIFETIMES.absolute_ms),
        ]))
        .unwrap();
        let record = SessionRecord { session_id: "ses_1".into(), user_id: "usr_1".into(), created_at: T0, last_seen_at: T0, expires_at: T0 + LIFETIMES.absolute_ms };
        block_on(store.put(&hash, &record, 60)).unwrap();
        token
    }

    fn auth(store: &MemorySessions, db: &SqliteDb, token: &str, access: Access, now: i64) -> Result<SignedIn, AppError> {
        block_on(authenticate(store, db, Some(token), access, LIFETIMES, now))
    }

    #[test]
    fn a_revoked_session_whose_kv_delete_failed_is_refused_at_its_next_refresh() {
        let (db, store) = (SqliteDb::migrated(), MemorySessions::default());
        let token = signed_in(&db, &store);
        // Revoked in the database; the KV delete failed, so the record is still there.
        block_on(db.run(acc::end_session("ses_1", "usr_1", EndReason::Revoked, T0 + 1))).unwrap();
        let later = T0 + sessions::touch_interval_ms(LIFETIMES) + 1;
        assert_eq!(auth(&store, &db, &token, Access::Session, later), Err(AppError::Unauthorized));
        assert!(store.records.borrow().is_empty(), "the stale KV record is removed");
    }

    #[test]
    fn a_refresh_that_kv_refuses_still_answers_the_request() {
        let (db, store) = (SqliteDb::migrated(), MemorySessions::default());
        let token = signed_in(&db, &store);
        store.fail_puts.set(5);
        let later = T0 + sessions::touch_interval_ms(LIFETIMES) + 1;
        for _ in 0..3 {
            assert!(auth(&store, &db, &token, Access::Session, later).is_ok());
        }
        assert_eq!(db.scalar("SELECT last_seen_at FROM sessions WHERE id = 'ses_1'"), later);
    }

    #[test]
    fn a_state_change_confirms_the_session_in_the_database() {
        let (db, store) = (SqliteDb::migrated(), MemorySessions::default());
        let token = signed_in(&db, &store);
        assert!(auth(&store, &db, &token, Access::ConfirmedSession, T0 + 1).is_ok());
        block_on(db.run(Statement::new("UPDATE sessions SET ended_at = 1"))).unwrap();
        assert_eq!(auth(&store, &db, &token, Access::Session, T0 + 2).map(|s| s.user_id), Ok("usr_1".into()), "reads may lag");
        assert_eq!(auth(&store, &db, &token, Access::ConfirmedSession, T0 + 3), Err(AppError::Unauthorized));
    }
}
