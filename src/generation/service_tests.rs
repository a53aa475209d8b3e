//! Native tests of the generation service over the test doubles: real SQL on SQLite,
//! in-memory R2, a recording queue and a scripted provider. Each reads as a story of
//! deliveries; every test ends by checking the ledger's books balance.

use super::*;
use crate::generation::jobs::Status;
use crate::library::brands::{BrandInput, Write};
use crate::ops::cron;
use crate::platform::clock::MINUTE_MS;
use crate::testing::{block_on, ManualClock, MemoryBlobs, RecordingQueue, Reply, ScriptedInference, SqliteDb};

const T0: i64 = 1_800_000_000_000;
const GRANT: i64 = 50;
const LEASE: i64 = 2 * MINUTE_MS;

struct World {
    db: SqliteDb,
    blobs: MemoryBlobs,
    queue: RecordingQueue,
    provider: ScriptedInference,
    clock: ManualClock,
}

impl World {
    fn new() -> World {
        World {
            db: SqliteDb::migrated(),
            blobs: MemoryBlobs::default(),
            queue: RecordingQueue::default(),
            provider: ScriptedInference::default(),
            clock: ManualClock::at(T0),
        }
    }

    /// A user with the starter grant and one brand; returns (user id, brand id).
    fn user(&self, name: &str) -> (String, String) {
        let user = crate::platform::ids::new_id("usr");
        let now = self.clock.now_ms();
        let mut batch = vec![
            crate::accounts::queries::insert_user(&user, name, &format!("{user}@example.com"), "x", now),
            ledger::open_account(&user, now),
        ];
        batch.extend(ledger::grant(&user, ledger::EntryKind::Grant, GRANT, &format!("grant:test:{user}"), now));
        block_on(self.db.batch(batch)).unwrap();
        let brand = crate::platform::ids::new_id("brd");
        let input = BrandInput { name: Some("Fernleaf".into()), voice: Some("warm".into()), ..Default::default() };
        let fields = BrandFields::apply(BrandFields::empty(), &input).unwrap();
        block_on(self.db.batch(brands::write_brand(&user, &brand, &fields, None, now, now, Write::Insert))).unwrap();
        (user, brand)
    }

    fn submit(&self, user: &str, brand: &str, content_type: &str, key: Option<&str>) -> Result<Submission, AppError> {
        let request = SubmitRequest {
            user_id: user,
            brand_id: brand,
            content_type,
            prompt: "Announce our weekend opening hours",
            idempotency_key: key,
            device: "Firefox on Linux",
        };
        block_on(submit(&self.db, &self.queue, &self.provider, &request, self.clock.now_ms()))
    }

    fn deliver(&self, job_id: &str) -> Outcome {
        block_on(run_job(&self.db, &self.blobs, &self.provider, &self.clock, job_id, LEASE))
    }

    fn sweep(&self) -> String {
        block_on(cron::sweep(&self.db, &self.blobs, &self.queue, self.clock.now_ms())).unwrap()
    }

    fn job(&self, user: &str, id: &str) -> Job {
        block_on(jobs::find(&self.db, user, id)).unwrap().unwrap()
    }

    fn balance(&self, user: &str) -> Balance {
        block_on(ledger::balance(&self.db, user)).unwrap()
    }

    fn entries(&self, job_id: &str, kind: &str) -> i64 {
        self.db.scalar(&format!("SELECT COUNT(*) FROM ledger_entries WHERE job_id = '{job_id}' AND kind = '{kind}'"))
    }

    /// The books balance: the grant = available + held + captured, and held is exactly
    /// the prices of the jobs not yet settled.
    fn assert_books_balance(&self, user: &str) {
        let b = self.balance(user);
        let captured = self.db.scalar(&format!("SELECT SUM(amount) FROM ledger_entries WHERE user_id = '{user}' AND kind = 'capture'"));
        assert_eq!(b.balance + b.held + captured, GRANT, "books of {user}: {b:?}, captured {captured}");
        let open = self.db.scalar(&format!("SELECT SUM(price) FROM generation_jobs WHERE user_id = '{user}' AND status IN ('queued', 'running')"));
        assert_eq!(b.held, open, "held credits of {user} match the open jobs");
        assert!(b.balance >= 0 && b.held >= 0);
    }
}

use crate::credits::ledger::Balance;

#[test]
fn a_submit_holds_the_price_and_puts_the_job_on_the_queue() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let s = w.submit(&user, &brand, "product_description", None).unwrap();
    assert!(!s.replayed);
    assert_eq!(s.job.status, Status::Queued);
    assert_eq!(w.balance(&user), Balance { balance: GRANT - 2, held: 2, debt: 0 });
    assert_eq!(w.queue.drain_jobs(), vec![s.job.id.clone()]);
    w.assert_books_balance(&user);
}

#[test]
fn a_text_job_succeeds_and_captures_its_price_once() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    assert_eq!(w.deliver(&id), Outcome::Ack);
    let job = w.job(&user, &id);
    assert_eq!(job.status, Status::Succeeded);
    assert!(job.output_text.is_some() && job.brand_check.is_some());
    assert_eq!(w.entries(&id, "capture"), 1);
    assert_eq!(w.balance(&user), Balance { balance: GRANT - 1, held: 0, debt: 0 });
    w.assert_books_balance(&user);
}

#[test]
fn a_duplicate_delivery_calls_the_provider_once_and_captures_once() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    assert_eq!(w.deliver(&id), Outcome::Ack);
    assert_eq!(w.deliver(&id), Outcome::Ack);
    assert_eq!(w.provider.calls.get(), 1);
    assert_eq!(w.entries(&id, "capture"), 1);
    w.assert_books_balance(&user);
}

#[test]
fn a_second_delivery_while_the_first_holds_the_lease_does_not_call_the_provider() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    // The first delivery claimed the job and is still running (its lease is live).
    block_on(jobs::claim(&w.db, &id, w.clock.now_ms(), LEASE)).unwrap().unwrap();
    assert_eq!(w.deliver(&id), Outcome::Ack);
    assert_eq!(w.provider.calls.get(), 0);
    assert_eq!(w.job(&user, &id).status, Status::Running);
}

#[test]
fn a_transient_error_retries_with_backoff_then_captures_once() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    w.provider.then(Reply::Fail(ProviderError::Transient("provider answered 503".into())));
    assert_eq!(w.deliver(&id), Outcome::Retry { delay_seconds: 1 });
    assert_eq!(w.job(&user, &id).status, Status::Queued);
    assert_eq!(w.balance(&user).held, 1, "the hold stays while the job is retried");
    assert_eq!(w.deliver(&id), Outcome::Ack);
    let job = w.job(&user, &id);
    assert_eq!((job.status, job.attempts), (Status::Succeeded, 2));
    assert_eq!(w.entries(&id, "capture"), 1);
    assert_eq!(w.entries(&id, "release"), 0);
    w.assert_books_balance(&user);
}

#[test]
fn a_permanent_error_fails_the_job_and_releases_once() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "image_square", None).unwrap().job.id;
    w.provider.then(Reply::Fail(ProviderError::Permanent("provider refused the request (400)".into())));
    assert_eq!(w.deliver(&id), Outcome::Ack);
    let job = w.job(&user, &id);
    assert_eq!(job.status, Status::Failed);
    assert!(job.failure_reason.unwrap().contains("No credits were used"));
    assert_eq!(w.deliver(&id), Outcome::Ack, "a duplicate of a failed job is acked");
    assert_eq!(w.entries(&id, "release"), 1);
    assert_eq!(w.balance(&user), Balance { balance: GRANT, held: 0, debt: 0 });
    w.assert_books_balance(&user);
}

#[test]
fn transient_errors_on_every_delivery_end_in_a_release_after_the_last_attempt() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    for _ in 0..jobs::MAX_ATTEMPTS {
        w.provider.then(Reply::Fail(ProviderError::Transient("provider answered 429".into())));
    }
    let outcomes: Vec<Outcome> = (0..jobs::MAX_ATTEMPTS).map(|_| w.deliver(&id)).collect();
    assert!(outcomes[..outcomes.len() - 1].iter().all(|o| matches!(o, Outcome::Retry { .. })));
    assert_eq!(outcomes.last(), Some(&Outcome::Ack));
    assert_eq!(w.job(&user, &id).status, Status::Failed);
    assert_eq!(w.entries(&id, "release"), 1);
    w.assert_books_balance(&user);
}

#[test]
fn a_worker_that_dies_after_the_claim_leaves_a_job_the_sweeper_requeues() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    w.queue.drain_jobs();
    // The claim succeeded, then the worker died: no settle, no requeue.
    block_on(jobs::claim(&w.db, &id, w.clock.now_ms(), LEASE)).unwrap().unwrap();
    w.clock.advance(LEASE + MINUTE_MS);
    w.sweep();
    assert_eq!(w.job(&user, &id).status, Status::Queued);
    assert_eq!(w.queue.drain_jobs(), vec![id.clone()], "the sweeper sends it again");
    assert_eq!(w.deliver(&id), Outcome::Ack);
    assert_eq!(w.job(&user, &id).status, Status::Succeeded);
    assert_eq!(w.entries(&id, "capture"), 1);
    w.assert_books_balance(&user);
}

#[test]
fn a_settle_that_fails_is_retried_and_captures_once() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    w.db.fail_next("UPDATE credit_accounts SET held = held - ?");
    assert_eq!(w.deliver(&id), Outcome::Retry { delay_seconds: 5 });
    assert_eq!(w.entries(&id, "capture"), 0, "the failed batch left nothing behind");
    assert_eq!(w.job(&user, &id).status, Status::Queued);
    assert_eq!(w.deliver(&id), Outcome::Ack);
    assert_eq!(w.entries(&id, "capture"), 1);
    w.assert_books_balance(&user);
}

#[test]
fn an_image_is_stored_before_the_job_succeeds_and_a_failed_put_is_retried() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "image_square", None).unwrap().job.id;
    w.blobs.fail_puts.set(1);
    assert_eq!(w.deliver(&id), Outcome::Retry { delay_seconds: 5 });
    assert!(w.blobs.keys().is_empty());
    assert_eq!(w.deliver(&id), Outcome::Ack);
    let job = w.job(&user, &id);
    let upload = job.output_upload_id.expect("an image output");
    assert_eq!(w.db.text(&format!("SELECT status FROM uploads WHERE id = '{upload}'")).as_deref(), Some("ready"));
    assert_eq!(w.blobs.keys(), vec![uploads::r2_key(&user, &upload)]);
    w.clock.advance(2 * MINUTE_MS);
    w.sweep();
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM uploads"), 1, "only the stored image's row is left");
    w.assert_books_balance(&user);
}

#[test]
fn a_queue_that_refuses_the_send_leaves_the_job_in_the_outbox_for_the_sweeper() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    w.queue.fail_sends.set(1);
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    assert!(w.queue.drain_jobs().is_empty());
    assert_eq!(w.db.scalar(&format!("SELECT COUNT(*) FROM generation_jobs WHERE id = '{id}' AND enqueued_at IS NULL")), 1);
    w.clock.advance(jobs::OUTBOX_GRACE_MS + 1);
    w.sweep();
    assert_eq!(w.queue.drain_jobs(), vec![id.clone()]);
    assert_eq!(w.db.scalar(&format!("SELECT COUNT(*) FROM generation_jobs WHERE id = '{id}' AND enqueued_at IS NOT NULL")), 1);
}

#[test]
fn a_retried_submit_with_the_same_key_replays_and_a_different_body_is_refused() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let first = w.submit(&user, &brand, "social_post", Some("key-1")).unwrap();
    let again = w.submit(&user, &brand, "social_post", Some("key-1")).unwrap();
    assert!(again.replayed);
    assert_eq!(again.job.id, first.job.id);
    assert_eq!(w.balance(&user).held, 1, "charged once");
    assert!(matches!(w.submit(&user, &brand, "ad_headlines", Some("key-1")), Err(AppError::Validation { .. })));
}

#[test]
fn a_submit_that_costs_more_than_the_balance_is_refused_and_writes_nothing() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    w.db.exec(&format!("UPDATE credit_accounts SET balance = 3 WHERE user_id = '{user}'"));
    assert!(matches!(w.submit(&user, &brand, "image_square", None), Err(AppError::PaymentRequired { .. })));
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM generation_jobs"), 0);
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'hold'"), 0);
}

#[test]
fn a_flagged_prompt_is_refused_before_any_credit_is_held_and_recorded() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    *w.provider.flag_word.borrow_mut() = Some("weekend".into());
    assert!(matches!(w.submit(&user, &brand, "social_post", None), Err(AppError::Validation { .. })));
    assert_eq!(w.balance(&user), Balance { balance: GRANT, held: 0, debt: 0 });
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM security_events WHERE kind = 'prompt_refused'"), 1);
}

#[test]
fn brand_text_that_goes_into_the_prompts_is_screened_too() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    w.db.exec(&format!("UPDATE brands SET audience = 'people who enjoy graphic violence' WHERE id = '{brand}'"));
    *w.provider.flag_word.borrow_mut() = Some("violence".into());
    assert!(matches!(w.submit(&user, &brand, "social_post", None), Err(AppError::Validation { .. })));
    assert!(w.provider.moderated.borrow()[0].contains("graphic violence"));
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM generation_jobs"), 0);
}

#[test]
fn a_dead_lettered_job_is_failed_and_released_once() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    assert_eq!(block_on(dead_lettered(&w.db, &id, w.clock.now_ms())), Outcome::Ack);
    assert_eq!(block_on(dead_lettered(&w.db, &id, w.clock.now_ms())), Outcome::Ack);
    assert_eq!(w.job(&user, &id).status, Status::Failed);
    assert_eq!(w.entries(&id, "release"), 1);
    assert_eq!(w.deliver(&id), Outcome::Ack, "a late delivery finds it settled");
    assert_eq!(w.provider.calls.get(), 0);
    w.assert_books_balance(&user);
}

#[test]
fn a_job_that_crashes_its_consumer_every_time_ends_failed_with_its_hold_released() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    // Each delivery claims the job and dies before settling (a panic in the consumer).
    for _ in 0..jobs::MAX_CLAIMS {
        assert!(block_on(jobs::claim(&w.db, &id, w.clock.now_ms(), LEASE)).unwrap().is_some());
        w.clock.advance(LEASE + 1);
        w.sweep();
    }
    let job = w.job(&user, &id);
    assert_eq!(job.status, Status::Failed, "the sweeper ends it after {} claims", jobs::MAX_CLAIMS);
    assert!(job.failure_reason.unwrap().contains("No credits were used"));
    assert_eq!(w.entries(&id, "release"), 1);
    assert_eq!(w.deliver(&id), Outcome::Ack);
    assert_eq!(w.provider.calls.get(), 0);
    w.assert_books_balance(&user);
}

#[test]
fn a_job_whose_message_was_lost_is_sent_again_and_given_up_after_a_day() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    w.queue.drain_jobs(); // the queue took it, then lost it
    w.clock.advance(jobs::STALE_QUEUED_MS + 1);
    w.sweep();
    assert_eq!(w.queue.drain_jobs(), vec![id.clone()]);
    w.clock.advance(jobs::QUEUED_GIVE_UP_MS);
    w.sweep();
    assert_eq!(w.job(&user, &id).status, Status::Failed);
    assert_eq!(w.entries(&id, "release"), 1);
    w.assert_books_balance(&user);
}

#[test]
fn one_broken_upload_does_not_stop_the_sweeper_from_recovering_jobs() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "social_post", None).unwrap().job.id;
    w.queue.drain_jobs();
    block_on(jobs::claim(&w.db, &id, w.clock.now_ms(), LEASE)).unwrap().unwrap();
    w.db.exec(&format!(
        "INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, status, created_at, deleting_since) \
         VALUES ('upl_x', '{user}', 'u/{user}/upl_x', 'x.png', 'image/png', 1, 'deleting', {T0}, {T0})"
    ));
    w.clock.advance(LEASE + MINUTE_MS);
    w.db.fail_next("DELETE FROM uploads WHERE id = ?");
    let result = block_on(cron::sweep(&w.db, &w.blobs, &w.queue, w.clock.now_ms()));
    assert!(result.is_err(), "the run reports the failure");
    assert_eq!(w.job(&user, &id).status, Status::Queued, "and still requeued the job");
    assert_eq!(w.queue.drain_jobs(), vec![id]);
}

#[test]
fn deleting_a_generated_image_as_an_upload_detaches_it_from_its_generation() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "image_square", None).unwrap().job.id;
    assert_eq!(w.deliver(&id), Outcome::Ack);
    let upload = w.job(&user, &id).output_upload_id.unwrap();
    let doomed = uploads::Doomed { id: upload.clone(), r2_key: uploads::r2_key(&user, &upload) };
    assert_eq!(block_on(uploads::remove(&w.db, &w.blobs, &[doomed], w.clock.now_ms())), Ok(1));
    assert_eq!(w.job(&user, &id).output_upload_id, None);
    assert!(w.blobs.keys().is_empty());
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM uploads"), 0);
}

#[test]
fn an_ambiguous_image_put_failure_leaves_a_row_the_sweeper_cleans_up() {
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let id = w.submit(&user, &brand, "image_square", None).unwrap().job.id;
    w.blobs.fail_puts.set(1);
    assert_eq!(w.deliver(&id), Outcome::Retry { delay_seconds: 5 });
    assert_eq!(w.db.text("SELECT status FROM uploads").as_deref(), Some("deleting"), "the row outlives a put that may have landed");
    w.clock.advance(2 * MINUTE_MS);
    w.sweep();
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM uploads"), 0);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Submit(usize),
        Deliver(usize),
        Fail(usize, bool),
        DeadLetter(usize),
        CrashAfterClaim(usize),
        Sweep,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0..7usize).prop_map(Step::Submit),
            4 => (0..8usize).prop_map(Step::Deliver),
            2 => ((0..8usize), any::<bool>()).prop_map(|(i, t)| Step::Fail(i, t)),
            1 => (0..8usize).prop_map(Step::DeadLetter),
            1 => (0..8usize).prop_map(Step::CrashAfterClaim),
            1 => Just(Step::Sweep),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any interleaving of submits, (duplicate) deliveries, provider failures,
        /// dead-lettering, crashes and sweeps keeps the books: the balance never goes
        /// negative, each job settles at most once, and held = prices of open jobs.
        #[test]
        fn the_ledger_stays_exact_under_any_interleaving(steps in proptest::collection::vec(step(), 1..40)) {
            let w = World::new();
            let (user, brand) = w.user("Ada");
            let mut ids: Vec<String> = Vec::new();
            let pick = |ids: &Vec<String>, i: usize| (!ids.is_empty()).then(|| ids[i % ids.len()].clone());
            for step in steps {
                match step {
                    Step::Submit(t) => {
                        let ct = content_types::CONTENT_TYPES[t % content_types::CONTENT_TYPES.len()].id;
                        if let Ok(s) = w.submit(&user, &brand, ct, None) {
                            ids.push(s.job.id);
                        }
                    }
                    Step::Deliver(i) => if let Some(id) = pick(&ids, i) { w.deliver(&id); },
                    Step::Fail(i, transient) => if let Some(id) = pick(&ids, i) {
                        let e = if transient { ProviderError::Transient("503".into()) } else { ProviderError::Permanent("400".into()) };
                        w.provider.then(Reply::Fail(e));
                        w.deliver(&id);
                        w.provider.script.borrow_mut().clear();
                    },
                    Step::DeadLetter(i) => if let Some(id) = pick(&ids, i) { block_on(dead_lettered(&w.db, &id, w.clock.now_ms())); },
                    Step::CrashAfterClaim(i) => if let Some(id) = pick(&ids, i) { let _ = block_on(jobs::claim(&w.db, &id, w.clock.now_ms(), LEASE)); },
                    Step::Sweep => { w.clock.advance(LEASE + 1); w.sweep(); },
                }
                w.clock.advance(1_000);
                w.assert_books_balance(&user);
                for id in &ids {
                    let settled = w.entries(id, "capture") + w.entries(id, "release");
                    prop_assert!(settled <= 1, "job {} settled {} times", id, settled);
                }
            }
        }
    }
}

/// A `width × height` PNG of one colour, made by the real encoder.
fn flat_png(rgb: [u8; 3], width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&rgb.repeat((width * height) as usize)).unwrap();
    writer.finish().unwrap();
    out
}

#[test]
fn every_stored_image_gets_a_palette_check_kept_with_the_job() {
    use crate::generation::palette_check::{PaletteCheck, PaletteStatus};
    let w = World::new();
    let (user, brand) = w.user("Ada");
    let check = |id: &str| -> PaletteCheck { serde_json::from_str(&w.job(&user, id).palette_check.expect("a palette check")).unwrap() };

    // The brand has no colours yet: not checked, and the job succeeds all the same.
    let id = w.submit(&user, &brand, "image_square", None).unwrap().job.id;
    w.provider.then(Reply::Image(flat_png([200, 30, 30], 64, 64)));
    assert_eq!(w.deliver(&id), Outcome::Ack);
    assert_eq!(check(&id).status, PaletteStatus::NotChecked);
    assert_eq!(w.job(&user, &id).brand_check, None);

    let input = BrandInput {
        colors: Some(vec![brands::Color { hex: "#0e7c66".into(), role: "primary".into() }]),
        ..Default::default()
    };
    let stored = block_on(brands::find_brand(&w.db, &user, &brand)).unwrap().unwrap();
    let fields = BrandFields::apply(stored.fields, &input).unwrap();
    let now = w.clock.now_ms();
    block_on(w.db.batch(brands::write_brand(&user, &brand, &fields, None, now, now, Write::Update))).unwrap();

    let off = w.submit(&user, &brand, "image_square", None).unwrap().job.id;
    w.provider.then(Reply::Image(flat_png([200, 30, 30], 64, 64)));
    assert_eq!(w.deliver(&off), Outcome::Ack);
    let c = check(&off);
    assert_eq!(c.status, PaletteStatus::Failed);
    assert_eq!(c.problems, vec!["Off-brand colour #c81e1e covers 100% of the image (nearest brand colour #0e7c66, ΔE 28.8)."]);

    let on = w.submit(&user, &brand, "image_square", None).unwrap().job.id;
    w.provider.then(Reply::Image(flat_png([0x12, 0x80, 0x6a], 64, 64)));
    assert_eq!(w.deliver(&on), Outcome::Ack);
    assert_eq!(check(&on).status, PaletteStatus::Passed);
    w.assert_books_balance(&user);
}
