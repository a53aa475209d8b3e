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
///
/// Syntax is checked first, on its own, so that only invalid JSON is a 400: serde reads
/// a struct from an array too, and reported `["", null]` for a one-field struct as
/// "trailing characters", a syntax error. Every body is an object, so a valid document
/// of any other kind is refused as a 422.
pub fn parse<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, AppError> {
    if bytes.len() > limit {
        return Err(AppError::PayloadTooLarge { limit_bytes: limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AppError::MalformedJson { detail: "The request body is empty; send a JSON object.".into() });
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| AppError::MalformedJson {
        detail: format!("The body is not valid JSON (line {}, column {}).", e.line(), e.column()),
    })?;
    if !value.is_object() {
        return Err(AppError::InvalidBody { detail: "The body must be a JSON object.".into() });
    }
    // No text anywhere may hold U+0000: PostgreSQL's text cannot store it (a Neon
    // deployment would fail the query with a 500 where D1 stores it), and no field needs it.
    if holds_nul(&value) {
        return Err(AppError::InvalidBody { detail: "Text may not contain the NUL character (U+0000).".into() });
    }
    serde_json::from_value(value).map_err(|e| AppError::InvalidBody { detail: data_error_detail(&e) })
}

fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
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

/// For an optional field that may be left out but not sent as `null`:
/// `#[serde(default, deserialize_with = "json_body::present")]`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_a_nul_character_is_refused_anywhere_in_the_body() {
        for body in [r#"{"brand_id":"x\u0000y"}"#, r#"{"a":{"b":["\u0000"]}}"#, r#"{"k\u0000":1}"#] {
            assert_eq!(parse::<serde_json::Value>(body.as_bytes(), 100).unwrap_err().status(), 422, "{body}");
        }
        // An escaped backslash followed by "u0000" is six ordinary characters.
        assert!(parse::<serde_json::Value>(br#"{"a":"\\u0000"}"#, 100).is_ok());
    }

    #[test]
    fn an_optional_field_may_be_left_out_but_not_sent_as_null() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Body {
            #[serde(default, deserialize_with = "present")]
            name: Option<String>,
        }
        assert_eq!(parse::<Body>(b"{}", 100).unwrap().name, None);
        assert_eq!(parse::<Body>(br#"{"name":"Ada"}"#, 100).unwrap().name.as_deref(), Some("Ada"));
        assert!(matches!(parse::<Body>(br#"{"name":null}"#, 100), Err(AppError::InvalidBody { .. })));
    }
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
    fn valid_json_that_is_not_an_object_is_422_not_400() {
        assert_eq!(parse::<Body>(b"[\"\", null]", 1024).unwrap_err().status(), 422);
        assert_eq!(parse::<Body>(b"[\"Ada\"]", 1024).unwrap_err().status(), 422);
        assert_eq!(parse::<Body>(b"\"Ada\"", 1024).unwrap_err().status(), 422);
    }

    #[test]
    fn bodies_over_the_limit_are_413_even_without_a_declared_length() {
        let big = vec![b' '; 2000];
        assert_eq!(parse::<Body>(&big, 1024).unwrap_err().status(), 413);
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{bytes, config, tricky_text};
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = serde_json::Value> {
            use serde_json::Value;
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                tricky_text(20).prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map(tricky_text(8), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_bytes_are_a_value_or_a_400_413_or_422(body in prop_oneof![bytes(200), tricky_text(100).prop_map(String::into_bytes)], limit in 0usize..300) {
                match parse::<Body>(&body, limit) {
                    Ok(_) => prop_assert!(body.len() <= limit),
                    Err(e) => {
                        let status = e.status();
                        prop_assert!(matches!(status, 400 | 413 | 422), "{}", status);
                        prop_assert_eq!(status == 413, body.len() > limit);
                    }
                }
            }

            #[test]
            fn every_json_object_without_nul_within_the_limit_parses_and_anything_else_is_422(value in json_value()) {
                let body = serde_json::to_vec(&value).unwrap();
                match parse::<serde_json::Value>(&body, body.len()) {
                    Ok(parsed) => { prop_assert!(value.is_object() && !holds_nul(&value)); prop_assert_eq!(parsed, value); }
                    Err(e) => { prop_assert!(!value.is_object() || holds_nul(&value)); prop_assert_eq!(e.status(), 422); }
                }
                prop_assert_eq!(parse::<serde_json::Value>(&body, body.len() - 1).unwrap_err().status(), 413);
            }

            #[test]
            fn a_body_of_the_wrong_shape_is_422_naming_no_position(value in json_value()) {
                let body = serde_json::to_vec(&value).unwrap();
                if let Err(e) = parse::<Body>(&body, body.len()) {
                    prop_assert_eq!(e.status(), 422);
                    let AppError::InvalidBody { detail } = e else { unreachable!() };
                    prop_assert!(!detail.ends_with(" at line 1 column 1."), "{}", detail);
                }
            }

            #[test]
            fn the_media_type_is_json_or_415(ct in proptest::option::of(prop_oneof![
                tricky_text(40),
                "(application|Application|APPLICATION|text)/(json|[a-z.-]{0,8}\\+json|jsonx)( ?;.{0,10})?",
            ])) {
                let essence = ct.as_deref().map(|c| c.split(';').next().unwrap().trim().to_ascii_lowercase());
                let json = essence.is_some_and(|e| e == "application/json" || (e.starts_with("application/") && e.ends_with("+json")));
                match check_content_type(ct.as_deref()) {
                    Ok(()) => prop_assert!(json),
                    Err(e) => { prop_assert!(!json); prop_assert_eq!(e.status(), 415); }
                }
            }

            #[test]
            fn a_declared_length_is_refused_only_when_over_the_limit(n in any::<u64>(), limit in any::<u32>(), junk in tricky_text(12)) {
                let limit = limit as usize;
                prop_assert_eq!(check_declared_length(Some(&n.to_string()), limit).is_err(), n > limit as u64);
                prop_assert_eq!(check_declared_length(Some(&format!(" {n} ")), limit).is_err(), n > limit as u64);
                let _ = check_declared_length(Some(&junk), limit);
            }
        }
    }
}
