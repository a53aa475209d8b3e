//! The export job (consumer of `blimari-exports`): claim, stream the archive into R2,
//! mark it ready with its security event, email the owner. Every step between two
//! writes has a way back: a failed step aborts the multipart upload and releases the
//! claim (retry), and the last attempt marks the export failed and tells the owner.

use super::archive::{rfc3339, ArchiveError, ArchiveUpload};
use super::{find_any, mark_failed, ExportRow, LEASE_MS, MAX_ATTEMPTS};
use crate::accounts::mail::{message, Mailer, OutgoingEmail};
use crate::accounts::security_events::EventKind;
use crate::http::pagination::Page;
use crate::platform::db::{Db, DbError, Statement};
use crate::platform::log::{self, Level};
use crate::platform::ports::Blobs;
use crate::platform::queue_messages::Outcome;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Rows read per query while writing the JSON files.
const PAGE_SIZE: i64 = 100;

/// What the job needs besides the ports.
pub struct Settings<'a> {
    /// How long the archive stays downloadable once ready.
    pub ttl_ms: i64,
    pub email_from: &'a str,
    /// The origin of links in emails (`APP_BASE_URL`).
    pub origin: &'a str,
}

#[derive(Debug)]
enum JobError {
    Db(DbError),
    Archive(ArchiveError),
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobError::Db(e) => write!(f, "{e}"),
            JobError::Archive(e) => write!(f, "{e}"),
        }
    }
}

impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        JobError::Db(e)
    }
}
impl From<ArchiveError> for JobError {
    fn from(e: ArchiveError) -> Self {
        JobError::Archive(e)
    }
}

const FAILED_REASON: &str = "The export could not be built. Nothing was kept; start a new one, or write to privacy@blimari.space.";

fn warn(msg: &str, export_id: &str, error: impl std::fmt::Display) {
    log::emit(Level::Warn, msg, serde_json::json!({ "export_id": export_id, "error": error.to_string() }));
}

/// Runs one delivery of `{"kind":"export","export_id":…}`.
pub async fn run<D: Db, B: Blobs, M: Mailer>(db: &D, blobs: &B, mailer: &M, settings: &Settings<'_>, export_id: &str, now_ms: i64) -> Outcome {
    let claim = Statement::new(
        "UPDATE exports SET status = 'running', attempts = attempts + 1, lease_until = ?, started_at = COALESCE(started_at, ?) \
         WHERE id = ? AND attempts < ? AND (status = 'queued' OR (status = 'running' AND lease_until < ?))",
    )
    .bind(now_ms + LEASE_MS)
    .bind(now_ms)
    .bind(export_id)
    .bind(MAX_ATTEMPTS)
    .bind(now_ms);
    let claimed = match db.run(claim).await {
        Ok(r) => r.changes == 1,
        Err(_) => return Outcome::Retry { delay_seconds: 30 },
    };
    let row = match find_any(db, export_id).await {
        Ok(Some(row)) => row,
        // Purged, or the account is gone: nothing to do.
        Ok(None) => return Outcome::Ack,
        Err(_) => return Outcome::Retry { delay_seconds: 30 },
    };
    if !claimed {
        return match row.status.as_str() {
            "ready" | "failed" => Outcome::Ack, // a duplicate delivery
            "running" if row.lease_until.is_some_and(|l| l >= now_ms) => {
                Outcome::Retry { delay_seconds: ((row.lease_until.unwrap_or(now_ms) - now_ms) / 1000 + 1).clamp(1, 900) as u32 }
            }
            // Out of attempts (the last one died without a word).
            _ => fail(db, blobs, mailer, settings, &row, now_ms).await,
        };
    }
    // A previous attempt that died may have left its parts: abort them before anything
    // else, or keep their id on the row and try again later.
    if let Some(stale) = &row.multipart_id {
        if let Err(e) = blobs.abort_multipart(&row.r2_key, stale).await {
            warn("stale export upload not aborted", &row.id, e);
            return release(db, blobs, mailer, settings, &row, Some(stale.clone()), now_ms).await;
        }
    }
    build(db, blobs, mailer, settings, &row, now_ms).await
}

async fn build<D: Db, B: Blobs, M: Mailer>(db: &D, blobs: &B, mailer: &M, settings: &Settings<'_>, row: &ExportRow, now_ms: i64) -> Outcome {
    let Ok(user) = profile(db, &row.user_id).await else { return release(db, blobs, mailer, settings, row, None, now_ms).await };
    let Some(user) = user else {
        // The account is gone (its rows cascade); nothing to export.
        let _ = db.run(mark_failed(&row.id, "The account no longer exists.", None, now_ms)).await;
        return Outcome::Ack;
    };
    let mut archive = match ArchiveUpload::begin(blobs, &row.r2_key, now_ms).await {
        Ok(a) => a,
        Err(e) => {
            warn("export upload not started", &row.id, e);
            return release(db, blobs, mailer, settings, row, None, now_ms).await;
        }
    };
    let upload_id = archive.upload_id().to_owned();
    let recorded = db.run(Statement::new("UPDATE exports SET multipart_id = ? WHERE id = ?").bind(&upload_id).bind(&row.id)).await;
    if let Err(e) = recorded {
        warn("export upload not recorded", &row.id, e);
        let kept = archive.abort().await.err().map(|_| upload_id);
        return release(db, blobs, mailer, settings, row, kept, now_ms).await;
    }
    let counts = match write_archive(db, blobs, &mut archive, row, &user, now_ms).await {
        Ok(counts) => counts,
        Err(e) => {
            warn("export not written", &row.id, e);
            let kept = archive.abort().await.err().map(|_| upload_id);
            return release(db, blobs, mailer, settings, row, kept, now_ms).await;
        }
    };
    let finished = match archive.finish().await {
        Ok(f) => f,
        Err(e) => {
            warn("export not completed", &row.id, e);
            let kept = blobs.abort_multipart(&row.r2_key, &upload_id).await.err().map(|_| upload_id);
            return release(db, blobs, mailer, settings, row, kept, now_ms).await;
        }
    };
    log::emit(
        Level::Info,
        "export built",
        serde_json::json!({ "export_id": row.id, "size_bytes": finished.size_bytes, "parts": finished.parts, "max_buffered": finished.max_buffered }),
    );
    let expires_at = now_ms + settings.ttl_ms;
    let ready = Statement::new(
        "UPDATE exports SET status = 'ready', size_bytes = ?, counts = ?, multipart_id = NULL, lease_until = NULL, \
         failure_reason = NULL, finished_at = ?, expires_at = ? WHERE id = ? AND status = 'running'",
    )
    .bind(finished.size_bytes as i64)
    .bind(counts.to_string())
    .bind(now_ms)
    .bind(expires_at)
    .bind(&row.id);
    let event = Statement::new(
        "INSERT INTO security_events (id, user_id, kind, device, created_at) \
         SELECT ?, ?, ?, NULL, ? WHERE EXISTS (SELECT 1 FROM exports WHERE id = ? AND status = 'ready' AND finished_at = ?)",
    )
    .bind(crate::platform::ids::new_id("evt"))
    .bind(&row.user_id)
    .bind(EventKind::ExportReady.as_str())
    .bind(now_ms)
    .bind(&row.id)
    .bind(now_ms);
    match db.batch(vec![ready, event]).await {
        Ok(results) if results[0].changes == 1 => {}
        Ok(_) => {
            // The row was purged meanwhile (the account closed): the object must go too.
            if let Err(e) = blobs.delete(&row.r2_key).await {
                warn("orphaned export not deleted", &row.id, e);
                return Outcome::Retry { delay_seconds: 60 };
            }
            return Outcome::Ack;
        }
        Err(e) => {
            warn("export not marked ready", &row.id, e);
            // The object exists without a ready row: remove it (the row still names the
            // key, so a failed delete is finished by the next attempt or the purge).
            let _ = blobs.delete(&row.r2_key).await;
            return release(db, blobs, mailer, settings, row, None, now_ms).await;
        }
    }
    let size = human_size(finished.size_bytes);
    let until = &rfc3339(expires_at)[..10];
    let email = message(
        settings.email_from,
        &user.email,
        "Your Blimari data export is ready",
        &[
            &format!("The archive of your Blimari data that you asked for is ready ({size}). Download it from your settings before {until} (UTC); it is deleted after that."),
            "It holds your profile, brands, uploads and generated files, prompts and outputs, credit history, purchases, security events and privacy requests, with a manifest.json that describes each file.",
            "If you did not ask for this export, change your password and sign out of every session.",
        ],
        Some(("Download your data", &format!("{}/settings#export", settings.origin))),
    );
    send(mailer, &email, &row.id).await;
    Outcome::Ack
}

/// An attempt failed: retry with the claim released, or, on the last attempt, fail the
/// export. `kept` is a multipart upload that could not be aborted (the next attempt or
/// the purge aborts it).
async fn release<D: Db, B: Blobs, M: Mailer>(
    db: &D,
    blobs: &B,
    mailer: &M,
    settings: &Settings<'_>,
    row: &ExportRow,
    kept: Option<String>,
    now_ms: i64,
) -> Outcome {
    let attempts = row.attempts;
    if attempts >= MAX_ATTEMPTS {
        let row = ExportRow { multipart_id: kept, ..row.clone() };
        return fail(db, blobs, mailer, settings, &row, now_ms).await;
    }
    let statement = Statement::new("UPDATE exports SET status = 'queued', lease_until = NULL, multipart_id = ? WHERE id = ? AND status = 'running'")
        .bind(kept)
        .bind(&row.id);
    // If even this fails, the lease runs out and the next delivery reclaims the row.
    let _ = db.run(statement).await;
    Outcome::Retry { delay_seconds: (30 * attempts.max(1)) as u32 }
}

/// Marks the export failed (no object, no parts left) and tells the owner.
async fn fail<D: Db, B: Blobs, M: Mailer>(db: &D, blobs: &B, mailer: &M, settings: &Settings<'_>, row: &ExportRow, now_ms: i64) -> Outcome {
    let mut unaborted = None;
    if let Some(upload_id) = &row.multipart_id {
        if let Err(e) = blobs.abort_multipart(&row.r2_key, upload_id).await {
            warn("export upload not aborted", &row.id, e);
            unaborted = Some(upload_id.as_str());
        }
    }
    if let Err(e) = blobs.delete(&row.r2_key).await {
        // The row keeps naming the key; the purge deletes it at expiry.
        warn("failed export's object not deleted", &row.id, e);
    }
    match db.run(mark_failed(&row.id, FAILED_REASON, unaborted, now_ms)).await {
        Ok(r) if r.changes == 1 => {}
        Ok(_) => return Outcome::Ack, // already ended
        Err(_) => return Outcome::Retry { delay_seconds: 60 },
    }
    if let Ok(Some(user)) = profile(db, &row.user_id).await {
        let email = message(
            settings.email_from,
            &user.email,
            "Your Blimari data export could not be made",
            &["We could not build the archive of your Blimari data that you asked for. Nothing of it was kept.",
              "Start a new export from your settings, or write to privacy@blimari.space and we will send your data another way."],
            Some(("Open your settings", &format!("{}/settings#export", settings.origin))),
        );
        send(mailer, &email, &row.id).await;
    }
    Outcome::Ack
}

/// The dead-letter consumer: the queue gave up on this export (its consumer kept
/// crashing), so it is failed and its owner told.
pub async fn dead_lettered<D: Db, B: Blobs, M: Mailer>(db: &D, blobs: &B, mailer: &M, settings: &Settings<'_>, export_id: &str, now_ms: i64) -> Outcome {
    match find_any(db, export_id).await {
        Ok(Some(row)) if matches!(row.status.as_str(), "queued" | "running") => fail(db, blobs, mailer, settings, &row, now_ms).await,
        Ok(_) => Outcome::Ack,
        Err(_) => Outcome::Retry { delay_seconds: 30 },
    }
}

async fn send<M: Mailer>(mailer: &M, email: &OutgoingEmail, export_id: &str) {
    if let Err(e) = mailer.send(email).await {
        log::emit(Level::Error, "email not sent", serde_json::json!({ "subject": email.subject, "export_id": export_id, "error": e.0 }));
    }
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

// ---- what goes in the archive ----------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Profile {
    id: String,
    name: String,
    email: String,
    email_verified_at: Option<i64>,
    role: String,
    policy_version: String,
    created_at: i64,
    updated_at: i64,
}

async fn profile(db: &impl Db, user_id: &str) -> Result<Option<Profile>, DbError> {
    db.query_one(
        Statement::new("SELECT id, name, email, email_verified_at, role, policy_version, created_at, updated_at FROM users WHERE id = ?")
            .bind(user_id),
    )
    .await
}

/// A JSON array written item by item, pretty-printed (two-space indent).
struct JsonArray {
    count: usize,
}

impl JsonArray {
    async fn begin<B: Blobs>(archive: &mut ArchiveUpload<'_, B>, path: &str) -> Result<JsonArray, ArchiveError> {
        archive.start_file(path, true)?;
        archive.write(b"[").await?;
        Ok(JsonArray { count: 0 })
    }

    async fn push<B: Blobs>(&mut self, archive: &mut ArchiveUpload<'_, B>, item: &impl Serialize) -> Result<(), ArchiveError> {
        let text = serde_json::to_string_pretty(item).map_err(|e| ArchiveError::Zip(e.to_string()))?;
        let mut out = String::with_capacity(text.len() + 64);
        out.push_str(if self.count == 0 { "\n" } else { ",\n" });
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str("  ");
            out.push_str(line);
        }
        archive.write(out.as_bytes()).await?;
        self.count += 1;
        Ok(())
    }

    async fn end<B: Blobs>(self, archive: &mut ArchiveUpload<'_, B>) -> Result<usize, ArchiveError> {
        archive.write(if self.count == 0 { b"]\n" } else { b"\n]\n" }).await?;
        Ok(self.count)
    }
}

/// The next page after `items`, or `None` when this page was the last.
fn next_page<T>(page: &Page, items: &[T], key: impl Fn(&T) -> (i64, &str)) -> Option<Page> {
    if (items.len() as i64) < page.limit {
        return None;
    }
    let (at, id) = key(items.last()?);
    Some(Page { after: Some((at, id.to_owned())), limit: page.limit })
}

/// One entry of the manifest's file list.
#[derive(Debug, Serialize)]
struct FileEntry {
    path: String,
    description: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "bin",
    }
}

/// Writes every file of the archive; returns the manifest's counts.
async fn write_archive<D: Db, B: Blobs>(
    db: &D,
    blobs: &B,
    a: &mut ArchiveUpload<'_, B>,
    row: &ExportRow,
    user: &Profile,
    now_ms: i64,
) -> Result<serde_json::Value, JobError> {
    use crate::library::brands::{self, Shelf};
    let uid = row.user_id.as_str();
    let mut files: Vec<FileEntry> = Vec::new();
    let mut entry = |path: &str, description: &'static str, count: Option<usize>| files.push(FileEntry { path: path.into(), description, count });

    // profile.json: the account and its credit balance.
    let balance: Option<crate::credits::ledger::Balance> =
        db.query_one(Statement::new("SELECT balance, held, debt FROM credit_accounts WHERE user_id = ?").bind(uid)).await?;
    a.start_file("profile.json", true)?;
    let profile = serde_json::json!({ "account": user, "credits": balance });
    a.write(format!("{}\n", serde_json::to_string_pretty(&profile).unwrap_or_default()).as_bytes()).await?;
    entry("profile.json", "Your account: name, email address, role, accepted privacy policy version, dates; and your credit balance.", Some(1));

    // sessions.json: devices signed in (never the session tokens).
    #[derive(Serialize, Deserialize)]
    struct Session {
        id: String,
        device: String,
        created_at: i64,
        last_seen_at: i64,
        expires_at: i64,
        ended_at: Option<i64>,
        end_reason: Option<String>,
    }
    let mut out = JsonArray::begin(a, "sessions.json").await?;
    let mut page = Some(Page::first(PAGE_SIZE));
    while let Some(p) = page.take() {
        let items: Vec<Session> = db
            .query(p.newest_first(
                Statement::new("SELECT id, device, created_at, last_seen_at, expires_at, ended_at, end_reason FROM sessions WHERE user_id = ?").bind(uid),
            ))
            .await?;
        for s in &items {
            out.push(a, s).await?;
        }
        page = next_page(&p, &items, |s| (s.created_at, s.id.as_str()));
    }
    let sessions = out.end(a).await?;
    entry("sessions.json", "Your sign-in sessions: device, when each started, was last used and ended.", Some(sessions));

    // brands.json: in use and archived.
    let mut out = JsonArray::begin(a, "brands.json").await?;
    for shelf in [Shelf::Active, Shelf::Archived] {
        let mut page = Some(Page::first(PAGE_SIZE));
        while let Some(p) = page.take() {
            let items = brands::list_brands(db, uid, shelf, &p).await?;
            for b in &items {
                out.push(a, b).await?;
            }
            page = next_page(&p, &items, |b| (b.created_at, b.id.as_str()));
        }
    }
    let brand_count = out.end(a).await?;
    entry("brands.json", "Your brands, in use and archived, with every field.", Some(brand_count));

    // uploads.json: every stored image (uploaded or generated) and where its bytes are.
    let mut stored: Vec<(String, String)> = Vec::new(); // (r2 key, path in the archive)
    let mut paths: HashMap<String, String> = HashMap::new();
    let mut out = JsonArray::begin(a, "uploads.json").await?;
    let mut page = Some(Page::first(PAGE_SIZE));
    while let Some(p) = page.take() {
        let items = crate::library::uploads::list_ready(db, uid, &p).await?;
        for u in &items {
            let path = format!("files/{}.{}", u.id, extension(&u.content_type));
            out.push(a, &serde_json::json!({ "upload": u, "file": path })).await?;
            stored.push((u.r2_key.clone(), path.clone()));
            paths.insert(u.id.clone(), path);
        }
        page = next_page(&p, &items, |u| (u.created_at, u.id.as_str()));
    }
    let upload_count = out.end(a).await?;
    entry("uploads.json", "Your images, uploaded and generated: name, type, size, dimensions, and the file under files/.", Some(upload_count));

    // generations.json: prompts and outputs.
    let mut out = JsonArray::begin(a, "generations.json").await?;
    let filter = crate::generation::jobs::ListFilter { brand_id: None, content_type: None, query: None, favorites_only: false };
    let mut page = Some(Page::first(PAGE_SIZE));
    while let Some(p) = page.take() {
        let items = crate::generation::jobs::list(db, uid, &filter, &p).await?;
        for j in &items {
            let parse = |s: &Option<String>| s.as_deref().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok());
            let item = serde_json::json!({
                "id": j.id, "brand_id": j.brand_id, "brand_snapshot": serde_json::from_str::<serde_json::Value>(&j.brand_snapshot).ok(),
                "content_type": j.content_type, "prompt": j.prompt, "price": j.price, "status": j.status, "attempts": j.attempts,
                "created_at": j.created_at, "started_at": j.started_at, "finished_at": j.finished_at, "failure_reason": j.failure_reason,
                "model": j.model, "tokens_in": j.tokens_in, "tokens_out": j.tokens_out, "output_text": j.output_text,
                "output_upload_id": j.output_upload_id,
                "output_file": j.output_upload_id.as_ref().and_then(|id| paths.get(id)),
                "brand_check": parse(&j.brand_check), "favorite": j.favorite == 1,
            });
            out.push(a, &item).await?;
        }
        page = next_page(&p, &items, |j| (j.created_at, j.id.as_str()));
    }
    let generation_count = out.end(a).await?;
    entry("generations.json", "Your generations: each prompt, the brand as it was, the output (text, or the image's file), status and brand check.", Some(generation_count));

    // credit_ledger.json
    let mut out = JsonArray::begin(a, "credit_ledger.json").await?;
    let mut page = Some(Page::first(PAGE_SIZE));
    while let Some(p) = page.take() {
        let items = crate::credits::ledger::entries(db, uid, &p).await?;
        for e in &items {
            out.push(a, e).await?;
        }
        page = next_page(&p, &items, |e| (e.created_at, e.id.as_str()));
    }
    let ledger_count = out.end(a).await?;
    entry("credit_ledger.json", "Your credit history: every grant, purchase, hold, capture, release, refund and adjustment.", Some(ledger_count));

    // purchases.json
    let mut out = JsonArray::begin(a, "purchases.json").await?;
    let mut page = Some(Page::first(PAGE_SIZE));
    while let Some(p) = page.take() {
        let items = crate::credits::billing::purchases(db, uid, &p).await?;
        for purchase in &items {
            out.push(a, &purchase.view()).await?;
        }
        page = next_page(&p, &items, |x| (x.created_at, x.id.as_str()));
    }
    let purchase_count = out.end(a).await?;
    entry("purchases.json", "Your credit pack purchases: pack, amount, status, refunds and receipts.", Some(purchase_count));

    // security_events.json
    let mut out = JsonArray::begin(a, "security_events.json").await?;
    let mut page = Some(Page::first(PAGE_SIZE));
    while let Some(p) = page.take() {
        let items = crate::accounts::queries::activity_page(db, uid, &p).await?;
        for e in &items {
            out.push(a, e).await?;
        }
        page = next_page(&p, &items, |e| (e.created_at, e.id.as_str()));
    }
    let event_count = out.end(a).await?;
    entry("security_events.json", "Your account's security events (recent activity): sign-ins, changes, exports.", Some(event_count));

    // privacy_requests.json
    #[derive(Serialize, Deserialize)]
    struct PrivacyRequest {
        id: String,
        email: String,
        kind: String,
        message: Option<String>,
        status: String,
        created_at: i64,
        updated_at: i64,
    }
    let mut out = JsonArray::begin(a, "privacy_requests.json").await?;
    let mut page = Some(Page::first(PAGE_SIZE));
    while let Some(p) = page.take() {
        let items: Vec<PrivacyRequest> = db
            .query(p.newest_first(
                Statement::new("SELECT id, email, kind, message, status, created_at, updated_at FROM privacy_requests WHERE user_id = ?").bind(uid),
            ))
            .await?;
        for r in &items {
            out.push(a, r).await?;
        }
        page = next_page(&p, &items, |r| (r.created_at, r.id.as_str()));
    }
    let request_count = out.end(a).await?;
    entry("privacy_requests.json", "Your privacy requests (access, correction, deletion, …) and their status.", Some(request_count));

    // files/: the bytes, one object at a time.
    let mut file_count = 0;
    let mut file_bytes: u64 = 0;
    let mut missing: Vec<String> = Vec::new();
    for (key, path) in &stored {
        match blobs.get(key).await.map_err(ArchiveError::Storage)? {
            Some(blob) => {
                a.start_file(path, false)?;
                a.write(&blob.bytes).await?;
                file_count += 1;
                file_bytes += blob.bytes.len() as u64;
            }
            // Deleted between the listing and now.
            None => missing.push(path.clone()),
        }
    }
    entry("files/", "The images themselves, named by their upload id (see uploads.json).", Some(file_count));

    let counts = serde_json::json!({
        "sessions": sessions, "brands": brand_count, "uploads": upload_count, "files": file_count, "file_bytes": file_bytes,
        "generations": generation_count, "credit_ledger": ledger_count, "purchases": purchase_count,
        "security_events": event_count, "privacy_requests": request_count,
    });
    let manifest = serde_json::json!({
        "format": "blimari-export",
        "format_version": 1,
        "export_id": row.id,
        "user_id": uid,
        "requested_at": rfc3339(row.created_at),
        "created_at": rfc3339(now_ms),
        "policy_version": crate::accounts::queries::POLICY_VERSION,
        "accepted_policy_version": user.policy_version,
        "times": "Times inside the JSON files are milliseconds since 1970-01-01 UTC.",
        "counts": counts,
        "files": files,
        "missing_files": missing,
    });
    a.start_file("manifest.json", true)?;
    a.write(format!("{}\n", serde_json::to_string_pretty(&manifest).unwrap_or_default()).as_bytes()).await?;
    Ok(counts)
}
