//! Error reporting to Sentry (G1) as pure parts: the DSN, the envelope an event travels
//! in, and the client-side rate limits Sentry asks for. The `ErrorReporter` port sends
//! an envelope; `cf::adapters::sentry` implements it with `fetch`, a test double records.
//!
//! An event carries the level, release (the build version), environment, the request id
//! as a tag, the route pattern as the transaction, and the user's id only: never an
//! email, name, IP, prompt, token or card data. Its message goes through the one
//! scrubber (`ops::scrub`) that logs use.

use crate::ops::scrub;
use crate::platform::ports::PortError;
use serde_json::{json, Value};

/// A parsed DSN: `{scheme}://{public_key}@{host}{path}/{project_id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    pub scheme: String,
    pub public_key: String,
    /// Host and port.
    pub host: String,
    /// Any path before the project id, without slashes at either end.
    pub path: String,
    pub project_id: String,
    raw: String,
}

impl Dsn {
    pub fn parse(raw: &str) -> Result<Dsn, String> {
        let raw = raw.trim();
        let (scheme, rest) = raw.split_once("://").ok_or("expected scheme://key@host/project")?;
        if scheme != "https" && scheme != "http" {
            return Err(format!("expected an http(s) DSN, got the scheme {scheme:?}"));
        }
        let (credentials, location) = rest.split_once('@').ok_or("the DSN has no public key (key@host)")?;
        let public_key = credentials.split(':').next().unwrap_or_default();
        let (host, path) = location.split_once('/').ok_or("the DSN has no project id")?;
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = match path.rsplit_once('/') {
            Some((prefix, id)) => (prefix.trim_matches('/'), id),
            None => ("", path),
        };
        let valid = |s: &str, extra: &[u8]| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
        if !valid(public_key, b"-_") || !valid(host, b".-:[]") || !valid(project_id, b"-_") {
            return Err("expected scheme://key@host/project with a key, a host and a project id".into());
        }
        Ok(Dsn {
            scheme: scheme.into(),
            public_key: public_key.into(),
            host: host.into(),
            path: prefix.into(),
            project_id: project_id.into(),
            raw: raw.into(),
        })
    }

    /// Where envelopes go: `{scheme}://{host}/{path/}api/{project}/envelope/`.
    pub fn envelope_url(&self) -> String {
        let path = if self.path.is_empty() { String::new() } else { format!("{}/", self.path) };
        format!("{}://{}/{path}api/{}/envelope/", self.scheme, self.host, self.project_id)
    }

    /// The `X-Sentry-Auth` header.
    pub fn auth_header(&self, client: &str) -> String {
        format!("Sentry sentry_version=7, sentry_key={}, sentry_client={client}", self.public_key)
    }

    /// The DSN as written (the public key is not a secret: browsers ship it).
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Fatal,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Fatal => "fatal",
        }
    }
}

/// Where an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Request,
    Queue,
    Cron,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Request => "request",
            Source::Queue => "queue",
            Source::Cron => "cron",
        }
    }
}

/// One unexpected error, as the code knows it (before scrubbing).
#[derive(Debug, Clone)]
pub struct ErrorEvent<'a> {
    pub level: Level,
    pub source: Source,
    /// The route pattern (`GET /api/brands/{id}`), the queue or the cron task.
    pub transaction: &'a str,
    /// What went wrong: an internal cause. Scrubbed before it leaves.
    pub message: &'a str,
    pub request_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub now_ms: i64,
}

/// Release, environment and server facts every event repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporting {
    pub dsn: Dsn,
    pub environment: String,
    pub release: String,
}

pub const CLIENT: &str = concat!("blimari/", env!("CARGO_PKG_VERSION"));

/// The event as Sentry's event payload (only ids, no personal data).
pub fn event_json(reporting: &Reporting, event: &ErrorEvent<'_>, event_id: &str) -> Value {
    let message = scrub::scrub(event.message);
    let mut tags = serde_json::Map::new();
    tags.insert("source".into(), event.source.as_str().into());
    if let Some(id) = event.request_id {
        tags.insert("request_id".into(), id.into());
    }
    let mut payload = json!({
        "event_id": event_id,
        "timestamp": event.now_ms as f64 / 1000.0,
        "platform": "native",
        "level": event.level.as_str(),
        "logger": format!("blimari.{}", event.source.as_str()),
        "release": reporting.release,
        "environment": reporting.environment,
        "transaction": event.transaction,
        "server_name": "cloudflare-worker",
        "tags": tags,
        "message": { "formatted": message },
        "exception": { "values": [{ "type": "InternalError", "value": message, "mechanism": { "type": event.source.as_str(), "handled": true } }] },
        "sdk": { "name": "blimari.rust", "version": env!("CARGO_PKG_VERSION") },
    });
    if let Some(user_id) = event.user_id {
        // Only the id; "ip_address": null stops Sentry inferring an address.
        payload["user"] = json!({ "id": user_id, "ip_address": null });
    }
    payload
}

/// The envelope: a header line, an item header line, the event (newline-delimited).
pub fn envelope(reporting: &Reporting, event: &ErrorEvent<'_>, event_id: &str) -> Vec<u8> {
    let payload = event_json(reporting, event, event_id).to_string();
    let header = json!({ "event_id": event_id, "dsn": reporting.dsn.as_str(), "sdk": { "name": "blimari.rust", "version": env!("CARGO_PKG_VERSION") } });
    let item = json!({ "type": "event", "length": payload.len(), "content_type": "application/json" });
    format!("{header}\n{item}\n{payload}\n").into_bytes()
}

/// The `ErrorReporter` port: delivers one envelope to the DSN's project. The answer's
/// status and rate-limit headers come back for `RateLimits::update`.
#[allow(async_fn_in_trait)]
pub trait ErrorReporter {
    async fn send_envelope(&self, reporting: &Reporting, envelope: Vec<u8>) -> Result<SentryAnswer, PortError>;
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentryAnswer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub rate_limits: Option<String>,
}

/// Client-side rate limiting: after a 429 (or any answer with `X-Sentry-Rate-Limits`),
/// events are dropped locally until Sentry's deadline, so a flood of errors never turns
/// into a flood of refused requests. Kept per isolate by the adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Until when (epoch ms) every category is limited.
    all_until: i64,
    /// Until when the `error` category (events) is limited.
    error_until: i64,
}

/// Sentry's default when a 429 names no time.
const DEFAULT_RETRY_AFTER_MS: i64 = 60_000;

impl RateLimits {
    pub fn allows_event(&self, now_ms: i64) -> bool {
        now_ms >= self.all_until && now_ms >= self.error_until
    }

    /// Reads an answer's limits: `X-Sentry-Rate-Limits` (`secs:cat;cat:scope, …`) wins over
    /// `Retry-After`, which only counts on a 429.
    pub fn update(&mut self, answer: &SentryAnswer, now_ms: i64) {
        if let Some(header) = answer.rate_limits.as_deref().filter(|h| !h.trim().is_empty()) {
            for limit in header.split(',') {
                let mut parts = limit.trim().split(':');
                let Some(Ok(seconds)) = parts.next().map(|s| s.trim().parse::<f64>()) else { continue };
                let until = now_ms + (seconds.clamp(0.0, 86_400.0) * 1000.0) as i64;
                let categories = parts.next().unwrap_or("");
                if categories.trim().is_empty() {
                    self.all_until = self.all_until.max(until);
                } else if categories.split(';').any(|c| matches!(c.trim(), "error" | "default")) {
                    self.error_until = self.error_until.max(until);
                }
            }
            return;
        }
        if answer.status == 429 {
            let delay = answer
                .retry_after
                .as_deref()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map_or(DEFAULT_RETRY_AFTER_MS, |s| (s.clamp(0.0, 86_400.0) * 1000.0) as i64);
            self.all_until = self.all_until.max(now_ms + delay);
        }
    }
}

/// What became of one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Dropped locally: Sentry asked us to wait.
    RateLimited,
    /// Sentry refused it or could not be reached (logged, never retried).
    Failed,
}

/// Sends one event unless the limits say wait, then learns the answer's limits.
pub async fn report(reporter: &impl ErrorReporter, reporting: &Reporting, limits: &mut RateLimits, event: &ErrorEvent<'_>) -> Delivery {
    if !limits.allows_event(event.now_ms) {
        return Delivery::RateLimited;
    }
    let event_id = crate::platform::ids::hex(&crate::platform::ids::random_bytes::<16>());
    match reporter.send_envelope(reporting, envelope(reporting, event, &event_id)).await {
        Ok(answer) => {
            limits.update(&answer, event.now_ms);
            if (200..300).contains(&answer.status) {
                Delivery::Sent
            } else {
                Delivery::Failed
            }
        }
        Err(_) => Delivery::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::block_on;
    use std::cell::RefCell;

    fn reporting() -> Reporting {
        Reporting { dsn: Dsn::parse("https://abc123@o1.ingest.sentry.io/42").unwrap(), environment: "production".into(), release: "0.1.0+deadbeef".into() }
    }

    fn event<'a>(message: &'a str) -> ErrorEvent<'a> {
        ErrorEvent {
            level: Level::Error,
            source: Source::Request,
            transaction: "POST /api/brands",
            message,
            request_id: Some("req1"),
            user_id: Some("usr_1"),
            now_ms: 1_800_000_000_000,
        }
    }

    #[test]
    fn dsns_give_the_envelope_endpoint_and_the_auth_header() {
        let dsn = Dsn::parse("https://abc123@o1.ingest.sentry.io/42").unwrap();
        assert_eq!(dsn.envelope_url(), "https://o1.ingest.sentry.io/api/42/envelope/");
        assert_eq!(dsn.auth_header("blimari/1"), "Sentry sentry_version=7, sentry_key=abc123, sentry_client=blimari/1");
        let local = Dsn::parse("http://public@127.0.0.1:9000/sub/path/7/").unwrap();
        assert_eq!(local.envelope_url(), "http://127.0.0.1:9000/sub/path/api/7/envelope/");
        let legacy = Dsn::parse("https://key:secret@sentry.example.com/3").unwrap();
        assert_eq!(legacy.public_key, "key");
        for bad in ["", "sentry.io/1", "ftp://k@h/1", "https://h/1", "https://k@h", "https://k@h/", "https://k@/1"] {
            assert!(Dsn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_envelope_is_a_header_an_item_header_and_the_event() {
        let bytes = envelope(&reporting(), &event("boom for ada@example.com with Bearer tok123456"), "0123456789abcdef0123456789abcdef");
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.trim_end().split('\n').collect();
        assert_eq!(lines.len(), 3);
        let header: Value = serde_json::from_str(lines[0]).unwrap();
        let item: Value = serde_json::from_str(lines[1]).unwrap();
        let payload: Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(header["event_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(item["type"], "event");
        assert_eq!(item["length"], lines[2].len());
        assert_eq!(payload["level"], "error");
        assert_eq!(payload["release"], "0.1.0+deadbeef");
        assert_eq!(payload["environment"], "production");
        assert_eq!(payload["transaction"], "POST /api/brands");
        assert_eq!(payload["tags"]["request_id"], "req1");
        assert_eq!(payload["user"], json!({ "id": "usr_1", "ip_address": null }));
        assert!(!text.contains("ada@example.com") && !text.contains("tok123456"), "{text}");
    }

    #[derive(Default)]
    struct Recording {
        answers: RefCell<Vec<SentryAnswer>>,
        sent: RefCell<Vec<Vec<u8>>>,
    }

    impl ErrorReporter for Recording {
        async fn send_envelope(&self, _: &Reporting, envelope: Vec<u8>) -> Result<SentryAnswer, PortError> {
            self.sent.borrow_mut().push(envelope);
            Ok(self.answers.borrow_mut().pop().unwrap_or(SentryAnswer { status: 200, ..Default::default() }))
        }
    }

    #[test]
    fn after_a_429_events_are_dropped_locally_until_retry_after() {
        let (reporter, r, mut limits) = (Recording::default(), reporting(), RateLimits::default());
        reporter.answers.borrow_mut().push(SentryAnswer { status: 429, retry_after: Some("30".into()), rate_limits: None });
        let mut e = event("x");
        assert_eq!(block_on(report(&reporter, &r, &mut limits, &e)), Delivery::Failed);
        e.now_ms += 29_000;
        assert_eq!(block_on(report(&reporter, &r, &mut limits, &e)), Delivery::RateLimited);
        e.now_ms += 1_000;
        assert_eq!(block_on(report(&reporter, &r, &mut limits, &e)), Delivery::Sent);
        assert_eq!(reporter.sent.borrow().len(), 2);
    }

    #[test]
    fn sentry_rate_limit_headers_limit_by_category() {
        let mut limits = RateLimits::default();
        limits.update(&SentryAnswer { status: 200, retry_after: None, rate_limits: Some("60:transaction:key, 10:error;default:organization".into()) }, 0);
        assert!(!limits.allows_event(9_999));
        assert!(limits.allows_event(10_000));
        let mut limits = RateLimits::default();
        limits.update(&SentryAnswer { status: 429, retry_after: None, rate_limits: Some("5::organization".into()) }, 0);
        assert!(!limits.allows_event(4_999) && limits.allows_event(5_000));
        let mut limits = RateLimits::default();
        limits.update(&SentryAnswer { status: 429, retry_after: None, rate_limits: None }, 0);
        assert!(!limits.allows_event(59_999) && limits.allows_event(60_000));
        let mut limits = RateLimits::default();
        limits.update(&SentryAnswer { status: 200, retry_after: Some("100".into()), rate_limits: None }, 0);
        assert!(limits.allows_event(1));
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn no_envelope_carries_an_email_token_cookie_or_secret_from_its_message(
                noise in tricky_text(20),
                email in "[a-z]{4,10}@[a-z]{4,10}\\.com",
                token in "[A-Za-z0-9]{16,24}",
                cookie in "[A-Za-z0-9_-]{20,43}",
                stripe in "[A-Za-z0-9]{16,24}",
                password in "[A-Za-z0-9]{14,20}",
            ) {
                let message = format!("{noise} user {email} Authorization: Bearer {token}; Cookie: __Host-blimari_session={cookie}; \
                    key sk_live_{stripe} body {{\"password\":\"{password}\"}}");
                let text = String::from_utf8(envelope(&reporting(), &event(&message), "e")).unwrap();
                for secret in [&email, &token, &cookie, &stripe, &password] {
                    prop_assert!(!text.contains(secret.as_str()), "{} in {}", secret, text);
                }
            }

            #[test]
            fn any_rate_limit_header_is_read_without_panicking(header in tricky_text(40), status in 100u16..600, retry in tricky_text(6)) {
                let mut limits = RateLimits::default();
                limits.update(&SentryAnswer { status, retry_after: Some(retry), rate_limits: Some(header) }, 1_000);
                prop_assert!(limits.allows_event(1_000 + 86_400_001));
            }
        }
    }
}
