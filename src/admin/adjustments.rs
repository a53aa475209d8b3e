//! Credit adjustments (G3, E1): an `adjustment` ledger entry with the admin's reason,
//! applied once per request. The ledger entry's reference is the request's reference,
//! so a retried request (same `Idempotency-Key`) finds the first one's result instead of
//! adjusting twice; a correction that would take the balance below zero is refused.

use super::{audit, find_action, is_repeated_request, parse_reason, Action, ActionRecord, Admin, NewAction};
use crate::accounts::queries as acc;
use crate::accounts::security_events::EventKind;
use crate::credits::ledger::{self, Balance};
use crate::http::problem::AppError;
use crate::platform::db::Db;

/// The largest single correction, either way.
pub const MAX_ADJUSTMENT: i64 = 1_000_000;

pub struct Adjusted {
    pub action: ActionRecord,
    pub credits: Balance,
    /// True when this request had already been applied (nothing changed now).
    pub replayed: bool,
}

pub async fn adjust(db: &impl Db, admin: &Admin<'_>, user_id: &str, credits: i64, reason: &str, now: i64) -> Result<Adjusted, AppError> {
    if credits == 0 || credits.abs() > MAX_ADJUSTMENT {
        return Err(AppError::validation("credits", format!("Give a whole number of credits from -{MAX_ADJUSTMENT} to {MAX_ADJUSTMENT}, not 0.")));
    }
    let reason = parse_reason(reason)?;
    if acc::find_user(db, user_id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let answer = |action, replayed| async move { Ok(Adjusted { action, credits: ledger::balance(db, user_id).await?, replayed }) };
    if let Some(done) = find_action(db, admin, Action::CreditAdjustment).await? {
        return answer(done, true).await;
    }
    let new = NewAction { action: Action::CreditAdjustment, target_user_id: Some(user_id), target_id: None, reason, credits: Some(credits) };
    let mut batch = ledger::adjustment(user_id, credits, &admin.reference(Action::CreditAdjustment), now);
    batch.extend(audit(admin, &new, EventKind::AdminCreditsAdjusted, Some(EventKind::CreditsAdjusted), now));
    match db.batch(batch).await {
        Ok(_) => {}
        Err(e) if is_repeated_request(&e) || ledger::is_duplicate_reference(&e) => {
            let done = find_action(db, admin, Action::CreditAdjustment).await?.ok_or_else(|| AppError::internal("adjustment vanished"))?;
            return answer(done, true).await;
        }
        Err(e) if ledger::is_insufficient(&e) => {
            let now_balance = ledger::balance(db, user_id).await?;
            return Err(AppError::validation(
                "credits",
                format!("This would take the balance below zero: the user has {} credits available.", now_balance.balance),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let done = find_action(db, admin, Action::CreditAdjustment).await?.ok_or_else(|| AppError::internal("adjustment vanished"))?;
    answer(done, false).await
}
