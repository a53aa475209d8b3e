//! Uploads (C1–C3): rows and their R2 objects, kept in step without a distributed
//! transaction by ordering:
//! - a write inserts the row first (`pending`, with the quota checked inside the same
//!   INSERT), then puts the object, then marks the row `ready`; a failed put deletes the
//!   row again, and the sweeper removes `pending` rows (and any object) left by a worker
//!   that died in between. So every object in R2 has a row made before it.
//! - a delete marks the row `deleting` (it disappears for the user at once), deletes the
//!   object, then the row; the sweeper finishes any delete that was interrupted.

use crate::http::pagination::Page;
use crate::platform::db::{Db, DbError, Statement};
use serde::{Deserialize, Serialize};

pub const DEFAULT_MAX_BYTES: i64 = 5 * 1024 * 1024;
pub const DEFAULT_QUOTA_BYTES: i64 = 100 * 1024 * 1024;
/// C3: unreferenced uploads older than this are purged by the daily run.
pub const UNREFERENCED_TTL_MS: i64 = 24 * crate::platform::clock::HOUR_MS;
/// A `pending` row older than this belongs to a write that died.
pub const PENDING_TTL_MS: i64 = 10 * crate::platform::clock::MINUTE_MS;

/// The R2 key of an upload: made by the server, never from the user's file name.
pub fn r2_key(user_id: &str, upload_id: &str) -> String {
    format!("u/{user_id}/{upload_id}")
}

/// A file name safe to show and to put in `Content-Disposition`: no path, no control
/// or quote characters, at most 120 characters, and the extension of the real type.
pub fn clean_filename(raw: Option<&str>, extension: &str) -> String {
    let base = raw.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
    let cleaned: String = stem
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | ';' | '<' | '>'))
        .take(100)
        .collect::<String>()
        .trim()
        .to_owned();
    let stem = if cleaned.is_empty() { "image".to_owned() } else { cleaned };
    format!("{stem}.{extension}")
}

/// `Content-Disposition` with an ASCII fallback and the UTF-8 name (RFC 6266 / 8187).
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '_' }).collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub created_at: i64,
    #[serde(skip_serializing)]
    pub r2_key: String,
}

#[derive(Debug, Serialize)]
pub struct Usage {
    pub used_bytes: i64,
    pub quota_bytes: i64,
}

pub struct NewUpload<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

/// The `pending` row's columns, bound in order, for `SELECT ?, … WHERE <condition>`.
fn insert_where(u: &NewUpload, condition: &str, now_ms: i64) -> Statement {
    Statement::new(format!(
        "INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, width, height, status, created_at) \
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ? WHERE {condition}"
    ))
    .bind(u.id)
    .bind(u.user_id)
    .bind(r2_key(u.user_id, u.id))
    .bind(u.filename)
    .bind(u.content_type)
    .bind(u.size_bytes)
    .bind(u.width)
    .bind(u.height)
    .bind(now_ms)
}

/// Inserts the `pending` row only if the user's stored bytes plus this file stay within
/// the quota; 0 rows changed means the quota would be exceeded.
pub fn insert_pending(u: &NewUpload, quota_bytes: i64, now_ms: i64) -> Statement {
    insert_where(u, "(SELECT COALESCE(SUM(size_bytes), 0) FROM uploads WHERE user_id = ?) + ? <= ?", now_ms)
        .bind(u.user_id)
        .bind(u.size_bytes)
        .bind(quota_bytes)
}

/// A generated image's row: no quota check (the user paid for it with credits).
pub fn insert_generated(u: &NewUpload, now_ms: i64) -> Statement {
    insert_where(u, "1 = 1", now_ms)
}

pub fn mark_ready(id: &str) -> Statement {
    Statement::new("UPDATE uploads SET status = 'ready' WHERE id = ? AND status = 'pending'").bind(id)
}

/// Detaches an upload from everything that refers to it: brands (as logo or reference)
/// and the generation whose output it is (that generation then shows no image), so the
/// row can be deleted without breaking a foreign key.
pub fn detach_everywhere(id: &str, now_ms: i64) -> Vec<Statement> {
    vec![
        Statement::new("UPDATE brands SET logo_upload_id = NULL, updated_at = ? WHERE logo_upload_id = ?").bind(now_ms).bind(id),
        Statement::new("DELETE FROM brand_references WHERE upload_id = ?").bind(id),
        Statement::new("UPDATE generation_jobs SET output_upload_id = NULL WHERE output_upload_id = ?").bind(id),
    ]
}

pub fn delete_row(id: &str) -> Statement {
    Statement::new("DELETE FROM uploads WHERE id = ?").bind(id)
}

const COLUMNS: &str = "id, filename, content_type, size_bytes, width, height, created_at, r2_key";

pub async fn find_ready(db: &impl Db, user_id: &str, id: &str) -> Result<Option<Upload>, DbError> {
    db.query_one(Statement::new(format!("SELECT {COLUMNS} FROM uploads WHERE id = ? AND user_id = ? AND status = 'ready'")).bind(id).bind(user_id))
        .await
}

pub async fn list_ready(db: &impl Db, user_id: &str, page: &Page) -> Result<Vec<Upload>, DbError> {
    db.query(page.newest_first(Statement::new(format!("SELECT {COLUMNS} FROM uploads WHERE user_id = ? AND status = 'ready'")).bind(user_id)))
        .await
}

pub async fn usage(db: &impl Db, user_id: &str, quota_bytes: i64) -> Result<Usage, DbError> {
    #[derive(Deserialize)]
    struct Row {
        used: i64,
    }
    let row: Option<Row> =
        db.query_one(Statement::new("SELECT COALESCE(SUM(size_bytes), 0) AS used FROM uploads WHERE user_id = ?").bind(user_id)).await?;
    Ok(Usage { used_bytes: row.map_or(0, |r| r.used), quota_bytes })
}

/// How many of `ids` are ready uploads of this user (to check a brand's references).
pub async fn count_owned(db: &impl Db, user_id: &str, ids: &[&str]) -> Result<usize, DbError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let placeholders = vec!["?"; ids.len()].join(", ");
    let mut statement = Statement::new(format!(
        "SELECT id FROM uploads WHERE user_id = ? AND status = 'ready' AND id IN ({placeholders})"
    ))
    .bind(user_id);
    for id in ids {
        statement = statement.bind(*id);
    }
    Ok(db.run(statement).await?.rows.len())
}

#[derive(Debug, Clone, Deserialize)]
pub struct Doomed {
    pub id: String,
    pub r2_key: String,
}

/// C3: ready uploads older than `cutoff` that no brand or generation refers to.
pub async fn unreferenced_before(db: &impl Db, cutoff_ms: i64, limit: i64) -> Result<Vec<Doomed>, DbError> {
    db.query(
        Statement::new(
            "SELECT id, r2_key FROM uploads u WHERE status = 'ready' AND created_at < ? \
             AND NOT EXISTS (SELECT 1 FROM brands b WHERE b.logo_upload_id = u.id) \
             AND NOT EXISTS (SELECT 1 FROM brand_references r WHERE r.upload_id = u.id) \
             AND NOT EXISTS (SELECT 1 FROM generation_jobs j WHERE j.output_upload_id = u.id) \
             ORDER BY created_at LIMIT ?",
        )
        .bind(cutoff_ms)
        .bind(limit),
    )
    .await
}

/// Rows whose write or delete was interrupted: `pending` past its TTL, or `deleting`.
pub async fn interrupted(db: &impl Db, now_ms: i64, limit: i64) -> Result<Vec<Doomed>, DbError> {
    db.query(
        Statement::new(
            "SELECT id, r2_key FROM uploads WHERE (status = 'pending' AND created_at < ?) \
             OR (status = 'deleting' AND deleting_since < ?) ORDER BY created_at LIMIT ?",
        )
        .bind(now_ms - PENDING_TTL_MS)
        .bind(now_ms - crate::platform::clock::MINUTE_MS)
        .bind(limit),
    )
    .await
}

/// A write whose object put failed: the put may still have happened (an ambiguous
/// failure), so the row is not deleted but marked `deleting`; the sweeper removes the
/// object if there is one, then the row. So no object is ever left without a row.
pub fn abandon(id: &str, now_ms: i64) -> Statement {
    Statement::new("UPDATE uploads SET status = 'deleting', deleting_since = ? WHERE id = ?").bind(now_ms).bind(id)
}

/// C1: stores an image as the user's upload, validated as every upload is: not empty,
/// within `max_bytes`, a PNG, JPEG, WebP or GIF by its bytes with a readable size, and
/// within the quota (checked inside the INSERT). Row first, then the object, then ready.
pub async fn store_image(
    db: &impl Db,
    blobs: &impl crate::platform::ports::Blobs,
    user_id: &str,
    bytes: Vec<u8>,
    filename: Option<&str>,
    limits: (i64, i64),
    now_ms: i64,
) -> Result<Upload, crate::http::problem::AppError> {
    use crate::http::problem::AppError;
    use crate::library::images;
    let (max_bytes, quota_bytes) = limits;
    if bytes.is_empty() {
        return Err(AppError::validation("file", "The file is empty."));
    }
    if bytes.len() as i64 > max_bytes {
        return Err(AppError::PayloadTooLarge { limit_bytes: max_bytes as usize });
    }
    let kind = images::sniff(&bytes).ok_or(AppError::UnsupportedMediaType { expected: "a PNG, JPEG, WebP or GIF image (the file's contents decide, not its name)" })?;
    let (width, height) = images::dimensions(kind, &bytes).ok_or_else(|| AppError::validation("file", "The image is damaged: its size cannot be read."))?;
    let id = crate::platform::ids::new_id("upl");
    let filename = clean_filename(filename, kind.extension());
    let new = NewUpload {
        id: &id,
        user_id,
        filename: &filename,
        content_type: kind.mime(),
        size_bytes: bytes.len() as i64,
        width: Some(width.into()),
        height: Some(height.into()),
    };
    if db.run(insert_pending(&new, quota_bytes, now_ms)).await?.changes == 0 {
        let usage = usage(db, user_id, quota_bytes).await?;
        return Err(AppError::QuotaExceeded { used_bytes: usage.used_bytes, quota_bytes: usage.quota_bytes, file_bytes: new.size_bytes });
    }
    if let Err(e) = blobs.put(&r2_key(user_id, &id), bytes, kind.mime()).await {
        db.run(delete_row(&id)).await?;
        return Err(e.into());
    }
    db.run(mark_ready(&id)).await?;
    find_ready(db, user_id, &id).await?.ok_or_else(|| AppError::internal("upload vanished"))
}

/// Removes one upload object-first, row-last: marks it `deleting` and detaches it from
/// brands and from the generation that made it (in one batch), deletes the object, then
/// the row. `Ok(false)` when the object could not be deleted yet (the sweeper retries).
async fn remove_one(db: &impl Db, blobs: &impl crate::platform::ports::Blobs, d: &Doomed, now_ms: i64) -> Result<bool, DbError> {
    let mut batch = vec![Statement::new("UPDATE uploads SET status = 'deleting', deleting_since = COALESCE(deleting_since, ?) WHERE id = ?")
        .bind(now_ms)
        .bind(&d.id)];
    batch.extend(detach_everywhere(&d.id, now_ms));
    db.batch(batch).await?;
    if blobs.delete(&d.r2_key).await.is_err() {
        return Ok(false);
    }
    db.run(delete_row(&d.id)).await?;
    Ok(true)
}

/// Removes uploads for a user's request: stops at the first database error, which the
/// request reports. Returns how many were removed completely.
pub async fn remove(db: &impl Db, blobs: &impl crate::platform::ports::Blobs, doomed: &[Doomed], now_ms: i64) -> Result<u64, DbError> {
    let mut removed = 0;
    for d in doomed {
        removed += u64::from(remove_one(db, blobs, d, now_ms).await?);
    }
    Ok(removed)
}

/// What a sweep of uploads did; an item that failed never stops the others.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    pub removed: u64,
    pub failed: u64,
}

/// Removes each upload on its own (for the sweeper and the retention job): a failure is
/// logged and counted, and the next item proceeds.
pub async fn remove_each(db: &impl Db, blobs: &impl crate::platform::ports::Blobs, doomed: &[Doomed], now_ms: i64) -> Removal {
    let mut report = Removal::default();
    for d in doomed {
        match remove_one(db, blobs, d, now_ms).await {
            Ok(true) => report.removed += 1,
            Ok(false) => report.failed += 1,
            Err(e) => {
                report.failed += 1;
                crate::platform::log::emit(
                    crate::platform::log::Level::Error,
                    "removing an upload failed",
                    serde_json::json!({ "upload_id": d.id, "error": e.to_string() }),
                );
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::db::{SqlValue, StatementResult};
    use crate::platform::ports::{Blob, Blobs, PortError};

    /// The `Db` port on an in-memory SQLite with the real migrations and foreign keys on,
    /// as D1 has them.
    struct Sqlite(rusqlite::Connection);

    impl Sqlite {
        fn migrated() -> Sqlite {
            let c = rusqlite::Connection::open_in_memory().unwrap();
            c.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
            for sql in [
                include_str!("../../migrations/0001_foundation.sql"),
                include_str!("../../migrations/0002_accounts.sql"),
                include_str!("../../migrations/0003_brands_uploads.sql"),
                include_str!("../../migrations/0004_generation_credits.sql"),
                include_str!("../../migrations/0005_favourites.sql"),
                include_str!("../../migrations/0011_image_palette_check.sql"),
            ] {
                c.execute_batch(sql).unwrap();
            }
            Sqlite(c)
        }

        fn exec(&self, s: &Statement) -> Result<StatementResult, DbError> {
            let err = |e: rusqlite::Error| DbError::classify(&e.to_string(), None);
            let mut stmt = self.0.prepare(&s.sql).map_err(err)?;
            let params: Vec<rusqlite::types::Value> = s
                .params
                .iter()
                .map(|p| match p {
                    SqlValue::Null => rusqlite::types::Value::Null,
                    SqlValue::Int(i) => rusqlite::types::Value::Integer(*i),
                    SqlValue::Real(f) => rusqlite::types::Value::Real(*f),
                    SqlValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
                })
                .collect();
            let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
            let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                let mut map = serde_json::Map::new();
                for (i, name) in names.iter().enumerate() {
                    let v = match row.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Null => serde_json::Value::Null,
                        rusqlite::types::ValueRef::Integer(n) => n.into(),
                        rusqlite::types::ValueRef::Real(f) => f.into(),
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
                        rusqlite::types::ValueRef::Blob(_) => serde_json::Value::Null,
                    };
                    map.insert(name.clone(), v);
                }
                out.push(map);
            }
            drop(rows);
            Ok(StatementResult { rows: out, changes: self.0.changes() })
        }
    }

    impl Db for Sqlite {
        async fn run(&self, statement: Statement) -> Result<StatementResult, DbError> {
            self.exec(&statement)
        }

        async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>, DbError> {
            self.0.execute_batch("BEGIN").unwrap();
            let results: Result<Vec<_>, _> = statements.iter().map(|s| self.exec(s)).collect();
            self.0.execute_batch(if results.is_ok() { "COMMIT" } else { "ROLLBACK" }).unwrap();
            results
        }
    }

    struct NoBlobs;

    impl Blobs for NoBlobs {
        async fn put(&self, _: &str, _: Vec<u8>, _: &str) -> Result<(), PortError> {
            Ok(())
        }
        async fn get(&self, _: &str) -> Result<Option<Blob>, PortError> {
            Ok(None)
        }
        async fn delete(&self, _: &str) -> Result<(), PortError> {
            Ok(())
        }
        async fn create_multipart(&self, _: &str, _: &str) -> Result<String, PortError> {
            Err(PortError("not used".into()))
        }
        async fn upload_part(&self, _: &str, _: &str, _: u16, _: Vec<u8>) -> Result<crate::platform::ports::UploadedPart, PortError> {
            Err(PortError("not used".into()))
        }
        async fn complete_multipart(&self, _: &str, _: &str, _: Vec<crate::platform::ports::UploadedPart>) -> Result<(), PortError> {
            Err(PortError("not used".into()))
        }
        async fn abort_multipart(&self, _: &str, _: &str) -> Result<(), PortError> {
            Ok(())
        }
    }

    /// The futures here never wait (SQLite is synchronous): one poll finishes them.
    fn ready<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("a test future waited"),
        }
    }

    /// Deleting a generated image (`DELETE /api/uploads/{id}`) used to fail on the job's
    /// foreign key after the object was gone, leaving the row `deleting` for ever.
    #[test]
    fn removing_a_generated_image_detaches_it_from_its_generation() {
        let db = Sqlite::migrated();
        let now = 1_000;
        let upload = NewUpload { id: "upl_1", user_id: "usr_1", filename: "gen_1.png", content_type: "image/png", size_bytes: 10, width: Some(1), height: Some(1) };
        let brand = crate::library::brands::BrandFields { name: "B".into(), ..crate::library::brands::BrandFields::empty() };
        let job = crate::generation::jobs::NewJob {
            id: "gen_1", user_id: "usr_1", brand_id: "brd_1", brand_snapshot: "{}", content_type: "image_square",
            prompt: "p", price: 4, idempotency_key: None, request_hash: "h",
        };
        let mut setup = vec![crate::accounts::queries::insert_user("usr_1", "A", "a@example.com", "x", now), insert_pending(&upload, 1_000_000, now), mark_ready("upl_1")];
        setup.extend(crate::library::brands::write_brand("usr_1", "brd_1", &brand, None, now, now, crate::library::brands::Write::Insert));
        setup.push(crate::generation::jobs::insert(&job, now));
        setup.push(Statement::new("UPDATE generation_jobs SET status = 'succeeded', output_upload_id = 'upl_1' WHERE id = 'gen_1'"));
        ready(db.batch(setup)).unwrap();

        let removed = ready(remove(&db, &NoBlobs, &[Doomed { id: "upl_1".into(), r2_key: r2_key("usr_1", "upl_1") }], now)).unwrap();
        assert_eq!(removed, 1);
        assert!(ready(db.run(Statement::new("SELECT id FROM uploads"))).unwrap().rows.is_empty());
        let job = ready(crate::generation::jobs::find(&db, "usr_1", "gen_1")).unwrap().unwrap();
        assert_eq!(job.output_upload_id, None);
    }

    #[test]
    fn keys_are_made_by_the_server() {
        assert_eq!(r2_key("usr_1", "upl_2"), "u/usr_1/upl_2");
    }

    #[test]
    fn file_names_lose_paths_quotes_and_their_claimed_extension() {
        assert_eq!(clean_filename(Some("../../etc/passwd.png"), "png"), "passwd.png");
        assert_eq!(clean_filename(Some("logo \"final\".html"), "png"), "logo final.png");
        assert_eq!(clean_filename(Some("C:\\x\\brand.JPG"), "jpg"), "brand.jpg");
        assert_eq!(clean_filename(None, "gif"), "image.gif");
        assert_eq!(clean_filename(Some("<>"), "gif"), "image.gif");
    }

    #[test]
    fn content_disposition_has_an_ascii_and_a_utf8_name() {
        assert_eq!(content_disposition("logo.png"), "inline; filename=\"logo.png\"; filename*=UTF-8''logo.png");
        let d = content_disposition("café logo.png");
        assert!(d.contains("filename=\"caf_ logo.png\""));
        assert!(d.contains("filename*=UTF-8''caf%C3%A9%20logo.png"));
    }
}
