//! Fulfilment rules on a real SQLite with the migrations: grant once, proportional
//! clawbacks, disputes won and lost, debt, and the same result for any order and any
//! number of deliveries.

use super::*;
use crate::credits::stripe::{parse_event, CreatedSession, SessionList};
use crate::platform::ports::PortError;
use crate::testing::{block_on, SqliteDb};
use serde_json::{json, Value};
use std::cell::RefCell;

const USER: &str = "usr_buyer";

fn db_with_user(balance: i64) -> SqliteDb {
    let db = SqliteDb::migrated();
    let mut setup = vec![crate::accounts::queries::insert_user(USER, "Buyer", "buyer@example.com", "x", 0), ledger::open_account(USER, 0)];
    if balance > 0 {
        setup.extend(ledger::grant(USER, EntryKind::Grant, balance, "grant:test", 0));
    }
    block_on(db.batch(setup)).unwrap();
    db
}

fn session(id: &str, pi: &str, payment_status: &str, credits: i64, amount: i64) -> Value {
    json!({
        "id": id, "object": "checkout.session", "client_reference_id": USER, "amount_total": amount, "currency": "usd",
        "payment_intent": pi, "status": "complete", "payment_status": payment_status,
        "metadata": { "user_id": USER, "pack": "starter", "credits": credits.to_string() }
    })
}

fn event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "id": id, "object": "event", "type": kind, "created": 1, "data": { "object": object } })).unwrap()
}

fn charge(pi: &str, amount: i64, refunded: i64) -> Value {
    json!({ "id": format!("ch_{pi}"), "object": "charge", "payment_intent": pi, "amount": amount, "amount_refunded": refunded, "receipt_url": format!("https://pay.example/receipts/{pi}") })
}

fn dispute(id: &str, pi: &str, amount: i64, status: &str) -> Value {
    json!({ "id": id, "object": "dispute", "payment_intent": pi, "amount": amount, "status": status })
}

fn deliver(db: &SqliteDb, body: &[u8]) {
    let (_, fact) = parse_event(body).unwrap();
    block_on(apply_fact(db, &fact, 1_000)).unwrap();
}

fn account(db: &SqliteDb) -> (i64, i64, i64) {
    let q = |c: &str| db.scalar(&format!("SELECT {c} FROM credit_accounts WHERE user_id = '{USER}'"));
    (q("balance"), q("held"), q("debt"))
}

/// The account, each purchase's applied credits and the net of its ledger entries.
fn outcome(db: &SqliteDb) -> (i64, i64, i64, i64, i64) {
    let (b, h, d) = account(db);
    let net = db.scalar(
        "SELECT SUM(CASE WHEN kind = 'clawback' THEN -amount ELSE amount END) FROM ledger_entries WHERE reference LIKE 'purchase:%'",
    );
    (b, h, d, db.scalar("SELECT SUM(credits_applied) FROM purchases"), net)
}

#[test]
fn a_paid_session_grants_its_pack_once_under_the_session_reference() {
    let db = db_with_user(0);
    let paid = event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "paid", 100, 900));
    for _ in 0..3 {
        deliver(&db, &paid);
    }
    deliver(&db, &event("evt_2", "checkout.session.async_payment_succeeded", session("cs_1", "pi_1", "paid", 100, 900)));
    assert_eq!(account(&db), (100, 0, 0));
    assert_eq!(db.text("SELECT reference FROM ledger_entries WHERE kind = 'purchase'").as_deref(), Some("purchase:cs_1"));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE reference LIKE 'purchase:%'"), 1);
}

#[test]
fn unpaid_and_failed_sessions_grant_nothing_and_a_late_success_grants() {
    let db = db_with_user(0);
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "unpaid", 100, 900)));
    assert_eq!(account(&db), (0, 0, 0));
    assert_eq!(db.text("SELECT status FROM purchases").as_deref(), Some("pending"));
    deliver(&db, &event("evt_2", "checkout.session.async_payment_succeeded", session("cs_1", "pi_1", "paid", 100, 900)));
    // A failure reported after the success (out of order) changes nothing.
    deliver(&db, &event("evt_3", "checkout.session.async_payment_failed", session("cs_1", "pi_1", "unpaid", 100, 900)));
    assert_eq!(account(&db), (100, 0, 0));
    assert_eq!(db.text("SELECT status FROM purchases").as_deref(), Some("paid"));

    deliver(&db, &event("evt_4", "checkout.session.completed", session("cs_2", "pi_2", "unpaid", 100, 900)));
    deliver(&db, &event("evt_5", "checkout.session.async_payment_failed", session("cs_2", "pi_2", "unpaid", 100, 900)));
    assert_eq!(account(&db), (100, 0, 0));
}

#[test]
fn refunds_claw_back_in_proportion_to_the_amount_refunded_so_far() {
    let db = db_with_user(0);
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "paid", 100, 900)));
    deliver(&db, &event("evt_2", "charge.refunded", charge("pi_1", 900, 300)));
    assert_eq!(account(&db), (67, 0, 0)); // 100 × 300/900 = 33.3 → 33 taken back
    deliver(&db, &event("evt_3", "charge.refunded", charge("pi_1", 900, 450)));
    assert_eq!(account(&db), (50, 0, 0));
    // An older event (smaller cumulative refund) delivered late moves nothing.
    deliver(&db, &event("evt_2", "charge.refunded", charge("pi_1", 900, 300)));
    deliver(&db, &event("evt_4", "charge.refunded", charge("pi_1", 900, 900)));
    assert_eq!(account(&db), (0, 0, 0));
    assert_eq!(db.scalar("SELECT SUM(amount) FROM ledger_entries WHERE kind = 'clawback'"), 100);
}

#[test]
fn a_dispute_claws_back_and_a_won_dispute_restores() {
    let db = db_with_user(0);
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "paid", 100, 900)));
    deliver(&db, &event("evt_2", "charge.dispute.created", dispute("dp_1", "pi_1", 900, "needs_response")));
    assert_eq!(account(&db), (0, 0, 0));
    deliver(&db, &event("evt_3", "charge.dispute.closed", dispute("dp_1", "pi_1", 900, "won")));
    assert_eq!(account(&db), (100, 0, 0));
    // The opening event again, late: a closed dispute stays closed.
    deliver(&db, &event("evt_2", "charge.dispute.created", dispute("dp_1", "pi_1", 900, "needs_response")));
    assert_eq!(account(&db), (100, 0, 0));
    // A second purchase's lost dispute keeps the credits taken.
    deliver(&db, &event("evt_4", "checkout.session.completed", session("cs_2", "pi_2", "paid", 50, 500)));
    deliver(&db, &event("evt_5", "charge.dispute.created", dispute("dp_2", "pi_2", 500, "needs_response")));
    deliver(&db, &event("evt_6", "charge.dispute.closed", dispute("dp_2", "pi_2", 500, "lost")));
    assert_eq!(account(&db), (100, 0, 0));
}

#[test]
fn a_clawback_beyond_the_balance_is_debt_that_blocks_and_a_purchase_pays_it() {
    let db = db_with_user(0);
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "paid", 100, 900)));
    // The user spends 80 of the 100 (a hold captured).
    block_on(db.batch(ledger::hold(USER, "gen_1", 80, 2))).unwrap();
    block_on(db.batch(ledger::capture(USER, "gen_1", 80, 3))).unwrap();
    deliver(&db, &event("evt_2", "charge.refunded", charge("pi_1", 900, 900)));
    assert_eq!(account(&db), (0, 0, 80));
    // The next purchase pays the debt first, the rest is spendable.
    deliver(&db, &event("evt_3", "checkout.session.completed", session("cs_2", "pi_2", "paid", 100, 900)));
    assert_eq!(account(&db), (20, 0, 0));
    // Smaller than the debt: all of it goes to the debt.
    let db = db_with_user(0);
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "paid", 100, 900)));
    block_on(db.batch(ledger::hold(USER, "gen_1", 100, 2))).unwrap();
    deliver(&db, &event("evt_2", "charge.dispute.created", dispute("dp_1", "pi_1", 900, "needs_response")));
    assert_eq!(account(&db), (0, 100, 100));
    deliver(&db, &event("evt_3", "checkout.session.completed", session("cs_2", "pi_2", "paid", 30, 300)));
    assert_eq!(account(&db), (0, 100, 70));
    // Winning the dispute restores the credits, which pay the rest of the debt.
    deliver(&db, &event("evt_4", "charge.dispute.closed", dispute("dp_1", "pi_1", 900, "won")));
    assert_eq!(account(&db), (30, 100, 0));
}

#[test]
fn a_charge_that_arrives_before_its_session_is_settled_when_the_session_arrives() {
    let db = db_with_user(0);
    deliver(&db, &event("evt_2", "charge.refunded", charge("pi_1", 900, 450)));
    assert_eq!(account(&db), (0, 0, 0));
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "paid", 100, 900)));
    assert_eq!(account(&db), (50, 0, 0));
    assert_eq!(db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE reference LIKE 'purchase:%'"), 1);
}

#[test]
fn the_target_is_rounded_down_and_never_negative() {
    assert_eq!(target_credits(false, 100, 900, 0, 0), 0);
    assert_eq!(target_credits(true, 100, 900, 0, 0), 100);
    assert_eq!(target_credits(true, 100, 900, 1, 0), 100);
    assert_eq!(target_credits(true, 100, 900, 9, 0), 99);
    assert_eq!(target_credits(true, 100, 900, 900, 900), 0);
    assert_eq!(target_credits(true, 100, 0, 5, 0), 100);
}

#[test]
fn events_are_stored_once_by_id_and_unknown_types_are_recorded_not_queued() {
    let db = db_with_user(0);
    let body = event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "paid", 100, 900));
    let (envelope, _) = parse_event(&body).unwrap();
    assert_eq!(block_on(record_event(&db, &envelope, &body, 1)).unwrap(), Recorded::New);
    assert_eq!(block_on(record_event(&db, &envelope, &body, 2)).unwrap(), Recorded::Duplicate);
    let other = event("evt_9", "customer.created", json!({}));
    assert_eq!(block_on(record_event(&db, &parse_event(&other).unwrap().0, &other, 3)).unwrap(), Recorded::Ignored);
    assert_eq!(block_on(consume_event(&db, "evt_1", 4)), Outcome::Ack);
    assert_eq!(block_on(consume_event(&db, "evt_1", 5)), Outcome::Ack);
    assert_eq!(account(&db), (100, 0, 0));
    assert_eq!(db.text("SELECT outcome FROM stripe_events WHERE id = 'evt_1'").as_deref(), Some("applied"));
    assert!(matches!(block_on(consume_event(&db, "evt_missing", 6)), Outcome::DeadLetter { .. }));
    db.fail_next("SELECT payload");
    assert!(matches!(block_on(consume_event(&db, "evt_1", 7)), Outcome::Retry { .. }));
}

#[test]
fn a_lost_settlement_race_is_retried_from_the_new_state() {
    let db = db_with_user(0);
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_1", "pi_1", "paid", 100, 900)));
    // Another consumer's entry for step 2 is already there: this one must not double it.
    block_on(db.batch(ledger::clawback(USER, 50, "purchase:cs_1:2", 5))).unwrap();
    db.exec("UPDATE purchases SET credits_applied = 50, version = 2");
    db.exec("INSERT INTO stripe_charges (payment_intent, charge_id, amount, amount_refunded, receipt_url, updated_at) VALUES ('pi_1', 'ch', 900, 450, NULL, 0)");
    block_on(settle(&db, "cs_1", 6)).unwrap();
    assert_eq!(account(&db), (50, 0, 0));
}

struct FakeStripe {
    sessions: Vec<Value>,
    created: RefCell<Vec<String>>,
}

impl Payments for FakeStripe {
    async fn create_checkout_session(&self, request: &CheckoutRequest<'_>, key: &str) -> Result<CreatedSession, PortError> {
        self.created.borrow_mut().push(key.to_owned());
        Ok(CreatedSession { id: format!("cs_{}", request.pack.id), url: "https://checkout.example/pay".into() })
    }
    async fn list_checkout_sessions(&self, _gte: i64, after: Option<&str>) -> Result<SessionList, PortError> {
        // Two pages, to prove the paging.
        let start = after.map_or(0, |a| self.sessions.iter().position(|s| s["id"] == a).unwrap() + 1);
        let data: Vec<Value> = self.sessions.iter().skip(start).take(2).cloned().collect();
        Ok(SessionList { has_more: start + 2 < self.sessions.len(), data })
    }
}

#[test]
fn reconciliation_fulfils_paid_sessions_without_a_grant_and_only_those() {
    let db = db_with_user(0);
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_known", "pi_1", "paid", 100, 900)));
    let mut foreign = session("cs_foreign", "pi_9", "paid", 1, 1);
    foreign["metadata"] = json!({});
    let stripe = FakeStripe {
        sessions: vec![
            session("cs_known", "pi_1", "paid", 100, 900),
            session("cs_lost", "pi_2", "paid", 50, 500),
            session("cs_unpaid", "pi_3", "unpaid", 50, 500),
            foreign,
        ],
        created: RefCell::new(Vec::new()),
    };
    let report = block_on(reconcile(&db, &stripe, 10_000_000)).unwrap();
    assert_eq!(report, Reconciliation { checked: 4, fulfilled: 1, errors: 0 });
    assert_eq!(account(&db), (150, 0, 0));
    assert_eq!(block_on(reconcile(&db, &stripe, 10_000_000)).unwrap().fulfilled, 0);
}

#[test]
fn checkout_records_an_open_purchase_that_the_list_hides_until_completed() {
    let db = db_with_user(0);
    let stripe = FakeStripe { sessions: vec![], created: RefCell::new(Vec::new()) };
    let pack = Pack { id: "starter".into(), credits: 100, amount: 900, currency: "usd".into(), stripe_price: None };
    let req = CheckoutRequest { user_id: USER, email: "buyer@example.com", pack: &pack, success_url: "s".into(), cancel_url: "c".into() };
    let created = block_on(start_checkout(&db, &stripe, &req, "key-1", 1)).unwrap();
    assert_eq!(created.id, "cs_starter");
    assert_eq!(stripe.created.borrow().as_slice(), ["key-1"]);
    let page = crate::http::pagination::Page::first(10);
    assert!(block_on(purchases(&db, USER, &page)).unwrap().is_empty());
    deliver(&db, &event("evt_1", "checkout.session.completed", session("cs_starter", "pi_1", "paid", 100, 900)));
    deliver(&db, &event("evt_2", "charge.succeeded", charge("pi_1", 900, 0)));
    let list = block_on(purchases(&db, USER, &page)).unwrap();
    let view = list[0].view();
    assert_eq!((view.status, view.credits, view.amount), ("paid", 100, 900));
    assert_eq!(view.receipt_url.as_deref(), Some("https://pay.example/receipts/pi_1"));
    deliver(&db, &event("evt_3", "charge.refunded", charge("pi_1", 900, 100)));
    assert_eq!(block_on(purchases(&db, USER, &page)).unwrap()[0].view().status, "refunded");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Every event type, for two purchases, as Stripe would send them in order.
    fn history() -> Vec<Vec<u8>> {
        vec![
            event("evt_a1", "checkout.session.completed", session("cs_a", "pi_a", "paid", 100, 900)),
            event("evt_a2", "charge.succeeded", charge("pi_a", 900, 0)),
            event("evt_a3", "charge.refunded", charge("pi_a", 900, 200)),
            event("evt_a4", "charge.refunded", charge("pi_a", 900, 500)),
            event("evt_a5", "charge.dispute.created", dispute("dp_a", "pi_a", 400, "needs_response")),
            event("evt_a6", "charge.dispute.closed", dispute("dp_a", "pi_a", 400, "won")),
            event("evt_b1", "checkout.session.completed", session("cs_b", "pi_b", "unpaid", 300, 2500)),
            event("evt_b2", "checkout.session.async_payment_succeeded", session("cs_b", "pi_b", "paid", 300, 2500)),
            event("evt_b3", "charge.succeeded", charge("pi_b", 2500, 0)),
            event("evt_b4", "charge.dispute.created", dispute("dp_b", "pi_b", 1000, "needs_response")),
            event("evt_b5", "charge.dispute.closed", dispute("dp_b", "pi_b", 1000, "lost")),
            event("evt_c1", "checkout.session.completed", session("cs_c", "pi_c", "unpaid", 50, 500)),
            event("evt_c2", "checkout.session.async_payment_failed", session("cs_c", "pi_c", "unpaid", 50, 500)),
        ]
    }

    fn run(start_balance: i64, deliveries: &[usize]) -> (i64, i64, i64, i64, i64) {
        let db = db_with_user(start_balance);
        let events = history();
        for &i in deliveries {
            deliver(&db, &events[i]);
        }
        outcome(&db)
    }

    /// Each event one to three times, in a random order.
    fn deliveries() -> impl Strategy<Value = Vec<usize>> {
        let n = history().len();
        proptest::collection::vec(1usize..=3, n)
            .prop_map(|copies| copies.iter().enumerate().flat_map(|(i, c)| std::iter::repeat_n(i, *c)).collect::<Vec<_>>())
            .prop_shuffle()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn any_order_and_any_duplication_gives_the_in_order_result(start in 0i64..200, order in deliveries()) {
            let in_order: Vec<usize> = (0..history().len()).collect();
            let expected = run(start, &in_order);
            // a: 100 − 100×500/900 = 45 (the won dispute restored); b: 300 − 120 = 180; c: 0.
            prop_assert_eq!(expected, (start + 225, 0, 0, 225, 225));
            prop_assert_eq!(run(start, &order), expected);
        }

        #[test]
        fn every_prefix_of_any_order_keeps_balance_and_debt_consistent(start in 0i64..50, order in deliveries()) {
            let db = db_with_user(start);
            let events = history();
            for &i in &order {
                deliver(&db, &events[i]);
                let (balance, _, debt) = account(&db);
                let (_, _, _, applied, net) = outcome(&db);
                prop_assert_eq!(applied, net);
                // One of the two is always zero, and their difference is what was credited.
                prop_assert!(balance == 0 || debt == 0);
                prop_assert_eq!(balance - debt, start + applied);
            }
        }
    }
}
