//! F5: privacy requests — anyone, signed in or not, asks for access, correction,
//! deletion, objection or anything else; the request is recorded, confirmed by email,
//! and its status shown to a signed-in requester. Admins move it along
//! (`admin::requests`). Anonymous requests are throttled per IP and per address.

use crate::accounts::mail::OutgoingEmail;
use crate::accounts::security_events::{record, EventKind};
use crate::accounts::throttle::Rule;
use crate::http::pagination::Page;
use crate::http::problem::AppError;
use crate::platform::db::{Db, DbError, Statement};
use serde::{Deserialize, Serialize};

pub const KINDS: [&str; 5] = ["access", "correction", "deletion", "objection", "other"];
pub const MESSAGE_MAX_CHARS: usize = 5000;
/// Requests per window (`AUTH_THROTTLE_WINDOW_SECONDS`) from one IP, and naming one
/// address (each sends that address an email).
pub const PER_IP: Rule = Rule { name: "privacy:ip", limit: 5 };
pub const PER_ADDRESS: Rule = Rule { name: "privacy:address", limit: 3 };
/// The contact address of the privacy policy.
pub const CONTACT: &str = "privacy@blimari.space";

/// A request as its requester sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: String,
    pub kind: String,
    pub message: Option<String>,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    pub kind: &'static str,
    pub message: Option<String>,
}

/// Checks the kind and the message (trimmed; empty means none; at most 5000 characters).
pub fn parse(kind: &str, message: Option<&str>) -> Result<NewRequest, AppError> {
    let kind = KINDS
        .iter()
        .find(|k| **k == kind)
        .copied()
        .ok_or_else(|| AppError::validation("kind", "Choose access, correction, deletion, objection or other."))?;
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    if message.is_some_and(|m| m.chars().count() > MESSAGE_MAX_CHARS) {
        return Err(AppError::validation("message", format!("Keep the message under {MESSAGE_MAX_CHARS} characters.")));
    }
    if message.is_some_and(|m| m.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')) {
        return Err(AppError::validation("message", "The message contains characters that cannot be stored."));
    }
    Ok(NewRequest { kind, message: message.map(str::to_owned) })
}

/// Records the request (and, for a known account, its security event) in one batch.
pub async fn create(db: &impl Db, request: &NewRequest, user_id: Option<&str>, email: &str, device: &str, now_ms: i64) -> Result<RequestView, DbError> {
    let id = crate::platform::ids::new_id("prq");
    let mut batch = vec![Statement::new(
        "INSERT INTO privacy_requests (id, user_id, email, kind, message, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'received', ?, ?)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(email)
    .bind(request.kind)
    .bind(request.message.as_deref())
    .bind(now_ms)
    .bind(now_ms)];
    if let Some(user_id) = user_id {
        batch.push(record(user_id, EventKind::PrivacyRequestMade, device, now_ms));
    }
    db.batch(batch).await?;
    Ok(RequestView { id, kind: request.kind.into(), message: request.message.clone(), status: "received".into(), created_at: now_ms, updated_at: now_ms })
}

/// The signed-in user's requests, newest first.
pub async fn list(db: &impl Db, user_id: &str, page: &Page) -> Result<Vec<RequestView>, DbError> {
    db.query(page.newest_first(
        Statement::new("SELECT id, kind, message, status, created_at, updated_at FROM privacy_requests WHERE user_id = ?").bind(user_id),
    ))
    .await
}

fn kind_words(kind: &str) -> &'static str {
    match kind {
        "access" => "access to your data",
        "correction" => "a correction of your data",
        "deletion" => "the deletion of your data",
        "objection" => "an objection to processing",
        _ => "a privacy question",
    }
}

/// The confirmation sent to the requester's address.
pub fn confirmation_email(from: &str, to: &str, view: &RequestView, status_link: &str) -> OutgoingEmail {
    let first = format!("We received your request for {} (reference {}). We answer within one month.", kind_words(&view.kind), view.id);
    let contact = format!("You can follow its status in your account settings, or write to {CONTACT} quoting the reference.");
    crate::accounts::mail::message(
        from,
        to,
        "We received your privacy request",
        &[&first, &contact, "If you did not send this request, you can ignore this email."],
        Some(("Your privacy settings", status_link)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proptest_text::{config, tricky_text};
    use crate::testing::{block_on, SqliteDb};
    use proptest::prelude::*;

    #[test]
    fn kinds_and_messages_are_checked() {
        assert_eq!(parse("access", Some("  please  ")).unwrap(), NewRequest { kind: "access", message: Some("please".into()) });
        assert_eq!(parse("other", Some("   ")).unwrap().message, None);
        assert!(matches!(parse("erase", None), Err(AppError::Validation { field, .. }) if field == "kind"));
        assert!(parse("other", Some(&"é".repeat(5000))).is_ok());
        assert!(matches!(parse("other", Some(&"é".repeat(5001))), Err(AppError::Validation { field, .. }) if field == "message"));
    }

    #[test]
    fn a_request_is_stored_and_listed_for_its_requester_only() {
        let db = SqliteDb::migrated();
        db.exec("INSERT INTO users (id, name, email, password_hash, policy_version, created_at, updated_at) VALUES ('u1', 'A', 'a@x.io', 'h', 'v', 0, 0)");
        let made = block_on(create(&db, &parse("deletion", Some("all of it")).unwrap(), Some("u1"), "a@x.io", "d", 5)).unwrap();
        block_on(create(&db, &parse("access", None).unwrap(), None, "b@x.io", "d", 6)).unwrap();
        let mine = block_on(list(&db, "u1", &Page::first(10))).unwrap();
        assert_eq!(mine, vec![made]);
        assert_eq!(db.scalar("SELECT COUNT(*) FROM security_events WHERE user_id = 'u1' AND kind = 'privacy_request_made'"), 1);
    }

    #[test]
    fn a_failed_batch_records_neither_the_request_nor_its_event() {
        let db = SqliteDb::migrated();
        db.exec("INSERT INTO users (id, name, email, password_hash, policy_version, created_at, updated_at) VALUES ('u1', 'A', 'a@x.io', 'h', 'v', 0, 0)");
        db.fail_next("INSERT INTO security_events");
        assert!(block_on(create(&db, &parse("access", None).unwrap(), Some("u1"), "a@x.io", "d", 5)).is_err());
        assert_eq!(db.scalar("SELECT COUNT(*) FROM privacy_requests"), 0);
    }

    proptest! {
        #![proptest_config(config())]
        #[test]
        fn any_text_is_accepted_or_refused_with_a_field(kind in tricky_text(12), message in proptest::option::of(tricky_text(60))) {
            match parse(&kind, message.as_deref()) {
                Ok(r) => {
                    prop_assert!(KINDS.contains(&r.kind));
                    prop_assert!(r.message.as_deref().is_none_or(|m| !m.is_empty() && m.trim() == m));
                }
                Err(AppError::Validation { field, .. }) => prop_assert!(field == "kind" || field == "message"),
                Err(other) => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
