//! Test doubles for every port, for native tests of the core (compiled only for tests).
//!
//! - [`SqliteDb`]: the `Db` port on a real SQLite in memory with `migrations/*.sql`
//!   applied and foreign keys on, as D1 has them; errors carry SQLite's own messages,
//!   so constraint violations are classified exactly as on D1. Statements can be made
//!   to fail on purpose ([`SqliteDb::fail_next`]) to inject faults between two writes.
//! - [`MemoryBlobs`], [`RecordingQueue`], [`ScriptedInference`], [`MemorySessions`],
//!   [`ManualClock`]: in-memory, recording, and failing on request.
//! - [`FixtureWeb`]: websites in memory for the website import, HTML parsed by lol_html
//!   (the engine of the runtime's HTMLRewriter) into the events the worker sees.
//! - [`block_on`]: runs a future to completion; the doubles never wait on anything.

use crate::accounts::sessions::{SessionRecord, SessionStore};
use crate::generation::inference::{ImageResult, Inference, TextResult};
use crate::generation::jobs::ProviderError;
use crate::generation::prompt::ChatMessage;
use crate::platform::clock::Clock;
use crate::platform::db::{Db, DbError, Row, SqlValue, Statement, StatementResult};
use crate::platform::ports::{Blob, Blobs, Jobs, PortError, UploadedPart, MIN_PART_BYTES};
use crate::platform::queue_messages::{QueueMessage, QueueName};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Polls a future until it is ready. The doubles complete at once, so this never spins
/// for long; a future that stays pending is a bug in the test.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("a future under test never completed");
}

// ---- Db -------------------------------------------------------------------------------------

pub struct SqliteDb {
    conn: rusqlite::Connection,
    /// Statements whose SQL contains the text fail, once each entry.
    faults: RefCell<Vec<String>>,
    statements_run: Cell<u64>,
}

impl SqliteDb {
    /// A fresh database with every migration applied, in file-name order.
    pub fn migrated() -> SqliteDb {
        let conn = rusqlite::Connection::open_in_memory().expect("sqlite in memory");
        conn.execute_batch("PRAGMA foreign_keys = ON;").expect("foreign keys");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<_> = std::fs::read_dir(&dir).expect("migrations/").map(|e| e.expect("entry").path()).collect();
        files.sort();
        for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "sql")) {
            let sql = std::fs::read_to_string(file).expect("migration");
            conn.execute_batch(&sql).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        SqliteDb { conn, faults: RefCell::new(Vec::new()), statements_run: Cell::new(0) }
    }

    /// The next statement whose SQL contains `sql_fragment` fails (as an outage would).
    pub fn fail_next(&self, sql_fragment: &str) {
        self.faults.borrow_mut().push(sql_fragment.to_owned());
    }

    /// A single integer from a query, for assertions.
    pub fn scalar(&self, sql: &str) -> i64 {
        self.conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).expect(sql).unwrap_or(0)
    }

    pub fn text(&self, sql: &str) -> Option<String> {
        self.conn.query_row(sql, [], |r| r.get::<_, Option<String>>(0)).expect(sql)
    }

    pub fn exec(&self, sql: &str) {
        self.conn.execute_batch(sql).expect(sql);
    }

    pub fn statements_run(&self) -> u64 {
        self.statements_run.get()
    }

    fn injected_fault(&self, statement: &Statement) -> Option<DbError> {
        let mut faults = self.faults.borrow_mut();
        let at = faults.iter().position(|f| statement.sql.contains(f.as_str()))?;
        faults.remove(at);
        Some(DbError::Failed { message: format!("injected fault on: {}", statement.sql) })
    }

    fn execute(&self, statement: &Statement) -> Result<StatementResult, DbError> {
        self.statements_run.set(self.statements_run.get() + 1);
        if let Some(fault) = self.injected_fault(statement) {
            return Err(fault);
        }
        let error = |e: rusqlite::Error| DbError::classify(&e.to_string(), None);
        let mut prepared = self.conn.prepare(&statement.sql).map_err(error)?;
        let names: Vec<String> = prepared.column_names().into_iter().map(str::to_owned).collect();
        let readonly = prepared.readonly();
        let params: Vec<rusqlite::types::Value> = statement.params.iter().map(to_sqlite).collect();
        let mut rows = prepared.query(rusqlite::params_from_iter(params)).map_err(error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(error)? {
            let mut map = Row::new();
            for (i, name) in names.iter().enumerate() {
                map.insert(name.clone(), from_sqlite(row.get_ref(i).map_err(error)?));
            }
            out.push(map);
        }
        drop(rows);
        let changes = if readonly { 0 } else { self.conn.changes() };
        Ok(StatementResult { rows: out, changes })
    }
}

fn to_sqlite(value: &SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Int(i) => Value::Integer(*i),
        SqlValue::Real(r) => Value::Real(*r),
        SqlValue::Text(t) => Value::Text(t.clone()),
    }
}

fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> serde_json::Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(r) => r.into(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
        ValueRef::Blob(b) => serde_json::Value::Array(b.iter().map(|x| (*x).into()).collect()),
    }
}

impl Db for SqliteDb {
    async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
        self.execute(&statement)
    }

    /// One transaction, as D1's `batch` is: any failure rolls every statement back.
    async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
        self.conn.execute_batch("BEGIN").map_err(|e| DbError::Failed { message: e.to_string() })?;
        let mut results = Vec::with_capacity(statements.len());
        for statement in &statements {
            match self.execute(statement) {
                Ok(r) => results.push(r),
                Err(e) => {
                    self.conn.execute_batch("ROLLBACK").expect("rollback");
                    return Err(e);
                }
            }
        }
        self.conn.execute_batch("COMMIT").map_err(|e| DbError::Failed { message: e.to_string() })?;
        Ok(results)
    }
}

// ---- Blobs, Jobs ------------------------------------------------------------------------------

#[derive(Default)]
pub struct MemoryBlobs {
    pub objects: RefCell<BTreeMap<String, Blob>>,
    pub fail_puts: Cell<u32>,
    pub fail_deletes: Cell<u32>,
    pub fail_gets: Cell<u32>,
    /// Multipart uploads in progress, by upload id: key, type and the parts so far.
    pub multiparts: RefCell<BTreeMap<String, Multipart>>,
    pub fail_creates: Cell<u32>,
    /// Fail the part upload with this number (1-based, counted over all uploads), once.
    pub fail_part_at: Cell<u32>,
    pub fail_completes: Cell<u32>,
    pub fail_aborts: Cell<u32>,
    parts_uploaded: Cell<u32>,
    next_upload: Cell<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Multipart {
    pub key: String,
    pub content_type: String,
    pub parts: BTreeMap<u16, Vec<u8>>,
}

fn take_failure(counter: &Cell<u32>) -> bool {
    let n = counter.get();
    if n > 0 {
        counter.set(n - 1);
    }
    n > 0
}

impl MemoryBlobs {
    pub fn keys(&self) -> Vec<String> {
        self.objects.borrow().keys().cloned().collect()
    }

    /// Multipart uploads neither completed nor aborted (orphaned parts, on R2).
    pub fn open_multiparts(&self) -> usize {
        self.multiparts.borrow().len()
    }

    pub fn parts_uploaded(&self) -> u32 {
        self.parts_uploaded.get()
    }
}

impl Blobs for MemoryBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        if take_failure(&self.fail_puts) {
            return Err(PortError("injected put failure".into()));
        }
        self.objects.borrow_mut().insert(key.to_owned(), Blob { bytes, content_type: content_type.to_owned() });
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError> {
        if take_failure(&self.fail_gets) {
            return Err(PortError("injected get failure".into()));
        }
        Ok(self.objects.borrow().get(key).cloned())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        if take_failure(&self.fail_deletes) {
            return Err(PortError("injected delete failure".into()));
        }
        self.objects.borrow_mut().remove(key);
        Ok(())
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, PortError> {
        if take_failure(&self.fail_creates) {
            return Err(PortError("injected create-multipart failure".into()));
        }
        self.next_upload.set(self.next_upload.get() + 1);
        let id = format!("mpu-{}", self.next_upload.get());
        let upload = Multipart { key: key.to_owned(), content_type: content_type.to_owned(), parts: BTreeMap::new() };
        self.multiparts.borrow_mut().insert(id.clone(), upload);
        Ok(id)
    }

    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u16, bytes: Vec<u8>) -> Result<UploadedPart, PortError> {
        self.parts_uploaded.set(self.parts_uploaded.get() + 1);
        if self.fail_part_at.get() == self.parts_uploaded.get() {
            return Err(PortError("injected upload-part failure".into()));
        }
        let mut uploads = self.multiparts.borrow_mut();
        let upload = uploads.get_mut(upload_id).filter(|u| u.key == key).ok_or_else(|| PortError("no such multipart upload".into()))?;
        if part_number == 0 {
            return Err(PortError("part numbers start at 1".into()));
        }
        let etag = format!("etag-{upload_id}-{part_number}-{}", bytes.len());
        upload.parts.insert(part_number, bytes);
        Ok(UploadedPart { part_number, etag })
    }

    /// As R2: the parts named must all be there, numbered 1…n, every part but the last
    /// at least 5 MiB and all but the last of one size.
    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<UploadedPart>) -> Result<(), PortError> {
        if take_failure(&self.fail_completes) {
            return Err(PortError("injected complete failure".into()));
        }
        let upload = self.multiparts.borrow_mut().remove(upload_id).filter(|u| u.key == key).ok_or_else(|| PortError("no such multipart upload".into()))?;
        let mut bytes = Vec::new();
        let mut first_size = None;
        for (i, part) in parts.iter().enumerate() {
            let data = upload.parts.get(&part.part_number).ok_or_else(|| PortError(format!("part {} missing", part.part_number)))?;
            if part.part_number as usize != i + 1 || part.etag != format!("etag-{upload_id}-{}-{}", part.part_number, data.len()) {
                return Err(PortError("parts out of order or with a wrong etag".into()));
            }
            let last = i + 1 == parts.len();
            if !last && (data.len() < MIN_PART_BYTES || *first_size.get_or_insert(data.len()) != data.len()) {
                return Err(PortError(format!("part {} has {} bytes: too small or not the size of the others", part.part_number, data.len())));
            }
            bytes.extend_from_slice(data);
        }
        self.objects.borrow_mut().insert(key.to_owned(), Blob { bytes, content_type: upload.content_type });
        Ok(())
    }

    async fn abort_multipart(&self, _key: &str, upload_id: &str) -> Result<(), PortError> {
        if take_failure(&self.fail_aborts) {
            return Err(PortError("injected abort failure".into()));
        }
        self.multiparts.borrow_mut().remove(upload_id);
        Ok(())
    }
}

#[derive(Default)]
pub struct RecordingQueue {
    pub sent: RefCell<Vec<(QueueName, QueueMessage)>>,
    pub fail_sends: Cell<u32>,
}

impl RecordingQueue {
    /// Takes the generation jobs sent so far (what a consumer would receive next).
    pub fn drain_jobs(&self) -> Vec<String> {
        self.sent
            .borrow_mut()
            .drain(..)
            .filter_map(|(_, m)| match m {
                QueueMessage::Generate { job_id } => Some(job_id),
                _ => None,
            })
            .collect()
    }
}

impl Jobs for RecordingQueue {
    async fn send(&self, queue: QueueName, message: &QueueMessage) -> Result<(), PortError> {
        if take_failure(&self.fail_sends) {
            return Err(PortError("injected send failure".into()));
        }
        self.sent.borrow_mut().push((queue, message.clone()));
        Ok(())
    }
}

// ---- Inference ------------------------------------------------------------------------------

/// What the provider answers to one call.
#[derive(Debug, Clone)]
pub enum Reply {
    Text(&'static str),
    Image(Vec<u8>),
    Fail(ProviderError),
}

/// Answers calls from a script, in order; with the script empty it succeeds with a
/// plain text or a 1×1 PNG. Counts every call.
#[derive(Default)]
pub struct ScriptedInference {
    pub script: RefCell<VecDeque<Reply>>,
    pub calls: Cell<u32>,
    /// Moderation: inputs containing this word are flagged.
    pub flag_word: RefCell<Option<String>>,
    pub moderation_down: Cell<bool>,
    pub moderated: RefCell<Vec<String>>,
}

impl ScriptedInference {
    pub fn then(&self, reply: Reply) -> &Self {
        self.script.borrow_mut().push_back(reply);
        self
    }

    fn next(&self) -> Reply {
        self.calls.set(self.calls.get() + 1);
        self.script.borrow_mut().pop_front().unwrap_or(Reply::Text("A warm hello from Fernleaf."))
    }

    fn image_reply(&self) -> Result<ImageResult, ProviderError> {
        match self.next() {
            Reply::Image(png) => Ok(ImageResult { png, model: "img-1".into() }),
            Reply::Text(_) => Ok(ImageResult { png: crate::library::images::tests::PNG_1X1.to_vec(), model: "img-1".into() }),
            Reply::Fail(e) => Err(e),
        }
    }
}

impl Inference for ScriptedInference {
    async fn chat(&self, _messages: &[ChatMessage]) -> Result<TextResult, ProviderError> {
        match self.next() {
            Reply::Text(t) => Ok(TextResult { text: t.into(), model: "text-1".into(), tokens_in: Some(10), tokens_out: Some(5) }),
            Reply::Image(_) => Err(ProviderError::Transient("malformed chat reply".into())),
            Reply::Fail(e) => Err(e),
        }
    }

    async fn image(&self, _prompt: &str, _size: &str) -> Result<ImageResult, ProviderError> {
        self.image_reply()
    }

    async fn edit(&self, _prompt: &str, _size: &str, _references: Vec<(Vec<u8>, String)>) -> Result<ImageResult, ProviderError> {
        self.image_reply()
    }

    async fn moderate(&self, input: &str) -> Result<Option<Vec<String>>, ProviderError> {
        self.moderated.borrow_mut().push(input.to_owned());
        if self.moderation_down.get() {
            return Err(ProviderError::Transient("provider answered 503".into()));
        }
        let flagged = self.flag_word.borrow().as_deref().is_some_and(|w| input.to_lowercase().contains(w));
        Ok(flagged.then(|| vec!["violence".to_string()]))
    }
}

// ---- Sessions, Clock ------------------------------------------------------------------------

#[derive(Default)]
pub struct MemorySessions {
    pub records: RefCell<BTreeMap<String, SessionRecord>>,
    pub fail_puts: Cell<u32>,
    pub fail_deletes: Cell<u32>,
    pub puts: Cell<u32>,
}

impl SessionStore for MemorySessions {
    async fn get(&self, token_hash: &str) -> Result<Option<SessionRecord>, PortError> {
        Ok(self.records.borrow().get(token_hash).cloned())
    }

    async fn put(&self, token_hash: &str, record: &SessionRecord, _ttl_seconds: u64) -> Result<(), PortError> {
        self.puts.set(self.puts.get() + 1);
        if take_failure(&self.fail_puts) {
            return Err(PortError("injected kv put failure (429: one write per key per second)".into()));
        }
        self.records.borrow_mut().insert(token_hash.to_owned(), record.clone());
        Ok(())
    }

    async fn delete(&self, token_hash: &str) -> Result<(), PortError> {
        if take_failure(&self.fail_deletes) {
            return Err(PortError("injected kv delete failure".into()));
        }
        self.records.borrow_mut().remove(token_hash);
        Ok(())
    }
}

/// A clock the test moves by hand.
pub struct ManualClock(pub Cell<i64>);

impl ManualClock {
    pub fn at(ms: i64) -> ManualClock {
        ManualClock(Cell::new(ms))
    }

    pub fn advance(&self, ms: i64) {
        self.0.set(self.0.get() + ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.get()
    }
}

// ---- Web ------------------------------------------------------------------------------------

/// Parses HTML with lol_html, the engine of the runtime's HTMLRewriter, reporting the same
/// events the Cloudflare adapter reports (`cf/adapters/web.rs`).
pub fn lol_html_events(html: &[u8]) -> Vec<crate::platform::ports::HtmlEvent> {
    use crate::platform::ports::{HtmlEvent, HTML_ATTRIBUTES, HTML_ELEMENTS, HTML_TEXT_TAGS, MAX_HTML_EVENTS};
    use std::rc::Rc;
    let events: Rc<RefCell<Vec<HtmlEvent>>> = Rc::default();
    let mut settings = lol_html::Settings::new();
    let sink = events.clone();
    settings = settings.append_element_content_handler(lol_html::element!(HTML_ELEMENTS, move |el| {
        let mut sink = sink.borrow_mut();
        if sink.len() < MAX_HTML_EVENTS {
            let attrs = HTML_ATTRIBUTES.iter().filter_map(|a| el.get_attribute(a).map(|v| (a.to_string(), v))).collect();
            sink.push(HtmlEvent::Element { tag: el.tag_name(), attrs });
        }
        Ok(())
    }));
    for tag in HTML_TEXT_TAGS {
        let sink = events.clone();
        settings = settings.append_element_content_handler(lol_html::text!(tag, move |t| {
            let mut sink = sink.borrow_mut();
            if sink.len() < MAX_HTML_EVENTS && !t.as_str().is_empty() {
                sink.push(HtmlEvent::Text { tag: tag.to_owned(), text: t.as_str().to_owned() });
            }
            Ok(())
        }));
    }
    let mut rewriter = lol_html::HtmlRewriter::new(settings, |_: &[u8]| {});
    // A page lol_html gives up on still gives the events seen so far, as HTMLRewriter does.
    let _ = rewriter.write(html).and_then(|_| rewriter.end());
    let out = events.borrow().clone();
    out
}

/// A few websites held in memory: GET answers from the table (everything else is a
/// failed connection) and records every URL asked for.
#[derive(Default)]
pub struct FixtureWeb {
    pub pages: RefCell<BTreeMap<String, crate::platform::ports::WebResponse>>,
    pub fetched: RefCell<Vec<String>>,
}

impl FixtureWeb {
    pub fn page(&self, url: &str, content_type: &str, body: &[u8]) -> &Self {
        let response = crate::platform::ports::WebResponse { status: 200, location: None, content_type: Some(content_type.into()), body: body.to_vec() };
        self.pages.borrow_mut().insert(url.into(), response);
        self
    }

    pub fn redirect(&self, url: &str, location: &str) -> &Self {
        let response = crate::platform::ports::WebResponse { status: 302, location: Some(location.into()), content_type: None, body: Vec::new() };
        self.pages.borrow_mut().insert(url.into(), response);
        self
    }

    pub fn was_fetched(&self, url: &str) -> bool {
        self.fetched.borrow().iter().any(|u| u == url)
    }
}

impl crate::platform::ports::Web for FixtureWeb {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<crate::platform::ports::WebResponse, crate::platform::ports::WebError> {
        self.fetched.borrow_mut().push(url.to_owned());
        let response = self.pages.borrow().get(url).cloned().ok_or_else(|| crate::platform::ports::WebError::Failed("connection refused".into()))?;
        if response.body.len() > max_bytes {
            return Err(crate::platform::ports::WebError::TooLarge);
        }
        Ok(response)
    }

    async fn scan_html(&self, html: &[u8]) -> Result<Vec<crate::platform::ports::HtmlEvent>, PortError> {
        Ok(lol_html_events(html))
    }
}
