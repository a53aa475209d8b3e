//! The export's ZIP, streamed into an R2 multipart upload so the archive is never held
//! whole: the `zip` crate writes (in streaming mode, with data descriptors) into a spool,
//! and every time the spool holds a full part it goes to R2. At any moment the worker
//! holds at most one part plus one chunk of input (`max_buffered` measures it), plus
//! the one file being copied.
//!
//! Images are STORED (they are compressed already); JSON is deflated.

use crate::platform::ports::{Blobs, PortError, UploadedPart, MIN_PART_BYTES};
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

/// Every part but the last has exactly this size (R2: ≥ 5 MiB, all but the last equal).
pub const PART_BYTES: usize = MIN_PART_BYTES;
/// Input is fed to the ZIP writer in slices of this size, so the spool never holds
/// more than a part plus one slice (plus what the deflater flushes at once).
pub const CHUNK_BYTES: usize = 256 * 1024;

#[derive(Debug)]
pub enum ArchiveError {
    Storage(PortError),
    Zip(String),
}

impl std::fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveError::Storage(e) => write!(f, "storage: {e}"),
            ArchiveError::Zip(e) => write!(f, "zip: {e}"),
        }
    }
}

impl From<PortError> for ArchiveError {
    fn from(e: PortError) -> Self {
        ArchiveError::Storage(e)
    }
}

fn zip_error(e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Zip(e.to_string())
}

#[derive(Default)]
struct SpoolState {
    buf: Vec<u8>,
    max_buffered: usize,
    total: u64,
}

/// What the ZIP writer writes into; shared with the uploader, which drains it.
#[derive(Clone, Default)]
struct Spool(Rc<RefCell<SpoolState>>);

impl Write for Spool {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut s = self.0.borrow_mut();
        s.buf.extend_from_slice(bytes);
        s.total += bytes.len() as u64;
        s.max_buffered = s.max_buffered.max(s.buf.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
thread_local! {
    static LAST_MAX_BUFFERED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Tests: the spool's high-water mark of the last archive finished on this thread.
#[cfg(test)]
pub fn last_max_buffered() -> usize {
    LAST_MAX_BUFFERED.with(|m| m.get())
}

/// What a finished archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub size_bytes: u64,
    pub parts: usize,
    /// The most bytes the spool held at once.
    pub max_buffered: usize,
}

/// A ZIP being written to `key` through the multipart upload `upload_id`.
pub struct ArchiveUpload<'b, B: Blobs> {
    blobs: &'b B,
    key: String,
    upload_id: String,
    zip: ZipWriter<StreamWriter<Spool>>,
    spool: Spool,
    parts: Vec<UploadedPart>,
    modified: zip::DateTime,
}

impl<'b, B: Blobs> ArchiveUpload<'b, B> {
    /// Starts the multipart upload. The caller records `upload_id()` so that an attempt
    /// that dies can be aborted by the next one.
    pub async fn begin(blobs: &'b B, key: &str, now_ms: i64) -> Result<Self, ArchiveError> {
        let upload_id = blobs.create_multipart(key, "application/zip").await?;
        let spool = Spool::default();
        let (y, mo, d, h, mi, s) = civil_from_ms(now_ms);
        let modified = zip::DateTime::from_date_and_time(y.clamp(1980, 2107) as u16, mo, d, h, mi, s).unwrap_or_default();
        Ok(ArchiveUpload {
            blobs,
            key: key.to_owned(),
            upload_id,
            zip: ZipWriter::new_stream(spool.clone()),
            spool,
            parts: Vec::new(),
            modified,
        })
    }

    pub fn upload_id(&self) -> &str {
        &self.upload_id
    }

    /// Starts the next file of the archive; `compress` deflates it (JSON), otherwise it
    /// is stored as it is (images).
    pub fn start_file(&mut self, path: &str, compress: bool) -> Result<(), ArchiveError> {
        let method = if compress { CompressionMethod::Deflated } else { CompressionMethod::Stored };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(self.modified)
            .unix_permissions(0o644)
            .large_file(true);
        self.zip.start_file(path, options).map_err(zip_error)
    }

    /// Appends to the current file, shipping every full part as soon as there is one.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        for chunk in bytes.chunks(CHUNK_BYTES) {
            self.zip.write_all(chunk).map_err(zip_error)?;
            self.ship_full_parts().await?;
        }
        Ok(())
    }

    async fn ship_full_parts(&mut self) -> Result<(), ArchiveError> {
        loop {
            let part = {
                let mut s = self.spool.0.borrow_mut();
                if s.buf.len() < PART_BYTES {
                    return Ok(());
                }
                let rest = s.buf.split_off(PART_BYTES);
                std::mem::replace(&mut s.buf, rest)
            };
            self.ship(part).await?;
        }
    }

    async fn ship(&mut self, part: Vec<u8>) -> Result<(), ArchiveError> {
        let number = u16::try_from(self.parts.len() + 1).map_err(|_| ArchiveError::Zip("more than 65535 parts".into()))?;
        let uploaded = self.blobs.upload_part(&self.key, &self.upload_id, number, part).await?;
        self.parts.push(uploaded);
        Ok(())
    }

    /// Writes the central directory, ships the rest as the last part and completes the
    /// upload: the object appears at `key` only now.
    pub async fn finish(mut self) -> Result<Finished, ArchiveError> {
        let zip = std::mem::replace(&mut self.zip, ZipWriter::new_stream(Spool::default()));
        zip.finish().map_err(zip_error)?;
        self.ship_full_parts().await?;
        let rest = std::mem::take(&mut self.spool.0.borrow_mut().buf);
        if !rest.is_empty() || self.parts.is_empty() {
            self.ship(rest).await?;
        }
        let parts = std::mem::take(&mut self.parts);
        let count = parts.len();
        self.blobs.complete_multipart(&self.key, &self.upload_id, parts).await?;
        let s = self.spool.0.borrow();
        #[cfg(test)]
        LAST_MAX_BUFFERED.with(|m| m.set(s.max_buffered));
        Ok(Finished { size_bytes: s.total, parts: count, max_buffered: s.max_buffered })
    }

    /// Discards the parts uploaded so far.
    pub async fn abort(self) -> Result<(), PortError> {
        self.blobs.abort_multipart(&self.key, &self.upload_id).await
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Epoch milliseconds to UTC (year, month, day, hour, minute, second).
pub fn civil_from_ms(ms: i64) -> (i64, u8, u8, u8, u8, u8) {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (y, m, d, (sod / 3600) as u8, (sod / 60 % 60) as u8, (sod % 60) as u8)
}

/// Epoch milliseconds as RFC 3339 UTC, e.g. `2026-04-02T10:00:00Z`.
pub fn rfc3339(ms: i64) -> String {
    let (y, mo, d, h, mi, s) = civil_from_ms(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{block_on, MemoryBlobs};
    use std::io::Read;

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_775_124_000_000), "2026-04-02T10:00:00Z");
        assert_eq!(rfc3339(-1000), "1969-12-31T23:59:59Z");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
            let y = if m <= 2 { y - 1 } else { y };
            let era = y.div_euclid(400);
            let yoe = y - era * 400;
            let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
            era * 146_097 + doe - 719_468
        }

        proptest! {
            #![proptest_config(crate::proptest_text::config())]
            #[test]
            fn civil_dates_round_trip_and_stay_in_range(ms in -10_000_000_000_000i64..10_000_000_000_000i64) {
                let (y, m, d, h, mi, s) = civil_from_ms(ms);
                prop_assert!((1..=12).contains(&m) && (1..=31).contains(&d) && h < 24 && mi < 60 && s < 60);
                let secs = days_from_civil(y, m.into(), d.into()) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
                prop_assert_eq!(secs, ms.div_euclid(1000));
                prop_assert_eq!(rfc3339(ms).len(), if (0..=9999).contains(&y) { 20 } else { rfc3339(ms).len() });
            }
        }
    }

    /// Reads a finished archive back with the `zip` crate's reader.
    pub fn read_back(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
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

    #[test]
    fn a_small_archive_is_one_part_and_reads_back() {
        let blobs = MemoryBlobs::default();
        let finished = block_on(async {
            let mut a = ArchiveUpload::begin(&blobs, "k.zip", 1_775_124_000_000).await.unwrap();
            a.start_file("a.json", true).unwrap();
            a.write(b"{\n  \"x\": 1\n}\n").await.unwrap();
            a.start_file("files/b.png", false).unwrap();
            a.write(&[7u8; 1000]).await.unwrap();
            a.finish().await.unwrap()
        });
        assert_eq!(finished.parts, 1);
        assert_eq!(blobs.open_multiparts(), 0);
        let object = blobs.objects.borrow().get("k.zip").cloned().unwrap();
        assert_eq!(object.content_type, "application/zip");
        assert_eq!(object.bytes.len() as u64, finished.size_bytes);
        let files = read_back(&object.bytes);
        assert_eq!(files[0], ("a.json".to_string(), b"{\n  \"x\": 1\n}\n".to_vec()));
        assert_eq!(files[1], ("files/b.png".to_string(), vec![7u8; 1000]));
    }

    #[test]
    fn parts_are_full_sized_but_the_last_and_the_spool_stays_bounded() {
        let blobs = MemoryBlobs::default();
        // 23 MiB of incompressible-looking bytes, in files of 3 MiB: parts cross files.
        let file: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let finished = block_on(async {
            let mut a = ArchiveUpload::begin(&blobs, "big.zip", 0).await.unwrap();
            for n in 0..8 {
                a.start_file(&format!("files/{n}.png"), false).unwrap();
                a.write(&file).await.unwrap();
            }
            a.finish().await.unwrap()
        });
        assert!(finished.parts >= 5, "{finished:?}");
        assert!(finished.max_buffered <= PART_BYTES + CHUNK_BYTES + 4096, "{finished:?}");
        let object = blobs.objects.borrow().get("big.zip").cloned().unwrap();
        let files = read_back(&object.bytes);
        assert_eq!(files.len(), 8);
        assert!(files.iter().all(|(_, b)| *b == file));
    }

    #[test]
    fn an_aborted_archive_leaves_no_parts_and_no_object() {
        let blobs = MemoryBlobs::default();
        block_on(async {
            let mut a = ArchiveUpload::begin(&blobs, "x.zip", 0).await.unwrap();
            a.start_file("files/a.png", false).unwrap();
            a.write(&vec![1u8; PART_BYTES + 10]).await.unwrap();
            assert_eq!(blobs.open_multiparts(), 1);
            a.abort().await.unwrap();
        });
        assert_eq!(blobs.open_multiparts(), 0);
        assert!(blobs.keys().is_empty());
    }
}
