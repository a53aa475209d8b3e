//! The `ErrorReporter` port over `fetch`: envelopes to the DSN's endpoint, and the rate
//! limits Sentry answers with, kept per isolate (every request of an isolate shares them).

use crate::ops::sentry::{self, Delivery, ErrorEvent, ErrorReporter, Level, RateLimits, Reporting, SentryAnswer, Source};
use crate::platform::clock::{Clock, SystemClock};
use crate::platform::log::{self, Level as LogLevel};
use crate::platform::ports::PortError;
use std::cell::RefCell;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub struct FetchSentry;

impl ErrorReporter for FetchSentry {
    async fn send_envelope(&self, reporting: &Reporting, envelope: Vec<u8>) -> Result<SentryAnswer, PortError> {
        let fail = |e: worker::Error| PortError(format!("sentry: {e}"));
        let headers = Headers::new();
        headers.set("Content-Type", "application/x-sentry-envelope").map_err(fail)?;
        headers.set("X-Sentry-Auth", &reporting.dsn.auth_header(sentry::CLIENT)).map_err(fail)?;
        let mut init = RequestInit::new();
        let body = js_sys::Uint8Array::from(envelope.as_slice());
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
        let request = Request::new_with_init(&reporting.dsn.envelope_url(), &init).map_err(fail)?;
        let response = Fetch::Request(request).send().await.map_err(fail)?;
        let header = |name: &str| response.headers().get(name).ok().flatten();
        Ok(SentryAnswer { status: response.status_code(), retry_after: header("Retry-After"), rate_limits: header("X-Sentry-Rate-Limits") })
    }
}

thread_local! {
    static LIMITS: RefCell<RateLimits> = RefCell::new(RateLimits::default());
}

/// One unexpected error, owned, so it can be reported after the response (`waitUntil`).
pub struct Report {
    pub source: Source,
    pub transaction: String,
    pub message: String,
    pub request_id: Option<String>,
    pub user_id: Option<String>,
}

/// Sends the report unless Sentry asked this isolate to wait; failures are logged only.
pub async fn send(reporting: &Reporting, report: Report) {
    let event = ErrorEvent {
        level: Level::Error,
        source: report.source,
        transaction: &report.transaction,
        message: &report.message,
        request_id: report.request_id.as_deref(),
        user_id: report.user_id.as_deref(),
        now_ms: SystemClock.now_ms(),
    };
    let mut limits = LIMITS.with(|l| l.borrow().clone());
    let delivery = sentry::report(&FetchSentry, reporting, &mut limits, &event).await;
    LIMITS.with(|l| *l.borrow_mut() = limits);
    if delivery == Delivery::Failed {
        log::emit(LogLevel::Warn, "error report not delivered to Sentry", serde_json::json!({ "transaction": report.transaction }));
    }
}
