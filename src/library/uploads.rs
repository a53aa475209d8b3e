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

/// Inserts the `pending` row only if the user's stored bytes plus this file stay within
/// the quota; 0 rows changed means the quota would be exceeded.
pub fn insert_pending(u: &NewUpload, quota_bytes: i64, now_ms: i64) -> Statement {
    Statement::new(
        "INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, width, height, status, created_at) \
         SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ? \
         WHERE (SELECT COALESCE(SUM(size_bytes), 0) FROM uploads WHERE user_id = ?) + ? <= ?",
    )
    .bind(u.id)
    .bind(u.user_id)
    .bind(r2_key(u.user_id, u.id))
    .bind(u.filename)
    .bind(u.content_type)
    .bind(u.size_bytes)
    .bind(u.width)
    .bind(u.height)
    .bind(now_ms)
    .bind(u.user_id)
    .bind(u.size_bytes)
    .bind(quota_bytes)
}

/// A generated image's row: no quota check (the user paid for it with credits).
pub fn insert_generated(u: &NewUpload, now_ms: i64) -> Statement {
    Statement::new(
        "INSERT INTO uploads (id, user_id, r2_key, filename, content_type, size_bytes, width, height, status, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
    )
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

pub fn mark_ready(id: &str) -> Statement {
    Statement::new("UPDATE uploads SET status = 'ready' WHERE id = ? AND status = 'pending'").bind(id)
}

/// Detaches an upload from every brand that uses it (as logo or reference).
pub fn detach_from_brands(id: &str, now_ms: i64) -> Vec<Statement> {
    vec![
        Statement::new("UPDATE brands SET logo_upload_id = NULL, updated_at = ? WHERE logo_upload_id = ?").bind(now_ms).bind(id),
        Statement::new("DELETE FROM brand_references WHERE upload_id = ?").bind(id),
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

/// Removes one upload object-first, row-last: marks it `deleting` and detaches it from
/// brands and from the generation that made it (in one batch), deletes the object, then
/// the row. `Ok(false)` when the object could not be deleted yet (the sweeper retries).
async fn remove_one(db: &impl Db, blobs: &impl crate::platform::ports::Blobs, d: &Doomed, now_ms: i64) -> Result<bool, DbError> {
    let mut batch = vec![Statement::new("UPDATE uploads SET status = 'deleting', deleting_since = COALESCE(deleting_since, ?) WHERE id = ?")
        .bind(now_ms)
        .bind(&d.id)];
    batch.extend(detach_from_brands(&d.id, now_ms));
    batch.push(Statement::new("UPDATE generation_jobs SET output_upload_id = NULL WHERE output_upload_id = ?").bind(&d.id));
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
