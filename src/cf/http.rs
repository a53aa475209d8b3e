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

/// Reads the body chunk by chunk and stops as soon as it passes `limit` bytes, so a
/// body without `Content-Length` (chunked) is never buffered whole: `too_large` then.
pub async fn read_body(req: &mut Request, limit: usize, too_large: AppError) -> Result<Vec<u8>, AppError> {
    use futures_util::StreamExt;
    let unreadable = |e: worker::Error| AppError::MalformedJson { detail: format!("The body could not be read: {e}") };
    let mut body = Vec::new();
    let Ok(mut stream) = req.stream() else { return Ok(body) }; // no body at all
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unreadable)?;
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `?cursor=` and `?limit=` (1–100) of a list request, plus the other query pairs.
pub struct PageQuery {
    pub page: pagination::Page,
    pub rest: Vec<(String, String)>,
}

impl PageQuery {
    pub fn of(req: &Request, default_limit: i64) -> Result<PageQuery, AppError> {
        let url = req.url().map_err(AppError::internal)?;
        let mut cursor = None;
        let mut limit = None;
        let mut rest = Vec::new();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                // An empty value is the same as none, as for every other parameter.
                "cursor" | "limit" if v.is_empty() => {}
                "cursor" => cursor = Some(v.into_owned()),
                "limit" => limit = Some(v.into_owned()),
                _ => rest.push((k.into_owned(), v.into_owned())),
            }
        }
        let page = pagination::Page::parse(cursor.as_deref(), limit.as_deref(), default_limit)?;
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
