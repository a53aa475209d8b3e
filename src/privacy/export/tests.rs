//! Native tests of the export: start, the job (with faults between every two writes),
//! bounded memory for a 100 MB account, and the purges.

use super::archive::{PART_BYTES, CHUNK_BYTES};
use super::job::{self, Settings};
use super::*;
use crate::accounts::mail::{Mailer, OutgoingEmail};
use crate::credits::ledger::{self, EntryKind};
use crate::platform::ports::{Blob, PortError};
use crate::platform::queue_messages::Outcome;
use crate::testing::{block_on, MemoryBlobs, RecordingQueue, SqliteDb};
use std::cell::RefCell;
use std::io::Read;

const T0: i64 = 1_800_000_000_000;
const SETTINGS: Settings<'static> = Settings { ttl_ms: DEFAULT_TTL_MS, email_from: "Blimari <no-reply@blimari.space>", origin: "https://app.test" };

#[derive(Default)]
struct RecordingMailer {
    sent: RefCell<Vec<OutgoingEmail>>,
}

impl Mailer for RecordingMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), PortError> {
        self.sent.borrow_mut().push(email.clone());
        Ok(())
    }
}

struct World {
    db: SqliteDb,
    blobs: MemoryBlobs,
    queue: RecordingQueue,
    mail: RecordingMailer,
}

impl World {
    fn new() -> World {
        World { db: SqliteDb::migrated(), blobs: MemoryBlobs::default(), queue: RecordingQueue::default(), mail: RecordingMailer::default() }
    }

    fn user(&self, name: &str) -> String {
        let id = crate::platform::ids::new_id("usr");
        let mut batch = vec![
            crate::accounts::queries::insert_user(&id, name, &format!("{}.{id}@example.com", name.to_lowercase()), "x", T0),
            ledger::open_account(&id, T0),
        ];
        batch.extend(ledger::grant(&id, EntryKind::Grant, 50, &format!("grant:test:{id}"), T0));
        block_on(self.db.batch(batch)).unwrap();
        id
    }

    /// Brands, uploads (with their bytes), a generation with a text and one with an
    /// image output, a purchase, security events and a privacy request.
    fn fill(&self, user: &str, image_bytes: usize, images: usize) -> Vec<String> {
        let db = &self.db;
        let tag = &user[4..12];
        let mut uploads = Vec::new();
        for n in 0..images {
            let id = format!("upl_{tag}_{n}");
            let key = crate::library::uploads::r2_key(user, &id);
            db.exec(&format!(
                "INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, width, height, status, created_at) \
                 VALUES ('{id}', '{user}', '{key}', 'pic {n}.png', 'image/png', {image_bytes}, 1, 1, 'ready', {})",
                T0 + n as i64
            ));
            let bytes: Vec<u8> = (0..image_bytes).map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(n as u32) as u8).collect();
            self.blobs.objects.borrow_mut().insert(key, Blob { bytes, content_type: "image/png".into() });
            uploads.push(id);
        }
        db.exec(&format!(
            "INSERT INTO brands (id, user_id, name, description, created_at, updated_at) VALUES ('brd_{tag}_a', '{user}', 'Fernleaf {tag}', 'Teas', {T0}, {T0});
             INSERT INTO brands (id, user_id, name, archived_at, created_at, updated_at) VALUES ('brd_{tag}_b', '{user}', 'Old {tag}', {T0}, {T0}, {T0});
             INSERT INTO generation_jobs (id, user_id, brand_id, brand_snapshot, content_type, prompt, price, status, request_hash, created_at, output_text)
               VALUES ('gen_{tag}_1', '{user}', 'brd_{tag}_a', '{{\"name\":\"Fernleaf\"}}', 'social_post', 'A post about tea {tag}', 1, 'succeeded', 'h1', {T0}, 'Tea time {tag}');
             INSERT INTO purchases (session_id, user_id, pack_id, credits, amount_total, currency, status, created_at, updated_at)
               VALUES ('cs_{tag}', '{user}', 'starter', 100, 900, 'usd', 'paid', {T0}, {T0});
             INSERT INTO security_events (id, user_id, kind, device, created_at) VALUES ('evt_{tag}', '{user}', 'signed_in', 'Firefox on Linux', {T0});
             INSERT INTO privacy_requests (id, user_id, email, kind, message, created_at, updated_at) VALUES ('prq_{tag}', '{user}', 'x@example.com', 'access', 'My data {tag}', {T0}, {T0});"
        ));
        if let Some(first) = uploads.first() {
            db.exec(&format!(
                "INSERT INTO generation_jobs (id, user_id, brand_id, brand_snapshot, content_type, prompt, price, status, request_hash, created_at, output_upload_id)
                 VALUES ('gen_{tag}_2', '{user}', 'brd_{tag}_a', '{{}}', 'image', 'A picture {tag}', 4, 'succeeded', 'h2', {}, '{first}')",
                T0 + 1
            ));
        }
        uploads
    }

    fn start(&self, user: &str, now: i64) -> Result<ExportRow, AppError> {
        block_on(start(&self.db, &self.queue, user, "Firefox on Linux", now, DEFAULT_TTL_MS))
    }

    fn run(&self, id: &str, now: i64) -> Outcome {
        block_on(job::run(&self.db, &self.blobs, &self.mail, &SETTINGS, id, now))
    }

    fn row(&self, id: &str) -> ExportRow {
        block_on(find_any(&self.db, id)).unwrap().expect("the export row")
    }

    fn archive(&self, row: &ExportRow) -> Vec<(String, Vec<u8>)> {
        let bytes = self.blobs.objects.borrow().get(&row.r2_key).expect("the archive object").bytes.clone();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a readable zip");
        (0..archive.len())
            .map(|i| {
                let mut f = archive.by_index(i).unwrap();
                let mut out = Vec::new();
                f.read_to_end(&mut out).unwrap();
                (f.name().unwrap().into_owned(), out)
            })
            .collect()
    }

    fn events(&self, user: &str, kind: &str) -> i64 {
        self.db.scalar(&format!("SELECT COUNT(*) FROM security_events WHERE user_id = '{user}' AND kind = '{kind}'"))
    }
}

fn json_file(files: &[(String, Vec<u8>)], name: &str) -> serde_json::Value {
    let (_, bytes) = files.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing"));
    serde_json::from_slice(bytes).unwrap()
}

// ---- start ----------------------------------------------------------------------------------

#[test]
fn starting_queues_one_export_with_its_event_and_refuses_a_second_while_it_runs() {
    let w = World::new();
    let ada = w.user("Ada");
    let row = w.start(&ada, T0).unwrap();
    assert_eq!((row.status.as_str(), row.expires_at), ("queued", T0 + DEFAULT_TTL_MS));
    assert_eq!(row.r2_key, format!("u/{ada}/exports/{}.zip", row.id));
    assert_eq!(w.queue.sent.borrow().as_slice(), &[(QueueName::Export, QueueMessage::Export { export_id: row.id.clone() })]);
    assert_eq!(w.events(&ada, "export_requested"), 1);
    assert!(matches!(w.start(&ada, T0 + 1), Err(AppError::Conflict { .. })));
    assert_eq!(w.events(&ada, "export_requested"), 1, "no event for a refused start");
    // Another user is not affected.
    let bob = w.user("Bob");
    assert!(w.start(&bob, T0 + 2).is_ok());
}

#[test]
fn the_unique_index_holds_one_active_export_per_user_even_past_the_check() {
    let w = World::new();
    let ada = w.user("Ada");
    w.start(&ada, T0).unwrap();
    let err = block_on(w.db.run(
        Statement::new("INSERT INTO exports (id, user_id, status, r2_key, created_at, expires_at) VALUES ('exp_x', ?, 'running', 'k', 0, 1)").bind(&ada),
    ))
    .unwrap_err();
    assert!(err.violates_unique("exports", &["user_id"]), "{err}");
}

#[test]
fn more_than_the_daily_limit_is_refused_with_retry_after() {
    let w = World::new();
    let ada = w.user("Ada");
    for n in 0..DAILY_LIMIT {
        let row = w.start(&ada, T0 + n).unwrap();
        w.db.exec(&format!("UPDATE exports SET status = 'ready' WHERE id = '{}'", row.id));
    }
    match w.start(&ada, T0 + 10) {
        Err(AppError::TooManyRequests { retry_after_seconds }) => assert_eq!(retry_after_seconds as i64, (DAY_MS - 10) / 1000),
        other => panic!("{other:?}"),
    }
    // A day after the first, one more fits.
    assert!(w.start(&ada, T0 + DAY_MS + 1).is_ok());
}

#[test]
fn a_start_the_queue_refuses_is_failed_not_left_waiting() {
    let w = World::new();
    let ada = w.user("Ada");
    w.queue.fail_sends.set(1);
    assert!(matches!(w.start(&ada, T0), Err(AppError::ServiceUnavailable { .. })));
    assert_eq!(w.db.text("SELECT status FROM exports").as_deref(), Some("failed"));
    assert!(w.start(&ada, T0 + 1).is_ok(), "a failed export does not block the next");
}

// ---- the job --------------------------------------------------------------------------------

#[test]
fn an_export_holds_everything_the_account_owns_and_nothing_of_another() {
    let w = World::new();
    let ada = w.user("Ada");
    let bob = w.user("Bob");
    let ada_uploads = w.fill(&ada, 3000, 3);
    w.fill(&bob, 2000, 2);
    let row = w.start(&ada, T0 + 10).unwrap();
    assert_eq!(w.run(&row.id, T0 + 20), Outcome::Ack);

    let row = w.row(&row.id);
    assert_eq!(row.status, "ready");
    assert_eq!(row.expires_at, T0 + 20 + DEFAULT_TTL_MS);
    assert_eq!(w.blobs.open_multiparts(), 0);
    let files = w.archive(&row);
    assert_eq!(row.size_bytes, Some(w.blobs.objects.borrow()[&row.r2_key].bytes.len() as i64));
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for name in ["manifest.json", "profile.json", "sessions.json", "brands.json", "uploads.json", "generations.json", "credit_ledger.json",
        "purchases.json", "security_events.json", "privacy_requests.json"]
    {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    // Every image, byte for byte.
    for id in &ada_uploads {
        let (_, bytes) = files.iter().find(|(n, _)| *n == format!("files/{id}.png")).expect("the image");
        assert_eq!(bytes, &w.blobs.objects.borrow()[&crate::library::uploads::r2_key(&ada, id)].bytes);
    }
    let manifest = json_file(&files, "manifest.json");
    assert_eq!(manifest["policy_version"], crate::accounts::queries::POLICY_VERSION);
    assert_eq!(manifest["export_id"], row.id.as_str());
    let counts = &manifest["counts"];
    assert_eq!((counts["brands"].as_i64(), counts["uploads"].as_i64(), counts["files"].as_i64()), (Some(2), Some(3), Some(3)));
    assert_eq!((counts["generations"].as_i64(), counts["purchases"].as_i64(), counts["privacy_requests"].as_i64()), (Some(2), Some(1), Some(1)));
    assert_eq!(counts["credit_ledger"].as_i64(), Some(1));
    assert_eq!(counts["security_events"].as_i64(), Some(2), "signed_in and export_requested");
    assert_eq!(row.view(T0 + 30).counts.as_ref(), Some(counts));
    // Every file the manifest names is there, and every JSON file is pretty.
    for f in manifest["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        assert!(path == "files/" || names.contains(&path), "{path}");
        assert!(f["description"].as_str().unwrap().len() > 10);
    }
    let generations = json_file(&files, "generations.json");
    assert_eq!(generations.as_array().unwrap().len(), 2);
    let image = generations.as_array().unwrap().iter().find(|g| !g["output_upload_id"].is_null()).unwrap();
    assert_eq!(image["output_file"], format!("files/{}.png", ada_uploads[0]));
    assert!(std::str::from_utf8(&files.iter().find(|(n, _)| n == "brands.json").unwrap().1).unwrap().contains("\n  {\n    \""));
    assert_eq!(json_file(&files, "profile.json")["account"]["id"], ada.as_str());
    // Nothing of Bob's: not his id, nor any of his rows' ids or texts.
    let bob_tag = &bob[4..12];
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(&bob) && !text.contains(bob_tag), "{name} holds Bob's data");
    }
    // A5 event in the same batch, and the owner is told.
    assert_eq!(w.events(&ada, "export_ready"), 1);
    let sent = w.mail.sent.borrow();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].to[0].starts_with("ada.") && sent[0].subject.contains("ready"));
    assert!(sent[0].text.contains("https://app.test/settings#export"));
}

#[test]
fn a_duplicate_delivery_of_a_finished_export_does_nothing() {
    let w = World::new();
    let ada = w.user("Ada");
    let row = w.start(&ada, T0).unwrap();
    assert_eq!(w.run(&row.id, T0 + 1), Outcome::Ack);
    let parts = w.blobs.parts_uploaded();
    assert_eq!(w.run(&row.id, T0 + 2), Outcome::Ack);
    assert_eq!(w.blobs.parts_uploaded(), parts);
    assert_eq!(w.mail.sent.borrow().len(), 1);
    assert_eq!(w.run("exp_missing", T0), Outcome::Ack);
}

/// 100 MB of images (20 × 5 MB): the archive is streamed in 5 MiB parts and the writer
/// never holds more than one part plus one chunk, whatever the account's size.
#[test]
fn a_100_mb_account_exports_with_bounded_memory() {
    let w = World::new();
    let ada = w.user("Ada");
    w.fill(&ada, 5 * 1000 * 1000, 20);
    let row = w.start(&ada, T0).unwrap();
    assert_eq!(w.run(&row.id, T0 + 1), Outcome::Ack);
    let row = w.row(&row.id);
    assert_eq!(row.status, "ready");
    let size = row.size_bytes.unwrap() as usize;
    assert!(size > 100_000_000, "{size}");
    let parts = w.blobs.parts_uploaded() as usize;
    assert_eq!(parts, size.div_ceil(PART_BYTES));
    let held = super::archive::last_max_buffered();
    assert!(held >= PART_BYTES && held <= PART_BYTES + CHUNK_BYTES + 64 * 1024, "held {held} bytes at once");
    assert_eq!(w.blobs.open_multiparts(), 0);
    let files = w.archive(&row);
    assert_eq!(files.iter().filter(|(n, _)| n.starts_with("files/")).count(), 20);
}

/// A fault at each step between two writes: the attempt is retried with its claim
/// released, leaves no parts, no object and no event, and the next delivery succeeds.
#[test]
fn a_fault_at_any_step_leaves_nothing_behind_and_the_retry_succeeds() {
    type Inject = fn(&World);
    let faults: Vec<(&str, Inject)> = vec![
        ("reading the account", |w| w.db.fail_next("FROM users WHERE id")),
        ("creating the upload", |w| w.blobs.fail_creates.set(1)),
        ("recording the upload id", |w| w.db.fail_next("SET multipart_id = ? WHERE id = ?")),
        ("reading a table midway", |w| w.db.fail_next("FROM generation_jobs")),
        ("reading an image", |w| w.blobs.fail_gets.set(1)),
        ("uploading the first part", |w| w.blobs.fail_part_at.set(1)),
        ("uploading the last part", |w| w.blobs.fail_part_at.set(2)),
        ("completing the upload", |w| w.blobs.fail_completes.set(1)),
        ("marking it ready", |w| w.db.fail_next("SET status = 'ready'")),
    ];
    for (step, inject) in faults {
        let w = World::new();
        let ada = w.user("Ada");
        w.fill(&ada, 3 * 1024 * 1024, 2); // 6 MiB: two parts
        let row = w.start(&ada, T0).unwrap();
        inject(&w);
        let outcome = w.run(&row.id, T0 + 1);
        assert!(matches!(outcome, Outcome::Retry { .. }), "{step}: {outcome:?}");
        let after = w.row(&row.id);
        assert_eq!((after.status.as_str(), after.multipart_id.as_deref()), ("queued", None), "{step}");
        assert_eq!(w.blobs.open_multiparts(), 0, "{step}: orphaned parts");
        assert!(!w.blobs.objects.borrow().contains_key(&row.r2_key), "{step}: an object without a ready row");
        assert_eq!(w.events(&ada, "export_ready"), 0, "{step}");
        assert!(w.mail.sent.borrow().is_empty(), "{step}");
        assert_eq!(w.run(&row.id, T0 + 2), Outcome::Ack, "{step}: the retry");
        assert_eq!(w.row(&row.id).status, "ready", "{step}");
        assert_eq!(w.blobs.open_multiparts(), 0, "{step}");
        assert_eq!(w.events(&ada, "export_ready"), 1, "{step}");
    }
}

#[test]
fn an_upload_that_cannot_be_aborted_is_kept_on_the_row_and_aborted_by_the_next_attempt() {
    let w = World::new();
    let ada = w.user("Ada");
    w.fill(&ada, 3 * 1024 * 1024, 2);
    let row = w.start(&ada, T0).unwrap();
    w.blobs.fail_part_at.set(1);
    w.blobs.fail_aborts.set(1);
    assert!(matches!(w.run(&row.id, T0 + 1), Outcome::Retry { .. }));
    assert!(w.row(&row.id).multipart_id.is_some());
    assert_eq!(w.blobs.open_multiparts(), 1);
    // The next attempt cannot abort it either: it keeps the id and starts nothing new.
    w.blobs.fail_aborts.set(1);
    assert!(matches!(w.run(&row.id, T0 + 2), Outcome::Retry { .. }));
    assert!(w.row(&row.id).multipart_id.is_some());
    assert_eq!(w.blobs.open_multiparts(), 1);
    assert_eq!(w.run(&row.id, T0 + 3), Outcome::Ack);
    assert_eq!(w.blobs.open_multiparts(), 0);
}

#[test]
fn a_failed_export_keeps_an_upload_it_could_not_abort_for_the_purge() {
    let w = World::new();
    let ada = w.user("Ada");
    w.fill(&ada, 3 * 1024 * 1024, 2);
    let row = w.start(&ada, T0).unwrap();
    w.db.exec(&format!("UPDATE exports SET attempts = {} WHERE id = '{}'", MAX_ATTEMPTS - 1, row.id));
    w.blobs.fail_part_at.set(2);
    w.blobs.fail_aborts.set(2); // the attempt's own abort, then fail()'s
    assert_eq!(w.run(&row.id, T0 + 1), Outcome::Ack);
    let failed = w.row(&row.id);
    assert_eq!(failed.status, "failed");
    assert!(failed.multipart_id.is_some());
    assert_eq!(w.blobs.open_multiparts(), 1);
    assert_eq!(block_on(purge_expired(&w.db, &w.blobs, failed.expires_at, 10)).unwrap(), 1);
    assert_eq!(w.blobs.open_multiparts(), 0);
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM exports"), 0);
}

#[test]
fn an_attempt_that_died_is_reclaimed_after_its_lease_and_its_parts_aborted() {
    let w = World::new();
    let ada = w.user("Ada");
    w.fill(&ada, 1000, 1);
    let row = w.start(&ada, T0).unwrap();
    // What a consumer killed mid-export leaves: a claimed row naming an open upload.
    let upload = block_on(w.blobs.create_multipart(&row.r2_key, "application/zip")).unwrap();
    w.db.exec(&format!(
        "UPDATE exports SET status = 'running', attempts = 1, lease_until = {}, multipart_id = '{upload}' WHERE id = '{}'",
        T0 + LEASE_MS,
        row.id
    ));
    // While the lease runs, a second delivery waits.
    assert!(matches!(w.run(&row.id, T0 + 1000), Outcome::Retry { .. }));
    assert_eq!(w.run(&row.id, T0 + LEASE_MS + 1), Outcome::Ack);
    assert_eq!(w.row(&row.id).status, "ready");
    assert_eq!(w.blobs.open_multiparts(), 0);
}

#[test]
fn the_last_attempt_fails_the_export_and_tells_the_owner() {
    let w = World::new();
    let ada = w.user("Ada");
    w.fill(&ada, 1000, 1);
    let row = w.start(&ada, T0).unwrap();
    for n in 0..MAX_ATTEMPTS {
        w.blobs.fail_completes.set(1);
        let outcome = w.run(&row.id, T0 + n);
        if n + 1 < MAX_ATTEMPTS {
            assert!(matches!(outcome, Outcome::Retry { .. }));
        } else {
            assert_eq!(outcome, Outcome::Ack);
        }
    }
    let row = w.row(&row.id);
    assert_eq!(row.status, "failed");
    assert_eq!(row.view(T0).status, "failed");
    assert!(row.failure_reason.is_some() && row.view(T0).content_url.is_none());
    assert_eq!(w.blobs.open_multiparts(), 0);
    assert!(!w.blobs.objects.borrow().contains_key(&row.r2_key));
    let sent = w.mail.sent.borrow();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].subject.contains("could not be made"));
    // A later delivery changes nothing.
    drop(sent);
    assert_eq!(w.run(&row.id, T0 + 99), Outcome::Ack);
    assert_eq!(w.mail.sent.borrow().len(), 1);
}

#[test]
fn a_dead_lettered_export_is_failed_and_its_parts_aborted() {
    let w = World::new();
    let ada = w.user("Ada");
    let row = w.start(&ada, T0).unwrap();
    let upload = block_on(w.blobs.create_multipart(&row.r2_key, "application/zip")).unwrap();
    w.db.exec(&format!("UPDATE exports SET status = 'running', attempts = 1, lease_until = {T0}, multipart_id = '{upload}' WHERE id = '{}'", row.id));
    assert_eq!(block_on(job::dead_lettered(&w.db, &w.blobs, &w.mail, &SETTINGS, &row.id, T0 + 1)), Outcome::Ack);
    assert_eq!(w.row(&row.id).status, "failed");
    assert_eq!(w.blobs.open_multiparts(), 0);
    assert_eq!(w.mail.sent.borrow().len(), 1);
    // A dead-lettered message for a finished export changes nothing.
    assert_eq!(block_on(job::dead_lettered(&w.db, &w.blobs, &w.mail, &SETTINGS, &row.id, T0 + 2)), Outcome::Ack);
    assert_eq!(w.mail.sent.borrow().len(), 1);
}

#[test]
fn an_export_whose_row_was_purged_while_it_ran_leaves_no_object() {
    let w = World::new();
    let ada = w.user("Ada");
    let row = w.start(&ada, T0).unwrap();
    // The account closes while the job writes: the ready update finds no running row.
    w.db.exec(&format!("CREATE TRIGGER purge_on_complete AFTER UPDATE OF multipart_id ON exports WHEN NEW.multipart_id IS NOT NULL BEGIN DELETE FROM exports WHERE id = NEW.id; END;"));
    assert_eq!(w.run(&row.id, T0 + 1), Outcome::Ack);
    assert!(w.blobs.objects.borrow().get(&row.r2_key).is_none());
    assert_eq!(w.blobs.open_multiparts(), 0);
}

// ---- views ----------------------------------------------------------------------------------

#[test]
fn a_ready_export_expires_at_its_time_and_then_has_no_download() {
    let w = World::new();
    let ada = w.user("Ada");
    let row = w.start(&ada, T0).unwrap();
    w.run(&row.id, T0 + 1);
    let row = w.row(&row.id);
    assert_eq!(row.view(row.expires_at - 1).status, "ready");
    assert_eq!(row.view(row.expires_at - 1).content_url, Some(format!("/api/account/exports/{}/content", row.id)));
    assert_eq!(row.view(row.expires_at).status, "expired");
    assert_eq!(row.view(row.expires_at).content_url, None);
    assert!(row.filename().starts_with("blimari-export-2027-01-15"));
}

// ---- purges ---------------------------------------------------------------------------------

fn ready_export(w: &World, user: &str, at: i64) -> ExportRow {
    let row = w.start(user, at).unwrap();
    assert_eq!(w.run(&row.id, at), Outcome::Ack);
    w.row(&row.id)
}

#[test]
fn expired_exports_are_purged_object_then_row_at_their_boundary() {
    let w = World::new();
    let ada = w.user("Ada");
    let old = ready_export(&w, &ada, T0);
    let new = ready_export(&w, &ada, T0 + 1000);
    assert_eq!(block_on(purge_expired(&w.db, &w.blobs, old.expires_at - 1, 100)).unwrap(), 0, "just inside is kept");
    assert_eq!(block_on(purge_expired(&w.db, &w.blobs, old.expires_at, 100)).unwrap(), 1, "at expiry it goes");
    assert!(block_on(find_any(&w.db, &old.id)).unwrap().is_none());
    assert!(!w.blobs.objects.borrow().contains_key(&old.r2_key));
    assert!(w.blobs.objects.borrow().contains_key(&new.r2_key));
    assert_eq!(w.row(&new.id).status, "ready");
}

#[test]
fn a_failed_object_delete_keeps_the_row_for_the_next_run_and_the_limit_bounds_a_run() {
    let w = World::new();
    let ada = w.user("Ada");
    let rows: Vec<ExportRow> = (0..3).map(|n| ready_export(&w, &ada, T0 + n)).collect();
    let later = rows[2].expires_at;
    w.blobs.fail_deletes.set(1);
    assert_eq!(block_on(purge_expired(&w.db, &w.blobs, later, 2)).unwrap(), 1);
    assert!(block_on(find_any(&w.db, &rows[0].id)).unwrap().is_some(), "its object is still there, so is its row");
    assert!(w.blobs.objects.borrow().contains_key(&rows[0].r2_key));
    assert_eq!(block_on(purge_expired(&w.db, &w.blobs, later, 10)).unwrap(), 2);
    assert_eq!(w.db.scalar("SELECT COUNT(*) FROM exports"), 0);
    assert!(w.blobs.keys().iter().all(|k| !k.contains("/exports/")));
}

#[test]
fn closing_an_account_purges_all_its_exports_and_only_its_own() {
    let w = World::new();
    let ada = w.user("Ada");
    let bob = w.user("Bob");
    let a1 = ready_export(&w, &ada, T0);
    let a2 = w.start(&ada, T0 + 1).unwrap(); // queued, with an upload under way
    let upload = block_on(w.blobs.create_multipart(&a2.r2_key, "application/zip")).unwrap();
    w.db.exec(&format!("UPDATE exports SET multipart_id = '{upload}' WHERE id = '{}'", a2.id));
    let b1 = ready_export(&w, &bob, T0);
    assert_eq!(block_on(purge_user(&w.db, &w.blobs, &ada, 1)).unwrap(), 1);
    assert_eq!(block_on(purge_user(&w.db, &w.blobs, &ada, 10)).unwrap(), 1);
    assert_eq!(block_on(purge_user(&w.db, &w.blobs, &ada, 10)).unwrap(), 0);
    assert!(!w.blobs.objects.borrow().contains_key(&a1.r2_key));
    assert_eq!(w.blobs.open_multiparts(), 0);
    assert_eq!(w.row(&b1.id).status, "ready");
    assert!(w.blobs.objects.borrow().contains_key(&b1.r2_key));
    // The queued export's delivery, arriving after the purge, does nothing.
    assert_eq!(w.run(&a2.id, T0 + 5), Outcome::Ack);
    assert!(!w.blobs.objects.borrow().contains_key(&a2.r2_key));
}
