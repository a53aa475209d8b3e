//! The `Mailer` port: Resend's HTTP API (`POST /emails`, bearer key), or the local
//! stand-in that speaks it.

use crate::platform::config::EmailConfig;
use crate::accounts::mail::{Mailer, OutgoingEmail};
use crate::platform::ports::PortError;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub struct HttpMailer<'a>(pub &'a EmailConfig);

impl Mailer for HttpMailer<'_> {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), PortError> {
        let Some(key) = &self.0.api_key else {
            return Err(PortError("email is not configured (EMAIL_API_KEY is unset)".into()));
        };
        let headers = Headers::new();
        let fail = |e: worker::Error| PortError(format!("email: {e}"));
        headers.set("Authorization", &format!("Bearer {key}")).map_err(fail)?;
        headers.set("Content-Type", "application/json").map_err(fail)?;
        let body = serde_json::to_string(email).map_err(|e| PortError(format!("email: {e}")))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
        let request = Request::new_with_init(&format!("{}/emails", self.0.api_base), &init).map_err(fail)?;
        let response = Fetch::Request(request).send().await.map_err(fail)?;
        let status = response.status_code();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            // Not the body: a provider's error text can echo the recipient's address.
            Err(PortError(format!("email provider answered {status}")))
        }
    }
}
