//! Who is calling: the session cookie's token, resolved through the session store (KV)
//! and, for state changes, confirmed in the database (README, "Sessions").

use crate::accounts::queries::{self as acc, EndReason};
use crate::accounts::sessions::{self, Freshness, Lifetimes, SessionStore};
use crate::http::problem::AppError;
use crate::http::routes::Access;
use crate::platform::db::Db;

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
            record.last_seen_at = now;
            store.put(&token_hash, &record, record.kv_ttl_seconds(now, lifetimes)).await?;
            db.run(acc::touch_session(&record.session_id, now)).await?;
        }
        Freshness::Valid => {}
    }
    if access == Access::ConfirmedSession && !acc::session_is_open(db, &record.session_id).await? {
        store.delete(&token_hash).await?;
        return Err(AppError::Unauthorized);
    }
    Ok(SignedIn { user_id: record.user_id, session_id: record.session_id })
}
