//! The one scrubber (G1): what logs and Sentry events may carry. Everything personal or
//! secret that can reach a log line or an error message is replaced before it leaves:
//! email addresses, bearer tokens, session cookies, Stripe secrets, and the values of
//! sensitive fields (passwords, prompts, tokens, names, emails, IPs) in JSON, in
//! `key=value` text and in structured log fields.
//!
//! No regex engine (it would cost the `.wasm` more than this file): each rule is a small
//! scanner over bytes, and property tests hold them to their promise.

use serde_json::Value;

pub const REDACTED: &str = "[redacted]";

/// Field names whose values never leave, whatever their content (compared in lower case,
/// also as a suffix: `new_password`, `session_token`, `customer_email`).
const SENSITIVE_KEYS: [&str; 14] = [
    "password", "prompt", "token", "secret", "email", "name", "ip", "ip_address", "cookie", "authorization",
    "api_key", "card", "text", "body",
];

/// Stripe key prefixes: secret, restricted and webhook-signing secrets.
const STRIPE_PREFIXES: [&str; 5] = ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"];

/// True for a field whose value is personal or secret.
pub fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key == "user_id" || key.ends_with("_id") || key == "id" || key == "request_id" {
        return false;
    }
    SENSITIVE_KEYS.iter().any(|s| key == *s || key.ends_with(&format!("_{s}")) || (s.len() > 4 && key.contains(s)))
}

/// Scrubs free text (an error's message, a cause from a binding).
pub fn scrub(text: &str) -> String {
    let text = scrub_after_marker(text, "bearer ", "[token]");
    let mut text = scrub_after_marker(&text, "blimari_session=", "[session]");
    for prefix in STRIPE_PREFIXES {
        text = scrub_after_marker(&text, prefix, "[stripe-secret]");
    }
    scrub_emails(&scrub_fields_in_text(&text))
}

/// Scrubs a structured value: sensitive keys lose their values, strings are scrubbed.
pub fn scrub_value(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(scrub(s)),
        Value::Array(items) => Value::Array(items.iter().map(scrub_value).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_sensitive_key(k) && !v.is_null() { Value::String(REDACTED.into()) } else { scrub_value(v) };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=%".contains(&b)
}

/// Replaces the token after each (case-insensitive) `marker` with `replacement`.
fn scrub_after_marker(text: &str, marker: &str, replacement: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(found) = lower[i..].find(marker) {
        let start = i + found + marker.len();
        let mut end = start;
        while end < bytes.len() && is_token_byte(bytes[end]) {
            end += 1;
        }
        out.push_str(&text[i..start]);
        if end > start {
            out.push_str(replacement);
        }
        i = end;
    }
    out.push_str(&text[i..]);
    out
}

fn is_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-'!#$&*=?^`{|}~".contains(&b) || b >= 0x80
}

fn is_domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b >= 0x80
}

/// Replaces every `local@domain` with `[email]` (generously: anything around an `@`).
fn scrub_emails(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'@' {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > copied && is_local_byte(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < bytes.len() && is_domain_byte(bytes[end]) {
            end += 1;
        }
        if start == i || end == i + 1 {
            i += 1;
            continue;
        }
        // Keep to character boundaries (bytes >= 0x80 are taken whole).
        while !text.is_char_boundary(start) {
            start += 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push_str(&text[copied..start]);
        out.push_str("[email]");
        copied = end;
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// `"key": "value"` (JSON inside a message) and `key=value` (query strings, forms) whose
/// key is sensitive lose their values.
fn scrub_fields_in_text(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        // A key: a run of [A-Za-z0-9_-], optionally in quotes.
        if !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') || (i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) {
            i += 1;
            continue;
        }
        let key_start = i;
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'-') {
            j += 1;
        }
        let key = &text[key_start..j];
        if !is_sensitive_key(key) {
            i = j.max(i + 1);
            continue;
        }
        let mut k = j;
        if k < bytes.len() && (bytes[k] == b'"' || bytes[k] == b'\'') {
            k += 1;
        }
        while k < bytes.len() && bytes[k] == b' ' {
            k += 1;
        }
        let Some(&sep) = bytes.get(k) else { break };
        if sep != b':' && sep != b'=' {
            i = j;
            continue;
        }
        k += 1;
        while k < bytes.len() && bytes[k] == b' ' {
            k += 1;
        }
        let value_end = if bytes.get(k) == Some(&b'"') {
            // A JSON string: up to the closing unescaped quote (or the end).
            k += 1;
            let mut e = k;
            while e < bytes.len() && bytes[e] != b'"' {
                e += if bytes[e] == b'\\' { 2 } else { 1 };
            }
            e.min(bytes.len())
        } else if sep == b'=' {
            let mut e = k;
            while e < bytes.len() && !b"&;, \t\r\n\"'}]".contains(&bytes[e]) {
                e += 1;
            }
            e
        } else if bytes.get(k).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'[') {
            // `Key: value words` (a header, a message): up to the end of the clause.
            let mut e = k;
            while e < bytes.len() && !b";,\r\n\"'}&".contains(&bytes[e]) {
                e += 1;
            }
            e
        } else {
            i = j;
            continue;
        };
        // Already scrubbed: leave it as it is, so scrubbing twice changes nothing.
        if text[k..].starts_with(REDACTED) {
            i = (k + REDACTED.len()).max(j);
            continue;
        }
        let mut value_end = value_end;
        while !text.is_char_boundary(value_end) {
            value_end += 1;
        }
        if value_end > k {
            out.push_str(&text[copied..k]);
            out.push_str(REDACTED);
            copied = value_end;
        }
        i = value_end.max(j);
    }
    out.push_str(&text[copied.min(text.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_of_what_is_scrubbed() {
        assert_eq!(scrub("no user ada.lovelace+x@example.co.uk here"), "no user [email] here");
        assert_eq!(scrub("Authorization: Bearer abc.DEF-123"), "Authorization: [redacted]");
        assert_eq!(scrub("sent with bearer abc.DEF-123 to x"), "sent with bearer [token] to x");
        assert_eq!(scrub("cookie __Host-blimari_session=Zm9vYmFy; x"), "cookie __Host-blimari_session=[session]; x");
        assert_eq!(scrub("key sk_live_51Habc and whsec_xyz"), "key sk_live_[stripe-secret] and whsec_[stripe-secret]");
        assert_eq!(scrub(r#"{"password":"hunter2 2","prompt":"a \"secret\" plan"}"#), r#"{"password":"[redacted]","prompt":"[redacted]"}"#);
        assert_eq!(scrub("GET /x?token=abc&new_password=p4ss&page=2"), "GET /x?token=[redacted]&new_password=[redacted]&page=2");
        assert_eq!(scrub("UNIQUE constraint failed: users.email"), "UNIQUE constraint failed: users.email");
    }

    #[test]
    fn structured_fields_keep_ids_and_lose_personal_values() {
        let v = serde_json::json!({ "user_id": "usr_1", "job_id": "gen_1", "email": "a@b.c", "detail": { "prompt": "x" }, "n": 3,
            "error": "failed for a@b.c" });
        let s = scrub_value(&v);
        assert_eq!(s["user_id"], "usr_1");
        assert_eq!(s["job_id"], "gen_1");
        assert_eq!(s["email"], REDACTED);
        assert_eq!(s["detail"]["prompt"], REDACTED);
        assert_eq!(s["n"], 3);
        assert_eq!(s["error"], "failed for [email]");
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{config, tricky_text};
        use proptest::prelude::*;

        /// A distinctive secret: long enough that surrounding noise cannot contain it.
        fn secret() -> impl Strategy<Value = String> {
            "[A-Za-z0-9]{16,32}"
        }

        fn noise() -> impl Strategy<Value = String> {
            prop_oneof![tricky_text(24), "[ a-z:,;{}\"=&]{0,24}"]
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn emails_never_survive(before in noise(), local in "[a-z0-9._+-]{1,20}", domain in "[a-z0-9-]{1,20}\\.[a-z]{2,6}", after in noise()) {
                let email = format!("{local}@{domain}");
                let out = scrub(&format!("{before} {email} {after}"));
                prop_assert!(!out.contains(&email), "{}", out);
                prop_assert!(!out.contains(&format!("@{domain}")), "{}", out);
            }

            #[test]
            fn bearer_tokens_never_survive(before in noise(), token in secret(), scheme in prop_oneof![Just("Bearer"), Just("bearer"), Just("BEARER")], after in noise()) {
                let out = scrub(&format!("{before}Authorization: {scheme} {token}{after}"));
                prop_assert!(!out.contains(&token), "{}", out);
            }

            #[test]
            fn session_cookies_never_survive(before in noise(), token in "[A-Za-z0-9_-]{16,43}", after in noise()) {
                let out = scrub(&format!("{before}Cookie: __Host-blimari_session={token}{after}"));
                prop_assert!(!out.contains(&token), "{}", out);
            }

            #[test]
            fn stripe_secrets_never_survive(before in noise(), prefix in proptest::sample::select(STRIPE_PREFIXES.to_vec()), key in secret(), after in noise()) {
                let out = scrub(&format!("{before} {prefix}{key}{after}"));
                prop_assert!(!out.contains(&key), "{}", out);
            }

            #[test]
            fn passwords_and_prompts_in_messages_never_survive(
                before in noise(),
                key in proptest::sample::select(vec!["password", "current_password", "new_password", "prompt", "token"]),
                value in "[A-Za-z0-9 !?.,-]{0,8}[A-Za-z0-9]{12}[A-Za-z0-9 !?.,-]{0,8}",
                form in any::<bool>(),
                after in noise(),
            ) {
                let field = if form { format!("{key}={}", value.replace(' ', "+").replace(',', "%2C")) } else { format!("{{\"{key}\": {}}}", serde_json::Value::String(value.clone())) };
                let out = scrub(&format!("{before} {field}{after}"));
                let core: String = value.chars().filter(char::is_ascii_alphanumeric).collect();
                prop_assert!(!out.contains(&core[core.len().saturating_sub(12)..]), "{}", out);
            }

            #[test]
            fn sensitive_fields_of_structured_values_never_survive(
                key in proptest::sample::select(vec!["password", "prompt", "email", "name", "ip", "token", "customer_email", "session_token"]),
                value in secret(),
                nested in any::<bool>(),
            ) {
                let v = if nested { serde_json::json!({ "outer": [{ key: value.clone() }] }) } else { serde_json::json!({ key: value.clone() }) };
                let out = scrub_value(&v).to_string();
                prop_assert!(!out.contains(&value), "{}", out);
            }

            #[test]
            fn scrubbing_any_text_never_panics_and_is_stable(text in prop_oneof![tricky_text(60), "[ -~]{0,80}"]) {
                let once = scrub(&text);
                prop_assert_eq!(scrub(&once), once.clone());
            }
        }
    }
}
