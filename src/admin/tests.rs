//! Native tests of the admin core over the test doubles (real SQL on SQLite).

use super::*;
use crate::credits::ledger::{self, Balance, EntryKind};
use crate::generation::jobs::Status;
use crate::generation::service::{self, SubmitRequest};
use crate::http::pagination::Page;
use crate::library::brands::{self, BrandFields, BrandInput, Write};
use crate::platform::queue_messages::{Outcome, QueueMessage, QueueName};
use crate::testing::{block_on, ManualClock, MemoryBlobs, RecordingQueue, Reply, ScriptedInference, SqliteDb};
use crate::generation::jobs::ProviderError;

const T0: i64 = 1_800_000_000_000;

fn user(db: &SqliteDb, name: &str, role: &str, credits: i64) -> String {
    let id = crate::platform::ids::new_id("usr");
    let mut batch = vec![
        crate::accounts::queries::insert_user(&id, name, &format!("{}.{id}@example.com", name.to_lowercase()), "x", T0),
        ledger::open_account(&id, T0),
        Statement::new("UPDATE users SET role = ? WHERE id = ?").bind(role).bind(&id),
    ];
    if credits > 0 {
        batch.extend(ledger::grant(&id, EntryKind::Grant, credits, &format!("grant:test:{id}"), T0));
    }
    block_on(db.batch(batch)).unwrap();
    id
}

fn admin<'a>(id: &'a str, key: &'a str) -> Admin<'a> {
    Admin { user_id: id, device: "Firefox on Linux", request_key: key }
}

fn kinds(db: &SqliteDb, user_id: &str) -> Vec<String> {
    let n = db.scalar(&format!("SELECT COUNT(*) FROM security_events WHERE user_id = '{user_id}'"));
    (0..n).map(|i| db.text(&format!("SELECT kind FROM security_events WHERE user_id = '{user_id}' ORDER BY kind LIMIT 1 OFFSET {i}")).unwrap()).collect()
}

#[test]
fn only_the_admin_role_is_admin() {
    let db = SqliteDb::migrated();
    let (a, u) = (user(&db, "Root", "admin", 0), user(&db, "Ada", "user", 0));
    assert!(block_on(is_admin(&db, &a)).unwrap());
    assert!(!block_on(is_admin(&db, &u)).unwrap());
    assert!(!block_on(is_admin(&db, "usr_missing")).unwrap());
}

#[test]
fn an_adjustment_changes_the_balance_once_per_request_and_shows_in_both_activities() {
    let db = SqliteDb::migrated();
    let (a, u) = (user(&db, "Root", "admin", 0), user(&db, "Ada", "user", 50));
    let first = block_on(adjustments::adjust(&db, &admin(&a, "key-1"), &u, 25, "  goodwill for an outage ", T0)).unwrap();
    assert!(!first.replayed);
    assert_eq!(first.credits, Balance { balance: 75, held: 0, debt: 0 });
    assert_eq!(first.action.reason, "goodwill for an outage");
    let again = block_on(adjustments::adjust(&db, &admin(&a, "key-1"), &u, 25, "goodwill for an outage", T0 + 1)).unwrap();
    assert!(again.replayed);
    assert_eq!(again.credits.balance, 75, "the same request applies once");
    assert_eq!(again.action.id, first.action.id);
    let down = block_on(adjustments::adjust(&db, &admin(&a, "key-2"), &u, -70, "duplicate purchase", T0 + 2)).unwrap();
    assert_eq!(down.credits.balance, 5);
    assert_eq!(db.scalar(&format!("SELECT COUNT(*) FROM ledger_entries WHERE user_id = '{u}' AND kind = 'adjustment'")), 2);
    assert_eq!(kinds(&db, &u), vec!["credits_adjusted", "credits_adjusted"]);
    assert_eq!(kinds(&db, &a), vec!["admin_credits_adjusted", "admin_credits_adjusted"]);
    assert_eq!(db.text(&format!("SELECT device FROM security_events WHERE user_id = '{u}' LIMIT 1")).as_deref(), Some(SUPPORT_DEVICE));
}

#[test]
fn an_adjustment_below_zero_or_without_a_reason_is_refused_and_changes_nothing() {
    let db = SqliteDb::migrated();
    let (a, u) = (user(&db, "Root", "admin", 0), user(&db, "Ada", "user", 10));
    let e = block_on(adjustments::adjust(&db, &admin(&a, "k1"), &u, -11, "too much", T0)).err().unwrap();
    assert!(matches!(e, AppError::Validation { ref field, .. } if field == "credits"), "{e:?}");
    for (credits, reason) in [(0, "zero"), (5, " x "), (adjustments::MAX_ADJUSTMENT + 1, "huge")] {
        assert!(matches!(block_on(adjustments::adjust(&db, &admin(&a, "k2"), &u, credits, reason, T0)), Err(AppError::Validation { .. })));
    }
    assert!(matches!(block_on(adjustments::adjust(&db, &admin(&a, "k3"), "usr_nobody", 5, "reason", T0)), Err(AppError::NotFound)));
    assert_eq!(block_on(ledger::balance(&db, &u)).unwrap().balance, 10);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM admin_actions"), 0);
    assert!(kinds(&db, &u).is_empty());
}

#[test]
fn users_are_found_by_email_part_or_id_and_shown_with_balance_jobs_and_sessions() {
    let db = SqliteDb::migrated();
    let u = user(&db, "Ada", "user", 50);
    user(&db, "Grace", "user", 0);
    let found = block_on(users::search(&db, "ADA.", 20)).unwrap();
    assert_eq!(found.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), vec![u.as_str()]);
    assert_eq!(block_on(users::search(&db, &u, 20)).unwrap().len(), 1);
    assert!(block_on(users::search(&db, "%", 20)).unwrap().is_empty(), "LIKE wildcards are literal");
    assert!(matches!(block_on(users::search(&db, " ", 20)), Err(AppError::Validation { .. })));
    let detail = block_on(users::detail(&db, &u)).unwrap();
    assert_eq!(detail.credits.balance, 50);
    assert_eq!(detail.user.role, "user");
    assert!(matches!(block_on(users::detail(&db, "usr_none")), Err(AppError::NotFound)));
}

struct World {
    db: SqliteDb,
    queue: RecordingQueue,
    provider: ScriptedInference,
    blobs: MemoryBlobs,
    clock: ManualClock,
}

fn failed_job(w: &World, user_id: &str) -> String {
    let brand = crate::platform::ids::new_id("brd");
    let fields = BrandFields::apply(BrandFields::empty(), &BrandInput { name: Some("Fernleaf".into()), ..Default::default() }).unwrap();
    block_on(w.db.batch(brands::write_brand(user_id, &brand, &fields, None, T0, T0, Write::Insert))).unwrap();
    let request = SubmitRequest { user_id, brand_id: &brand, content_type: "social_post", prompt: "Weekend hours", idempotency_key: None, device: "d" };
    let job = block_on(service::submit(&w.db, &w.queue, &w.provider, &request, T0)).unwrap().job.id;
    w.queue.drain_jobs();
    // The provider refuses it; then the dead-letter consumer sees it too (a no-op).
    w.provider.then(Reply::Fail(ProviderError::Permanent("400".into())));
    assert_eq!(block_on(service::run_job(&w.db, &w.blobs, &w.provider, &w.clock, &job, 120_000)), Outcome::Ack);
    assert_eq!(block_on(service::dead_lettered(&w.db, &job, T0)), Outcome::Ack);
    job
}

#[test]
fn a_replayed_failed_job_runs_and_settles_exactly_once() {
    let w = World { db: SqliteDb::migrated(), queue: RecordingQueue::default(), provider: ScriptedInference::default(), blobs: MemoryBlobs::default(), clock: ManualClock::at(T0) };
    let (a, u) = (user(&w.db, "Root", "admin", 0), user(&w.db, "Ada", "user", 50));
    let job = failed_job(&w, &u);
    let listed = block_on(jobs::list(&w.db, "failed", &Page::first(20))).unwrap();
    assert_eq!(listed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), vec![job.as_str()]);

    let replayed = block_on(jobs::replay(&w.db, &w.queue, &admin(&a, "r1"), &job, T0 + 10)).unwrap();
    assert!(!replayed.existing);
    let replay_id = replayed.replay.id.clone();
    assert_eq!(replayed.original.replayed_as.as_deref(), Some(replay_id.as_str()));
    // A retried request, and a second admin's click, both find the same replay.
    for key in ["r1", "r2"] {
        let again = block_on(jobs::replay(&w.db, &w.queue, &admin(&a, key), &job, T0 + 11)).unwrap();
        assert!(again.existing);
        assert_eq!(again.replay.id, replay_id);
    }
    let sent = w.queue.drain_jobs();
    assert_eq!(sent, vec![replay_id.clone()], "one message for one replay");
    // Delivered twice (a duplicate delivery): one provider call, one capture.
    let calls = w.provider.calls.get();
    for _ in 0..2 {
        assert_eq!(block_on(service::run_job(&w.db, &w.blobs, &w.provider, &w.clock, &replay_id, 120_000)), Outcome::Ack);
    }
    assert_eq!(w.provider.calls.get(), calls + 1);
    let status = w.db.text(&format!("SELECT status FROM generation_jobs WHERE id = '{replay_id}'"));
    assert_eq!(status.as_deref(), Some("succeeded"));
    assert_eq!(w.db.scalar(&format!("SELECT COUNT(*) FROM ledger_entries WHERE job_id = '{replay_id}' AND kind = 'capture'")), 1);
    assert_eq!(w.db.scalar(&format!("SELECT COUNT(*) FROM ledger_entries WHERE job_id = '{replay_id}' AND kind = 'release'")), 0);
    assert_eq!(block_on(ledger::balance(&w.db, &u)).unwrap(), Balance { balance: 49, held: 0, debt: 0 });
    assert!(kinds(&w.db, &u).contains(&"generation_replayed".to_string()));
    assert_eq!(kinds(&w.db, &a), vec!["admin_job_replayed"]);
    // Only failed jobs can be replayed.
    assert!(matches!(block_on(jobs::replay(&w.db, &w.queue, &admin(&a, "r3"), &replay_id, T0)), Err(AppError::Conflict { .. })));
    let _ = Status::Failed;
}

#[test]
fn a_replay_the_user_cannot_pay_for_is_refused_and_leaves_nothing_behind() {
    let w = World { db: SqliteDb::migrated(), queue: RecordingQueue::default(), provider: ScriptedInference::default(), blobs: MemoryBlobs::default(), clock: ManualClock::at(T0) };
    let (a, u) = (user(&w.db, "Root", "admin", 0), user(&w.db, "Ada", "user", 1));
    let job = failed_job(&w, &u);
    block_on(adjustments::adjust(&w.db, &admin(&a, "k"), &u, -1, "testing a refusal", T0)).unwrap();
    assert!(matches!(block_on(jobs::replay(&w.db, &w.queue, &admin(&a, "r"), &job, T0)), Err(AppError::PaymentRequired { .. })));
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM job_replays"), 0);
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM generation_jobs"), 1);
}

#[test]
fn webhook_events_are_listed_and_rerun_on_the_billing_queue_once_per_request() {
    let (db, queue) = (SqliteDb::migrated(), RecordingQueue::default());
    db.exec("INSERT INTO stripe_events (id, type, payload, received_at, processed_at, outcome) VALUES ('evt_1', 'checkout.session.completed', '{}', 1, 2, 'dead_lettered')");
    let a = user(&db, "Root", "admin", 0);
    let listed = block_on(requests::webhook_events(&db, Some("dead_lettered"), &Page::first(20))).unwrap();
    assert_eq!(listed[0].id, "evt_1");
    for _ in 0..2 {
        let event = block_on(requests::rerun_webhook_event(&db, &queue, &admin(&a, "w1"), "evt_1", T0)).unwrap();
        assert_eq!(event.status, "received", "waiting for the billing consumer again");
    }
    let sent = queue.sent.borrow().clone();
    assert_eq!(sent, vec![(QueueName::Billing, QueueMessage::StripeEvent { event_id: "evt_1".into() })]);
    assert_eq!(kinds(&db, &a), vec!["admin_webhook_rerun"]);
    assert!(matches!(block_on(requests::rerun_webhook_event(&db, &queue, &admin(&a, "w2"), "evt_none", T0)), Err(AppError::NotFound)));
}

#[test]
fn privacy_requests_get_a_status_the_requester_sees_in_their_activity() {
    let db = SqliteDb::migrated();
    let (a, u) = (user(&db, "Root", "admin", 0), user(&db, "Ada", "user", 0));
    db.exec(&format!("INSERT INTO privacy_requests (id, user_id, email, kind, message, status, created_at, updated_at) VALUES ('prq_1', '{u}', 'ada@example.com', 'access', 'my data', 'received', 1, 1)"));
    let updated = block_on(requests::update_privacy_request(&db, &admin(&a, "p1"), "prq_1", "in_progress", Some("exporting"), T0)).unwrap();
    assert_eq!((updated.status.as_str(), updated.updated_at), ("in_progress", T0));
    assert!(matches!(block_on(requests::update_privacy_request(&db, &admin(&a, "p2"), "prq_1", "lost", None, T0)), Err(AppError::Validation { .. })));
    assert_eq!(kinds(&db, &u), vec!["privacy_request_updated"]);
    assert_eq!(kinds(&db, &a), vec!["admin_privacy_request_updated"]);
    assert_eq!(block_on(requests::privacy_requests(&db, Some("in_progress"), &Page::first(20))).unwrap().len(), 1);
}
