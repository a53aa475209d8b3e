//! Accounts over HTTP (A1–A5): sign-up, sign-in, sessions, password and email changes,
//! reset and verification, recent activity. Each handler validates its body, checks
//! throttles, and changes the database in one atomic batch with its security event.

use crate::accounts::authentication::SignedIn;
use crate::cf::adapters::email::HttpMailer;
use crate::cf::adapters::webcrypto::pbkdf2_sha256;
use crate::cf::context::Ctx;
use crate::cf::http::{json, no_content, read_json, with_header, Handled, PageQuery};
use crate::accounts::queries::{self as acc, EndReason, Profile, TokenPurpose, User};
use crate::platform::config::Config;
use crate::platform::db::{Db, Statement};
use crate::accounts::email_address::{parse_name, EmailAddress};
use crate::accounts::mail::{self, Mailer};
use crate::accounts::passwords::{self, PasswordHash, ITERATIONS, SALT_LEN};
use crate::http::json_body;
use crate::http::problem::AppError;
use crate::accounts::security_events::{record, EventKind};
use crate::accounts::sessions::{self, SessionRecord, SessionStore};
use crate::accounts::throttle::{self, Rule};
use serde::{Deserialize, Serialize};
use worker::Request;

async fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = crate::platform::ids::random_bytes::<SALT_LEN>();
    let hash = pbkdf2_sha256(password.as_bytes(), &salt, ITERATIONS).await?;
    Ok(PasswordHash { iterations: ITERATIONS, salt: salt.to_vec(), hash: hash.to_vec() }.encode())
}

/// Checks a password against a stored hash. For an unknown account pass `None`: the
/// same derivation still runs, so the answer takes as long either way.
pub(crate) async fn verify_password(password: &str, stored: Option<&str>) -> Result<bool, AppError> {
    match stored.and_then(PasswordHash::parse) {
        Some(h) => Ok(h.matches(&pbkdf2_sha256(password.as_bytes(), &h.salt, h.iterations).await?)),
        None => {
            pbkdf2_sha256(password.as_bytes(), &[0u8; SALT_LEN], ITERATIONS).await?;
            Ok(false)
        }
    }
}

pub(crate) async fn check_throttle(ctx: &Ctx<'_>, checks: &[(Rule, &str)]) -> Result<(), AppError> {
    match throttle::hit(&ctx.db, checks, ctx.now, ctx.config.auth_throttle_window_ms).await? {
        Some(retry_after_seconds) => Err(AppError::TooManyRequests { retry_after_seconds }),
        None => Ok(()),
    }
}

async fn check_account_and_ip(ctx: &Ctx<'_>, per_account: Rule, email: &EmailAddress, per_ip: Rule) -> Result<(), AppError> {
    check_throttle(ctx, &[(per_account, email.as_str()), (per_ip, &ctx.ip)]).await
}

/// A new emailed token: (the token for the link, the row that stores its hash).
fn email_token(user_id: &str, purpose: TokenPurpose, email: &str, now: i64) -> (String, Statement) {
    let token = sessions::new_token();
    let ttl = match purpose {
        TokenPurpose::VerifyEmail => acc::VERIFY_TOKEN_TTL_MS,
        TokenPurpose::ResetPassword => acc::RESET_TOKEN_TTL_MS,
    };
    let row = acc::insert_email_token(&sessions::token_hash(&token), user_id, purpose, email, now, ttl);
    (token, row)
}

/// Starts a session: the KV record first, then the row (in the caller's batch). Returns
/// the token and the row's statement; if the batch fails, call `abandon_session`.
pub(crate) async fn begin_session(ctx: &Ctx<'_>, user_id: &str) -> Result<(String, String, Statement), AppError> {
    let token = sessions::new_token();
    let token_hash = sessions::token_hash(&token);
    let session_id = crate::platform::ids::new_id("ses");
    let record = SessionRecord {
        session_id: session_id.clone(),
        user_id: user_id.to_owned(),
        created_at: ctx.now,
        last_seen_at: ctx.now,
        expires_at: ctx.now + ctx.config.sessions.absolute_ms,
    };
    ctx.sessions()?.put(&token_hash, &record, record.kv_ttl_seconds(ctx.now, ctx.config.sessions)).await?;
    let row = acc::insert_session(&session_id, user_id, &token_hash, &ctx.device, ctx.now, record.expires_at);
    Ok((token, token_hash, row))
}

/// Ends the session the request came with, if any (a new sign-in replaces it).
pub(crate) async fn end_presented_session(ctx: &Ctx<'_>, reason: EndReason) -> Result<(), AppError> {
    let Some(token) = &ctx.token else { return Ok(()) };
    let token_hash = sessions::token_hash(token);
    let store = ctx.sessions()?;
    if let Some(old) = store.get(&token_hash).await? {
        store.delete(&token_hash).await?;
        ctx.db.run(acc::end_session(&old.session_id, &old.user_id, reason, ctx.now)).await?;
    }
    Ok(())
}

async fn delete_kv_sessions(ctx: &Ctx<'_>, token_hashes: impl IntoIterator<Item = String>) -> Result<(), AppError> {
    let store = ctx.sessions()?;
    for hash in token_hashes {
        store.delete(&hash).await?;
    }
    Ok(())
}

pub(crate) fn with_cookie(response: worker::Response, cookie: &str) -> Handled {
    with_header(response, "Set-Cookie", cookie)
}

async fn current_user(db: &impl Db, user_id: &str) -> Result<User, AppError> {
    acc::find_user(db, user_id).await?.ok_or(AppError::Unauthorized)
}

#[derive(Serialize)]
struct ProfileWithPending {
    #[serde(flatten)]
    profile: Profile,
    pending_email: Option<String>,
    /// G3: the UI shows the Admin link to admins only (the admin API checks for itself).
    admin: bool,
    /// F6: the policy version accepted at sign-up, the published one, and whether to
    /// show the notice of a newer one.
    policy: Option<crate::privacy::policy::PolicyView>,
}

pub(crate) async fn profile_response(db: &impl Db, user: &User, now: i64) -> Handled {
    let pending_email = acc::pending_email(db, user, now).await?;
    let admin = crate::admin::is_admin(db, &user.id).await?;
    let policy = crate::privacy::policy::of(db, &user.id).await?;
    json(200, &ProfileWithPending { profile: Profile::from(user), pending_email, admin, policy })
}

// ---- sign-up, sign-in, sign-out -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupBody {
    name: String,
    email: String,
    password: String,
}

#[derive(Serialize)]
struct SignupAnswer<'a> {
    status: &'static str,
    email: &'a str,
}

/// A1 sign-up. The answer is the same whether or not the address already has an account
/// (the owner of an existing one is told by email instead); only a new account gets a
/// session cookie.
pub async fn signup(ctx: &Ctx<'_>, mut req: Request) -> Handled {
    let body: SignupBody = read_json(&mut req, ctx.config).await?;
    let db = &ctx.db;
    let name = parse_name(&body.name)?;
    let email = EmailAddress::parse(&body.email)?;
    check_throttle(ctx, &[(throttle::SIGNUP_PER_IP, &ctx.ip), (throttle::SIGNUP_PER_ADDRESS, email.as_str())]).await?;
    passwords::check_policy(&body.password, "password", Some(email.local_part()))?;
    let password_hash = hash_password(&body.password).await?;
    let answer = SignupAnswer { status: "verification_sent", email: email.as_str() };

    if acc::find_user_by_email(&db, email.as_str()).await?.is_some() {
        let link = format!("{}/forgot", ctx.origin);
        ctx.send_later(vec![mail::signup_existing_account(&ctx.config.email.from, email.as_str(), &link)]);
        return json(201, &answer);
    }

    let user_id = crate::platform::ids::new_id("usr");
    let (session_token, session_hash, session_row) = begin_session(ctx, &user_id).await?;
    let (verify_token, verify_row) = email_token(&user_id, TokenPurpose::VerifyEmail, email.as_str(), ctx.now);
    let batch = vec![
        acc::insert_user(&user_id, &name, email.as_str(), &password_hash, ctx.now),
        session_row,
        verify_row,
        record(&user_id, EventKind::SignedUp, &ctx.device, ctx.now),
        crate::credits::ledger::open_account(&user_id, ctx.now),
    ];
    if let Err(e) = db.batch(batch).await {
        ctx.sessions()?.delete(&session_hash).await?;
        // Two sign-ups with one address at once: the loser is answered like any other
        // existing-address sign-up.
        if e.violates_unique("users", &["email"]) {
            return json(201, &answer);
        }
        return Err(e.into());
    }
    let link = format!("{}/verify#token={verify_token}", ctx.origin);
    ctx.send_later(vec![mail::verify_email(&ctx.config.email.from, email.as_str(), &link)]);
    with_cookie(json(201, &answer)?, &sessions::set_cookie(&session_token, ctx.config.sessions.absolute_ms / 1000))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

/// A1 sign-in: a new token every time; an outdated hash is upgraded on the way.
pub async fn login(ctx: &Ctx<'_>, mut req: Request) -> Handled {
    let body: LoginBody = read_json(&mut req, ctx.config).await?;
    let email = EmailAddress::parse(&body.email)?;
    let db = &ctx.db;
    let pair = throttle::account_and_ip(email.as_str(), &ctx.ip);
    check_throttle(
        ctx,
        &[(throttle::LOGIN_PER_ACCOUNT_AND_IP, &pair), (throttle::LOGIN_PER_ACCOUNT, email.as_str()), (throttle::LOGIN_PER_IP, &ctx.ip)],
    )
    .await?;
    let user = acc::find_user_by_email(&db, email.as_str()).await?;
    let ok = verify_password(&body.password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
    let user = match (user, ok) {
        (Some(user), true) => user,
        (Some(user), false) => {
            // Recorded after the answer, so a known and an unknown address take as long.
            let (env, config, event) = (ctx.env().clone(), ctx.config, record(&user.id, EventKind::SignInFailed, &ctx.device, ctx.now));
            ctx.wait_until(async move {
                if let Ok(db) = crate::cf::context::database(&env, config) {
                    let _ = db.run(event).await;
                }
            });
            return Err(AppError::InvalidCredentials);
        }
        (None, _) => return Err(AppError::InvalidCredentials),
    };
    // F3: a closed account answers only to its password: it offers reopening within the
    // grace period, and after it signs in like an unknown address (its erasure is due).
    if let Some(state) = crate::privacy::closure::state(&db, &user.id).await?.filter(|s| s.is_closed()) {
        return Err(match state.purge_after.filter(|_| state.can_reopen(ctx.now)) {
            Some(reopen_until) => AppError::AccountClosing { reopen_until },
            None => AppError::InvalidCredentials,
        });
    }

    end_presented_session(ctx, EndReason::Replaced).await?;
    let (token, token_hash, session_row) = begin_session(ctx, &user.id).await?;
    let mut batch = vec![session_row, record(&user.id, EventKind::SignedIn, &ctx.device, ctx.now)];
    if PasswordHash::parse(&user.password_hash).is_none_or(|h| h.needs_upgrade()) {
        batch.push(acc::update_password_hash(&user.id, &hash_password(&body.password).await?, ctx.now));
    }
    if let Err(e) = db.batch(batch).await {
        ctx.sessions()?.delete(&token_hash).await?;
        return Err(e.into());
    }
    with_cookie(profile_response(&db, &user, ctx.now).await?, &sessions::set_cookie(&token, ctx.config.sessions.absolute_ms / 1000))
}

/// Ends this session. Answers 204 even without one, and always clears the cookie.
pub async fn logout(ctx: &Ctx<'_>) -> Handled {
    if let Some(token) = &ctx.token {
        let token_hash = sessions::token_hash(token);
        let store = ctx.sessions()?;
        if let Some(session) = store.get(&token_hash).await? {
            store.delete(&token_hash).await?;
            ctx.db
                .batch(vec![
                    acc::end_session(&session.session_id, &session.user_id, EndReason::SignedOut, ctx.now),
                    record(&session.user_id, EventKind::SignedOut, &ctx.device, ctx.now),
                ])
                .await?;
        }
    }
    with_cookie(no_content()?, &sessions::clear_cookie())
}

// ---- passwords --------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePasswordBody {
    current_password: String,
    new_password: String,
}

/// A1 change password: re-authenticate, then every other session ends.
pub async fn change_password(ctx: &Ctx<'_>, me: &SignedIn, mut req: Request) -> Handled {
    let body: ChangePasswordBody = read_json(&mut req, ctx.config).await?;
    let db = &ctx.db;
    check_throttle(ctx, &[(throttle::REAUTH_PER_ACCOUNT, &me.user_id)]).await?;
    let user = current_user(&db, &me.user_id).await?;
    if !verify_password(&body.current_password, Some(&user.password_hash)).await? {
        return Err(AppError::validation("current_password", "That is not your current password."));
    }
    let email = EmailAddress::parse(&user.email)?;
    passwords::check_policy(&body.new_password, "new_password", Some(email.local_part()))?;
    let open: Vec<String> = acc::open_sessions(&db, &me.user_id).await?.into_iter().map(|s| s.token_hash).collect();
    // Every session ends, this one too: it continues under a new token, so a token
    // copied before the change is worthless after it. Pending reset links die as well.
    let (token, token_hash, session_row) = begin_session(ctx, &me.user_id).await?;
    let batch = vec![
        acc::update_password_hash(&me.user_id, &hash_password(&body.new_password).await?, ctx.now),
        acc::end_sessions_of_user(&me.user_id, None, EndReason::PasswordChanged, ctx.now),
        acc::retire_tokens(&me.user_id, TokenPurpose::ResetPassword, ctx.now),
        session_row,
        record(&me.user_id, EventKind::PasswordChanged, &ctx.device, ctx.now),
    ];
    if let Err(e) = db.batch(batch).await {
        let _ = ctx.sessions()?.delete(&token_hash).await;
        return Err(e.into());
    }
    let ended = open.len().saturating_sub(1);
    delete_kv_sessions(ctx, open).await?;
    let answer = json(200, &serde_json::json!({ "status": "password_changed", "other_sessions_ended": ended }))?;
    with_cookie(answer, &sessions::set_cookie(&token, ctx.config.sessions.absolute_ms / 1000))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequestBody {
    email: String,
}

/// A1 password reset, step 1. Always 202 with the same words; the lookup and the email
/// happen after the response, so neither answer nor timing tells if the account exists.
pub async fn reset_request(ctx: &Ctx<'_>, mut req: Request) -> Handled {
    let body: ResetRequestBody = read_json(&mut req, ctx.config).await?;
    let email = EmailAddress::parse(&body.email)?;
    check_account_and_ip(ctx, throttle::RESET_PER_ACCOUNT, &email, throttle::RESET_PER_IP).await?;
    let (env, config, now, device, origin) = (ctx.env().clone(), ctx.config, ctx.now, ctx.device.clone(), ctx.origin.clone());
    ctx.wait_until(async move {
        if let Err(e) = send_reset(&env, config, email, now, &device, &origin).await {
            crate::platform::log::emit(crate::platform::log::Level::Error, "password reset email failed", serde_json::json!({ "error": e.to_string() }));
        }
    });
    json(202, &serde_json::json!({ "status": "sent_if_registered" }))
}

async fn send_reset(env: &worker::Env, config: &Config, email: EmailAddress, now: i64, device: &str, origin: &str) -> Result<(), AppError> {
    let db = crate::cf::context::database(env, config)?;
    let Some(user) = acc::find_user_by_email(&db, email.as_str()).await? else { return Ok(()) };
    // A closed account is reopened by signing in, not by a reset.
    if crate::privacy::closure::state(&db, &user.id).await?.is_some_and(|s| s.is_closed()) {
        return Ok(());
    }
    let (token, row) = email_token(&user.id, TokenPurpose::ResetPassword, &user.email, now);
    db.batch(vec![
        acc::retire_tokens(&user.id, TokenPurpose::ResetPassword, now),
        row,
        record(&user.id, EventKind::PasswordResetRequested, device, now),
    ])
    .await?;
    let link = format!("{origin}/reset#token={token}");
    HttpMailer(&config.email).send(&mail::password_reset(&config.email.from, &user.email, &link)).await?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetConfirmBody {
    token: String,
    new_password: String,
}

fn bad_link(field: &str) -> AppError {
    AppError::validation(field, "This link is invalid, expired or already used. Ask for a new one.")
}

/// A1 password reset, step 2: the token works once; every session ends.
pub async fn reset_confirm(ctx: &Ctx<'_>, mut req: Request) -> Handled {
    let body: ResetConfirmBody = read_json(&mut req, ctx.config).await?;
    if !sessions::is_token(&body.token) {
        return Err(bad_link("token"));
    }
    let db = &ctx.db;
    let token_hash = sessions::token_hash(&body.token);
    let token = acc::find_usable_token(&db, &token_hash, TokenPurpose::ResetPassword, ctx.now).await?.ok_or_else(|| bad_link("token"))?;
    let email = EmailAddress::parse(&token.email)?;
    passwords::check_policy(&body.new_password, "new_password", Some(email.local_part()))?;
    let password_hash = hash_password(&body.new_password).await?;
    let open: Vec<String> = acc::open_sessions(&db, &token.user_id).await?.into_iter().map(|s| s.token_hash).collect();
    let result = db
        .batch(vec![
            acc::use_token(&token_hash, ctx.now),
            acc::update_password_hash(&token.user_id, &password_hash, ctx.now),
            acc::end_sessions_of_user(&token.user_id, None, EndReason::PasswordReset, ctx.now),
            record(&token.user_id, EventKind::PasswordReset, &ctx.device, ctx.now),
        ])
        .await;
    match result {
        Err(e) if acc::is_token_reuse(&e) => return Err(bad_link("token")),
        other => other?,
    };
    delete_kv_sessions(ctx, open).await?;
    json(200, &serde_json::json!({ "status": "password_reset" }))
}

// ---- email verification and profile -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    token: String,
}

/// Confirms an address: the sign-up address, or the new one after a change of email.
pub async fn verify_email(ctx: &Ctx<'_>, mut req: Request) -> Handled {
    let body: VerifyBody = read_json(&mut req, ctx.config).await?;
    if !sessions::is_token(&body.token) {
        return Err(bad_link("token"));
    }
    let db = &ctx.db;
    let token_hash = sessions::token_hash(&body.token);
    let token = acc::find_usable_token(&db, &token_hash, TokenPurpose::VerifyEmail, ctx.now).await?.ok_or_else(|| bad_link("token"))?;
    let user = acc::find_user(&db, &token.user_id).await?.ok_or_else(|| bad_link("token"))?;
    let kind = if user.email == token.email { EventKind::EmailVerified } else { EventKind::EmailChanged };
    let mut batch = vec![
        acc::use_token(&token_hash, ctx.now),
        acc::set_email_verified(&user.id, &token.email, ctx.now),
        record(&user.id, kind, &ctx.device, ctx.now),
    ];
    if kind == EventKind::EmailChanged {
        // Reset links sent to the old address stop working with it.
        batch.push(acc::retire_tokens(&user.id, TokenPurpose::ResetPassword, ctx.now));
    }
    // After the user's row is updated: on Postgres (READ COMMITTED) that queues racing
    // verifications of one user, so the grant's NOT EXISTS sees the earlier one
    // (tests/neon_postgres.rs races them).
    batch.extend(crate::credits::ledger::starter_grant(&user.id, &token.email, ctx.config.starter_credits, ctx.now));
    match db.batch(batch).await {
        Err(e) if acc::is_token_reuse(&e) => Err(bad_link("token")),
        Err(e) if e.violates_unique("users", &["email"]) => {
            Err(AppError::Conflict { detail: "That address now belongs to another account.".into() })
        }
        Err(e) => Err(e.into()),
        Ok(_) => json(200, &serde_json::json!({ "status": kind.as_str(), "email": token.email })),
    }
}

pub async fn resend_verification(ctx: &Ctx<'_>, me: &SignedIn) -> Handled {
    let db = &ctx.db;
    check_throttle(ctx, &[(throttle::VERIFY_RESEND_PER_ACCOUNT, &me.user_id)]).await?;
    let user = current_user(&db, &me.user_id).await?;
    if user.email_verified_at.is_some() {
        return json(200, &serde_json::json!({ "status": "already_verified" }));
    }
    let (token, row) = email_token(&user.id, TokenPurpose::VerifyEmail, &user.email, ctx.now);
    db.batch(vec![acc::retire_tokens(&user.id, TokenPurpose::VerifyEmail, ctx.now), row]).await?;
    let link = format!("{}/verify#token={token}", ctx.origin);
    ctx.send_later(vec![mail::verify_email(&ctx.config.email.from, &user.email, &link)]);
    json(202, &serde_json::json!({ "status": "verification_sent" }))
}

/// Who is signed in: `{"signed_in": false}`, or `{"signed_in": true, "user": profile}`.
/// Always 200, so a signed-out page can ask without the browser logging an error; a
/// session that is expired, revoked or unknown answers as signed out.
pub async fn session(ctx: &Ctx<'_>) -> Handled {
    let signed_out = || json(200, &serde_json::json!({ "signed_in": false }));
    if ctx.token.is_none() {
        return signed_out();
    }
    let store = ctx.sessions()?;
    let access = crate::http::routes::Access::Session;
    let me = match crate::accounts::authentication::authenticate(store, &ctx.db, ctx.token.as_deref(), access, ctx.config.sessions, ctx.now).await {
        Ok(me) => me,
        Err(AppError::Unauthorized) => return signed_out(),
        Err(e) => return Err(e),
    };
    let Some(user) = acc::find_user(&ctx.db, &me.user_id).await? else { return signed_out() };
    let pending_email = acc::pending_email(&ctx.db, &user, ctx.now).await?;
    let admin = crate::admin::is_admin(&ctx.db, &user.id).await?;
    let policy = crate::privacy::policy::of(&ctx.db, &user.id).await?;
    json(200, &SessionAnswer { signed_in: true, user: ProfileWithPending { profile: Profile::from(&user), pending_email, admin, policy } })
}

#[derive(Serialize)]
struct SessionAnswer {
    signed_in: bool,
    user: ProfileWithPending,
}

/// One KV read (the session, in `authenticate`) and one query.
pub async fn me(ctx: &Ctx<'_>, me: &SignedIn) -> Handled {
    let found = acc::find_me(&ctx.db, &me.user_id, ctx.now).await?.ok_or(AppError::Unauthorized)?;
    let (admin, pending_email) = (found.role == "admin", found.pending_email.clone());
    let policy = Some(crate::privacy::policy::view(&found.policy_version, found.policy_notice_seen.as_deref(), crate::privacy::policy::POLICY_VERSION));
    json(200, &ProfileWithPending { profile: Profile::from(found), pending_email, admin, policy })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateMeBody {
    #[serde(default, deserialize_with = "json_body::present")]
    name: Option<String>,
    #[serde(default, deserialize_with = "json_body::present")]
    email: Option<String>,
    #[serde(default, deserialize_with = "json_body::present")]
    current_password: Option<String>,
}

/// F2 correction: the name changes at once; a new email address only once it is
/// confirmed from that address (re-authentication required), and the old address is told.
pub async fn update_me(ctx: &Ctx<'_>, me: &SignedIn, mut req: Request) -> Handled {
    let body: UpdateMeBody = read_json(&mut req, ctx.config).await?;
    let db = &ctx.db;
    let user = current_user(&db, &me.user_id).await?;
    let mut batch = Vec::new();
    if let Some(name) = &body.name {
        let name = parse_name(name)?;
        if name != user.name {
            batch.push(acc::update_name(&user.id, &name, ctx.now));
            batch.push(record(&user.id, EventKind::ProfileUpdated, &ctx.device, ctx.now));
        }
    }
    let mut emails = Vec::new();
    if let Some(raw) = &body.email {
        let new_email = EmailAddress::parse(raw)?;
        if new_email.as_str() != user.email {
            let password = body.current_password.as_deref().ok_or_else(|| {
                AppError::validation("current_password", "Enter your current password to change your email address.")
            })?;
            check_throttle(ctx, &[(throttle::REAUTH_PER_ACCOUNT, &user.id)]).await?;
            if !verify_password(password, Some(&user.password_hash)).await? {
                return Err(AppError::validation("current_password", "That is not your current password."));
            }
            let (token, row) = email_token(&user.id, TokenPurpose::VerifyEmail, new_email.as_str(), ctx.now);
            batch.push(acc::retire_tokens(&user.id, TokenPurpose::VerifyEmail, ctx.now));
            batch.push(row);
            batch.push(record(&user.id, EventKind::EmailChangeRequested, &ctx.device, ctx.now));
            let link = format!("{}/verify#token={token}", ctx.origin);
            emails.push(mail::verify_email(&ctx.config.email.from, new_email.as_str(), &link));
            emails.push(mail::email_change_notice(&ctx.config.email.from, &user.email, new_email.as_str()));
        }
    } else if body.current_password.is_some() && body.name.is_none() {
        return Err(AppError::validation("email", "Nothing to change: send a new name or email address."));
    }
    if !batch.is_empty() {
        db.batch(batch).await?;
    }
    if !emails.is_empty() {
        ctx.send_later(emails);
    }
    let user = current_user(&db, &me.user_id).await?;
    profile_response(&db, &user, ctx.now).await
}

// ---- sessions and activity ---------------------------------------------------------------

#[derive(Serialize)]
struct SessionView {
    id: String,
    device: String,
    created_at: i64,
    last_seen_at: i64,
    current: bool,
}

pub async fn list_sessions(ctx: &Ctx<'_>, me: &SignedIn) -> Handled {
    let idle = ctx.config.sessions.idle_ms;
    let items: Vec<SessionView> = acc::open_sessions(&ctx.db, &me.user_id)
        .await?
        .into_iter()
        .filter(|s| s.expires_at > ctx.now && s.last_seen_at + idle > ctx.now)
        .map(|s| SessionView { current: s.id == me.session_id, id: s.id, device: s.device, created_at: s.created_at, last_seen_at: s.last_seen_at })
        .collect();
    json(200, &serde_json::json!({ "items": items }))
}

/// Signs out everywhere, this session included.
pub async fn revoke_all_sessions(ctx: &Ctx<'_>, me: &SignedIn) -> Handled {
    let db = &ctx.db;
    let hashes: Vec<String> = acc::open_sessions(&db, &me.user_id).await?.into_iter().map(|s| s.token_hash).collect();
    db.batch(vec![
        acc::end_sessions_of_user(&me.user_id, None, EndReason::SignedOutEverywhere, ctx.now),
        record(&me.user_id, EventKind::SignedOutEverywhere, &ctx.device, ctx.now),
    ])
    .await?;
    delete_kv_sessions(ctx, hashes).await?;
    with_cookie(no_content()?, &sessions::clear_cookie())
}

pub async fn revoke_session(ctx: &Ctx<'_>, me: &SignedIn, id: &str) -> Handled {
    let db = &ctx.db;
    let target = acc::open_sessions(&db, &me.user_id).await?.into_iter().find(|s| s.id == id).ok_or(AppError::NotFound)?;
    db.batch(vec![
        acc::end_session(&target.id, &me.user_id, EndReason::Revoked, ctx.now),
        record(&me.user_id, EventKind::SessionRevoked, &ctx.device, ctx.now),
    ])
    .await?;
    delete_kv_sessions(ctx, [target.token_hash]).await?;
    if target.id == me.session_id {
        return with_cookie(no_content()?, &sessions::clear_cookie());
    }
    no_content()
}

/// A5: the user's security events, newest first, 50 a page with a `cursor`.
pub async fn activity(ctx: &Ctx<'_>, me: &SignedIn, req: &Request) -> Handled {
    let page = PageQuery::of(req, 50)?;
    let items = acc::activity_page(&ctx.db, &me.user_id, &page.page).await?;
    page.answer(&items, |e| (e.created_at, e.id.as_str()), &items)
}

/// What the browser app needs to know about this deployment.
pub fn client_config(ctx: &Ctx<'_>) -> Handled {
    json(
        200,
        &serde_json::json!({
            "environment": match ctx.config.environment { crate::platform::config::Environment::Development => "development", crate::platform::config::Environment::Production => "production" },
            "dev_mailbox_url": ctx.config.dev_mailbox_url,
            "account_deletion_grace_seconds": ctx.config.account_deletion_grace_ms / 1000,
        }),
    )
}
