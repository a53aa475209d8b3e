//! HTTP helpers every handler shares: JSON answers, strict JSON bodies read under the
//! size limit, the pagination query, cookies. A leaf module: it imports no handler.

use crate::http::json_body;
use crate::http::pagination::{self, Cursor};
use crate::http::problem::AppError;
use crate::platform::config::Config;
use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Request, Response};

pub type Handled = Result<Response, AppError>;

pub fn json(status: u16, value: &impl Serialize) -> Handled {
    Ok(Response::from_json(value).map_err(AppError::internal)?.with_status(status))
}

pub fn no_content() -> Handled {
    Ok(Response::empty().map_err(AppError::internal)?.with_status(204))
}

pub fn with_header(mut response: Response, name: &str, value: &str) -> Handled {
    response.headers_mut().append(name, value).map_err(AppError::internal)?;
    Ok(response)
}

/// Reads a JSON body under the configured limit and strict schema.
pub async fn read_json<T: DeserializeOwned>(req: &mut Request, config: &Config) -> Result<T, AppError> {
    let limit = config.max_json_body_bytes;
    let headers = req.headers();
    json_body::check_content_type(headers.get("Content-Type").ok().flatten().as_deref())?;
    json_body::check_declared_length(headers.get("Content-Length").ok().flatten().as_deref(), limit)?;
    let bytes = read_body(req, limit, AppError::PayloadTooLarge { limit_bytes: limit }).await?;
    json_body::parse(&bytes, limit)
}

/// How much of an oversized body is read and thrown away so the client (and the
/// connection it came on) gets the 413 cleanly; beyond this the stream is cancelled.
const DISCARD_AT_MOST: usize = 8 * 1024 * 1024;

/// Reads the body chunk by chunk and stops keeping it as soon as it passes `limit`
/// bytes, so a body without `Content-Length` (chunked) is never buffered whole:
/// `too_large` then. The rest is read and discarded (up to `DISCARD_AT_MOST`, then the
/// stream is cancelled): answering with a request body half read wedges the connection
/// in local `wrangler dev` (docs/PLATFORM.md).
pub async fn read_body(req: &mut Request, limit: usize, too_large: AppError) -> Result<Vec<u8>, AppError> {
    use wasm_bindgen::JsCast;
    let unreadable = |_| AppError::MalformedJson { detail: "The body could not be read.".into() };
    let mut body = Vec::new();
    let Some(stream) = req.inner().body() else { return Ok(body) }; // no body at all
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    loop {
        let result = wasm_bindgen_futures::JsFuture::from(reader.read()).await.map_err(unreadable)?;
        let done = js_sys::Reflect::get(&result, &"done".into()).map_err(unreadable)?.as_bool().unwrap_or(true);
        if done {
            return Ok(body);
        }
        let chunk = js_sys::Uint8Array::new(&js_sys::Reflect::get(&result, &"value".into()).map_err(unreadable)?);
        if body.len() + chunk.length() as usize > limit {
            discard_rest(&reader, body.len() + chunk.length() as usize).await;
            return Err(too_large);
        }
        let start = body.len();
        body.resize(start + chunk.length() as usize, 0);
        chunk.copy_to(&mut body[start..]); // straight into the body, no intermediate Vec
    }
}

async fn discard_rest(reader: &web_sys::ReadableStreamDefaultReader, mut seen: usize) {
    while seen <= DISCARD_AT_MOST {
        let Ok(result) = wasm_bindgen_futures::JsFuture::from(reader.read()).await else { return };
        if js_sys::Reflect::get(&result, &"done".into()).ok().and_then(|d| d.as_bool()).unwrap_or(true) {
            return;
        }
        let value = js_sys::Reflect::get(&result, &"value".into()).unwrap_or_default();
        seen += js_sys::Uint8Array::new(&value).length() as usize;
    }
    let _ = wasm_bindgen_futures::JsFuture::from(reader.cancel()).await;
}

/// `?cursor=` and `?limit=` (1–100) of a list request, plus the other query pairs.
pub struct PageQuery {
    pub page: pagination::Page,
    pub rest: Vec<(String, String)>,
}

impl PageQuery {
    pub fn of(req: &Request, default_limit: i64) -> Result<PageQuery, AppError> {
        let url = req.url().map_err(AppError::internal)?;
        let pairs = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned()));
        let (page, rest) = pagination::split_query(pairs, default_limit)?;
        Ok(PageQuery { page, rest })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.rest.iter().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// A boolean filter: absent or `false` is false, `true` is true, anything else 422.
    pub fn flag(&self, key: &str) -> Result<bool, AppError> {
        match self.get(key) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(AppError::validation(key, "Use true or false.")),
        }
    }

    /// `{"items": views, "next_cursor": …}` for a page of items keyed by `(created_at, id)`.
    pub fn answer<T>(&self, items: &[T], key: impl Fn(&T) -> Cursor<'_>, views: impl Serialize) -> Handled {
        let next = self.page.next_cursor(items, key);
        json(200, &serde_json::json!({ "items": views, "next_cursor": next }))
    }
}
