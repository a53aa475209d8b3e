//! Data rights over HTTP (F3, F5, F6): closing and reopening an account, privacy
//! requests, the policy notice. The rules are `privacy::*`; this parses, checks the
//! password and throttles, and answers.

use super::accounts::{begin_session, check_throttle, end_presented_session, profile_response, verify_password, with_cookie};
use crate::accounts::authentication::{authenticate, SignedIn};
use crate::accounts::email_address::EmailAddress;
use crate::accounts::queries::{self as acc, EndReason};
use crate::accounts::sessions::{self, SessionStore};
use crate::platform::db::Db;
use crate::accounts::throttle;
use crate::cf::context::Ctx;
use crate::cf::http::{json, read_json, Handled, PageQuery};
use crate::http::json_body;
use crate::http::problem::AppError;
use crate::http::routes::Access;
use crate::privacy::{closure, policy, requests};
use serde::Deserialize;
use worker::Request;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    password: String,
}

/// F3: `DELETE /api/account {password}`. Every session ends (this one too: the cookie is
/// cleared), a confirmation is emailed, and the grace period starts.
pub async fn close_account(ctx: &Ctx<'_>, me: &SignedIn, mut req: Request) -> Handled {
    let body: CloseBody = read_json(&mut req, ctx.config).await?;
    check_throttle(ctx, &[(throttle::REAUTH_PER_ACCOUNT, &me.user_id)]).await?;
    let user = acc::find_user(&ctx.db, &me.user_id).await?.ok_or(AppError::Unauthorized)?;
    if !verify_password(&body.password, Some(&user.password_hash)).await? {
        return Err(AppError::validation("password", "That is not your password."));
    }
    let closed = closure::close(&ctx.db, ctx.sessions()?, &me.user_id, &ctx.device, ctx.now, ctx.config.account_deletion_grace_ms).await?;
    let link = format!("{}/login", ctx.origin);
    ctx.send_later(vec![closure::closure_email(&ctx.config.email.from, &user.email, &closure::utc_text(closed.purge_after), &link)]);
    let answer = json(
        200,
        &serde_json::json!({ "status": "closed", "closed_at": closed.closed_at, "purge_after": closed.purge_after, "sessions_ended": closed.sessions_ended }),
    )?;
    with_cookie(answer, &sessions::clear_cookie())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReopenBody {
    email: String,
    password: String,
}

/// F3: `POST /api/account/reopen {email, password}` within the grace period: the
/// account is open again and this is a sign-in (a new session cookie). Anything else
/// answers as a failed sign-in does.
pub async fn reopen_account(ctx: &Ctx<'_>, mut req: Request) -> Handled {
    let body: ReopenBody = read_json(&mut req, ctx.config).await?;
    let email = EmailAddress::parse(&body.email)?;
    let pair = throttle::account_and_ip(email.as_str(), &ctx.ip);
    check_throttle(
        ctx,
        &[(throttle::LOGIN_PER_ACCOUNT_AND_IP, &pair), (throttle::LOGIN_PER_ACCOUNT, email.as_str()), (throttle::LOGIN_PER_IP, &ctx.ip)],
    )
    .await?;
    let user = acc::find_user_by_email(&ctx.db, email.as_str()).await?;
    let ok = verify_password(&body.password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
    let Some(user) = user.filter(|_| ok) else { return Err(AppError::InvalidCredentials) };
    let state = closure::state(&ctx.db, &user.id).await?.unwrap_or(closure::ClosureState { closed_at: None, purge_after: None, receipt_sent_at: None });
    if !state.is_closed() {
        return Err(AppError::Conflict { detail: "This account is open: sign in as usual.".into() });
    }
    if !closure::reopen(&ctx.db, &user.id, &ctx.device, ctx.now).await? {
        return Err(AppError::InvalidCredentials);
    }
    end_presented_session(ctx, EndReason::Replaced).await?;
    let (token, token_hash, session_row) = begin_session(ctx, &user.id).await?;
    if let Err(e) = ctx.db.batch(vec![session_row, crate::accounts::security_events::record(&user.id, crate::accounts::security_events::EventKind::SignedIn, &ctx.device, ctx.now)]).await {
        ctx.sessions()?.delete(&token_hash).await?;
        return Err(e.into());
    }
    with_cookie(profile_response(&ctx.db, &user, ctx.now).await?, &sessions::set_cookie(&token, ctx.config.sessions.absolute_ms / 1000))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivacyRequestBody {
    kind: String,
    #[serde(default, deserialize_with = "json_body::present")]
    message: Option<String>,
    /// Required when signed out: where the confirmation goes. Signed in, the account's.
    #[serde(default, deserialize_with = "json_body::present")]
    email: Option<String>,
}

/// F5: `POST /api/privacy-requests`, signed in or not.
pub async fn create_privacy_request(ctx: &Ctx<'_>, mut req: Request) -> Handled {
    let body: PrivacyRequestBody = read_json(&mut req, ctx.config).await?;
    let request = requests::parse(&body.kind, body.message.as_deref())?;
    // A presented session makes it the account's request; a stale one is ignored.
    let signed_in = match &ctx.token {
        Some(token) => authenticate(ctx.sessions()?, &ctx.db, Some(token), Access::ConfirmedSession, ctx.config.sessions, ctx.now).await.ok(),
        None => None,
    };
    let (user_id, email) = match &signed_in {
        Some(me) => {
            let user = acc::find_user(&ctx.db, &me.user_id).await?.ok_or(AppError::Unauthorized)?;
            check_throttle(ctx, &[(requests::PER_ADDRESS, &user.email)]).await?;
            (Some(user.id), user.email)
        }
        None => {
            let raw = body.email.as_deref().ok_or_else(|| AppError::validation("email", "Enter the email address we should answer."))?;
            let email = EmailAddress::parse(raw)?;
            check_throttle(ctx, &[(requests::PER_IP, &ctx.ip), (requests::PER_ADDRESS, email.as_str())]).await?;
            // The request concerns the account with this address, if there is one (the
            // answer does not say).
            let user_id = acc::find_user_by_email(&ctx.db, email.as_str()).await?.map(|u| u.id);
            (user_id, email.as_str().to_owned())
        }
    };
    let view = requests::create(&ctx.db, &request, user_id.as_deref(), &email, &ctx.device, ctx.now).await?;
    let link = format!("{}/settings#privacy", ctx.origin);
    ctx.send_later(vec![requests::confirmation_email(&ctx.config.email.from, &email, &view, &link)]);
    // Signed out, the answer does not show whose account the address belongs to.
    json(201, &view)
}

/// F5: the signed-in user's requests, newest first.
pub async fn list_privacy_requests(ctx: &Ctx<'_>, me: &SignedIn, req: &Request) -> Handled {
    let page = PageQuery::of(req, 50)?;
    let items = requests::list(&ctx.db, &me.user_id, &page.page).await?;
    page.answer(&items, |r| (r.created_at, r.id.as_str()), &items)
}

/// F6: the notice of the published policy version was shown.
pub async fn acknowledge_policy(ctx: &Ctx<'_>, me: &SignedIn) -> Handled {
    policy::acknowledge(&ctx.db, &me.user_id, &ctx.device, ctx.now).await?;
    let view = policy::of(&ctx.db, &me.user_id).await?.ok_or(AppError::Unauthorized)?;
    json(200, &view)
}
