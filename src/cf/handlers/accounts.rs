//! Accounts over HTTP (A1–A5): sign-up, sign-in, sessions, password and email changes,
//! reset and verification, recent activity. Each handler validates its body, checks
//! throttles, and changes the database in one atomic batch with its security event.

use crate::cf::app::{database, json, read_json, Handled};
use crate::cf::adapters::email::HttpMailer;
use crate::cf::adapters::kv::KvSessions;
use crate::cf::adapters::webcrypto::pbkdf2_sha256;
use crate::cf::KV_BINDING;
use crate::accounts::queries::{self as acc, Profile, TokenPurpose, User};
use crate::platform::config::Config;
use crate::platform::db::{ConstraintKind, Db, DbError, Statement};
use crate::accounts::email_address::{parse_name, EmailAddress};
use crate::accounts::mail::{self, Mailer, OutgoingEmail};
use crate::accounts::passwords::{self, PasswordHash, ITERATIONS, SALT_LEN};
use crate::http::problem::AppError;
use crate::accounts::security_events::{record, EventKind};
use crate::accounts::sessions::{self, Freshness, SessionRecord, SessionStore};
use crate::accounts::throttle::{self, Rule};
use serde::{Deserialize, Serialize};
use worker::{Context, Env, Request, Response};

/// Facts about the request every handler needs.
pub struct Caller {
    pub now: i64,
    pub device: String,
    pub ip: String,
    /// Origin for links in emails.
    pub origin: String,
    token: Option<String>,
}

impl Caller {
    pub fn of(req: &Request, config: &Config, now: i64) -> Caller {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        let origin = config.app_base_url.clone().unwrap_or_else(|| {
            req.url().map(|u| u.origin().ascii_serialization()).unwrap_or_default()
        });
        Caller {
            now,
            device: sessions::device_label(header("User-Agent").as_deref()),
            ip: header("CF-Connecting-IP").unwrap_or_else(|| "unknown".into()),
            origin,
            token: header("Cookie").as_deref().and_then(sessions::token_from_cookie_header).map(str::to_owned),
        }
    }
}

/// The signed-in session making the request.
pub struct Authed {
    pub user_id: String,
    pub session_id: String,
}

fn kv(env: &Env) -> Result<KvSessions, AppError> {
    env.kv(KV_BINDING).map(KvSessions).map_err(AppError::internal)
}

/// Resolves the session cookie. State-changing requests also confirm in D1 that the
/// session was not revoked: KV reads in other locations may lag a revocation by up to
/// 60 s, the database does not (README, "Sessions").
pub async fn authenticate(env: &Env, config: &Config, caller: &Caller, confirm_in_db: bool) -> Result<Authed, AppError> {
    let token = caller.token.as_deref().ok_or(AppError::Unauthorized)?;
    let token_hash = sessions::token_hash(token);
    let store = kv(env)?;
    let mut record = store.get(&token_hash).await?.ok_or(AppError::Unauthorized)?;
    let db = database(env)?;
    match record.freshness(caller.now, config.sessions) {
        Freshness::Expired => {
            store.delete(&token_hash).await?;
            db.run(acc::end_session(&record.session_id, &record.user_id, "expired", caller.now)).await?;
            return Err(AppError::Unauthorized);
        }
        Freshness::ValidTouch => {
            record.last_seen_at = caller.now;
            store.put(&token_hash, &record, record.kv_ttl_seconds(caller.now, config.sessions)).await?;
            db.run(acc::touch_session(&record.session_id, caller.now)).await?;
        }
        Freshness::Valid => {}
    }
    if confirm_in_db && !acc::session_is_open(&db, &record.session_id).await? {
        store.delete(&token_hash).await?;
        return Err(AppError::Unauthorized);
    }
    Ok(Authed { user_id: record.user_id, session_id: record.session_id })
}

async fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = crate::platform::ids::random_bytes::<SALT_LEN>();
    let hash = pbkdf2_sha256(password.as_bytes(), &salt, ITERATIONS).await?;
    Ok(PasswordHash { iterations: ITERATIONS, salt: salt.to_vec(), hash: hash.to_vec() }.encode())
}

/// Checks a password against a stored hash. For an unknown account pass `None`: the
/// same derivation still runs, so the answer takes as long either way.
async fn verify_password(password: &str, stored: Option<&str>) -> Result<bool, AppError> {
    match stored.and_then(PasswordHash::parse) {
        Some(h) => Ok(h.matches(&pbkdf2_sha256(password.as_bytes(), &h.salt, h.iterations).await?)),
        None => {
            pbkdf2_sha256(password.as_bytes(), &[0u8; SALT_LEN], ITERATIONS).await?;
            Ok(false)
        }
    }
}

async fn check_throttle(db: &impl Db, config: &Config, now: i64, checks: &[(Rule, &str)]) -> Result<(), AppError> {
    match throttle::hit(db, checks, now, config.auth_throttle_window_ms).await? {
        Some(retry_after_seconds) => Err(AppError::TooManyRequests { retry_after_seconds }),
        None => Ok(()),
    }
}

async fn check_account_and_ip(
    db: &impl Db,
    config: &Config,
    caller: &Caller,
    per_account: Rule,
    email: &EmailAddress,
    per_ip: Rule,
) -> Result<(), AppError> {
    check_throttle(db, config, caller.now, &[(per_account, email.as_str()), (per_ip, &caller.ip)]).await
}

/// Sends email after the response, so neither its latency nor its failure shows in the
/// answer (which must look the same whether or not an account exists).
fn send_later(ctx: &Context, config: &Config, emails: Vec<OutgoingEmail>) {
    let email_config = config.email.clone();
    ctx.wait_until(async move {
        let mailer = HttpMailer(&email_config);
        for email in &emails {
            if let Err(e) = mailer.send(email).await {
                crate::platform::log::emit("error", "email not sent", serde_json::json!({ "subject": email.subject, "error": e.0 }));
            }
        }
    });
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
async fn begin_session(env: &Env, config: &Config, caller: &Caller, user_id: &str) -> Result<(String, String, Statement), AppError> {
    let token = sessions::new_token();
    let token_hash = sessions::token_hash(&token);
    let session_id = crate::platform::ids::new_id("ses");
    let record = SessionRecord {
        session_id: session_id.clone(),
        user_id: user_id.to_owned(),
        created_at: caller.now,
        last_seen_at: caller.now,
        expires_at: caller.now + config.sessions.absolute_ms,
    };
    kv(env)?.put(&token_hash, &record, record.kv_ttl_seconds(caller.now, config.sessions)).await?;
    let row = acc::insert_session(&session_id, user_id, &token_hash, &caller.device, caller.now, record.expires_at);
    Ok((token, token_hash, row))
}

/// Ends the session the request came with, if any (a new sign-in replaces it).
async fn end_presented_session(env: &Env, caller: &Caller, reason: &str) -> Result<(), AppError> {
    let Some(token) = &caller.token else { return Ok(()) };
    let token_hash = sessions::token_hash(token);
    let store = kv(env)?;
    if let Some(old) = store.get(&token_hash).await? {
        store.delete(&token_hash).await?;
        database(env)?.run(acc::end_session(&old.session_id, &old.user_id, reason, caller.now)).await?;
    }
    Ok(())
}

async fn delete_kv_sessions(env: &Env, token_hashes: impl IntoIterator<Item = String>) -> Result<(), AppError> {
    let store = kv(env)?;
    for hash in token_hashes {
        store.delete(&hash).await?;
    }
    Ok(())
}

fn with_cookie(mut response: Response, cookie: &str) -> Handled {
    response.headers_mut().append("Set-Cookie", cookie).map_err(AppError::internal)?;
    Ok(response)
}

fn no_content() -> Handled {
    Ok(Response::empty().map_err(AppError::internal)?.with_status(204))
}

async fn current_user(db: &impl Db, user_id: &str) -> Result<User, AppError> {
    acc::find_user(db, user_id).await?.ok_or(AppError::Unauthorized)
}

#[derive(Serialize)]
struct ProfileWithPending {
    #[serde(flatten)]
    profile: Profile,
    pending_email: Option<String>,
}

async fn profile_response(db: &impl Db, user: &User, now: i64) -> Handled {
    let pending_email = acc::pending_email(db, user, now).await?;
    json(200, &ProfileWithPending { profile: Profile::from(user), pending_email })
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
pub async fn signup(mut req: Request, env: &Env, ctx: &Context, config: &Config, caller: &Caller) -> Handled {
    let body: SignupBody = read_json(&mut req, config).await?;
    let db = database(env)?;
    check_throttle(&db, config, caller.now, &[(throttle::SIGNUP_PER_IP, &caller.ip)]).await?;
    let name = parse_name(&body.name)?;
    let email = EmailAddress::parse(&body.email)?;
    passwords::check_policy(&body.password, "password", Some(email.local_part()))?;
    let password_hash = hash_password(&body.password).await?;
    let answer = SignupAnswer { status: "verification_sent", email: email.as_str() };

    if acc::find_user_by_email(&db, email.as_str()).await?.is_some() {
        let link = format!("{}/forgot", caller.origin);
        send_later(ctx, config, vec![mail::signup_existing_account(&config.email.from, email.as_str(), &link)]);
        return json(201, &answer);
    }

    let user_id = crate::platform::ids::new_id("usr");
    let (session_token, session_hash, session_row) = begin_session(env, config, caller, &user_id).await?;
    let (verify_token, verify_row) = email_token(&user_id, TokenPurpose::VerifyEmail, email.as_str(), caller.now);
    let mut batch = vec![
        acc::insert_user(&user_id, &name, email.as_str(), &password_hash, caller.now),
        session_row,
        verify_row,
        record(&user_id, EventKind::SignedUp, &caller.device, caller.now),
        crate::credits::ledger::open_account(&user_id, caller.now),
    ];
    batch.extend(crate::credits::ledger::starter_grant(&user_id, config.starter_credits, caller.now));
    if let Err(e) = db.batch(batch).await {
        kv(env)?.delete(&session_hash).await?;
        // Two sign-ups with one address at once: the loser is answered like any other
        // existing-address sign-up.
        if matches!(&e, DbError::Constraint { kind: ConstraintKind::Unique, message } if message.contains("email")) {
            return json(201, &answer);
        }
        return Err(e.into());
    }
    let link = format!("{}/verify#token={verify_token}", caller.origin);
    send_later(ctx, config, vec![mail::verify_email(&config.email.from, email.as_str(), &link)]);
    with_cookie(json(201, &answer)?, &sessions::set_cookie(&session_token, config.sessions.absolute_ms / 1000))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

/// A1 sign-in: a new token every time; an outdated hash is upgraded on the way.
pub async fn login(mut req: Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let body: LoginBody = read_json(&mut req, config).await?;
    let email = EmailAddress::parse(&body.email)?;
    let db = database(env)?;
    check_account_and_ip(&db, config, caller, throttle::LOGIN_PER_ACCOUNT, &email, throttle::LOGIN_PER_IP).await?;
    let user = acc::find_user_by_email(&db, email.as_str()).await?;
    let ok = verify_password(&body.password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
    let user = match (user, ok) {
        (Some(user), true) => user,
        (Some(user), false) => {
            db.run(record(&user.id, EventKind::SignInFailed, &caller.device, caller.now)).await?;
            return Err(AppError::InvalidCredentials);
        }
        (None, _) => return Err(AppError::InvalidCredentials),
    };

    end_presented_session(env, caller, "replaced").await?;
    let (token, token_hash, session_row) = begin_session(env, config, caller, &user.id).await?;
    let mut batch = vec![session_row, record(&user.id, EventKind::SignedIn, &caller.device, caller.now)];
    if PasswordHash::parse(&user.password_hash).is_none_or(|h| h.needs_upgrade()) {
        batch.push(acc::update_password_hash(&user.id, &hash_password(&body.password).await?, caller.now));
    }
    if let Err(e) = db.batch(batch).await {
        kv(env)?.delete(&token_hash).await?;
        return Err(e.into());
    }
    with_cookie(profile_response(&db, &user, caller.now).await?, &sessions::set_cookie(&token, config.sessions.absolute_ms / 1000))
}

/// Ends this session. Answers 204 even without one, and always clears the cookie.
pub async fn logout(env: &Env, caller: &Caller) -> Handled {
    if let Some(token) = &caller.token {
        let token_hash = sessions::token_hash(token);
        let store = kv(env)?;
        if let Some(session) = store.get(&token_hash).await? {
            store.delete(&token_hash).await?;
            database(env)?
                .batch(vec![
                    acc::end_session(&session.session_id, &session.user_id, "signed_out", caller.now),
                    record(&session.user_id, EventKind::SignedOut, &caller.device, caller.now),
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
pub async fn change_password(mut req: Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, true).await?;
    let body: ChangePasswordBody = read_json(&mut req, config).await?;
    let db = database(env)?;
    check_throttle(&db, config, caller.now, &[(throttle::REAUTH_PER_ACCOUNT, &me.user_id)]).await?;
    let user = current_user(&db, &me.user_id).await?;
    if !verify_password(&body.current_password, Some(&user.password_hash)).await? {
        return Err(AppError::validation("current_password", "That is not your current password."));
    }
    let email = EmailAddress::parse(&user.email)?;
    passwords::check_policy(&body.new_password, "new_password", Some(email.local_part()))?;
    let others: Vec<String> =
        acc::open_sessions(&db, &me.user_id).await?.into_iter().filter(|s| s.id != me.session_id).map(|s| s.token_hash).collect();
    db.batch(vec![
        acc::update_password_hash(&me.user_id, &hash_password(&body.new_password).await?, caller.now),
        acc::end_sessions_of_user(&me.user_id, Some(&me.session_id), "password_changed", caller.now),
        record(&me.user_id, EventKind::PasswordChanged, &caller.device, caller.now),
    ])
    .await?;
    let ended = others.len();
    delete_kv_sessions(env, others).await?;
    json(200, &serde_json::json!({ "status": "password_changed", "other_sessions_ended": ended }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequestBody {
    email: String,
}

/// A1 password reset, step 1. Always 202 with the same words; the lookup and the email
/// happen after the response, so neither answer nor timing tells if the account exists.
pub async fn reset_request(mut req: Request, env: &Env, ctx: &Context, config: &Config, caller: &Caller) -> Handled {
    let body: ResetRequestBody = read_json(&mut req, config).await?;
    let email = EmailAddress::parse(&body.email)?;
    let db = database(env)?;
    check_account_and_ip(&db, config, caller, throttle::RESET_PER_ACCOUNT, &email, throttle::RESET_PER_IP).await?;
    let (env, config, now, device, origin) = (env.clone(), config.clone(), caller.now, caller.device.clone(), caller.origin.clone());
    ctx.wait_until(async move {
        if let Err(e) = send_reset(&env, &config, email, now, &device, &origin).await {
            crate::platform::log::emit("error", "password reset email failed", serde_json::json!({ "error": e.to_string() }));
        }
    });
    json(202, &serde_json::json!({ "status": "sent_if_registered" }))
}

async fn send_reset(env: &Env, config: &Config, email: EmailAddress, now: i64, device: &str, origin: &str) -> Result<(), AppError> {
    let db = database(env)?;
    let Some(user) = acc::find_user_by_email(&db, email.as_str()).await? else { return Ok(()) };
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
pub async fn reset_confirm(mut req: Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let body: ResetConfirmBody = read_json(&mut req, config).await?;
    if !sessions::is_token(&body.token) {
        return Err(bad_link("token"));
    }
    let db = database(env)?;
    let token_hash = sessions::token_hash(&body.token);
    let token = acc::find_usable_token(&db, &token_hash, TokenPurpose::ResetPassword, caller.now).await?.ok_or_else(|| bad_link("token"))?;
    let email = EmailAddress::parse(&token.email)?;
    passwords::check_policy(&body.new_password, "new_password", Some(email.local_part()))?;
    let password_hash = hash_password(&body.new_password).await?;
    let open: Vec<String> = acc::open_sessions(&db, &token.user_id).await?.into_iter().map(|s| s.token_hash).collect();
    let result = db
        .batch(vec![
            acc::use_token(&token_hash, caller.now),
            acc::update_password_hash(&token.user_id, &password_hash, caller.now),
            acc::end_sessions_of_user(&token.user_id, None, "password_reset", caller.now),
            record(&token.user_id, EventKind::PasswordReset, &caller.device, caller.now),
        ])
        .await;
    match result {
        Err(e) if acc::is_token_reuse(&e) => return Err(bad_link("token")),
        other => other?,
    };
    delete_kv_sessions(env, open).await?;
    json(200, &serde_json::json!({ "status": "password_reset" }))
}

// ---- email verification and profile -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    token: String,
}

/// Confirms an address: the sign-up address, or the new one after a change of email.
pub async fn verify_email(mut req: Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let body: VerifyBody = read_json(&mut req, config).await?;
    if !sessions::is_token(&body.token) {
        return Err(bad_link("token"));
    }
    let db = database(env)?;
    let token_hash = sessions::token_hash(&body.token);
    let token = acc::find_usable_token(&db, &token_hash, TokenPurpose::VerifyEmail, caller.now).await?.ok_or_else(|| bad_link("token"))?;
    let user = acc::find_user(&db, &token.user_id).await?.ok_or_else(|| bad_link("token"))?;
    let kind = if user.email == token.email { EventKind::EmailVerified } else { EventKind::EmailChanged };
    let result = db
        .batch(vec![
            acc::use_token(&token_hash, caller.now),
            acc::set_email_verified(&user.id, &token.email, caller.now),
            record(&user.id, kind, &caller.device, caller.now),
        ])
        .await;
    match result {
        Err(e) if acc::is_token_reuse(&e) => Err(bad_link("token")),
        Err(DbError::Constraint { kind: ConstraintKind::Unique, .. }) => {
            Err(AppError::Conflict { detail: "That address now belongs to another account.".into() })
        }
        Err(e) => Err(e.into()),
        Ok(_) => json(200, &serde_json::json!({ "status": kind.as_str(), "email": token.email })),
    }
}

pub async fn resend_verification(env: &Env, ctx: &Context, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, true).await?;
    let db = database(env)?;
    check_throttle(&db, config, caller.now, &[(throttle::VERIFY_RESEND_PER_ACCOUNT, &me.user_id)]).await?;
    let user = current_user(&db, &me.user_id).await?;
    if user.email_verified_at.is_some() {
        return json(200, &serde_json::json!({ "status": "already_verified" }));
    }
    let (token, row) = email_token(&user.id, TokenPurpose::VerifyEmail, &user.email, caller.now);
    db.batch(vec![acc::retire_tokens(&user.id, TokenPurpose::VerifyEmail, caller.now), row]).await?;
    let link = format!("{}/verify#token={token}", caller.origin);
    send_later(ctx, config, vec![mail::verify_email(&config.email.from, &user.email, &link)]);
    json(202, &serde_json::json!({ "status": "verification_sent" }))
}

pub async fn me(env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, false).await?;
    let db = database(env)?;
    let user = current_user(&db, &me.user_id).await?;
    profile_response(&db, &user, caller.now).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateMeBody {
    name: Option<String>,
    email: Option<String>,
    current_password: Option<String>,
}

/// F2 correction: the name changes at once; a new email address only once it is
/// confirmed from that address (re-authentication required), and the old address is told.
pub async fn update_me(mut req: Request, env: &Env, ctx: &Context, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, true).await?;
    let body: UpdateMeBody = read_json(&mut req, config).await?;
    let db = database(env)?;
    let user = current_user(&db, &me.user_id).await?;
    let mut batch = Vec::new();
    if let Some(name) = &body.name {
        let name = parse_name(name)?;
        if name != user.name {
            batch.push(acc::update_name(&user.id, &name, caller.now));
            batch.push(record(&user.id, EventKind::ProfileUpdated, &caller.device, caller.now));
        }
    }
    let mut emails = Vec::new();
    if let Some(raw) = &body.email {
        let new_email = EmailAddress::parse(raw)?;
        if new_email.as_str() != user.email {
            let password = body.current_password.as_deref().ok_or_else(|| {
                AppError::validation("current_password", "Enter your current password to change your email address.")
            })?;
            check_throttle(&db, config, caller.now, &[(throttle::REAUTH_PER_ACCOUNT, &user.id)]).await?;
            if !verify_password(password, Some(&user.password_hash)).await? {
                return Err(AppError::validation("current_password", "That is not your current password."));
            }
            let (token, row) = email_token(&user.id, TokenPurpose::VerifyEmail, new_email.as_str(), caller.now);
            batch.push(acc::retire_tokens(&user.id, TokenPurpose::VerifyEmail, caller.now));
            batch.push(row);
            batch.push(record(&user.id, EventKind::EmailChangeRequested, &caller.device, caller.now));
            let link = format!("{}/verify#token={token}", caller.origin);
            emails.push(mail::verify_email(&config.email.from, new_email.as_str(), &link));
            emails.push(mail::email_change_notice(&config.email.from, &user.email, new_email.as_str()));
        }
    } else if body.current_password.is_some() && body.name.is_none() {
        return Err(AppError::validation("email", "Nothing to change: send a new name or email address."));
    }
    if !batch.is_empty() {
        db.batch(batch).await?;
    }
    if !emails.is_empty() {
        send_later(ctx, config, emails);
    }
    let user = current_user(&db, &me.user_id).await?;
    profile_response(&db, &user, caller.now).await
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

pub async fn list_sessions(env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, false).await?;
    let idle = config.sessions.idle_ms;
    let items: Vec<SessionView> = acc::open_sessions(&database(env)?, &me.user_id)
        .await?
        .into_iter()
        .filter(|s| s.expires_at > caller.now && s.last_seen_at + idle > caller.now)
        .map(|s| SessionView { current: s.id == me.session_id, id: s.id, device: s.device, created_at: s.created_at, last_seen_at: s.last_seen_at })
        .collect();
    json(200, &serde_json::json!({ "items": items }))
}

/// Signs out everywhere, this session included.
pub async fn revoke_all_sessions(env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, true).await?;
    let db = database(env)?;
    let hashes: Vec<String> = acc::open_sessions(&db, &me.user_id).await?.into_iter().map(|s| s.token_hash).collect();
    db.batch(vec![
        acc::end_sessions_of_user(&me.user_id, None, "signed_out_everywhere", caller.now),
        record(&me.user_id, EventKind::SignedOutEverywhere, &caller.device, caller.now),
    ])
    .await?;
    delete_kv_sessions(env, hashes).await?;
    with_cookie(no_content()?, &sessions::clear_cookie())
}

pub async fn revoke_session(id: &str, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, true).await?;
    let db = database(env)?;
    let target = acc::open_sessions(&db, &me.user_id).await?.into_iter().find(|s| s.id == id).ok_or(AppError::NotFound)?;
    db.batch(vec![
        acc::end_session(&target.id, &me.user_id, "revoked", caller.now),
        record(&me.user_id, EventKind::SessionRevoked, &caller.device, caller.now),
    ])
    .await?;
    delete_kv_sessions(env, [target.token_hash]).await?;
    if target.id == me.session_id {
        return with_cookie(no_content()?, &sessions::clear_cookie());
    }
    no_content()
}

/// A5: the user's security events, newest first, 50 a page with a `cursor`.
pub async fn activity(req: &Request, env: &Env, config: &Config, caller: &Caller) -> Handled {
    let me = authenticate(env, config, caller, false).await?;
    let page = crate::cf::app::PageQuery::of(req, 50)?;
    let items = acc::activity_page(&database(env)?, &me.user_id, page.cursor.as_ref().map(|(at, id)| (*at, id.as_str())), page.limit).await?;
    let next_cursor = page.next_cursor(&items, |e| (e.created_at, e.id.as_str()));
    json(200, &serde_json::json!({ "items": items, "next_cursor": next_cursor }))
}

/// What the browser app needs to know about this deployment.
pub fn client_config(config: &Config) -> Handled {
    json(
        200,
        &serde_json::json!({
            "environment": match config.environment { crate::platform::config::Environment::Development => "development", crate::platform::config::Environment::Production => "production" },
            "dev_mailbox_url": config.dev_mailbox_url,
        }),
    )
}
