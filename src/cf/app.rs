//! The fetch handler: request id, routing, error rendering, security headers and the
//! request log line, the same for every API response.

use super::handlers::{accounts as auth, diagnostics, generation, library};
use super::{D1, DB_BINDING};
use crate::platform::clock::{Clock, SystemClock};
use crate::platform::config::Config;
use crate::http::json_body;
use crate::http::problem::{AppError, PROBLEM_CONTENT_TYPE};
use crate::http::routes::{self, Route};
use crate::http::security_headers;
use serde::de::DeserializeOwned;
use serde::Serialize;
use auth::Caller;
use worker::{Context, Env, Request, Response};

pub type Handled = Result<Response, AppError>;

/// Reads a variable or secret; secrets win, since a secret can shadow a default var.
pub(crate) fn lookup(env: &Env, key: &str) -> Option<String> {
    env.secret(key).map(|s| s.to_string()).ok().or_else(|| env.var(key).map(|v| v.to_string()).ok())
}

pub async fn handle(req: Request, env: &Env, ctx: &Context) -> Response {
    let clock = SystemClock;
    let started = clock.now_ms();
    let request_id = crate::platform::ids::new_request_id();
    let method = req.method().to_string();
    let path = req.path();

    let resolved = routes::resolve(&method, &path);
    let label = resolved.as_ref().map_or("unmatched", Route::label);
    let result = match (resolved, Config::from_env(|k| lookup(env, k))) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(AppError::internal(e)),
        (Ok(route), Ok(config)) => match cross_origin_check(&req, &method) {
            Ok(()) => {
                let caller = Caller::of(&req, &config, started);
                dispatch(route, req, env, ctx, &config, &caller).await
            }
            Err(e) => Err(e),
        },
    };

    let (mut response, error) = match result {
        Ok(response) => (response, None),
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
        Some(AppError::Internal { cause }) => Some(cause.as_str()),
        _ => None,
    };
    let line = crate::platform::log::line(&crate::platform::log::RequestLog {
        level: if status >= 500 { "error" } else { "info" },
        msg: "request",
        request_id: &request_id,
        method: &method,
        route: label,
        status,
        latency_ms: clock.now_ms() - started,
        user_id: None,
        error: internal_cause,
    });
    crate::platform::log::write_line(if status >= 500 { "error" } else { "info" }, &line);
    response
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

async fn dispatch(route: Route, req: Request, env: &Env, ctx: &Context, config: &Config, caller: &Caller) -> Handled {
    match route {
        Route::Health => health(env, config).await,
        Route::OpenApi => openapi(),
        Route::ClientConfig => auth::client_config(config),
        Route::Signup => auth::signup(req, env, ctx, config, caller).await,
        Route::Login => auth::login(req, env, config, caller).await,
        Route::Logout => auth::logout(env, caller).await,
        Route::ChangePassword => auth::change_password(req, env, config, caller).await,
        Route::ResetRequest => auth::reset_request(req, env, ctx, config, caller).await,
        Route::ResetConfirm => auth::reset_confirm(req, env, config, caller).await,
        Route::VerifyEmail => auth::verify_email(req, env, config, caller).await,
        Route::ResendVerification => auth::resend_verification(env, ctx, config, caller).await,
        Route::Me => auth::me(env, config, caller).await,
        Route::UpdateMe => auth::update_me(req, env, ctx, config, caller).await,
        Route::ListSessions => auth::list_sessions(env, config, caller).await,
        Route::RevokeAllSessions => auth::revoke_all_sessions(env, config, caller).await,
        Route::RevokeSession { id } => auth::revoke_session(&id, env, config, caller).await,
        Route::Activity => auth::activity(&req, env, config, caller).await,
        Route::ListBrands => library::list_brands(&req, env, config, caller).await,
        Route::CreateBrand => library::create_brand(req, env, config, caller).await,
        Route::GetBrand { id } => library::get_brand(&id, env, config, caller).await,
        Route::UpdateBrand { id } => library::update_brand(&id, req, env, config, caller).await,
        Route::DeleteBrand { id } => library::delete_brand(&id, env, config, caller).await,
        Route::DuplicateBrand { id } => library::duplicate_brand(&id, env, config, caller).await,
        Route::ListUploads => library::list_uploads(&req, env, config, caller).await,
        Route::CreateUpload => library::create_upload(req, env, config, caller).await,
        Route::GetUpload { id } => library::get_upload(&id, env, config, caller).await,
        Route::UploadContent { id } => library::upload_content(&id, env, config, caller).await,
        Route::DeleteUpload { id } => library::delete_upload(&id, env, config, caller).await,
        Route::ContentTypes => generation::content_types(),
        Route::SubmitGeneration => generation::submit(req, env, config, caller).await,
        Route::ListGenerations => generation::list(&req, env, config, caller).await,
        Route::GetGeneration { id } => generation::get(&id, env, config, caller).await,
        Route::UpdateGeneration { id } => generation::update(&id, req, env, config, caller).await,
        Route::DeleteGeneration { id } => generation::delete(&id, env, config, caller).await,
        Route::Credits => generation::credits(env, config, caller).await,
        Route::CreditLedger => generation::ledger_entries(&req, env, config, caller).await,
        Route::Diag(d) if config.diagnostics_enabled() => diagnostics::handle(d, req, env, config).await,
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

pub fn json(status: u16, value: &impl Serialize) -> Handled {
    Ok(Response::from_json(value).map_err(AppError::internal)?.with_status(status))
}

/// Reads a JSON body under the configured limit and strict schema.
pub async fn read_json<T: DeserializeOwned>(req: &mut Request, config: &Config) -> Result<T, AppError> {
    let limit = config.max_json_body_bytes;
    let headers = req.headers();
    json_body::check_content_type(headers.get("Content-Type").ok().flatten().as_deref())?;
    json_body::check_declared_length(headers.get("Content-Length").ok().flatten().as_deref(), limit)?;
    let bytes = req.bytes().await.map_err(|e| AppError::MalformedJson { detail: format!("The body could not be read: {e}") })?;
    json_body::parse(&bytes, limit)
}

/// `?cursor=` and `?limit=` (1–100) of a list request, plus the other query pairs.
pub struct PageQuery {
    pub cursor: Option<(i64, String)>,
    pub limit: i64,
    pub rest: Vec<(String, String)>,
}

impl PageQuery {
    pub fn of(req: &Request, default_limit: i64) -> Result<PageQuery, AppError> {
        let url = req.url().map_err(AppError::internal)?;
        let mut page = PageQuery { cursor: None, limit: default_limit, rest: Vec::new() };
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "cursor" => {
                    page.cursor = Some(
                        crate::accounts::queries::decode_cursor(&v).ok_or_else(|| AppError::validation("cursor", "This cursor is not valid."))?,
                    )
                }
                "limit" => {
                    page.limit = v
                        .parse::<i64>()
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| AppError::validation("limit", "Use a limit from 1 to 100."))?
                }
                _ => page.rest.push((k.into_owned(), v.into_owned())),
            }
        }
        Ok(page)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.rest.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// The cursor of the next page: the last item's `(created_at, id)` when the page is full.
    pub fn next_cursor<T>(&self, items: &[T], key: impl Fn(&T) -> (i64, &str)) -> Option<String> {
        if items.len() as i64 != self.limit {
            return None;
        }
        items.last().map(|i| {
            let (at, id) = key(i);
            crate::accounts::queries::encode_cursor(at, id)
        })
    }
}

pub fn database(env: &Env) -> Result<D1, AppError> {
    env.d1(DB_BINDING).map(D1).map_err(AppError::internal)
}

/// G4: the OpenAPI 3.1 document of the whole API (kept in step with `routes` by a test).
fn openapi() -> Handled {
    let mut response = Response::ok(crate::http::openapi::DOCUMENT).map_err(AppError::internal)?;
    response.headers_mut().set("Content-Type", "application/json").map_err(AppError::internal)?;
    Ok(response)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    schema_version: i64,
    db: &'static str,
}

/// G2: liveness plus the build and schema versions; 503 when the database is down.
async fn health(env: &Env, config: &Config) -> Handled {
    let db = database(env)?;
    match crate::ops::health::schema_version(&db).await {
        Ok(schema_version) => json(
            200,
            &Health { status: "ok", version: env!("CARGO_PKG_VERSION"), schema_version, db: config.database.name() },
        ),
        Err(e) => Err(AppError::ServiceUnavailable { detail: format!("The database is not answering. ({})", short(&e.to_string())) }),
    }
}

fn short(s: &str) -> &str {
    // Enough to tell "no such table" (migrations not applied) from an outage.
    if s.contains("no such table") {
        "migrations have not been applied"
    } else {
        "unreachable"
    }
}
