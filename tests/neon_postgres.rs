//! `platform::neon` against a real PostgreSQL, through the local Neon gateway: the bodies
//! the worker's Neon adapter sends and the way it reads answers, on the real schema (the
//! translated migrations) and the app's own statements (ledger, jobs, throttle, users).
//!
//! Needs Node (the gateway, `npm ci` done) and PostgreSQL 15 (`scripts/postgres.sh`
//! installs it), so these are `#[ignore]`d in the plain `cargo test`; run them with
//! `cargo test --test neon_postgres -- --ignored`.
//!
//! The transport here is a blocking HTTP/1.1 POST over `std::net`, standing in for the
//! worker's `fetch`; everything else is the code the adapter runs.

use blimari::accounts::queries as accounts;
use blimari::credits::ledger::{self, Balance, EntryKind};
use blimari::generation::jobs::{self, ListFilter, NewJob};
use blimari::http::pagination::Page;
use blimari::platform::db::{ConstraintKind, Db, DbError, SqlValue, Statement, StatementResult};
use blimari::platform::neon;
use serde_json::Value;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::task::{Context, Poll, Waker};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A migrated PostgreSQL and a gateway in front of it, stopped on drop.
struct Backend {
    pg_dir: String,
    gateway: Child,
    db: Neon,
}

impl Backend {
    fn start() -> Backend {
        let pg_dir = format!("{}/blimari-pg-rs-{}", std::env::temp_dir().display(), blimari::platform::ids::new_id("t"));
        let out = Command::new("bash").arg(Path::new(ROOT).join("scripts/postgres.sh")).args(["start", &pg_dir]).output().unwrap();
        assert!(out.status.success(), "postgres did not start: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let url = stdout.lines().find_map(|l| l.strip_prefix("DATABASE_URL=")).unwrap().to_owned();
        let migrate = Command::new("node").current_dir(ROOT).args(["scripts/migrate.mjs", "--neon"]).env("DATABASE_URL", &url).output().unwrap();
        assert!(migrate.status.success(), "migrations failed: {}", String::from_utf8_lossy(&migrate.stderr));
        let mut gateway = Command::new("node")
            .current_dir(ROOT)
            .args(["scripts/standins/neon-gateway.mjs", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()) // it logs each Postgres error, and these tests cause many
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(gateway.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let endpoint = line.trim().rsplit(' ').next().unwrap().to_owned();
        Backend { pg_dir, gateway, db: Neon { endpoint, connection_string: url } }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.gateway.kill();
        let _ = self.gateway.wait();
        let _ = Command::new("bash").arg(Path::new(ROOT).join("scripts/postgres.sh")).args(["stop", &self.pg_dir]).status();
    }
}

/// The adapter's logic with a blocking transport.
#[derive(Clone)]
struct Neon {
    endpoint: String,
    connection_string: String,
}

impl Neon {
    fn post(&self, body: &str, batch: bool) -> Result<Value, DbError> {
        let mut attempt = 1;
        loop {
            let (status, text) = http_post(&self.endpoint, &neon::request_headers(&self.connection_string, batch), body);
            match neon::parse_response(status, &text) {
                Err(e) if attempt < neon::MAX_ATTEMPTS && neon::is_retryable(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    fn run_now(&self, statement: Statement) -> Result<StatementResult, DbError> {
        neon::parse_result(&self.post(&neon::single_body(&statement)?, false)?)
    }

    fn batch_now(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        neon::parse_batch(&self.post(&neon::batch_body(&statements)?, true)?, statements.len())
    }
}

impl Db for Neon {
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
        self.run_now(statement)
    }
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        self.batch_now(statements)
    }
}

/// The futures above never wait, so polling once finishes them.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the blocking Db never waits"),
    }
}

fn http_post(endpoint: &str, headers: &[(&str, String)], body: &str) -> (u16, String) {
    let rest = endpoint.strip_prefix("http://").expect("a local http endpoint");
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut stream = TcpStream::connect(authority).unwrap();
    let mut request = format!("POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

const NOW: i64 = 1_770_000_000_000;

fn new_user(db: &Neon, id: &str, credits: i64) {
    db.batch_now(vec![
        accounts::insert_user(id, "Zoë", &format!("{id}@example.test"), "pbkdf2$x", NOW),
        ledger::open_account(id, NOW),
    ])
    .unwrap();
    if credits > 0 {
        db.batch_now(ledger::grant(id, EntryKind::Grant, credits, &format!("grant:{id}"), NOW)).unwrap();
    }
}

fn balance(db: &Neon, user: &str) -> Balance {
    block_on(db.query_one(Statement::new("SELECT balance, held, debt FROM credit_accounts WHERE user_id = ?").bind(user))).unwrap().unwrap()
}

#[test]
#[ignore = "needs PostgreSQL and Node: cargo test --test neon_postgres -- --ignored"]
fn values_round_trip_with_d1_types() {
    let backend = Backend::start();
    let db = &backend.db;
    let r = db
        .run_now(
            Statement::new("SELECT ? AS i, ? AS big, ? AS t, ? AS nothing, ? IS NULL AS is_null, ? AS r, 'a?b' AS literal, COUNT(*) AS n, SUM(2) AS s, 1 = 1 AS yes FROM schema_version")
                .bind(-7_i64)
                .bind(NOW)
                .bind("Zoë — 東京 ✓ 🎨 'quoted'")
                .bind(None::<String>)
                .bind(None::<i64>)
                .bind(SqlValue::Real(0.25)),
        )
        .unwrap();
    assert_eq!(
        Value::Object(r.rows[0].clone()),
        serde_json::json!({"i": -7, "big": NOW, "t": "Zoë — 東京 ✓ 🎨 'quoted'", "nothing": null, "is_null": 1, "r": 0.25, "literal": "a?b", "n": 1, "s": 2, "yes": 1})
    );
    assert_eq!(r.changes, 0);
}

#[test]
#[ignore = "needs PostgreSQL and Node: cargo test --test neon_postgres -- --ignored"]
fn the_apps_statements_behave_as_on_d1() {
    let backend = Backend::start();
    let db = &backend.db;
    new_user(db, "u1", 10);

    // A second account with the same email is a unique violation naming the column.
    let e = db.run_now(accounts::insert_user("u2", "Bo", "u1@example.test", "h", NOW)).unwrap_err();
    assert!(matches!(&e, DbError::Constraint { kind: ConstraintKind::Unique, message } if message.contains("email")), "{e}");
    assert!(!e.to_string().contains("u1@example.test"), "no personal data in the message: {e}");

    // The ledger: a reference applies once, a balance never goes negative.
    let e = db.batch_now(ledger::grant("u1", EntryKind::Grant, 5, "grant:u1", NOW)).unwrap_err();
    assert!(ledger::is_duplicate_reference(&e), "{e}");
    let e = db.batch_now(ledger::hold("u1", "job-big", 11, NOW)).unwrap_err();
    assert!(ledger::is_insufficient(&e), "{e}");
    assert_eq!(balance(db, "u1"), Balance { balance: 10, held: 0, debt: 0 }, "failed batches left nothing behind");
    let results = db.batch_now(ledger::hold("u1", "job-1", 4, NOW)).unwrap();
    assert_eq!(results.iter().map(|r| r.changes).collect::<Vec<_>>(), vec![1, 1]);
    db.batch_now(ledger::capture("u1", "job-1", 4, NOW)).unwrap();
    assert!(ledger::is_duplicate_reference(&db.batch_now(ledger::release("u1", "job-1", 4, NOW)).unwrap_err()));
    assert_eq!(balance(db, "u1"), Balance { balance: 6, held: 0, debt: 0 });

    // Jobs: insert, the filtered list (`? IS NULL OR …`), the claim with RETURNING.
    let job = |id, key| NewJob {
        id,
        user_id: "u1",
        brand_id: "b1",
        brand_snapshot: "{}",
        content_type: "social_post",
        prompt: "50% off_today",
        price: 1,
        idempotency_key: key,
        request_hash: "h",
    };
    db.run_now(jobs::insert(&job("j1", Some("k1")), NOW)).unwrap();
    db.run_now(jobs::insert(&job("j2", None), NOW + 1)).unwrap();
    let e = db.run_now(jobs::insert(&job("j3", Some("k1")), NOW)).unwrap_err();
    assert!(matches!(&e, DbError::Constraint { kind: ConstraintKind::Unique, message } if message.contains("idempotency_key")), "{e}");
    let all = ListFilter { brand_id: None, content_type: None, query: None, favorites_only: false };
    let listed = block_on(jobs::list(db, "u1", &all, &Page::first(10))).unwrap();
    assert_eq!(listed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), vec!["j2", "j1"]);
    let narrow = ListFilter { brand_id: Some("b1"), content_type: Some("social_post"), query: Some("50%"), favorites_only: false };
    assert_eq!(block_on(jobs::list(db, "u1", &narrow, &Page { after: Some((NOW + 1, "j2".into())), limit: 10 })).unwrap().len(), 1);
    let none = ListFilter { query: Some("60%"), ..narrow };
    assert!(block_on(jobs::list(db, "u1", &none, &Page::first(10))).unwrap().is_empty());
    let claimed = block_on(jobs::claim(db, "j1", NOW, jobs::lease_ms(60_000))).unwrap().expect("claimed");
    assert_eq!((claimed.status, claimed.attempts), (jobs::Status::Running, 1));
    assert!(block_on(jobs::claim(db, "j1", NOW, jobs::lease_ms(60_000))).unwrap().is_none(), "a running job with a live lease is not claimed twice");
    assert_eq!(db.run_now(jobs::set_favorite("j1", "u1", true)).unwrap().changes, 1);
    let favs = ListFilter { brand_id: None, content_type: None, query: None, favorites_only: true };
    assert_eq!(block_on(jobs::list(db, "u1", &favs, &Page::first(10))).unwrap()[0].favorite, 1);

    // The throttle's upsert with RETURNING counts up within a window.
    let rule = blimari::accounts::throttle::LOGIN_PER_ACCOUNT;
    for _ in 0..2 {
        block_on(blimari::accounts::throttle::hit(db, &[(rule, "u1")], NOW, 60_000)).unwrap();
    }
    let hits: Vec<Value> = block_on(db.query(Statement::new("SELECT hits FROM throttle_counters"))).unwrap();
    assert_eq!(hits, vec![serde_json::json!({"hits": 2})]);
}

#[test]
#[ignore = "needs PostgreSQL and Node: cargo test --test neon_postgres -- --ignored"]
fn concurrent_holds_and_duplicate_settlements_keep_the_ledger_exact() {
    let backend = Backend::start();
    let db = backend.db.clone();
    new_user(&db, "u1", 20);
    // 12 jobs of 3 credits race for 20: exactly 6 are held.
    let holds: Vec<_> = (0..12)
        .map(|i| {
            let db = db.clone();
            std::thread::spawn(move || db.batch_now(ledger::hold("u1", &format!("job-{i}"), 3, NOW)).map(|_| i))
        })
        .collect();
    let outcomes: Vec<_> = holds.into_iter().map(|h| h.join().unwrap()).collect();
    let held: Vec<i32> = outcomes.iter().filter_map(|o| o.as_ref().ok().copied()).collect();
    assert_eq!(held.len(), 6);
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(ledger::is_insufficient));
    assert_eq!(balance(&db, "u1"), Balance { balance: 2, held: 18, debt: 0 });
    // Each held job is delivered three times at once, as a capture or a release: one wins.
    let settles: Vec<_> = held
        .iter()
        .flat_map(|&i| (0..3).map(move |k| (i, k)))
        .map(|(i, k)| {
            let db = db.clone();
            std::thread::spawn(move || {
                let job = format!("job-{i}");
                let batch = if i % 2 == 0 { ledger::capture("u1", &job, 3, NOW) } else { ledger::release("u1", &job, 3, NOW) };
                (i, k, db.batch_now(batch))
            })
        })
        .collect();
    let mut won = std::collections::BTreeMap::new();
    for handle in settles {
        let (i, _, result) = handle.join().unwrap();
        match result {
            Ok(_) => *won.entry(i).or_insert(0) += 1,
            Err(e) => assert!(ledger::is_duplicate_reference(&e), "{e}"),
        }
    }
    assert!(won.values().all(|&n| n == 1) && won.len() == 6, "{won:?}");
    let released = held.iter().filter(|&&i| i % 2 == 1).count() as i64;
    assert_eq!(balance(&db, "u1"), Balance { balance: 2 + 3 * released, held: 0, debt: 0 });
}

#[test]
#[ignore = "needs PostgreSQL and Node: cargo test --test neon_postgres -- --ignored"]
fn concurrent_verifications_of_different_addresses_grant_the_starter_credits_once() {
    // The batch of POST /api/auth/verify: the user's row is updated before the grant's
    // `INSERT … WHERE NOT EXISTS`, so under READ COMMITTED the racing batches queue on
    // that row and each later grant sees the one committed before it. (Without that
    // update, 40 racers got the grant 4 times here.)
    let backend = Backend::start();
    let db = backend.db.clone();
    new_user(&db, "u1", 0);
    let racers: Vec<_> = (0..40)
        .map(|i| {
            let db = db.clone();
            std::thread::spawn(move || {
                let email = format!("new-{i}@example.test");
                let mut batch = vec![accounts::set_email_verified("u1", &email, NOW)];
                batch.extend(ledger::starter_grant("u1", &email, 50, NOW));
                db.batch_now(batch)
            })
        })
        .collect();
    for racer in racers {
        racer.join().unwrap().unwrap();
    }
    assert_eq!(balance(&db, "u1"), Balance { balance: 50, held: 0, debt: 0 });
    let grants: Vec<Value> = block_on(db.query(Statement::new("SELECT COUNT(*) AS n FROM ledger_entries WHERE kind = 'grant'"))).unwrap();
    assert_eq!(grants, vec![serde_json::json!({"n": 1})]);
}

// ---- data rights (issue 12): closure, erasure and the retention run on PostgreSQL ----------

/// Files, sessions and mail for the data-rights test: in memory, recording what happened.
#[derive(Default)]
struct Memory {
    objects: std::cell::RefCell<std::collections::BTreeSet<String>>,
    sessions: std::cell::RefCell<std::collections::BTreeSet<String>>,
    mail: std::cell::RefCell<Vec<String>>,
}

impl blimari::platform::ports::Blobs for Memory {
    async fn put(&self, key: &str, _: Vec<u8>, _: &str) -> Result<(), blimari::platform::ports::PortError> {
        self.objects.borrow_mut().insert(key.into());
        Ok(())
    }
    async fn get(&self, _: &str) -> Result<Option<blimari::platform::ports::Blob>, blimari::platform::ports::PortError> {
        Ok(None)
    }
    async fn delete(&self, key: &str) -> Result<(), blimari::platform::ports::PortError> {
        self.objects.borrow_mut().remove(key);
        Ok(())
    }
    // Erasure only deletes; writing an archive (F1) is tested natively with MemoryBlobs.
    async fn create_multipart(&self, _: &str, _: &str) -> Result<String, blimari::platform::ports::PortError> {
        Err(blimari::platform::ports::PortError("erasure never writes".into()))
    }
    async fn upload_part(&self, _: &str, _: &str, _: u16, _: Vec<u8>) -> Result<blimari::platform::ports::UploadedPart, blimari::platform::ports::PortError> {
        Err(blimari::platform::ports::PortError("erasure never writes".into()))
    }
    async fn complete_multipart(&self, _: &str, _: &str, _: Vec<blimari::platform::ports::UploadedPart>) -> Result<(), blimari::platform::ports::PortError> {
        Err(blimari::platform::ports::PortError("erasure never writes".into()))
    }
    async fn abort_multipart(&self, key: &str, _: &str) -> Result<(), blimari::platform::ports::PortError> {
        self.objects.borrow_mut().remove(key);
        Ok(())
    }
}

impl blimari::accounts::sessions::SessionStore for Memory {
    async fn get(&self, _: &str) -> Result<Option<blimari::accounts::sessions::SessionRecord>, blimari::platform::ports::PortError> {
        Ok(None)
    }
    async fn put(&self, hash: &str, _: &blimari::accounts::sessions::SessionRecord, _: u64) -> Result<(), blimari::platform::ports::PortError> {
        self.sessions.borrow_mut().insert(hash.into());
        Ok(())
    }
    async fn delete(&self, hash: &str) -> Result<(), blimari::platform::ports::PortError> {
        self.sessions.borrow_mut().remove(hash);
        Ok(())
    }
}

impl blimari::accounts::mail::Mailer for Memory {
    async fn send(&self, email: &blimari::accounts::mail::OutgoingEmail) -> Result<(), blimari::platform::ports::PortError> {
        self.mail.borrow_mut().push(email.to.join(","));
        Ok(())
    }
}

#[test]
#[ignore = "needs PostgreSQL and Node: cargo test --test neon_postgres -- --ignored"]
fn closure_erasure_and_retention_run_on_postgres() {
    use blimari::privacy::{closure, retention};
    let backend = Backend::start();
    let db = &backend.db;
    let mem = Memory::default();
    new_user(db, "u1", 10);
    new_user(db, "u2", 10);
    const DAY: i64 = 86_400_000;
    let old = NOW - 400 * DAY;
    for (user, n) in [("u1", 1), ("u1", 2), ("u2", 3)] {
        db.run_now(accounts::insert_session(&format!("s{n}"), user, &format!("h{n}"), "d", NOW, NOW + DAY)).unwrap();
        mem.sessions.borrow_mut().insert(format!("h{n}"));
    }
    db.run_now(
        Statement::new("INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, status, created_at) VALUES ('f1', 'u1', 'u/u1/f1', 'a.png', 'image/png', 3, 'ready', ?)").bind(NOW),
    )
    .unwrap();
    mem.objects.borrow_mut().insert("u/u1/f1".into());
    db.batch_now(vec![
        Statement::new("INSERT INTO purchases (session_id, user_id, pack_id, credits, amount_total, currency, status, payment_intent, created_at, updated_at) VALUES ('cs_1', 'u1', 'p', 1, 1, 'usd', 'paid', 'pi_1', ?, ?)").bind(NOW).bind(NOW),
        Statement::new("INSERT INTO stripe_events (id, type, payload, received_at, processed_at, outcome) VALUES ('evt_1', 't', '{\"client_reference_id\":\"u1\"}', ?, ?, 'applied')").bind(NOW).bind(NOW),
        Statement::new("INSERT INTO throttle_counters (bucket, window_start, hits) VALUES ('b', ?, 1)").bind(old),
        Statement::new("INSERT INTO probe_events (probe_id, queue, event, attempt, created_at) VALUES ('p', 'q', 'written', 1, ?)").bind(old),
        Statement::new("INSERT INTO security_events (id, user_id, kind, created_at) VALUES ('e-old', 'u2', 'signed_in', ?)").bind(old),
    ])
    .unwrap();

    let closed = block_on(closure::close(db, &mem, "u1", "d", NOW, DAY)).unwrap();
    assert_eq!(closed.sessions_ended, 2);
    assert_eq!(*mem.sessions.borrow(), ["h3".to_string()].into());
    assert!(block_on(closure::close(db, &mem, "u1", "d", NOW, DAY)).is_err());

    let ports = retention::Ports { db, blobs: &mem, sessions: &mem, mailer: &mem, from: "f" };
    let report = block_on(retention::enforce(&ports, NOW + DAY, 400));
    assert_eq!(report.failures, 0, "{report:?}");
    assert!(!report.unfinished);
    assert_eq!(report.removed("closed accounts erased"), 1);
    let count = |sql: &str| -> i64 {
        #[derive(serde::Deserialize)]
        struct N {
            n: i64,
        }
        block_on(db.query_one::<N>(Statement::new(sql.to_owned()))).unwrap().unwrap().n
    };
    assert_eq!(count("SELECT COUNT(*) AS n FROM users WHERE id = 'u1'"), 0);
    assert_eq!(count("SELECT COUNT(*) AS n FROM ledger_entries WHERE user_id = 'u1'"), 0);
    assert_eq!(count("SELECT COUNT(*) AS n FROM ledger_entries WHERE user_id LIKE 'anon_%'"), 1);
    assert_eq!(count("SELECT COUNT(*) AS n FROM purchases WHERE user_id LIKE 'anon_%'"), 1);
    assert_eq!(count("SELECT COUNT(*) AS n FROM stripe_events"), 0);
    assert_eq!(count("SELECT COUNT(*) AS n FROM sessions"), 1);
    assert_eq!(count("SELECT COUNT(*) AS n FROM throttle_counters") + count("SELECT COUNT(*) AS n FROM probe_events"), 0);
    assert_eq!(count("SELECT COUNT(*) AS n FROM security_events WHERE id = 'e-old'"), 0);
    assert!(mem.objects.borrow().is_empty());
    assert_eq!(*mem.mail.borrow(), vec!["u1@example.test".to_string()]);
    // The starter grant's reference still applies once per address, across accounts.
    let e = db.batch_now(ledger::grant("u2", EntryKind::Grant, 5, "grant:u1", NOW)).unwrap_err();
    assert!(ledger::is_duplicate_reference(&e), "{e}");
}
