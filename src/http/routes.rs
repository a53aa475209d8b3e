//! The API's route table: path and method → `Route`, or the right 404/405.
//!
//! Pure, so every routing rule is unit-tested. Path parameters are captured as
//! strings; handlers parse them into typed ids.

use crate::http::problem::AppError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    OpenApi,
    ClientConfig,
    Signup,
    Login,
    Logout,
    ChangePassword,
    ResetRequest,
    ResetConfirm,
    VerifyEmail,
    ResendVerification,
    /// Who is signed in, if anyone: 200 either way, so signed-out pages learn it without
    /// an error (the browser logs every 401 to its console).
    Session,
    Me,
    UpdateMe,
    ListSessions,
    RevokeAllSessions,
    RevokeSession { id: String },
    Activity,
    ListBrands,
    CreateBrand,
    GetBrand { id: String },
    UpdateBrand { id: String },
    DeleteBrand { id: String },
    DuplicateBrand { id: String },
    /// B5: the price of a website import, and the import itself.
    WebsiteImportQuote,
    ImportWebsite,
    ListUploads,
    CreateUpload,
    GetUpload { id: String },
    UploadContent { id: String },
    DeleteUpload { id: String },
    ContentTypes,
    SubmitGeneration,
    ListGenerations,
    GetGeneration { id: String },
    UpdateGeneration { id: String },
    DeleteGeneration { id: String },
    Credits,
    CreditLedger,
    BillingPacks,
    BillingCheckout,
    BillingPurchases,
    /// Stripe's events; the signature, not a session, is the authentication.
    StripeWebhook,
    /// G3: the admin area, page and API (`Access::Admin`: 404 for everyone else).
    AdminPage,
    AdminUsers,
    AdminUser { id: String },
    AdminAdjustCredits { id: String },
    AdminJobs,
    AdminReplayJob { id: String },
    AdminWebhookEvents,
    AdminRerunWebhookEvent { id: String },
    AdminPrivacyRequests,
    AdminUpdatePrivacyRequest { id: String },
    /// F1 data export: start one, list them, one, its archive.
    StartExport,
    ListExports,
    GetExport { id: String },
    ExportContent { id: String },
    /// F3: close the account (password), and reopen it within the grace period.
    CloseAccount,
    ReopenAccount,
    /// F5: a privacy request (signed in or not); the signed-in user's requests.
    CreatePrivacyRequest,
    ListPrivacyRequests,
    /// F6: the notice of a newer policy version was shown.
    AcknowledgePolicy,
    /// Development-only routes that exercise each binding (see `cf::diagnostics`).
    Diag(DiagRoute),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiagRoute {
    KvPut,
    KvGet { key: String },
    BlobList,
    BlobPut { key: String },
    BlobGet { key: String },
    DbProbe,
    QueueSend { queue: String },
    ProbeEvents { probe_id: String },
    /// Sends a job's message again: a duplicate delivery, for the exactly-once tests.
    ResendJob { job_id: String },
    /// Puts a job's message on the dead-letter queue, as Queues does after the last retry.
    DeadLetterJob { job_id: String },
    CronRuns,
    /// Runs SQL statements (one transaction) through the worker's own database binding: how tests arrange
    /// states the API cannot make without writing D1's file beside the running worker
    /// (which makes the worker's own writes fail with SQLITE_BUSY; docs/PLATFORM.md).
    Sql,
    /// Raises an internal error on purpose, for the error-reporting tests (G1).
    Error,
}

/// Who may call a route; `dispatch` authenticates before the handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the handler may still look at a presented session, e.g. sign-out).
    Public,
    /// A live session (KV). Reads only: KV may lag a revocation elsewhere by 60 s.
    Session,
    /// A live session whose database row is confirmed open: every state change.
    ConfirmedSession,
    /// An admin's session (confirmed in the database for state changes). Anyone else,
    /// signed in or not, is told the route does not exist (404).
    Admin,
}

impl Route {
    pub fn access(&self) -> Access {
        use Route::*;
        match self {
            Diag(DiagRoute::Error) => Access::Session,
            Health | OpenApi | ClientConfig | Signup | Login | Logout | ResetRequest | ResetConfirm | VerifyEmail | Session | ContentTypes
            | BillingPacks | StripeWebhook | ReopenAccount | CreatePrivacyRequest | Diag(_) => Access::Public,

            AdminPage | AdminUsers | AdminUser { .. } | AdminAdjustCredits { .. } | AdminJobs | AdminReplayJob { .. }
            | AdminWebhookEvents | AdminRerunWebhookEvent { .. } | AdminPrivacyRequests | AdminUpdatePrivacyRequest { .. } => Access::Admin,
            Me | ListSessions | Activity | ListBrands | GetBrand { .. } | ListUploads | GetUpload { .. } | UploadContent { .. }
            | ListGenerations | GetGeneration { .. } | Credits | CreditLedger | BillingPurchases | WebsiteImportQuote | ListExports
            | GetExport { .. } | ExportContent { .. } | ListPrivacyRequests => Access::Session,
            ChangePassword | ResendVerification | UpdateMe | RevokeAllSessions | RevokeSession { .. } | CreateBrand
            | UpdateBrand { .. } | DeleteBrand { .. } | DuplicateBrand { .. } | CreateUpload | DeleteUpload { .. }
            | SubmitGeneration | UpdateGeneration { .. } | DeleteGeneration { .. } | BillingCheckout | ImportWebsite
            | StartExport | CloseAccount | AcknowledgePolicy => Access::ConfirmedSession,
        }
    }

    /// A stable label for logs: the pattern, never the concrete path.
    pub fn label(&self) -> &'static str {
        match self {
            Route::Health => "GET /api/health",
            Route::OpenApi => "GET /api/openapi.json",
            Route::ClientConfig => "GET /api/client-config",
            Route::Signup => "POST /api/auth/signup",
            Route::Login => "POST /api/auth/login",
            Route::Logout => "POST /api/auth/logout",
            Route::ChangePassword => "POST /api/auth/password",
            Route::ResetRequest => "POST /api/auth/reset/request",
            Route::ResetConfirm => "POST /api/auth/reset/confirm",
            Route::VerifyEmail => "POST /api/auth/verify",
            Route::ResendVerification => "POST /api/auth/verify/resend",
            Route::Session => "GET /api/auth/session",
            Route::Me => "GET /api/me",
            Route::UpdateMe => "PATCH /api/me",
            Route::ListSessions => "GET /api/sessions",
            Route::RevokeAllSessions => "DELETE /api/sessions",
            Route::RevokeSession { .. } => "DELETE /api/sessions/{id}",
            Route::Activity => "GET /api/activity",
            Route::ListBrands => "GET /api/brands",
            Route::CreateBrand => "POST /api/brands",
            Route::GetBrand { .. } => "GET /api/brands/{id}",
            Route::UpdateBrand { .. } => "PATCH /api/brands/{id}",
            Route::DeleteBrand { .. } => "DELETE /api/brands/{id}",
            Route::DuplicateBrand { .. } => "POST /api/brands/{id}/duplicate",
            Route::WebsiteImportQuote => "GET /api/brands/from-website",
            Route::ImportWebsite => "POST /api/brands/from-website",
            Route::ListUploads => "GET /api/uploads",
            Route::CreateUpload => "POST /api/uploads",
            Route::GetUpload { .. } => "GET /api/uploads/{id}",
            Route::UploadContent { .. } => "GET /api/uploads/{id}/content",
            Route::DeleteUpload { .. } => "DELETE /api/uploads/{id}",
            Route::ContentTypes => "GET /api/content-types",
            Route::SubmitGeneration => "POST /api/generations",
            Route::ListGenerations => "GET /api/generations",
            Route::GetGeneration { .. } => "GET /api/generations/{id}",
            Route::UpdateGeneration { .. } => "PATCH /api/generations/{id}",
            Route::DeleteGeneration { .. } => "DELETE /api/generations/{id}",
            Route::Credits => "GET /api/credits",
            Route::CreditLedger => "GET /api/credits/ledger",
            Route::BillingPacks => "GET /api/billing/packs",
            Route::BillingCheckout => "POST /api/billing/checkout",
            Route::BillingPurchases => "GET /api/billing/purchases",
            Route::StripeWebhook => "POST /api/webhooks/stripe",
            Route::AdminPage => "GET /admin",
            Route::AdminUsers => "GET /api/admin/users",
            Route::AdminUser { .. } => "GET /api/admin/users/{id}",
            Route::AdminAdjustCredits { .. } => "POST /api/admin/users/{id}/adjustments",
            Route::AdminJobs => "GET /api/admin/jobs",
            Route::AdminReplayJob { .. } => "POST /api/admin/jobs/{id}/replay",
            Route::AdminWebhookEvents => "GET /api/admin/webhook-events",
            Route::AdminRerunWebhookEvent { .. } => "POST /api/admin/webhook-events/{id}/rerun",
            Route::AdminPrivacyRequests => "GET /api/admin/privacy-requests",
            Route::AdminUpdatePrivacyRequest { .. } => "PATCH /api/admin/privacy-requests/{id}",
            Route::StartExport => "POST /api/account/export",
            Route::ListExports => "GET /api/account/exports",
            Route::GetExport { .. } => "GET /api/account/exports/{id}",
            Route::ExportContent { .. } => "GET /api/account/exports/{id}/content",
            Route::CloseAccount => "DELETE /api/account",
            Route::ReopenAccount => "POST /api/account/reopen",
            Route::CreatePrivacyRequest => "POST /api/privacy-requests",
            Route::ListPrivacyRequests => "GET /api/privacy-requests",
            Route::AcknowledgePolicy => "POST /api/me/policy-notice",
            Route::Diag(d) => match d {
                DiagRoute::KvPut => "POST /api/_diag/kv",
                DiagRoute::KvGet { .. } => "GET /api/_diag/kv/{key}",
                DiagRoute::BlobList => "GET /api/_diag/blobs",
                DiagRoute::BlobPut { .. } => "PUT /api/_diag/blobs/{key}",
                DiagRoute::BlobGet { .. } => "GET /api/_diag/blobs/{key}",
                DiagRoute::DbProbe => "POST /api/_diag/db",
                DiagRoute::QueueSend { .. } => "POST /api/_diag/queues/{queue}",
                DiagRoute::ProbeEvents { .. } => "GET /api/_diag/probes/{id}",
                DiagRoute::ResendJob { .. } => "POST /api/_diag/generations/{id}/resend",
                DiagRoute::DeadLetterJob { .. } => "POST /api/_diag/generations/{id}/dead-letter",
                DiagRoute::CronRuns => "GET /api/_diag/cron-runs",
                DiagRoute::Sql => "POST /api/_diag/sql",
                DiagRoute::Error => "POST /api/_diag/error",
            },
        }
    }
}

/// One request for every route of the table (path parameters filled in), so tests can
/// walk the whole table; `tests::samples_cover_every_route` keeps it complete.
pub const SAMPLES: &[(&str, &str)] = &[
    ("GET", "/api/health"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/client-config"),
    ("POST", "/api/auth/signup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("POST", "/api/auth/password"),
    ("POST", "/api/auth/reset/request"),
    ("POST", "/api/auth/reset/confirm"),
    ("POST", "/api/auth/verify"),
    ("GET", "/api/auth/session"),
    ("POST", "/api/auth/verify/resend"),
    ("GET", "/api/me"),
    ("PATCH", "/api/me"),
    ("GET", "/api/sessions"),
    ("DELETE", "/api/sessions"),
    ("DELETE", "/api/sessions/ses_1"),
    ("GET", "/api/activity"),
    ("GET", "/api/brands"),
    ("POST", "/api/brands"),
    ("GET", "/api/brands/brd_1"),
    ("PATCH", "/api/brands/brd_1"),
    ("DELETE", "/api/brands/brd_1"),
    ("POST", "/api/brands/brd_1/duplicate"),
    ("GET", "/api/brands/from-website"),
    ("POST", "/api/brands/from-website"),
    ("GET", "/api/uploads"),
    ("POST", "/api/uploads"),
    ("GET", "/api/uploads/upl_1"),
    ("GET", "/api/uploads/upl_1/content"),
    ("DELETE", "/api/uploads/upl_1"),
    ("GET", "/api/content-types"),
    ("POST", "/api/generations"),
    ("GET", "/api/generations"),
    ("GET", "/api/generations/gen_1"),
    ("PATCH", "/api/generations/gen_1"),
    ("DELETE", "/api/generations/gen_1"),
    ("GET", "/api/credits"),
    ("GET", "/api/credits/ledger"),
    ("GET", "/api/billing/packs"),
    ("POST", "/api/billing/checkout"),
    ("GET", "/api/billing/purchases"),
    ("POST", "/api/webhooks/stripe"),
    ("GET", "/admin"),
    ("GET", "/api/admin/users"),
    ("GET", "/api/admin/users/usr_1"),
    ("POST", "/api/admin/users/usr_1/adjustments"),
    ("GET", "/api/admin/jobs"),
    ("POST", "/api/admin/jobs/gen_1/replay"),
    ("GET", "/api/admin/webhook-events"),
    ("POST", "/api/admin/webhook-events/evt_1/rerun"),
    ("GET", "/api/admin/privacy-requests"),
    ("PATCH", "/api/admin/privacy-requests/prq_1"),
    ("POST", "/api/account/export"),
    ("GET", "/api/account/exports"),
    ("GET", "/api/account/exports/exp_1"),
    ("GET", "/api/account/exports/exp_1/content"),
    ("DELETE", "/api/account"),
    ("POST", "/api/account/reopen"),
    ("POST", "/api/privacy-requests"),
    ("GET", "/api/privacy-requests"),
    ("POST", "/api/me/policy-notice"),
    ("POST", "/api/_diag/error"),
    ("POST", "/api/_diag/kv"),
    ("GET", "/api/_diag/kv/k"),
    ("GET", "/api/_diag/blobs"),
    ("PUT", "/api/_diag/blobs/k"),
    ("GET", "/api/_diag/blobs/k"),
    ("POST", "/api/_diag/db"),
    ("POST", "/api/_diag/queues/q"),
    ("GET", "/api/_diag/probes/p"),
    ("POST", "/api/_diag/generations/gen_1/resend"),
    ("POST", "/api/_diag/generations/gen_1/dead-letter"),
    ("GET", "/api/_diag/cron-runs"),
    ("POST", "/api/_diag/sql"),
];

/// One path's methods. HEAD is answered wherever GET is.
struct Methods(Vec<(&'static str, Route)>);

impl Methods {
    fn pick(self, method: &str) -> Result<Route, AppError> {
        let wanted = if method == "HEAD" { "GET" } else { method };
        let mut allow = Vec::with_capacity(self.0.len() + 1);
        for (m, route) in self.0 {
            if m == wanted {
                return Ok(route);
            }
            allow.push(m);
            if m == "GET" {
                allow.push("HEAD");
            }
        }
        Err(AppError::MethodNotAllowed { allow })
    }
}

fn only(method: &'static str, route: Route) -> Methods {
    Methods(vec![(method, route)])
}

/// Resolves a request to a route. `path` is the URL path without the query.
pub fn resolve(method: &str, path: &str) -> Result<Route, AppError> {
    let trimmed = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    // An empty segment would otherwise be captured as an empty id ("/api/brands//").
    if segments.iter().any(|s| s.is_empty()) {
        return Err(AppError::NotFound);
    }
    let methods = match segments.as_slice() {
        ["api", "health"] => only("GET", Route::Health),
        ["api", "openapi.json"] => only("GET", Route::OpenApi),
        ["api", "client-config"] => only("GET", Route::ClientConfig),
        ["api", "auth", "signup"] => only("POST", Route::Signup),
        ["api", "auth", "login"] => only("POST", Route::Login),
        ["api", "auth", "logout"] => only("POST", Route::Logout),
        ["api", "auth", "password"] => only("POST", Route::ChangePassword),
        ["api", "auth", "reset", "request"] => only("POST", Route::ResetRequest),
        ["api", "auth", "reset", "confirm"] => only("POST", Route::ResetConfirm),
        ["api", "auth", "verify"] => only("POST", Route::VerifyEmail),
        ["api", "auth", "verify", "resend"] => only("POST", Route::ResendVerification),
        ["api", "auth", "session"] => only("GET", Route::Session),
        ["api", "me"] => Methods(vec![("GET", Route::Me), ("PATCH", Route::UpdateMe)]),
        ["api", "sessions"] => Methods(vec![("GET", Route::ListSessions), ("DELETE", Route::RevokeAllSessions)]),
        ["api", "sessions", id] => only("DELETE", Route::RevokeSession { id: id.to_string() }),
        ["api", "activity"] => only("GET", Route::Activity),
        ["api", "brands"] => Methods(vec![("GET", Route::ListBrands), ("POST", Route::CreateBrand)]),
        // Before `["api", "brands", id]`: "from-website" is not a brand id.
        ["api", "brands", "from-website"] => Methods(vec![("GET", Route::WebsiteImportQuote), ("POST", Route::ImportWebsite)]),
        ["api", "brands", id] => Methods(vec![
            ("GET", Route::GetBrand { id: id.to_string() }),
            ("PATCH", Route::UpdateBrand { id: id.to_string() }),
            ("DELETE", Route::DeleteBrand { id: id.to_string() }),
        ]),
        ["api", "brands", id, "duplicate"] => only("POST", Route::DuplicateBrand { id: id.to_string() }),
        ["api", "uploads"] => Methods(vec![("GET", Route::ListUploads), ("POST", Route::CreateUpload)]),
        ["api", "uploads", id] => Methods(vec![
            ("GET", Route::GetUpload { id: id.to_string() }),
            ("DELETE", Route::DeleteUpload { id: id.to_string() }),
        ]),
        ["api", "uploads", id, "content"] => only("GET", Route::UploadContent { id: id.to_string() }),
        ["api", "content-types"] => only("GET", Route::ContentTypes),
        ["api", "generations"] => Methods(vec![("GET", Route::ListGenerations), ("POST", Route::SubmitGeneration)]),
        ["api", "generations", id] => Methods(vec![
            ("GET", Route::GetGeneration { id: id.to_string() }),
            ("PATCH", Route::UpdateGeneration { id: id.to_string() }),
            ("DELETE", Route::DeleteGeneration { id: id.to_string() }),
        ]),
        ["api", "credits"] => only("GET", Route::Credits),
        ["api", "credits", "ledger"] => only("GET", Route::CreditLedger),
        ["api", "billing", "packs"] => only("GET", Route::BillingPacks),
        ["api", "billing", "checkout"] => only("POST", Route::BillingCheckout),
        ["api", "billing", "purchases"] => only("GET", Route::BillingPurchases),
        ["api", "webhooks", "stripe"] => only("POST", Route::StripeWebhook),
        ["admin"] | ["admin.html"] => only("GET", Route::AdminPage),
        ["api", "admin", "users"] => only("GET", Route::AdminUsers),
        ["api", "admin", "users", id] => only("GET", Route::AdminUser { id: id.to_string() }),
        ["api", "admin", "users", id, "adjustments"] => only("POST", Route::AdminAdjustCredits { id: id.to_string() }),
        ["api", "admin", "jobs"] => only("GET", Route::AdminJobs),
        ["api", "admin", "jobs", id, "replay"] => only("POST", Route::AdminReplayJob { id: id.to_string() }),
        ["api", "admin", "webhook-events"] => only("GET", Route::AdminWebhookEvents),
        ["api", "admin", "webhook-events", id, "rerun"] => only("POST", Route::AdminRerunWebhookEvent { id: id.to_string() }),
        ["api", "admin", "privacy-requests"] => only("GET", Route::AdminPrivacyRequests),
        ["api", "admin", "privacy-requests", id] => only("PATCH", Route::AdminUpdatePrivacyRequest { id: id.to_string() }),
        ["api", "account", "export"] => only("POST", Route::StartExport),
        ["api", "account", "exports"] => only("GET", Route::ListExports),
        ["api", "account", "exports", id] => only("GET", Route::GetExport { id: id.to_string() }),
        ["api", "account", "exports", id, "content"] => only("GET", Route::ExportContent { id: id.to_string() }),
        ["api", "account"] => only("DELETE", Route::CloseAccount),
        ["api", "account", "reopen"] => only("POST", Route::ReopenAccount),
        ["api", "privacy-requests"] => Methods(vec![("GET", Route::ListPrivacyRequests), ("POST", Route::CreatePrivacyRequest)]),
        ["api", "me", "policy-notice"] => only("POST", Route::AcknowledgePolicy),
        ["api", "_diag", rest @ ..] => diag_methods(rest).ok_or(AppError::NotFound)?,
        _ => return Err(AppError::NotFound),
    };
    methods.pick(method)
}

fn diag_methods(rest: &[&str]) -> Option<Methods> {
    use DiagRoute::*;
    let d = Route::Diag;
    Some(match rest {
        ["kv"] => only("POST", d(KvPut)),
        ["kv", key] => only("GET", d(KvGet { key: key.to_string() })),
        ["blobs"] => only("GET", d(BlobList)),
        ["blobs", key] => Methods(vec![
            ("GET", d(BlobGet { key: key.to_string() })),
            ("PUT", d(BlobPut { key: key.to_string() })),
        ]),
        ["db"] => only("POST", d(DbProbe)),
        ["queues", queue] => only("POST", d(QueueSend { queue: queue.to_string() })),
        ["probes", id] => only("GET", d(ProbeEvents { probe_id: id.to_string() })),
        ["generations", id, "resend"] => only("POST", d(ResendJob { job_id: id.to_string() })),
        ["generations", id, "dead-letter"] => only("POST", d(DeadLetterJob { job_id: id.to_string() })),
        ["cron-runs"] => only("GET", d(CronRuns)),
        ["sql"] => only("POST", d(Sql)),
        ["error"] => only("POST", d(Error)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant once: a new route does not compile until it is numbered here, and
    /// this test fails until `SAMPLES` has a request for it.
    fn ordinal(route: &Route) -> usize {
        use DiagRoute::*;
        match route {
            Route::Health => 0,
            Route::OpenApi => 1,
            Route::ClientConfig => 2,
            Route::Signup => 3,
            Route::Login => 4,
            Route::Logout => 5,
            Route::ChangePassword => 6,
            Route::ResetRequest => 7,
            Route::ResetConfirm => 8,
            Route::VerifyEmail => 9,
            Route::ResendVerification => 10,
            Route::Me => 11,
            Route::UpdateMe => 12,
            Route::ListSessions => 13,
            Route::RevokeAllSessions => 14,
            Route::RevokeSession { .. } => 15,
            Route::Activity => 16,
            Route::ListBrands => 17,
            Route::CreateBrand => 18,
            Route::GetBrand { .. } => 19,
            Route::UpdateBrand { .. } => 20,
            Route::DeleteBrand { .. } => 21,
            Route::DuplicateBrand { .. } => 22,
            Route::ListUploads => 23,
            Route::CreateUpload => 24,
            Route::GetUpload { .. } => 25,
            Route::UploadContent { .. } => 26,
            Route::DeleteUpload { .. } => 27,
            Route::ContentTypes => 28,
            Route::SubmitGeneration => 29,
            Route::ListGenerations => 30,
            Route::GetGeneration { .. } => 31,
            Route::UpdateGeneration { .. } => 32,
            Route::DeleteGeneration { .. } => 33,
            Route::Credits => 34,
            Route::CreditLedger => 35,
            Route::BillingPacks => 47,
            Route::BillingCheckout => 48,
            Route::BillingPurchases => 49,
            Route::StripeWebhook => 50,
            Route::AdminPage => 51,
            Route::AdminUsers => 52,
            Route::AdminUser { .. } => 53,
            Route::AdminAdjustCredits { .. } => 54,
            Route::AdminJobs => 55,
            Route::AdminReplayJob { .. } => 56,
            Route::AdminWebhookEvents => 57,
            Route::AdminRerunWebhookEvent { .. } => 58,
            Route::AdminPrivacyRequests => 59,
            Route::AdminUpdatePrivacyRequest { .. } => 60,
            Route::WebsiteImportQuote => 62,
            Route::ImportWebsite => 63,
            Route::StartExport => 65,
            Route::ListExports => 66,
            Route::GetExport { .. } => 67,
            Route::ExportContent { .. } => 68,
            Route::CloseAccount => 69,
            Route::ReopenAccount => 70,
            Route::CreatePrivacyRequest => 71,
            Route::ListPrivacyRequests => 72,
            Route::AcknowledgePolicy => 73,
            Route::Diag(d) => match d {
                KvPut => 36,
                KvGet { .. } => 37,
                BlobList => 38,
                BlobPut { .. } => 39,
                BlobGet { .. } => 40,
                DbProbe => 41,
                QueueSend { .. } => 42,
                ProbeEvents { .. } => 43,
                ResendJob { .. } => 44,
                DeadLetterJob { .. } => 45,
                CronRuns => 46,
                Error => 61,
                Sql => 74,
            },
            Route::Session => 64,
        }
    }
    const ROUTE_COUNT: usize = 75;

    #[test]
    fn samples_cover_every_route() {
        let mut seen = vec![false; ROUTE_COUNT];
        for (method, path) in SAMPLES {
            let route = resolve(method, path).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let label = route.label();
            assert!(label.starts_with(&format!("{method} ")), "{method} {path} resolved to {label}");
            let n = ordinal(&route);
            assert!(!seen[n], "{method} {path}: a second sample for {label}");
            seen[n] = true;
        }
        let missing: Vec<usize> = (0..ROUTE_COUNT).filter(|n| !seen[*n]).collect();
        assert!(missing.is_empty(), "routes numbered {missing:?} have no entry in SAMPLES");
    }

    #[test]
    fn every_signed_in_route_that_changes_state_confirms_the_session_in_the_database() {
        for path in ["/api/me", "/api/sessions", "/api/sessions/s", "/api/brands", "/api/brands/b", "/api/brands/b/duplicate",
            "/api/uploads", "/api/uploads/u", "/api/uploads/u/content", "/api/generations", "/api/generations/g",
            "/api/credits", "/api/credits/ledger", "/api/activity", "/api/auth/password", "/api/auth/verify/resend",
            "/api/billing/checkout", "/api/billing/purchases", "/api/account/export", "/api/account/exports",
            "/api/account/exports/e", "/api/account/exports/e/content", "/api/account", "/api/me/policy-notice"] {
            for method in ["GET", "POST", "PATCH", "DELETE"] {
                let Ok(route) = resolve(method, path) else { continue };
                let expected = if method == "GET" { Access::Session } else { Access::ConfirmedSession };
                assert_eq!(route.access(), expected, "{method} {path}");
            }
        }
    }

    #[test]
    fn billing_routes_resolve_with_their_access() {
        assert_eq!(resolve("GET", "/api/billing/packs").map(|r| r.access()), Ok(Access::Public));
        assert_eq!(resolve("POST", "/api/billing/checkout").map(|r| r.access()), Ok(Access::ConfirmedSession));
        assert_eq!(resolve("GET", "/api/billing/purchases").map(|r| r.access()), Ok(Access::Session));
        // Stripe presents no session: the signature is checked by the handler.
        assert_eq!(resolve("POST", "/api/webhooks/stripe").map(|r| r.access()), Ok(Access::Public));
        assert_eq!(resolve("GET", "/api/webhooks/stripe").unwrap_err(), AppError::MethodNotAllowed { allow: vec!["POST"] });
    }

    #[test]
    fn every_admin_route_needs_the_admin_role() {
        let routes = [
            ("GET", "/admin"), ("GET", "/admin.html"), ("GET", "/api/admin/users"), ("GET", "/api/admin/users/usr_1"),
            ("POST", "/api/admin/users/usr_1/adjustments"), ("GET", "/api/admin/jobs"), ("POST", "/api/admin/jobs/gen_1/replay"),
            ("GET", "/api/admin/webhook-events"), ("POST", "/api/admin/webhook-events/evt_1/rerun"),
            ("GET", "/api/admin/privacy-requests"), ("PATCH", "/api/admin/privacy-requests/prq_1"),
        ];
        for (method, path) in routes {
            let route = resolve(method, path).unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
            assert_eq!(route.access(), Access::Admin, "{method} {path}");
            assert!(route.label().starts_with(method), "{method} {path}");
        }
        assert_eq!(resolve("POST", "/api/_diag/error"), Ok(Route::Diag(DiagRoute::Error)));
    }

    #[test]
    fn data_rights_routes_resolve_with_their_access() {
        assert_eq!(resolve("DELETE", "/api/account").map(|r| r.access()), Ok(Access::ConfirmedSession));
        assert_eq!(resolve("POST", "/api/account/reopen").map(|r| r.access()), Ok(Access::Public));
        assert_eq!(resolve("POST", "/api/privacy-requests").map(|r| r.access()), Ok(Access::Public));
        assert_eq!(resolve("GET", "/api/privacy-requests").map(|r| r.access()), Ok(Access::Session));
        assert_eq!(resolve("POST", "/api/me/policy-notice").map(|r| r.access()), Ok(Access::ConfirmedSession));
        assert_eq!(resolve("GET", "/api/account").unwrap_err(), AppError::MethodNotAllowed { allow: vec!["DELETE"] });
    }

    #[test]
    fn health_answers_get_and_head() {
        assert_eq!(resolve("GET", "/api/health"), Ok(Route::Health));
        assert_eq!(resolve("HEAD", "/api/health"), Ok(Route::Health));
        assert_eq!(resolve("GET", "/api/health/"), Ok(Route::Health));
    }

    #[test]
    fn a_known_path_with_the_wrong_method_is_405_with_allow() {
        let err = resolve("POST", "/api/health").unwrap_err();
        assert_eq!(err, AppError::MethodNotAllowed { allow: vec!["GET", "HEAD"] });
    }

    #[test]
    fn unknown_paths_are_404() {
        for p in ["/api", "/api/", "/api/nope", "/api/health/extra", "/api/_diag", "/api/_diag/zzz", "/"] {
            assert_eq!(resolve("GET", p), Err(AppError::NotFound), "{p}");
        }
    }

    #[test]
    fn account_routes_resolve() {
        assert_eq!(resolve("PATCH", "/api/me"), Ok(Route::UpdateMe));
        assert_eq!(resolve("DELETE", "/api/sessions"), Ok(Route::RevokeAllSessions));
        assert_eq!(resolve("DELETE", "/api/sessions/ses_1"), Ok(Route::RevokeSession { id: "ses_1".into() }));
        assert_eq!(
            resolve("GET", "/api/auth/login").unwrap_err(),
            AppError::MethodNotAllowed { allow: vec!["POST"] }
        );
    }

    #[test]
    fn path_parameters_are_captured() {
        assert_eq!(
            resolve("PUT", "/api/_diag/blobs/a.png"),
            Ok(Route::Diag(DiagRoute::BlobPut { key: "a.png".into() }))
        );
        assert_eq!(
            resolve("DELETE", "/api/_diag/blobs/a.png").unwrap_err(),
            AppError::MethodNotAllowed { allow: vec!["GET", "HEAD", "PUT"] }
        );
    }

    #[test]
    fn an_empty_path_parameter_is_404() {
        for path in ["/api/brands//", "/api/brands//duplicate", "/api/sessions//", "/api/_diag/blobs//", "/api/_diag/generations//resend/"] {
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                assert_eq!(resolve(method, path), Err(AppError::NotFound), "{method} {path}");
            }
        }
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "TRACE"];

        /// Paths made mostly of the table's own words, so that many of them resolve.
        fn path() -> impl Strategy<Value = String> {
            let segment = prop_oneof![
                4 => proptest::sample::select(vec![
                    "api", "health", "auth", "admin", "users", "adjustments", "jobs", "replay", "webhook-events", "rerun", "privacy-requests", "account", "policy-notice", "error", "login", "reset", "request", "verify", "resend", "me", "sessions", "brands",
                    "duplicate", "uploads", "content", "generations", "credits", "ledger", "_diag", "kv", "blobs",
                    "queues", "probes", "dead-letter", "cron-runs", "billing", "packs", "checkout", "purchases", "webhooks", "stripe",
                    "", ".", "..", "x_1",
                ]).prop_map(String::from),
                1 => tricky_text(6),
            ];
            (proptest::collection::vec(segment, 0..6), any::<bool>())
                .prop_map(|(segments, slash)| format!("/{}{}", segments.join("/"), if slash { "/" } else { "" }))
        }

        /// The route's path pattern, from its label.
        fn pattern(route: &Route) -> &'static str {
            route.label().split_once(' ').unwrap().1
        }

        fn matches_pattern(pattern: &str, path: &str) -> bool {
            let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
            let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
            p.len() == q.len() && p.iter().zip(&q).all(|(p, q)| if p.starts_with('{') { !q.is_empty() } else { p == q })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_request_is_a_route_a_404_or_a_405(method in prop_oneof![proptest::sample::select(&METHODS[..]).prop_map(String::from), tricky_text(6)], path in prop_oneof![4 => path(), 1 => tricky_text(30)]) {
                match resolve(&method, &path) {
                    Ok(route) => {
                        let (label_method, _) = route.label().split_once(' ').unwrap();
                        prop_assert_eq!(label_method, if method == "HEAD" { "GET" } else { method.as_str() });
                        prop_assert!(matches_pattern(pattern(&route), &path), "{} resolved to {}", path, route.label());
                    }
                    Err(AppError::NotFound) => {}
                    Err(AppError::MethodNotAllowed { allow }) => {
                        prop_assert!(!allow.is_empty());
                        prop_assert!(!allow.contains(&method.as_str()), "{} in {:?}", method, allow);
                        prop_assert_eq!(allow.contains(&"GET"), allow.contains(&"HEAD"));
                        for m in allow {
                            prop_assert!(resolve(m, &path).is_ok(), "{} {} is allowed but does not resolve", m, path);
                        }
                    }
                    Err(other) => prop_assert!(false, "{:?}", other),
                }
            }

            #[test]
            fn every_pattern_resolves_back_to_its_route(param in "[A-Za-z0-9_.~-]{1,24}", slash in any::<bool>()) {
                let patterns = [
                    "GET /api/health", "POST /api/auth/login", "DELETE /api/sessions/{id}", "GET /api/brands/{id}",
                    "PATCH /api/brands/{id}", "POST /api/brands/{id}/duplicate", "GET /api/uploads/{id}/content",
                    "DELETE /api/generations/{id}", "GET /api/_diag/kv/{key}", "PUT /api/_diag/blobs/{key}",
                    "POST /api/_diag/queues/{queue}", "GET /api/_diag/probes/{id}", "POST /api/_diag/generations/{id}/dead-letter",
                ];
                for label in patterns {
                    let (method, pattern) = label.split_once(' ').unwrap();
                    let path = pattern.replace("{id}", &param).replace("{key}", &param).replace("{queue}", &param) + if slash { "/" } else { "" };
                    let route = resolve(method, &path).unwrap();
                    prop_assert_eq!(route.label(), label);
                }
            }
        }
    }
}
