//! The fetch handler: request id, routing, error rendering, security headers and the
//! request log line, the same for every API response.

use super::context::{isolate_config, Ctx};
use super::handlers::{accounts, admin, billing, diagnostics, exports, generation, library, privacy};
use super::http::{json, Handled};
use crate::accounts::authentication::{authenticate, SignedIn};
use crate::http::problem::{AppError, PROBLEM_CONTENT_TYPE};
use crate::http::routes::{self, Access, Route};
use crate::http::security_headers;
use crate::platform::clock::{Clock, SystemClock};
use crate::platform::log::{self, Level};
use serde::Serialize;
use worker::{Context, Env, Request, Response};

pub async fn handle(req: Request, env: &Env, worker: &Context) -> Response {
    let clock = SystemClock;
    let started = clock.now_ms();
    let request_id = crate::platform::ids::new_request_id();
    // The raw method: the crate's `Method` turns one it does not know into GET.
    let method = req.inner().method();
    let path = req.path();

    let resolved = match routes::resolve(&method, &path) {
        // In production the diagnostics routes do not exist, for any method (no 405).
        Ok(Route::Diag(_)) | Err(AppError::MethodNotAllowed { .. }) if path.starts_with("/api/_diag/") && !diagnostics_enabled(env) => {
            Err(AppError::NotFound)
        }
        // Nor do the admin routes, for anyone not signed in as an admin: no 405 either.
        Err(AppError::MethodNotAllowed { .. }) if is_admin_path(&path) => Err(AppError::NotFound),
        other => other,
    };
    let label = resolved.as_ref().map_or("unmatched", Route::label);
    let mut user_id = None;
    let result = match resolved {
        Err(e) => Err(e),
        Ok(route) => serve(route, req, env, worker, started, &method, &request_id, &mut user_id).await,
    };

    let (mut response, error) = match result {
        Ok(response) => (response, None),
        // The admin page is a page: its 404 is the site's 404 page, as for any other address.
        Err(AppError::NotFound) if label == "GET /admin" => (not_found_page(env, &path).await, Some(AppError::NotFound)),
        Err(e) => (problem_response(&e, &request_id, &path), Some(e)),
    };
    let status = response.status_code();
    let headers = response.headers_mut();
    for (name, value) in security_headers::COMMON {
        let _ = headers.set(name, value);
    }
    if !headers.has("Content-Security-Policy").unwrap_or(false) {
        let _ = headers.set("Content-Security-Policy", security_headers::API_CSP);
    }
    if !headers.has("Cache-Control").unwrap_or(false) {
        let _ = headers.set("Cache-Control", "no-store");
    }
    let _ = headers.set("X-Request-Id", &request_id);

    let internal_cause = match &error {
        Some(AppError::Internal { cause }) => Some(crate::ops::scrub::scrub(cause)),
        Some(e) if status >= 500 => Some(crate::ops::scrub::scrub(&e.to_string())),
        _ => None,
    };
    let level = if status >= 500 { Level::Error } else { Level::Info };
    // G1: unexpected errors go to Sentry after the response (never delaying it).
    if let (Some(cause), Some(reporting)) = (&internal_cause, isolate_config(env).ok().and_then(|c| c.sentry.as_ref())) {
        let report = super::adapters::sentry::Report {
            source: crate::ops::sentry::Source::Request,
            transaction: label.to_owned(),
            message: cause.clone(),
            request_id: Some(request_id.clone()),
            user_id: user_id.clone(),
        };
        worker.wait_until(super::adapters::sentry::send(reporting, report));
    }
    let line = log::line(&log::RequestLog {
        level,
        msg: "request",
        request_id: &request_id,
        method: &method,
        route: label,
        status,
        latency_ms: clock.now_ms() - started,
        user_id: user_id.as_deref(),
        error: internal_cause.as_deref(),
    });
    log::write_line(level, &line);
    response
}

fn diagnostics_enabled(env: &Env) -> bool {
    isolate_config(env).is_ok_and(|c| c.diagnostics_enabled())
}

fn is_admin_path(path: &str) -> bool {
    ["/api/admin", "/admin"].iter().any(|p| path == *p || path.starts_with(&format!("{p}/")) || path.starts_with(&format!("{p}.")))
}

/// Checks the request's origin, builds the context, authenticates as the route's
/// access demands, then runs the handler. Admin routes first check the role, so that to
/// anyone else they look like any unknown address (404), cross-site or not.
#[allow(clippy::too_many_arguments)]
async fn serve(route: Route, req: Request, env: &Env, worker: &Context, now: i64, method: &str, request_id: &str, user_id: &mut Option<String>) -> Handled {
    let config = isolate_config(env)?;
    if route.access() != Access::Admin {
        cross_origin_check(&req, method)?;
    }
    let ctx = Ctx::new(&req, env, worker, config, now, request_id)?;
    let signed_in = match route.access() {
        Access::Public => None,
        Access::Admin => {
            let access = if matches!(method, "GET" | "HEAD") { Access::Session } else { Access::ConfirmedSession };
            let store = ctx.sessions()?;
            let signed_in = match authenticate(store, &ctx.db, ctx.token.as_deref(), access, config.sessions, now).await {
                Err(AppError::Unauthorized) => return Err(AppError::NotFound),
                other => other?,
            };
            *user_id = Some(signed_in.user_id.clone());
            if !crate::admin::is_admin(&ctx.db, &signed_in.user_id).await? {
                return Err(AppError::NotFound);
            }
            cross_origin_check(&req, method)?;
            Some(signed_in)
        }
        access => {
            let store = ctx.sessions()?;
            Some(authenticate(store, &ctx.db, ctx.token.as_deref(), access, config.sessions, now).await?)
        }
    };
    *user_id = signed_in.as_ref().map(|s| s.user_id.clone());
    dispatch(route, req, &ctx, signed_in.as_ref()).await
}

/// The admin page (`public/admin.html`), from the assets, for an admin.
async fn admin_page(ctx: &Ctx<'_>) -> Handled {
    let (status, bytes) = asset(ctx.env(), "/admin").await?;
    html(status, bytes)
}

/// A static asset (from `public/`) by its path: its status and bytes.
async fn asset(env: &Env, path: &str) -> Result<(u16, Vec<u8>), AppError> {
    let assets = env.assets("ASSETS").map_err(AppError::internal)?;
    let mut response = assets.fetch(format!("https://assets.invalid{path}"), None).await.map_err(AppError::internal)?;
    Ok((response.status_code(), response.bytes().await.map_err(AppError::internal)?))
}

/// The site's 404 page (the assets' own), with its status.
async fn not_found_page(env: &Env, path: &str) -> Response {
    match asset(env, "/404").await {
        Ok((_, bytes)) => html(404, bytes).unwrap_or_else(|_| problem_response(&AppError::NotFound, "", path)),
        Err(_) => problem_response(&AppError::NotFound, "", path),
    }
}

/// An HTML page answered by the worker: a fresh response (a fetched one's headers are
/// immutable), with the static pages' Content-Security-Policy.
fn html(status: u16, bytes: Vec<u8>) -> Handled {
    let mut response = Response::from_bytes(bytes).map_err(AppError::internal)?.with_status(status);
    let headers = response.headers_mut();
    headers.set("Content-Type", "text/html; charset=utf-8").map_err(AppError::internal)?;
    headers.set("Content-Security-Policy", security_headers::PAGE_CSP).map_err(AppError::internal)?;
    Ok(response)
}

/// A4: refuses cross-site state-changing requests (`csrf::check`).
fn cross_origin_check(req: &Request, method: &str) -> Result<(), AppError> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let host = header("Host").or_else(|| {
        req.url().ok().and_then(|u| u.host_str().map(|h| match u.port() { Some(p) => format!("{h}:{p}"), None => h.to_owned() }))
    });
    match crate::http::csrf::check(method, header("Sec-Fetch-Site").as_deref(), header("Origin").as_deref(), host.as_deref().unwrap_or("")) {
        crate::http::csrf::Verdict::Allow => Ok(()),
        crate::http::csrf::Verdict::Deny => Err(AppError::Forbidden { detail: "Cross-site requests cannot change anything here.".into() }),
    }
}

/// The route table promised a session for every route that is not public.
fn me(signed_in: Option<&SignedIn>) -> Result<&SignedIn, AppError> {
    signed_in.ok_or(AppError::Unauthorized)
}

async fn dispatch(route: Route, req: Request, ctx: &Ctx<'_>, signed_in: Option<&SignedIn>) -> Handled {
    match route {
        Route::Health => health(ctx).await,
        Route::OpenApi => openapi(ctx).await,
        Route::ClientConfig => accounts::client_config(ctx),
        Route::Signup => accounts::signup(ctx, req).await,
        Route::Login => accounts::login(ctx, req).await,
        Route::Logout => accounts::logout(ctx).await,
        Route::ResetRequest => accounts::reset_request(ctx, req).await,
        Route::ResetConfirm => accounts::reset_confirm(ctx, req).await,
        Route::VerifyEmail => accounts::verify_email(ctx, req).await,
        Route::ChangePassword => accounts::change_password(ctx, me(signed_in)?, req).await,
        Route::ResendVerification => accounts::resend_verification(ctx, me(signed_in)?).await,
        Route::Session => accounts::session(ctx).await,
        Route::Me => accounts::me(ctx, me(signed_in)?).await,
        Route::UpdateMe => accounts::update_me(ctx, me(signed_in)?, req).await,
        Route::ListSessions => accounts::list_sessions(ctx, me(signed_in)?).await,
        Route::RevokeAllSessions => accounts::revoke_all_sessions(ctx, me(signed_in)?).await,
        Route::RevokeSession { id } => accounts::revoke_session(ctx, me(signed_in)?, &id).await,
        Route::Activity => accounts::activity(ctx, me(signed_in)?, &req).await,
        Route::ListBrands => library::list_brands(ctx, me(signed_in)?, &req).await,
        Route::CreateBrand => library::create_brand(ctx, me(signed_in)?, req).await,
        Route::GetBrand { id } => library::get_brand(ctx, me(signed_in)?, &id).await,
        Route::UpdateBrand { id } => library::update_brand(ctx, me(signed_in)?, &id, req).await,
        Route::DeleteBrand { id } => library::delete_brand(ctx, me(signed_in)?, &id).await,
        Route::DuplicateBrand { id } => library::duplicate_brand(ctx, me(signed_in)?, &id).await,
        Route::WebsiteImportQuote => library::website_import_quote(ctx, me(signed_in)?).await,
        Route::ImportWebsite => library::import_website(ctx, me(signed_in)?, req).await,
        Route::ListUploads => library::list_uploads(ctx, me(signed_in)?, &req).await,
        Route::CreateUpload => library::create_upload(ctx, me(signed_in)?, req).await,
        Route::GetUpload { id } => library::get_upload(ctx, me(signed_in)?, &id).await,
        Route::UploadContent { id } => library::upload_content(ctx, me(signed_in)?, &id).await,
        Route::DeleteUpload { id } => library::delete_upload(ctx, me(signed_in)?, &id).await,
        Route::ContentTypes => generation::content_types(),
        Route::SubmitGeneration => generation::submit(ctx, me(signed_in)?, req).await,
        Route::ListGenerations => generation::list(ctx, me(signed_in)?, &req).await,
        Route::GetGeneration { id } => generation::get(ctx, me(signed_in)?, &id).await,
        Route::UpdateGeneration { id } => generation::update(ctx, me(signed_in)?, &id, req).await,
        Route::DeleteGeneration { id } => generation::delete(ctx, me(signed_in)?, &id).await,
        Route::Credits => generation::credits(ctx, me(signed_in)?).await,
        Route::CreditLedger => generation::ledger_entries(ctx, me(signed_in)?, &req).await,
        Route::BillingPacks => billing::packs(ctx),
        Route::BillingCheckout => billing::checkout(ctx, me(signed_in)?, req).await,
        Route::BillingPurchases => billing::purchases(ctx, me(signed_in)?, &req).await,
        Route::StripeWebhook => billing::webhook(ctx, req).await,
        Route::AdminPage => admin_page(ctx).await,
        Route::AdminUsers => admin::users(ctx, &req).await,
        Route::AdminUser { id } => admin::user(ctx, &id).await,
        Route::AdminAdjustCredits { id } => admin::adjust_credits(ctx, me(signed_in)?, &id, req).await,
        Route::AdminJobs => admin::jobs(ctx, &req).await,
        Route::AdminReplayJob { id } => admin::replay_job(ctx, me(signed_in)?, &id, &req).await,
        Route::AdminWebhookEvents => admin::webhook_events(ctx, &req).await,
        Route::AdminRerunWebhookEvent { id } => admin::rerun_webhook_event(ctx, me(signed_in)?, &id, &req).await,
        Route::AdminPrivacyRequests => admin::privacy_requests(ctx, &req).await,
        Route::AdminUpdatePrivacyRequest { id } => admin::update_privacy_request(ctx, me(signed_in)?, &id, req).await,
        Route::StartExport => exports::start(ctx, me(signed_in)?).await,
        Route::ListExports => exports::list(ctx, me(signed_in)?, &req).await,
        Route::GetExport { id } => exports::get(ctx, me(signed_in)?, &id).await,
        Route::ExportContent { id } => exports::content(ctx, me(signed_in)?, &id).await,
        Route::CloseAccount => privacy::close_account(ctx, me(signed_in)?, req).await,
        Route::ReopenAccount => privacy::reopen_account(ctx, req).await,
        Route::CreatePrivacyRequest => privacy::create_privacy_request(ctx, req).await,
        Route::ListPrivacyRequests => privacy::list_privacy_requests(ctx, me(signed_in)?, &req).await,
        Route::AcknowledgePolicy => privacy::acknowledge_policy(ctx, me(signed_in)?).await,
        Route::Diag(crate::http::routes::DiagRoute::Error) if ctx.config.diagnostics_enabled() => {
            diagnostics::forced_error(ctx, me(signed_in)?, req).await
        }
        Route::Diag(d) if ctx.config.diagnostics_enabled() => diagnostics::handle(ctx, d, req).await,
        Route::Diag(_) => Err(AppError::NotFound),
    }
}

fn problem_response(error: &AppError, request_id: &str, path: &str) -> Response {
    let problem = error.to_problem(request_id, Some(path));
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut response = Response::from_bytes(body).unwrap_or_else(|_| Response::empty().unwrap()).with_status(error.status());
    let headers = response.headers_mut();
    let _ = headers.set("Content-Type", PROBLEM_CONTENT_TYPE);
    for (name, value) in error.headers() {
        let _ = headers.set(name, &value);
    }
    response
}

/// G4: the OpenAPI 3.1 document of the whole API (kept in step with `routes` by a test),
/// from the static assets (`public/openapi.json`).
async fn openapi(ctx: &Ctx<'_>) -> Handled {
    let (status, bytes) = asset(ctx.env(), crate::http::openapi::ASSET_PATH).await?;
    if status != 200 {
        return Err(AppError::internal(format!("the OpenAPI asset answered {status}")));
    }
    let mut response = Response::from_bytes(bytes).map_err(AppError::internal)?;
    response.headers_mut().set("Content-Type", "application/json").map_err(AppError::internal)?;
    Ok(response)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: String,
    schema_version: i64,
    db: &'static str,
}

/// G2: liveness plus the build and schema versions; 503 when the database is down.
async fn health(ctx: &Ctx<'_>) -> Handled {
    match crate::ops::health::schema_version(&ctx.db).await {
        Ok(schema_version) => json(
            200,
            &Health { status: "ok", version: crate::ops::health::build_version(), schema_version, db: ctx.config.database.name() },
        ),
        Err(e) => Err(AppError::ServiceUnavailable { detail: format!("The database is not answering. ({})", short(&e.to_string())) }),
    }
}

fn short(s: &str) -> &str {
    // Enough to tell "no such table" (migrations not applied) from an outage.
    // SQLite (D1) says "no such table", Postgres (Neon) "relation … does not exist".
    if s.contains("no such table") || s.contains("does not exist") {
        "migrations have not been applied"
    } else {
        "unreachable"
    }
}
