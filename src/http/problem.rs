//! The one application error type and its rendering as an RFC 9457 problem document.
//!
//! Error policy: users see a title, a status and a `detail` written for them, plus the
//! request id to quote to support. Internal causes (database messages, binding errors)
//! are logged with that request id and never put in a response.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum AppError {
    NotFound,
    /// No valid session: signed out, expired or revoked.
    Unauthorized,
    /// Wrong email or password at sign-in; the same answer whichever was wrong.
    InvalidCredentials,
    /// Refused whoever asks (a cross-site request, a wrong password on re-auth).
    Forbidden { detail: String },
    MethodNotAllowed { allow: Vec<&'static str> },
    PayloadTooLarge { limit_bytes: usize },
    /// Storing the file would pass the user's storage quota.
    QuotaExceeded { used_bytes: i64, quota_bytes: i64, file_bytes: i64 },
    UnsupportedMediaType { expected: &'static str },
    /// The body is not JSON at all (syntax error, truncated).
    MalformedJson { detail: String },
    /// A request that is refused as it stands (a webhook whose signature does not verify).
    BadRequest { detail: String },
    /// The body is JSON but not of the expected shape (unknown field, wrong type).
    InvalidBody { detail: String },
    /// A field's value breaks a rule; `field` is a JSON pointer-ish name like `email`.
    Validation { field: String, detail: String },
    Conflict { detail: String },
    /// It existed and is gone for good (an expired export).
    Gone { detail: String },
    /// F3: the right password for an account that is closed and can still be reopened
    /// (until `reopen_until`, epoch ms) with `POST /api/account/reopen`.
    AccountClosing { reopen_until: i64 },
    /// Not enough credits (or a debt) for what was asked.
    PaymentRequired { detail: String },
    TooManyRequests { retry_after_seconds: u32 },
    ServiceUnavailable { detail: String },
    /// A bug or an infrastructure failure; `cause` goes to the log only.
    Internal { cause: String },
}

/// RFC 9457 §3.1 members plus our `request_id` and, for validation, `errors`.
#[derive(Debug, Serialize, PartialEq)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub request_id: String,
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
const PROBLEM_BASE: &str = "https://blimari.space/problems/";

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal { cause: cause.to_string() }
    }

    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        AppError::Validation { field: field.into(), detail: detail.into() }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound => 404,
            AppError::Unauthorized | AppError::InvalidCredentials => 401,
            AppError::Forbidden { .. } => 403,
            AppError::MethodNotAllowed { .. } => 405,
            AppError::PayloadTooLarge { .. } | AppError::QuotaExceeded { .. } => 413,
            AppError::UnsupportedMediaType { .. } => 415,
            AppError::MalformedJson { .. } | AppError::BadRequest { .. } => 400,
            AppError::InvalidBody { .. } | AppError::Validation { .. } => 422,
            AppError::Conflict { .. } | AppError::AccountClosing { .. } => 409,
            AppError::Gone { .. } => 410,
            AppError::PaymentRequired { .. } => 402,
            AppError::TooManyRequests { .. } => 429,
            AppError::ServiceUnavailable { .. } => 503,
            AppError::Internal { .. } => 500,
        }
    }

    fn slug_and_title(&self) -> (&'static str, &'static str) {
        match self {
            AppError::NotFound => ("not-found", "Not found"),
            AppError::Unauthorized => ("unauthorized", "Sign in required"),
            AppError::InvalidCredentials => ("invalid-credentials", "Sign-in failed"),
            AppError::Forbidden { .. } => ("forbidden", "Forbidden"),
            AppError::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            AppError::PayloadTooLarge { .. } => ("payload-too-large", "Request body too large"),
            AppError::QuotaExceeded { .. } => ("storage-quota-exceeded", "Storage quota exceeded"),
            AppError::UnsupportedMediaType { .. } => ("unsupported-media-type", "Unsupported media type"),
            AppError::MalformedJson { .. } => ("malformed-json", "Malformed JSON"),
            AppError::BadRequest { .. } => ("bad-request", "Bad request"),
            AppError::InvalidBody { .. } => ("invalid-body", "Invalid request body"),
            AppError::Validation { .. } => ("validation", "Invalid value"),
            AppError::Conflict { .. } => ("conflict", "Conflict"),
            AppError::Gone { .. } => ("gone", "Gone"),
            AppError::AccountClosing { .. } => ("account-closing", "Account closed"),
            AppError::PaymentRequired { .. } => ("insufficient-credits", "Not enough credits"),
            AppError::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            AppError::ServiceUnavailable { .. } => ("service-unavailable", "Service unavailable"),
            AppError::Internal { .. } => ("internal", "Internal error"),
        }
    }

    fn detail(&self) -> String {
        match self {
            AppError::NotFound => "There is nothing at this address, or it is not yours.".into(),
            AppError::MethodNotAllowed { allow } => {
                format!("This address accepts {} only.", allow.join(", "))
            }
            AppError::PayloadTooLarge { limit_bytes } => {
                format!("The request body is larger than the limit of {limit_bytes} bytes.")
            }
            AppError::QuotaExceeded { used_bytes, quota_bytes, file_bytes } => format!(
                "This file ({file_bytes} bytes) does not fit: you use {used_bytes} of your {quota_bytes} bytes. Delete files you no longer need."
            ),
            AppError::UnsupportedMediaType { expected } => {
                format!("Send the body as {expected}.")
            }
            AppError::AccountClosing { .. } => {
                "This account is closed and will be erased at the end of its grace period. Reopen it to sign in.".into()
            }
            AppError::Unauthorized => "Sign in to continue. Your session has ended or was never started.".into(),
            AppError::InvalidCredentials => "The email address or password is incorrect.".into(),
            AppError::MalformedJson { detail }
            | AppError::BadRequest { detail }
            | AppError::Forbidden { detail }
            | AppError::InvalidBody { detail }
            | AppError::Validation { detail, .. }
            | AppError::Conflict { detail }
            | AppError::Gone { detail }
            | AppError::PaymentRequired { detail }
            | AppError::ServiceUnavailable { detail } => detail.clone(),
            AppError::TooManyRequests { retry_after_seconds } => {
                format!("Too many attempts. Try again in {retry_after_seconds} seconds.")
            }
            AppError::Internal { .. } => {
                "Something went wrong on our side. Quote the request id if you contact support.".into()
            }
        }
    }

    /// Extra response headers this error requires (`Allow` on 405, `Retry-After` on 429).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            AppError::MethodNotAllowed { allow } => vec![("Allow", allow.join(", "))],
            AppError::TooManyRequests { retry_after_seconds } => {
                vec![("Retry-After", retry_after_seconds.to_string())]
            }
            _ => Vec::new(),
        }
    }

    pub fn to_problem(&self, request_id: &str, instance: Option<&str>) -> Problem {
        let (slug, title) = self.slug_and_title();
        let mut extensions = Map::new();
        if let AppError::QuotaExceeded { used_bytes, quota_bytes, .. } = self {
            extensions.insert("usage".into(), serde_json::json!({ "used_bytes": used_bytes, "quota_bytes": quota_bytes }));
        }
        if let AppError::AccountClosing { reopen_until } = self {
            extensions.insert("reopen_until".into(), (*reopen_until).into());
        }
        if let AppError::Validation { field, detail } = self {
            extensions.insert(
                "errors".into(),
                serde_json::json!([{ "field": field, "detail": detail }]),
            );
        }
        Problem {
            type_uri: format!("{PROBLEM_BASE}{slug}"),
            title,
            status: self.status(),
            detail: self.detail(),
            instance: instance.map(str::to_owned),
            request_id: request_id.to_owned(),
            extensions,
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Internal { cause } => write!(f, "internal: {cause}"),
            other => write!(f, "{} {}", other.status(), other.detail()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_has_the_rfc_9457_members_and_the_request_id() {
        let p = AppError::NotFound.to_problem("abc123", Some("/api/nope"));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["type"], "https://blimari.space/problems/not-found");
        assert_eq!(v["title"], "Not found");
        assert_eq!(v["status"], 404);
        assert_eq!(v["instance"], "/api/nope");
        assert_eq!(v["request_id"], "abc123");
        assert!(v["detail"].as_str().unwrap().len() > 10);
    }

    #[test]
    fn internal_causes_never_reach_the_document() {
        let e = AppError::internal("D1_ERROR: no such table: secrets");
        let text = serde_json::to_string(&e.to_problem("r", None)).unwrap();
        assert!(!text.contains("secrets"));
        assert_eq!(e.status(), 500);
    }

    #[test]
    fn validation_errors_name_the_field() {
        let v = serde_json::to_value(AppError::validation("email", "Enter an email address.").to_problem("r", None)).unwrap();
        assert_eq!(v["status"], 422);
        assert_eq!(v["errors"][0]["field"], "email");
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let e = AppError::MethodNotAllowed { allow: vec!["GET", "HEAD"] };
        assert_eq!(e.headers(), vec![("Allow", "GET, HEAD".to_string())]);
        assert_eq!(e.status(), 405);
    }

    #[test]
    fn a_closing_account_says_until_when_it_can_be_reopened() {
        let v = serde_json::to_value(AppError::AccountClosing { reopen_until: 42 }.to_problem("r", None)).unwrap();
        assert_eq!((v["status"].as_u64(), v["type"].as_str(), v["reopen_until"].as_i64()), (Some(409), Some("https://blimari.space/problems/account-closing"), Some(42)));
    }

    #[test]
    fn too_many_requests_says_when_to_retry() {
        let e = AppError::TooManyRequests { retry_after_seconds: 42 };
        assert_eq!(e.headers(), vec![("Retry-After", "42".to_string())]);
        assert!(e.to_problem("r", None).detail.contains("42"));
    }
}
