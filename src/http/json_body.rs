//! Rules for JSON request bodies: media type, size limit, strict parsing.
//!
//! Handlers declare their body as a `#[serde(deny_unknown_fields)]` struct and get it
//! from here, so a typo in a field name is an error rather than silently ignored.

use crate::http::problem::AppError;
use serde::de::DeserializeOwned;

/// Accepts `application/json` and any `+json` type, with or without parameters.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), AppError> {
    let essence = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")) {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType { expected: "application/json" })
    }
}

/// Refuses early on a declared `Content-Length` over the limit, before reading.
pub fn check_declared_length(content_length: Option<&str>, limit: usize) -> Result<(), AppError> {
    match content_length.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(n) if n > limit as u64 => Err(AppError::PayloadTooLarge { limit_bytes: limit }),
        _ => Ok(()),
    }
}

/// Parses a body already read; the byte limit is checked again since a client may send
/// no `Content-Length` (chunked) or a false one.
pub fn parse<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, AppError> {
    if bytes.len() > limit {
        return Err(AppError::PayloadTooLarge { limit_bytes: limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::MalformedJson { detail: "The request body is empty; send a JSON object.".into() });
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => AppError::MalformedJson {
                detail: format!("The body is not valid JSON (line {}, column {}).", e.line(), e.column()),
            },
            Category::Data => AppError::InvalidBody { detail: data_error_detail(&e) },
        }
    })
}

/// serde's messages name fields and types plainly ("unknown field `x`, expected one of
/// …"); keep them but drop the position suffix, which means nothing to a user.
fn data_error_detail(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut out = String::from("The body does not match what this endpoint expects: ");
    out.push_str(text);
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
    }

    #[test]
    fn json_media_types_are_accepted_with_parameters() {
        assert!(check_content_type(Some("application/json")).is_ok());
        assert!(check_content_type(Some("Application/JSON; charset=utf-8")).is_ok());
        assert!(check_content_type(Some("application/merge-patch+json")).is_ok());
    }

    #[test]
    fn other_media_types_are_refused() {
        for ct in [None, Some("text/plain"), Some("multipart/form-data; boundary=x"), Some("application/jsonx")] {
            assert_eq!(check_content_type(ct).unwrap_err().status(), 415, "{ct:?}");
        }
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_before_reading() {
        assert_eq!(check_declared_length(Some("2048"), 1024).unwrap_err().status(), 413);
        assert!(check_declared_length(Some("1024"), 1024).is_ok());
        assert!(check_declared_length(None, 1024).is_ok());
    }

    #[test]
    fn syntax_errors_are_400_and_shape_errors_422() {
        assert_eq!(parse::<Body>(b"{\"name\":", 1024).unwrap_err().status(), 400);
        assert_eq!(parse::<Body>(b"", 1024).unwrap_err().status(), 400);
        let unknown = parse::<Body>(b"{\"name\":\"a\",\"nmae\":1}", 1024).unwrap_err();
        assert_eq!(unknown.status(), 422);
        assert!(unknown.to_string().contains("nmae"));
        assert_eq!(parse::<Body>(b"{\"name\":5}", 1024).unwrap_err().status(), 422);
    }

    #[test]
    fn bodies_over_the_limit_are_413_even_without_a_declared_length() {
        let big = vec![b' '; 2000];
        assert_eq!(parse::<Body>(&big, 1024).unwrap_err().status(), 413);
    }
}
