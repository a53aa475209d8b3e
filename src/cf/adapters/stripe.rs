//! The `Payments` port over Stripe's REST API with `fetch`: form-encoded bodies, the
//! secret key as a bearer token, an `Idempotency-Key` on every create. The base URL is
//! `STRIPE_API_BASE` (the local stand-in in development and tests).

use crate::credits::stripe::{self, CheckoutRequest, CreatedSession, Payments, SessionList};
use crate::platform::config::BillingConfig;
use crate::platform::ports::PortError;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub struct StripeApi<'a> {
    pub config: &'a BillingConfig,
    pub secret_key: &'a str,
}

impl StripeApi<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<String>, idempotency_key: Option<&str>) -> Result<String, PortError> {
        let fail = |e: worker::Error| PortError(format!("stripe: {e}"));
        let headers = Headers::new();
        headers.set("Authorization", &format!("Bearer {}", self.secret_key)).map_err(fail)?;
        if body.is_some() {
            headers.set("Content-Type", "application/x-www-form-urlencoded").map_err(fail)?;
        }
        if let Some(key) = idempotency_key {
            headers.set("Idempotency-Key", key).map_err(fail)?;
        }
        let mut init = RequestInit::new();
        init.with_method(method).with_headers(headers);
        if let Some(body) = body {
            init.with_body(Some(body.into()));
        }
        let request = Request::new_with_init(&format!("{}{path}", self.config.api_base), &init).map_err(fail)?;
        let mut response = Fetch::Request(request).send().await.map_err(fail)?;
        let status = response.status_code();
        let text = response.text().await.map_err(fail)?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            // Stripe's error type and code only: its message can quote what was sent.
            let error: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            Err(PortError(format!(
                "stripe answered {status} ({} {})",
                error.pointer("/error/type").and_then(|v| v.as_str()).unwrap_or("?"),
                error.pointer("/error/code").and_then(|v| v.as_str()).unwrap_or("")
            )))
        }
    }
}

impl Payments for StripeApi<'_> {
    async fn create_checkout_session(&self, request: &CheckoutRequest<'_>, idempotency_key: &str) -> Result<CreatedSession, PortError> {
        let body = stripe::form_encode(&stripe::checkout_form(request));
        let text = self.send(Method::Post, "/v1/checkout/sessions", Some(body), Some(idempotency_key)).await?;
        serde_json::from_str(&text).map_err(|e| PortError(format!("stripe: unreadable session: {e}")))
    }

    async fn list_checkout_sessions(&self, created_gte: i64, starting_after: Option<&str>) -> Result<SessionList, PortError> {
        let mut query = vec![("created[gte]".to_string(), created_gte.to_string()), ("status".into(), "complete".into()), ("limit".into(), "100".into())];
        if let Some(after) = starting_after {
            query.push(("starting_after".into(), after.to_owned()));
        }
        let path = format!("/v1/checkout/sessions?{}", stripe::form_encode(&query));
        let text = self.send(Method::Get, &path, None, None).await?;
        serde_json::from_str(&text).map_err(|e| PortError(format!("stripe: unreadable list: {e}")))
    }
}
