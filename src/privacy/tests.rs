//! Native tests of closure, erasure and retention over the doubles: real SQLite with the
//! migrations (and faults injected between writes), in-memory R2 and KV, a recording
//! mailer, and every port metered so each run's operations can be counted.

use super::closure::{self, ClosureState};
use super::retention::{self, enforce, Ports, Report, Step, TABLE};
use crate::accounts::mail::{Mailer, OutgoingEmail};
use crate::accounts::sessions::{SessionRecord, SessionStore};
use crate::http::problem::AppError;
use crate::platform::clock::DAY_MS;
use crate::platform::db::{Db, DbError, Statement, StatementResult};
use crate::platform::ports::{Blob, Blobs, PortError};
use crate::testing::{block_on, MemoryBlobs, MemorySessions, SqliteDb};
use std::cell::{Cell, RefCell};

const NOW: i64 = 2_000 * DAY_MS;
const GRACE: i64 = 14 * DAY_MS;

// ---- metered ports -------------------------------------------------------------------------

/// Counts every database call (a statement or a batch is one subrequest on D1).
struct Metered<'a, T> {
    inner: &'a T,
    calls: &'a Cell<u32>,
}

impl<T: Db> Db for Metered<'_, T> {
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.run(statement).await
    }
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.batch(statements).await
    }
}

impl<T: Blobs> Blobs for Metered<'_, T> {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.get(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.delete(key).await
    }
    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.create_multipart(key, content_type).await
    }
    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u16, bytes: Vec<u8>) -> Result<crate::platform::ports::UploadedPart, PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.upload_part(key, upload_id, part_number, bytes).await
    }
    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<crate::platform::ports::UploadedPart>) -> Result<(), PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.complete_multipart(key, upload_id, parts).await
    }
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.abort_multipart(key, upload_id).await
    }
}

impl<T: SessionStore> SessionStore for Metered<'_, T> {
    async fn get(&self, token_hash: &str) -> Result<Option<SessionRecord>, PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.get(token_hash).await
    }
    async fn put(&self, token_hash: &str, record: &SessionRecord, ttl: u64) -> Result<(), PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.put(token_hash, record, ttl).await
    }
    async fn delete(&self, token_hash: &str) -> Result<(), PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.delete(token_hash).await
    }
}

#[derive(Default)]
struct Outbox {
    sent: RefCell<Vec<OutgoingEmail>>,
    fail: Cell<u32>,
}

impl Mailer for Outbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), PortError> {
        if self.fail.get() > 0 {
            self.fail.set(self.fail.get() - 1);
            return Err(PortError("injected email failure".into()));
        }
        self.sent.borrow_mut().push(email.clone());
        Ok(())
    }
}

impl<T: Mailer> Mailer for Metered<'_, T> {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), PortError> {
        self.calls.set(self.calls.get() + 1);
        self.inner.send(email).await
    }
}

struct World {
    db: SqliteDb,
    blobs: MemoryBlobs,
    kv: MemorySessions,
    mail: Outbox,
}

impl World {
    fn new() -> World {
        World { db: SqliteDb::migrated(), blobs: MemoryBlobs::default(), kv: MemorySessions::default(), mail: Outbox::default() }
    }

    /// One daily run with `budget`; returns its report and the operations it made.
    fn run(&self, now: i64, budget: u32) -> (Report, u32) {
        let calls = Cell::new(0);
        let db = Metered { inner: &self.db, calls: &calls };
        let blobs = Metered { inner: &self.blobs, calls: &calls };
        let sessions = Metered { inner: &self.kv, calls: &calls };
        let mailer = Metered { inner: &self.mail, calls: &calls };
        let report = block_on(enforce(&Ports { db: &db, blobs: &blobs, sessions: &sessions, mailer: &mailer, from: "Blimari <no-reply@x>" }, now, budget));
        (report, calls.get())
    }

    fn count(&self, sql: &str) -> i64 {
        self.db.scalar(sql)
    }

    fn user(&self, id: &str, email: &str) {
        self.db.exec(&format!(
            "INSERT INTO users (id, name, email, password_hash, policy_version, created_at, updated_at) VALUES ('{id}', 'Name of {id}', '{email}', 'h', '2026-04-02', 0, 0);
             INSERT INTO credit_accounts (user_id, balance, held, debt, updated_at) VALUES ('{id}', 5, 0, 0, 0);"
        ));
    }

    fn session(&self, user: &str, n: u32, at: i64) {
        let hash = format!("hash-{user}-{n}");
        self.db.exec(&format!(
            "INSERT INTO sessions (id, user_id, token_hash, device, created_at, last_seen_at, expires_at) VALUES ('ses-{user}-{n}', '{user}', '{hash}', 'Firefox', {at}, {at}, {})",
            at + 30 * DAY_MS
        ));
        block_on(self.kv.put(&hash, &SessionRecord { session_id: format!("ses-{user}-{n}"), user_id: user.into(), created_at: at, last_seen_at: at, expires_at: at + 30 * DAY_MS }, 60)).unwrap();
    }

    fn upload(&self, user: &str, id: &str, at: i64) {
        let key = crate::library::uploads::r2_key(user, id);
        self.db.exec(&format!(
            "INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, status, created_at) VALUES ('{id}', '{user}', '{key}', 'a.png', 'image/png', 3, 'ready', {at})"
        ));
        block_on(self.blobs.put(&key, vec![1, 2, 3], "image/png")).unwrap();
    }

    /// A user with something in every table that refers to users.
    fn full_account(&self, id: &str, email: &str) {
        self.user(id, email);
        // Ids of the account's things, which do not contain the user's id (as real ids do not).
        let t = id.replace('u', "k");
        self.session(id, 1, NOW - DAY_MS);
        self.session(id, 2, NOW - DAY_MS);
        self.upload(id, &format!("upl-{t}-logo"), NOW - DAY_MS);
        self.upload(id, &format!("upl-{t}-ref"), NOW - DAY_MS);
        self.upload(id, &format!("upl-{t}-out"), NOW - DAY_MS);
        self.db.exec(&format!(
            "INSERT INTO brands (id, user_id, name, logo_upload_id, created_at, updated_at) VALUES ('brd-{t}', '{id}', 'Fernleaf', 'upl-{t}-logo', 0, 0);
             INSERT INTO brand_references (brand_id, upload_id, position) VALUES ('brd-{t}', 'upl-{t}-ref', 0);
             INSERT INTO generation_jobs (id, user_id, brand_id, brand_snapshot, content_type, prompt, price, status, request_hash, created_at, finished_at, output_upload_id)
               VALUES ('gen-{t}', '{id}', 'brd-{t}', '{{}}', 'image_square', 'a fern for {email}', 4, 'succeeded', 'rh', 0, 1, 'upl-{t}-out');
             INSERT INTO ledger_entries (id, user_id, kind, amount, reference, job_id, created_at) VALUES ('led-{t}-1', '{id}', 'purchase', 100, 'purchase:cs_{t}', NULL, 0);
             INSERT INTO ledger_entries (id, user_id, kind, amount, reference, job_id, created_at) VALUES ('led-{t}-2', '{id}', 'hold', 4, 'hold:gen-{t}', 'gen-{t}', 0);
             INSERT INTO purchases (session_id, user_id, pack_id, credits, amount_total, currency, status, payment_intent, credits_applied, created_at, updated_at)
               VALUES ('cs_{t}', '{id}', 'starter', 100, 900, 'usd', 'paid', 'pi_{t}', 100, 0, 0);
             INSERT INTO stripe_charges (payment_intent, charge_id, amount, amount_refunded, receipt_url, updated_at) VALUES ('pi_{t}', 'ch_{t}', 900, 0, 'https://pay.stripe.com/receipts/{t}', 0);
             INSERT INTO stripe_events (id, type, payload, received_at, processed_at, outcome) VALUES ('evt_{t}', 'checkout.session.completed', '{{\"client_reference_id\":\"{id}\",\"customer_email\":\"{email}\"}}', {now}, {now}, 'applied');
             INSERT INTO security_events (id, user_id, kind, device, created_at) VALUES ('sev-{t}', '{id}', 'signed_in', 'Firefox', {now});
             INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) VALUES ('tok-{t}', '{id}', 'verify_email', '{email}', {now}, {later});
             INSERT INTO privacy_requests (id, user_id, email, kind, message, status, created_at, updated_at) VALUES ('prq-{t}', '{id}', '{email}', 'access', 'my data please', 'received', 0, 0);
             INSERT INTO admin_actions (id, admin_id, action, target_user_id, target_id, reason, credits, request_ref, created_at) VALUES ('adm-{t}', 'usr_admin', 'credit_adjustment', '{id}', NULL, 'goodwill', 5, 'ref-{t}', 0);",
            now = NOW,
            later = NOW + 30 * DAY_MS
        ));
    }

    fn close(&self, id: &str, at: i64) -> Result<closure::Closed, AppError> {
        block_on(closure::close(&self.db, &self.kv, id, "Firefox", at, GRACE))
    }

    /// Every text value in every table that mentions `needle`, as "table: value".
    fn mentions(&self, needle: &str) -> Vec<String> {
        let tables: Vec<String> = block_on(self.db.run(Statement::new("SELECT name FROM sqlite_master WHERE type = 'table'")))
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(tables.len() > 15, "{tables:?}");
        let mut found = Vec::new();
        for table in tables {
            for row in block_on(self.db.run(Statement::new(format!("SELECT * FROM {table}")))).unwrap().rows {
                for value in row.values() {
                    if value.as_str().is_some_and(|s| s.contains(needle)) {
                        found.push(format!("{table}: {value}"));
                    }
                }
            }
        }
        found
    }
}

// ---- the table, the README and the page ------------------------------------------------------

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let a = text.find(start).unwrap_or_else(|| panic!("missing {start}")) + start.len();
    let b = text[a..].find(end).unwrap_or_else(|| panic!("missing {end}")) + a;
    text[a..b].trim_matches('\n')
}

/// `BLIMARI_WRITE_RETENTION=1 cargo test retention_table` rewrites both from the code.
#[test]
fn the_retention_table_readme_and_page_are_the_same() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, rendered, start, end) in [
        ("README.md", retention::render_markdown(), "<!-- retention:start -->", "<!-- retention:end -->"),
        ("public/data-retention.html", retention::render_html(), "<!-- retention:start -->", "<!-- retention:end -->"),
    ] {
        let path = root.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        if std::env::var_os("BLIMARI_WRITE_RETENTION").is_some() {
            let a = text.find(start).unwrap() + start.len();
            let b = text[a..].find(end).unwrap() + a;
            std::fs::write(&path, format!("{}\n{}{}", &text[..a], rendered, &text[b..])).unwrap();
            continue;
        }
        assert_eq!(between(&text, start, end), rendered.trim_matches('\n'), "{file} differs from privacy::retention::TABLE (BLIMARI_WRITE_RETENTION=1 rewrites it)");
    }
}

#[test]
fn the_table_covers_every_kind_of_data_the_issue_names() {
    for needle in [
        "sessions", "security events", "technical logs", "billing records", "failed-job records", "generated outputs of closed accounts",
        "unused uploads", "exports", "closed accounts", "privacy requests", "processed webhook events",
    ] {
        assert!(TABLE.iter().any(|r| r.data.starts_with(needle)), "no row for {needle}");
    }
    // Every row is enforced by something, and every SQL step is a bounded delete.
    for row in TABLE {
        assert!(!row.steps.is_empty(), "{}", row.data);
        for step in row.steps {
            if let Step::Sql(sql) = step {
                assert!(sql.starts_with("DELETE FROM") && sql.contains("< ?") && sql.ends_with("LIMIT ?)"), "{sql}");
                assert!(row.cutoff_ms(NOW).is_some(), "{}", row.data);
            }
        }
    }
}

#[test]
fn the_periods_match_the_privacy_policy() {
    // §6: content while the account is open; logs, billing records and security events
    // may be kept longer for audit, fraud prevention or compliance. So only those three
    // (and records proving compliance, §7) outlive a year, and closed accounts' content
    // goes after the grace period.
    let policy = include_str!("../../public/privacy.html");
    assert!(policy.contains("Technical logs, billing records, and security events may be kept for additional periods"));
    for row in TABLE {
        if let retention::Period::Days(d) = row.period {
            if d >= 365 {
                assert!(
                    ["security events", "billing records", "privacy requests"].iter().any(|k| row.data.starts_with(k)),
                    "{} is kept {d} days, which §6 does not allow",
                    row.data
                );
            }
        }
    }
    let page = include_str!("../../public/data-retention.html");
    assert!(page.contains("href=\"/privacy\""));
    assert!(policy.contains("href=\"/data-retention\""), "the privacy page links to the retention page");
}

// ---- each rule at its boundary ---------------------------------------------------------------

/// Inserts one row for the rule `data` at time `at` (its retention clock), with id `id`.
fn fixture(w: &World, data: &str, id: &str, at: i64) {
    let sql = match data {
        "sessions (rows)" => format!(
            "INSERT INTO sessions (id, user_id, token_hash, device, created_at, last_seen_at, expires_at, ended_at) VALUES ('{id}', 'u', 'h{id}', 'd', 0, 0, {}, {at});
             INSERT INTO sessions (id, user_id, token_hash, device, created_at, last_seen_at, expires_at) VALUES ('{id}-open', 'u', 'h{id}-open', 'd', 0, 0, {at})",
            at + DAY_MS
        ),
        "email tokens (verification, reset)" => format!("INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) VALUES ('{id}', 'u', 'verify_email', 'e', 0, {at})"),
        "security events" => format!("INSERT INTO security_events (id, user_id, kind, created_at) VALUES ('{id}', 'u', 'signed_in', {at})"),
        "billing records (purchases, Stripe charges and disputes, credit ledger)" => format!(
            "INSERT INTO purchases (session_id, user_id, pack_id, credits, amount_total, currency, status, payment_intent, created_at, updated_at) VALUES ('{id}', 'anon', 'p', 1, 1, 'usd', 'paid', 'pi{id}', {at}, {at});
             INSERT INTO stripe_charges (payment_intent, charge_id, amount, amount_refunded, updated_at) VALUES ('pi{id}', 'ch', 1, 0, {at});
             INSERT INTO stripe_disputes (id, payment_intent, amount, status, updated_at) VALUES ('dp{id}', 'pi{id}', 1, 'won', {at});
             INSERT INTO ledger_entries (id, user_id, kind, amount, reference, created_at) VALUES ('{id}', 'anon', 'purchase', 1, 'r{id}', {at})"
        ),
        "processed webhook events" => format!("INSERT INTO stripe_events (id, type, payload, received_at, processed_at, outcome) VALUES ('{id}', 't', '{{}}', 0, {at}, 'applied')"),
        "failed-job records" => format!(
            "INSERT INTO generation_jobs (id, user_id, brand_id, brand_snapshot, content_type, prompt, price, status, request_hash, created_at, finished_at) VALUES ('{id}', 'u', 'b', '{{}}', 't', 'p', 1, 'failed', 'r', 0, {at})"
        ),
        "privacy requests (handled)" => format!("INSERT INTO privacy_requests (id, email, kind, status, created_at, updated_at) VALUES ('{id}', 'e', 'access', 'completed', 0, {at})"),
        "throttling counters" => format!("INSERT INTO throttle_counters (bucket, window_start, hits) VALUES ('{id}', {at}, 1)"),
        "cron run records" => format!("INSERT INTO cron_runs (id, task, cron, started_at, finished_at, outcome, detail) VALUES ('{id}', 't', 'c', {at}, {at}, 'ok', '')"),
        "diagnostic probe events" => format!("INSERT INTO probe_events (probe_id, queue, event, attempt, created_at) VALUES ('{id}', 'q', 'written', 1, {at})"),
        "unused uploads" => return w.upload("u", id, at),
        other => panic!("no fixture for {other}"),
    };
    w.db.exec(&sql);
}

fn present(w: &World, data: &str, id: &str) -> bool {
    let n = match data {
        "sessions (rows)" => w.count(&format!("SELECT COUNT(*) FROM sessions WHERE id IN ('{id}', '{id}-open')")) / 2,
        "email tokens (verification, reset)" => w.count(&format!("SELECT COUNT(*) FROM email_tokens WHERE token_hash = '{id}'")),
        "security events" => w.count(&format!("SELECT COUNT(*) FROM security_events WHERE id = '{id}'")),
        "billing records (purchases, Stripe charges and disputes, credit ledger)" => {
            let n = w.count(&format!(
                "SELECT (SELECT COUNT(*) FROM purchases WHERE session_id = '{id}') + (SELECT COUNT(*) FROM stripe_charges WHERE payment_intent = 'pi{id}') \
                 + (SELECT COUNT(*) FROM stripe_disputes WHERE id = 'dp{id}') + (SELECT COUNT(*) FROM ledger_entries WHERE id = '{id}')"
            ));
            assert!(n == 0 || n == 4, "billing records half purged: {n}");
            n / 4
        }
        "processed webhook events" => w.count(&format!("SELECT COUNT(*) FROM stripe_events WHERE id = '{id}'")),
        "failed-job records" => w.count(&format!("SELECT COUNT(*) FROM generation_jobs WHERE id = '{id}'")),
        "privacy requests (handled)" => w.count(&format!("SELECT COUNT(*) FROM privacy_requests WHERE id = '{id}'")),
        "throttling counters" => w.count(&format!("SELECT COUNT(*) FROM throttle_counters WHERE bucket = '{id}'")),
        "cron run records" => w.count(&format!("SELECT COUNT(*) FROM cron_runs WHERE id = '{id}'")),
        "diagnostic probe events" => w.count(&format!("SELECT COUNT(*) FROM probe_events WHERE probe_id = '{id}'")),
        "unused uploads" => {
            let row = w.count(&format!("SELECT COUNT(*) FROM uploads WHERE id = '{id}'"));
            let object = i64::from(w.blobs.keys().contains(&crate::library::uploads::r2_key("u", id)));
            assert_eq!(row, object, "an upload's row and object part ways");
            row
        }
        other => panic!("{other}"),
    };
    n == 1
}

#[test]
fn each_rule_keeps_what_is_just_inside_and_deletes_what_is_just_outside() {
    let w = World::new();
    w.user("u", "u@x.io");
    let mut checked = 0;
    for row in TABLE {
        let Some(cutoff) = row.cutoff_ms(NOW) else { continue };
        if row.steps == [Step::Exports] {
            continue; // expiry is per export (expires_at): an_export_is_kept_until_it_expires…
        }
        let cutoff = if row.steps == [Step::UnusedUploads] { NOW - crate::library::uploads::UNREFERENCED_TTL_MS } else { cutoff };
        fixture(&w, row.data, &format!("in{checked}"), cutoff);
        fixture(&w, row.data, &format!("out{checked}"), cutoff - 1);
        checked += 1;
    }
    let (report, _) = w.run(NOW, 1000);
    assert_eq!(report.failures, 0, "{report:?}");
    assert!(!report.unfinished);
    let mut n = 0;
    for row in TABLE {
        if row.cutoff_ms(NOW).is_none() || row.steps == [Step::Exports] {
            continue;
        }
        assert!(present(&w, row.data, &format!("in{n}")), "{}: the row at the cut-off was deleted", row.data);
        assert!(!present(&w, row.data, &format!("out{n}")), "{}: the row 1 ms past the cut-off was kept", row.data);
        n += 1;
    }
    assert_eq!(n, 11);
    // Open handled-status rules: a request still being handled is kept whatever its age.
    w.db.exec("INSERT INTO privacy_requests (id, email, kind, status, created_at, updated_at) VALUES ('old-open', 'e', 'access', 'in_progress', 0, 0)");
    w.run(NOW, 1000);
    assert_eq!(w.count("SELECT COUNT(*) FROM privacy_requests WHERE id = 'old-open'"), 1);
}

#[test]
fn an_export_is_kept_until_it_expires_and_then_its_archive_and_row_go() {
    let w = World::new();
    w.user("u", "u@x.io");
    // Ready 7 days (the TTL) before: it expires exactly now, and is gone; 1 ms later it
    // is still downloadable, and kept. A failed export with an unfinished upload expires too.
    for (id, expires_at, status) in [("exp_in", NOW + 1, "ready"), ("exp_out", NOW, "ready"), ("exp_failed", NOW - 1, "failed")] {
        let key = format!("u/u/exports/{id}.zip");
        w.db.exec(&format!(
            "INSERT INTO exports (id, user_id, status, r2_key, multipart_id, created_at, expires_at) VALUES ('{id}', 'u', '{status}', '{key}', {}, 0, {expires_at})",
            if status == "failed" { "'mp-1'" } else { "NULL" }
        ));
        if status == "ready" {
            block_on(w.blobs.put(&key, vec![1], "application/zip")).unwrap();
        }
    }
    let (report, calls) = w.run(NOW, 1000);
    assert_eq!(report.failures, 0, "{report:?}");
    assert_eq!(report.spent, calls, "the budget counts exactly the operations made");
    assert_eq!(w.count("SELECT COUNT(*) FROM exports"), 1);
    assert_eq!(w.count("SELECT COUNT(*) FROM exports WHERE id = 'exp_in'"), 1);
    assert_eq!(w.blobs.keys(), vec!["u/u/exports/exp_in.zip".to_string()]);
}

// ---- a backlog of 10,000 ---------------------------------------------------------------------

#[test]
fn a_backlog_of_ten_thousand_expired_items_is_purged_over_several_runs_within_each_budget() {
    let w = World::new();
    w.user("u", "u@x.io");
    let old = NOW - 400 * DAY_MS;
    let fresh = NOW - DAY_MS / 2;
    let mut sql = String::new();
    // 9,400 expired rows across six tables, and 600 expired uploads with objects: 10,000.
    for i in 0..4000 {
        sql.push_str(&format!("INSERT INTO security_events (id, user_id, kind, created_at) VALUES ('old-sev-{i}', 'u', 'signed_in', {old});"));
    }
    for i in 0..2000 {
        sql.push_str(&format!("INSERT INTO sessions (id, user_id, token_hash, device, created_at, last_seen_at, expires_at, ended_at) VALUES ('old-ses-{i}', 'u', 'old-h-{i}', 'd', 0, 0, {old}, {old});"));
    }
    for i in 0..1500 {
        sql.push_str(&format!("INSERT INTO throttle_counters (bucket, window_start, hits) VALUES ('old-b-{i}', {old}, 1);"));
        sql.push_str(&format!("INSERT INTO stripe_events (id, type, payload, received_at, processed_at, outcome) VALUES ('old-evt-{i}', 't', '{{}}', 0, {old}, 'applied');"));
    }
    for i in 0..400 {
        sql.push_str(&format!("INSERT INTO privacy_requests (id, email, kind, status, created_at, updated_at) VALUES ('old-prq-{i}', 'e', 'access', 'rejected', 0, {});", NOW - 1200 * DAY_MS));
    }
    // What must stay: fresh rows of the same kinds, billing records, open requests.
    for i in 0..300 {
        sql.push_str(&format!("INSERT INTO security_events (id, user_id, kind, created_at) VALUES ('new-sev-{i}', 'u', 'signed_in', {fresh});"));
        sql.push_str(&format!("INSERT INTO ledger_entries (id, user_id, kind, amount, reference, created_at) VALUES ('new-led-{i}', 'u', 'grant', 1, 'keep-{i}', {old});"));
        sql.push_str(&format!("INSERT INTO stripe_events (id, type, payload, received_at, processed_at, outcome) VALUES ('new-evt-{i}', 't', '{{}}', 0, NULL, NULL);"));
    }
    w.db.exec(&format!("BEGIN; {sql} COMMIT;"));
    for i in 0..600 {
        w.upload("u", &format!("old-upl-{i}"), old);
    }
    for i in 0..50 {
        w.upload("u", &format!("new-upl-{i}"), fresh);
    }
    let expired = || {
        w.count(
            "SELECT (SELECT COUNT(*) FROM security_events WHERE id LIKE 'old-%') + (SELECT COUNT(*) FROM sessions WHERE id LIKE 'old-%') \
             + (SELECT COUNT(*) FROM throttle_counters WHERE bucket LIKE 'old-%') + (SELECT COUNT(*) FROM stripe_events WHERE id LIKE 'old-%') \
             + (SELECT COUNT(*) FROM privacy_requests WHERE id LIKE 'old-%') + (SELECT COUNT(*) FROM uploads WHERE id LIKE 'old-%')",
        )
    };
    assert_eq!(expired(), 10_000);

    let budget = 400;
    let mut runs = Vec::new();
    loop {
        let (report, operations) = w.run(NOW, budget);
        assert!(operations <= budget, "run {} made {operations} operations, over its budget of {budget}", runs.len() + 1);
        assert_eq!(report.spent, operations, "the budget counts exactly the operations made");
        assert_eq!(report.failures, 0, "{report:?}");
        runs.push((expired(), report.unfinished));
        if !report.unfinished {
            break;
        }
        assert!(runs.len() < 20, "no end in sight: {runs:?}");
    }
    assert!(runs.len() >= 3, "one run did it all: {runs:?}");
    // Every run made progress, and the last left nothing expired.
    assert!(runs.windows(2).all(|p| p[1].0 < p[0].0), "{runs:?}");
    assert_eq!(expired(), 0);
    assert!(w.blobs.keys().iter().all(|k| !k.contains("old-upl")), "an expired object survived");
    // Nothing that should stay was lost.
    assert_eq!(w.count("SELECT COUNT(*) FROM security_events WHERE id LIKE 'new-%'"), 300);
    assert_eq!(w.count("SELECT COUNT(*) FROM ledger_entries WHERE id LIKE 'new-%'"), 300);
    assert_eq!(w.count("SELECT COUNT(*) FROM stripe_events WHERE id LIKE 'new-%'"), 300);
    assert_eq!(w.count("SELECT COUNT(*) FROM uploads WHERE id LIKE 'new-%'"), 50);
    assert_eq!(w.blobs.keys().iter().filter(|k| k.contains("new-upl")).count(), 50);
    // Then a run with nothing to do is cheap.
    let (report, operations) = w.run(NOW, budget);
    assert!(!report.unfinished && operations < 40, "{operations} operations for nothing: {report:?}");
}

#[test]
fn the_least_budget_lets_every_step_progress() {
    assert!(retention::least_budget() < retention::MIN_RUN_BUDGET, "{}", retention::least_budget());
    assert!(retention::MIN_RUN_BUDGET < 50, "the free plan allows 50 subrequests per invocation");
}

#[test]
fn a_free_plan_budget_still_makes_progress_on_every_step() {
    let w = World::new();
    w.user("u", "u@x.io");
    let old = NOW - 400 * DAY_MS;
    for i in 0..1200 {
        w.db.exec(&format!("INSERT INTO security_events (id, user_id, kind, created_at) VALUES ('s{i}', 'u', 'signed_in', {old})"));
    }
    w.upload("u", "lonely", old);
    w.full_account("u9", "cy@x.io");
    w.close("u9", NOW - GRACE).unwrap();
    let (report, ops) = w.run(NOW, 40);
    assert!(ops <= 40);
    // Nor the closed account: its erasure began (the receipt went out).
    assert_eq!(w.mail.sent.borrow().len(), 1, "{report:?}");
    // The big backlog did not starve the upload.
    assert_eq!(w.count("SELECT COUNT(*) FROM uploads"), 0, "{report:?}");
    assert!(report.removed("security events") >= 500);
}

// ---- closure -----------------------------------------------------------------------------------

#[test]
fn closing_ends_every_session_in_the_database_and_kv_and_starts_the_grace_period() {
    let w = World::new();
    w.full_account("u1", "ada@x.io");
    w.full_account("u2", "bob@x.io");
    let closed = w.close("u1", NOW).unwrap();
    assert_eq!((closed.sessions_ended, closed.purge_after, closed.kv_failures), (2, NOW + GRACE, 0));
    assert_eq!(w.count("SELECT COUNT(*) FROM sessions WHERE user_id = 'u1' AND ended_at IS NULL"), 0);
    assert_eq!(w.db.text("SELECT end_reason FROM sessions WHERE id = 'ses-u1-1'").as_deref(), Some("account_closed"));
    assert!(w.kv.records.borrow().keys().all(|k| !k.contains("u1")));
    assert_eq!(w.kv.records.borrow().len(), 2, "the other user's sessions stay");
    assert_eq!(w.count("SELECT COUNT(*) FROM security_events WHERE user_id = 'u1' AND kind = 'account_closed'"), 1);
    let state = block_on(closure::state(&w.db, "u1")).unwrap().unwrap();
    assert!(state.can_reopen(NOW + GRACE - 1) && !state.can_reopen(NOW + GRACE));
    // A second closure is a conflict and records nothing.
    assert!(matches!(w.close("u1", NOW + 1), Err(AppError::Conflict { .. })));
    assert_eq!(w.count("SELECT COUNT(*) FROM security_events WHERE kind = 'account_closed'"), 1);
}

#[test]
fn closing_is_refused_while_a_purchase_is_in_flight() {
    let w = World::new();
    w.user("u1", "ada@x.io");
    w.session("u1", 1, NOW);
    w.db.exec(&format!(
        "INSERT INTO purchases (session_id, user_id, pack_id, credits, amount_total, currency, status, created_at, updated_at) VALUES ('cs_1', 'u1', 'p', 1, 1, 'usd', 'pending', {NOW}, {NOW})"
    ));
    assert!(matches!(w.close("u1", NOW), Err(AppError::Conflict { detail }) if detail.contains("purchase")));
    assert_eq!(w.count("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL"), 1, "nothing ended");
    assert_eq!(w.kv.records.borrow().len(), 1);
    // An open checkout blocks for as long as Stripe lets it be paid (24 hours).
    w.db.exec("UPDATE purchases SET status = 'open'");
    assert!(w.close("u1", NOW + closure::OPEN_CHECKOUT_MS - 1).is_err());
    assert!(w.close("u1", NOW + closure::OPEN_CHECKOUT_MS).is_ok());
}

#[test]
fn a_failure_between_the_writes_of_a_closure_leaves_the_account_open() {
    let w = World::new();
    w.user("u1", "ada@x.io");
    w.session("u1", 1, NOW);
    for fault in ["UPDATE users SET closed_at", "UPDATE sessions SET ended_at", "INSERT INTO security_events"] {
        w.db.fail_next(fault);
        assert!(w.close("u1", NOW).is_err(), "{fault}");
        assert_eq!(w.count("SELECT COUNT(*) FROM users WHERE closed_at IS NULL"), 1, "{fault}");
        assert_eq!(w.count("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL"), 1, "{fault}");
        assert_eq!(w.kv.records.borrow().len(), 1, "{fault}: KV is only touched after the batch");
    }
}

#[test]
fn a_kv_failure_during_closure_is_finished_by_the_erasure() {
    let w = World::new();
    w.user("u1", "ada@x.io");
    w.session("u1", 1, NOW);
    w.session("u1", 2, NOW);
    w.kv.fail_deletes.set(1);
    let closed = w.close("u1", NOW).unwrap();
    assert_eq!(closed.kv_failures, 1);
    assert_eq!(w.kv.records.borrow().len(), 1, "the other entry was still deleted");
    assert_eq!(w.count("SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL"), 0, "both rows ended: no state change passes");
    w.run(NOW + GRACE, 400);
    assert!(w.kv.records.borrow().is_empty());
}

#[test]
fn reopening_works_within_the_grace_period_only() {
    let w = World::new();
    w.user("u1", "ada@x.io");
    w.close("u1", NOW).unwrap();
    assert!(block_on(closure::reopen(&w.db, "u1", "d", NOW + GRACE - 1)).unwrap());
    assert_eq!(block_on(closure::state(&w.db, "u1")).unwrap().unwrap(), ClosureState { closed_at: None, purge_after: None, receipt_sent_at: None });
    assert_eq!(w.count("SELECT COUNT(*) FROM security_events WHERE kind = 'account_reopened'"), 1);
    assert!(!block_on(closure::reopen(&w.db, "u1", "d", NOW + GRACE)).unwrap(), "not closed any more");
    // The reopened account is not erased by the next runs.
    w.run(NOW + 2 * GRACE, 400);
    assert_eq!(w.count("SELECT COUNT(*) FROM users WHERE id = 'u1'"), 1);
    // Closed again: reopening at the end of the grace period is too late.
    w.close("u1", NOW + 2 * GRACE).unwrap();
    assert!(!block_on(closure::reopen(&w.db, "u1", "d", NOW + 3 * GRACE)).unwrap());
    assert_eq!(w.count("SELECT COUNT(*) FROM security_events WHERE kind = 'account_reopened'"), 1);
}

// ---- erasure -----------------------------------------------------------------------------------

#[test]
fn after_the_grace_period_nothing_keyed_to_the_user_remains_and_billing_is_de_identified() {
    let w = World::new();
    w.full_account("u1", "ada@x.io");
    w.full_account("u2", "bob@x.io");
    w.close("u1", NOW).unwrap();
    let before_u2 = w.mentions("u2").len();
    let objects_u2 = w.blobs.keys().iter().filter(|k| k.contains("u2")).count();

    // Just inside the grace period nothing happens.
    let (report, _) = w.run(NOW + GRACE - 1, 400);
    assert_eq!(report.removed("closed accounts erased"), 0);
    assert!(w.mail.sent.borrow().is_empty());
    assert_eq!(w.count("SELECT COUNT(*) FROM users WHERE id = 'u1'"), 1);

    let (report, _) = w.run(NOW + GRACE, 400);
    assert_eq!(report.removed("closed accounts erased"), 1, "{report:?}");
    assert_eq!(w.mentions("u1"), Vec::<String>::new());
    assert_eq!(w.mentions("ada@x.io"), Vec::<String>::new());
    assert!(w.blobs.keys().iter().all(|k| !k.contains("u1")), "{:?}", w.blobs.keys());
    assert!(w.kv.records.borrow().values().all(|r| r.user_id != "u1"));
    // Billing rows remain, under the closure reference, without personal fields.
    let closure_ref = w.db.text("SELECT user_id FROM purchases WHERE session_id = 'cs_k1'").unwrap();
    assert!(closure_ref.starts_with("anon_"), "{closure_ref}");
    assert_eq!(w.count(&format!("SELECT COUNT(*) FROM ledger_entries WHERE user_id = '{closure_ref}' AND job_id IS NULL")), 2);
    assert_eq!(w.db.text("SELECT receipt_url FROM stripe_charges WHERE payment_intent = 'pi_k1'"), None);
    assert_eq!(w.count("SELECT COUNT(*) FROM stripe_charges WHERE payment_intent = 'pi_k1'"), 1);
    assert_eq!(w.db.text("SELECT email FROM privacy_requests WHERE id = 'prq-k1'"), Some(closure_ref.clone()));
    assert_eq!(w.db.text("SELECT target_user_id FROM admin_actions WHERE id = 'adm-k1'"), Some(closure_ref.clone()));
    // The other account is untouched.
    assert_eq!(w.mentions("u2").len(), before_u2);
    assert_eq!(w.blobs.keys().iter().filter(|k| k.contains("u2")).count(), objects_u2);
    assert_eq!(w.kv.records.borrow().len(), 2);
    // The receipt went to the address on file, before the erasure, and says what went and what stayed.
    let sent = w.mail.sent.borrow();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, vec!["ada@x.io"]);
    for words in ["1 brand(s)", "3 file(s)", "1 generation(s)", "2 session(s)", "1 purchase(s)", "2 credit-ledger entries", &closure_ref, "10 years"] {
        assert!(sent[0].text.contains(words), "receipt lacks {words:?}: {}", sent[0].text);
    }
}

#[test]
fn the_receipt_comes_first_and_a_failed_email_erases_nothing() {
    let w = World::new();
    w.full_account("u1", "ada@x.io");
    w.close("u1", NOW).unwrap();
    w.mail.fail.set(1);
    let (report, _) = w.run(NOW + GRACE, 400);
    assert_eq!(report.failures, 1);
    assert_eq!(w.count("SELECT COUNT(*) FROM uploads WHERE user_id = 'u1'"), 3);
    assert_eq!(w.blobs.keys().len(), 3);
    // The next day it goes through, with one receipt.
    let (report, _) = w.run(NOW + GRACE + DAY_MS, 400);
    assert_eq!((report.failures, report.removed("closed accounts erased")), (0, 1));
    assert_eq!(w.mail.sent.borrow().len(), 1);
    assert!(w.mentions("u1").is_empty());
}

#[test]
fn an_erasure_interrupted_anywhere_is_finished_by_a_later_run() {
    for fault in ["DELETE FROM uploads WHERE id IN", "DELETE FROM sessions WHERE id IN", "DELETE FROM generation_jobs", "DELETE FROM users", "UPDATE ledger_entries"] {
        let w = World::new();
        w.full_account("u1", "ada@x.io");
        w.full_account("u2", "bob@x.io");
        w.close("u1", NOW).unwrap();
        w.db.fail_next(fault);
        let (report, _) = w.run(NOW + GRACE, 400);
        assert_eq!(report.failures, 1, "{fault}: {report:?}");
        // Never an object without its row, nor a de-identified ledger with its user still there.
        for key in w.blobs.keys() {
            assert_eq!(w.count(&format!("SELECT COUNT(*) FROM uploads WHERE r2_key = '{key}'")), 1, "{fault}: {key} lost its row");
        }
        if w.count("SELECT COUNT(*) FROM users WHERE id = 'u1'") == 1 {
            assert_eq!(w.count("SELECT COUNT(*) FROM purchases WHERE user_id = 'u1'"), 1, "{fault}");
        }
        w.run(NOW + GRACE + DAY_MS, 400);
        assert!(w.mentions("u1").is_empty(), "{fault}: {:?}", w.mentions("u1"));
        assert!(w.mentions("ada@x.io").is_empty(), "{fault}");
        assert_eq!(w.mail.sent.borrow().len(), 1, "{fault}: one receipt");
        assert_eq!(w.count("SELECT COUNT(*) FROM purchases"), 2, "{fault}");
    }
}

#[test]
fn an_r2_failure_keeps_the_row_and_the_next_run_finishes() {
    let w = World::new();
    w.full_account("u1", "ada@x.io");
    w.close("u1", NOW).unwrap();
    w.blobs.fail_deletes.set(1);
    let (report, _) = w.run(NOW + GRACE, 400);
    assert_eq!(report.failures, 1);
    assert_eq!(w.blobs.keys().len(), w.count("SELECT COUNT(*) FROM uploads") as usize);
    w.run(NOW + GRACE + DAY_MS, 400);
    assert!(w.blobs.keys().is_empty());
    assert!(w.mentions("u1").is_empty());
}

#[test]
fn a_large_account_is_erased_across_runs_each_within_a_small_budget() {
    let w = World::new();
    w.user("u1", "ada@x.io");
    for i in 0..120 {
        w.upload("u1", &format!("f{i:03}"), NOW - DAY_MS);
    }
    for i in 0..70 {
        w.session("u1", i, NOW - DAY_MS);
    }
    let mut sql = String::new();
    for i in 0..1200 {
        sql.push_str(&format!("INSERT INTO security_events (id, user_id, kind, created_at) VALUES ('e{i}', 'u1', 'signed_in', {});", NOW - DAY_MS));
    }
    w.db.exec(&sql);
    // Closure at NOW ends the sessions but leaves their rows for the erasure.
    w.close("u1", NOW).unwrap();
    let mut runs = 0;
    while w.count("SELECT COUNT(*) FROM users WHERE id = 'u1'") == 1 {
        let (report, ops) = w.run(NOW + GRACE + runs * DAY_MS, 60);
        assert!(ops <= 60, "run {runs}: {ops} operations");
        assert_eq!(report.failures, 0, "{report:?}");
        for key in w.blobs.keys() {
            assert_eq!(w.count(&format!("SELECT COUNT(*) FROM uploads WHERE r2_key = '{key}'")), 1);
        }
        runs += 1;
        assert!(runs < 30);
    }
    assert!(runs >= 3, "{runs}");
    assert!(w.mentions("u1").is_empty());
    assert!(w.blobs.keys().is_empty() && w.kv.records.borrow().is_empty());
    assert_eq!(w.mail.sent.borrow().len(), 1);
}
