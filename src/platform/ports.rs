//! Ports to the platform besides SQL (which is `db::Db`): files and queues.
//! Cloudflare implements them in `cf`; the pure core only sees these traits.

use crate::platform::queue_messages::{QueueMessage, QueueName};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortError(pub String);

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<PortError> for crate::http::problem::AppError {
    fn from(e: PortError) -> Self {
        crate::http::problem::AppError::internal(e)
    }
}

/// A stored file and the type it was stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// One uploaded part of a multipart upload, as `complete_multipart` needs it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub part_number: u16,
    pub etag: String,
}

/// R2's rule for multipart uploads: every part but the last is at least 5 MiB (and all
/// but the last the same size).
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// Object storage (R2). Keys are made by the server, never taken from users.
#[allow(async_fn_in_trait)]
pub trait Blobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;

    /// Multipart upload (F1 exports): an object too large to hold in memory is written
    /// part by part (numbered from 1) and appears at `key` only on `complete_multipart`.
    /// `abort_multipart` discards the parts; R2 also drops unfinished uploads after 7 days.
    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, PortError>;
    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u16, bytes: Vec<u8>) -> Result<UploadedPart, PortError>;
    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<UploadedPart>) -> Result<(), PortError>;
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), PortError>;
}

/// Work queues (Cloudflare Queues).
#[allow(async_fn_in_trait)]
pub trait Jobs {
    async fn send(&self, queue: QueueName, message: &QueueMessage) -> Result<(), PortError>;
}

impl<T: Blobs> Blobs for &T {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        (**self).put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError> {
        (**self).get(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        (**self).delete(key).await
    }
    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, PortError> {
        (**self).create_multipart(key, content_type).await
    }
    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u16, bytes: Vec<u8>) -> Result<UploadedPart, PortError> {
        (**self).upload_part(key, upload_id, part_number, bytes).await
    }
    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<UploadedPart>) -> Result<(), PortError> {
        (**self).complete_multipart(key, upload_id, parts).await
    }
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), PortError> {
        (**self).abort_multipart(key, upload_id).await
    }
}

/// One response of a plain GET to another site (B5): redirects are not followed (the
/// caller checks each `Location` first), and no credentials or cookies are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebError {
    /// The body was longer than the limit (reading stopped there).
    TooLarge,
    TimedOut,
    /// DNS, connection, TLS, or a refused request.
    Failed(String),
}

/// What a streaming HTML parser reports for the elements and text the import reads:
/// the start of an element with the attributes of `HTML_ATTRIBUTES`, and text inside
/// one of `HTML_TEXT_TAGS` (attribute values and text as the parser hands them over,
/// entities not yet decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HtmlEvent {
    Element { tag: String, attrs: Vec<(String, String)> },
    Text { tag: String, text: String },
}

/// Elements whose start is reported.
pub const HTML_ELEMENTS: &str = "meta, link, title, h1, h2, p, style";
/// Elements whose text is reported (each also in `HTML_ELEMENTS`).
pub const HTML_TEXT_TAGS: [&str; 5] = ["title", "h1", "h2", "p", "style"];
pub const HTML_ATTRIBUTES: [&str; 8] = ["name", "property", "content", "rel", "href", "sizes", "type", "media"];
/// Parsing stops reporting after this many events (a page is at most its size limit).
pub const MAX_HTML_EVENTS: usize = 20_000;

/// Other websites: fetching (Workers `fetch`) and parsing HTML (the runtime's HTMLRewriter,
/// whose engine is lol_html).
#[allow(async_fn_in_trait)]
pub trait Web {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<WebResponse, WebError>;
    async fn scan_html(&self, html: &[u8]) -> Result<Vec<HtmlEvent>, PortError>;
}
