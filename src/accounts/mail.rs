//! Outgoing email: the `Mailer` port, the messages Blimari sends, and the request body
//! of the provider's API. The provider is Resend (`POST {EMAIL_API_BASE}/emails` with a
//! bearer key); `scripts/standins/email.mjs` speaks the same API for local runs.

use crate::platform::ports::PortError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutgoingEmail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[allow(async_fn_in_trait)]
pub trait Mailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), PortError>;
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(crate) fn message(from: &str, to: &str, subject: &str, paragraphs: &[&str], link: Option<(&str, &str)>) -> OutgoingEmail {
    let mut text = paragraphs.join("\n\n");
    let mut html = String::from("<div style=\"font-family:system-ui,sans-serif;font-size:16px;line-height:1.5\">");
    for p in paragraphs {
        html.push_str(&format!("<p>{}</p>", escape_html(p)));
    }
    if let Some((label, url)) = link {
        text.push_str(&format!("\n\n{label}: {url}"));
        html.push_str(&format!("<p><a href=\"{}\">{}</a></p>", escape_html(url), escape_html(label)));
    }
    text.push_str("\n\n— Blimari");
    html.push_str("<p>— Blimari</p></div>");
    OutgoingEmail { from: from.into(), to: vec![to.into()], subject: subject.into(), text, html }
}

pub fn verify_email(from: &str, to: &str, link: &str) -> OutgoingEmail {
    message(
        from,
        to,
        "Confirm your email address",
        &["Confirm this address to finish setting up your Blimari account. The link works once and expires in 24 hours.",
          "If you did not ask for this, ignore this email."],
        Some(("Confirm your email", link)),
    )
}

pub fn password_reset(from: &str, to: &str, link: &str) -> OutgoingEmail {
    message(
        from,
        to,
        "Reset your Blimari password",
        &["Someone asked to reset the password of the Blimari account for this address. The link works once and expires in 1 hour.",
          "If it was not you, ignore this email: your password stays as it is."],
        Some(("Choose a new password", link)),
    )
}

/// Sent instead of a verification when someone signs up with an address that already
/// has an account, so the answer to the sign-up itself reveals nothing.
pub fn signup_existing_account(from: &str, to: &str, link: &str) -> OutgoingEmail {
    message(
        from,
        to,
        "You already have a Blimari account",
        &["Someone tried to create a Blimari account with this address, which already has one.",
          "If it was you, sign in, or reset your password if you have forgotten it. If not, you can ignore this email."],
        Some(("Reset your password", link)),
    )
}

pub fn email_change_notice(from: &str, to: &str, new_address: &str) -> OutgoingEmail {
    let line = format!("Someone asked to change the email address of your Blimari account to {new_address}. It changes once the new address is confirmed.");
    message(
        from,
        to,
        "Your Blimari email address is changing",
        &[&line, "If this was not you, reset your password at once and contact privacy@blimari.space."],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_the_link_in_text_and_html() {
        let m = password_reset("Blimari <no-reply@blimari.space>", "ada@example.com", "https://app/reset#token=abc");
        assert_eq!(m.to, vec!["ada@example.com"]);
        assert!(m.text.contains("https://app/reset#token=abc"));
        assert!(m.html.contains("href=\"https://app/reset#token=abc\""));
    }

    #[test]
    fn user_text_is_escaped_in_html() {
        let m = email_change_notice("f", "t", "<script>@x.com");
        assert!(!m.html.contains("<script>"));
    }

    #[test]
    fn the_body_is_what_the_provider_api_takes() {
        let v = serde_json::to_value(verify_email("f@x.com", "t@x.com", "https://l")).unwrap();
        for key in ["from", "to", "subject", "text", "html"] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert!(v["to"].is_array());
    }
}
