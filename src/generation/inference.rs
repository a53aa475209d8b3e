//! The inference port (D3, D5, D6): an OpenAI-compatible API for text, images and
//! moderation, and the parsing of its answers (pure, so malformed replies are tested).

use crate::generation::jobs::ProviderError;
use crate::generation::prompt::ChatMessage;
use base64::Engine;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextResult {
    pub text: String,
    pub model: String,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageResult {
    pub png: Vec<u8>,
    pub model: String,
}

#[allow(async_fn_in_trait)]
pub trait Inference {
    async fn chat(&self, messages: &[ChatMessage]) -> Result<TextResult, ProviderError>;
    async fn image(&self, prompt: &str, size: &str) -> Result<ImageResult, ProviderError>;
    async fn edit(&self, prompt: &str, size: &str, references: Vec<(Vec<u8>, String)>) -> Result<ImageResult, ProviderError>;
    /// `Some(categories)` when the input is flagged.
    async fn moderate(&self, input: &str) -> Result<Option<Vec<String>>, ProviderError>;
}

fn malformed(what: &str) -> ProviderError {
    ProviderError::Transient(format!("malformed {what} reply"))
}

pub fn parse_chat(body: &str, fallback_model: &str) -> Result<TextResult, ProviderError> {
    #[derive(Deserialize)]
    struct Usage {
        prompt_tokens: Option<i64>,
        completion_tokens: Option<i64>,
    }
    #[derive(Deserialize)]
    struct Message {
        content: Option<String>,
    }
    #[derive(Deserialize)]
    struct Choice {
        message: Message,
    }
    #[derive(Deserialize)]
    struct Reply {
        model: Option<String>,
        choices: Vec<Choice>,
        usage: Option<Usage>,
    }
    let reply: Reply = serde_json::from_str(body).map_err(|_| malformed("chat"))?;
    let text = reply.choices.into_iter().next().and_then(|c| c.message.content).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).ok_or_else(|| malformed("chat"))?;
    Ok(TextResult {
        text,
        model: reply.model.unwrap_or_else(|| fallback_model.to_owned()),
        tokens_in: reply.usage.as_ref().and_then(|u| u.prompt_tokens),
        tokens_out: reply.usage.as_ref().and_then(|u| u.completion_tokens),
    })
}

/// An image answer carries `b64_json`; a URL answer would expire (D6), so we ask for
/// and accept base64 only.
pub fn parse_image(body: &str, model: &str) -> Result<ImageResult, ProviderError> {
    #[derive(Deserialize)]
    struct Datum {
        b64_json: Option<String>,
    }
    #[derive(Deserialize)]
    struct Reply {
        data: Vec<Datum>,
    }
    let reply: Reply = serde_json::from_str(body).map_err(|_| malformed("image"))?;
    let b64 = reply.data.into_iter().next().and_then(|d| d.b64_json).ok_or_else(|| malformed("image"))?;
    let png = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| malformed("image"))?;
    if crate::library::images::sniff(&png).is_none() {
        return Err(malformed("image"));
    }
    Ok(ImageResult { png, model: model.to_owned() })
}

pub fn parse_moderation(body: &str) -> Result<Option<Vec<String>>, ProviderError> {
    #[derive(Deserialize)]
    struct Result_ {
        flagged: bool,
        #[serde(default)]
        categories: serde_json::Map<String, serde_json::Value>,
    }
    #[derive(Deserialize)]
    struct Reply {
        results: Vec<Result_>,
    }
    let reply: Reply = serde_json::from_str(body).map_err(|_| malformed("moderation"))?;
    let first = reply.results.into_iter().next().ok_or_else(|| malformed("moderation"))?;
    Ok(first.flagged.then(|| first.categories.into_iter().filter(|(_, v)| v.as_bool() == Some(true)).map(|(k, _)| k).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_replies_give_text_model_and_tokens() {
        let r = parse_chat(r#"{"model":"m1","choices":[{"message":{"role":"assistant","content":" Hi "}}],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#, "x").unwrap();
        assert_eq!(r, TextResult { text: "Hi".into(), model: "m1".into(), tokens_in: Some(5), tokens_out: Some(2) });
    }

    #[test]
    fn malformed_replies_are_transient_errors() {
        for body in ["", "{", r#"{"choices":[]}"#, r#"{"choices":[{"message":{"content":""}}]}"#] {
            assert!(matches!(parse_chat(body, "x"), Err(ProviderError::Transient(_))), "{body}");
        }
        assert!(parse_image(r#"{"data":[{"url":"https://expires"}]}"#, "m").is_err());
        assert!(parse_image(r#"{"data":[{"b64_json":"aGVsbG8="}]}"#, "m").is_err(), "not an image");
    }

    #[test]
    fn image_replies_decode_to_png_bytes() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(crate::library::images::tests::PNG_1X1);
        let r = parse_image(&format!(r#"{{"data":[{{"b64_json":"{b64}"}}]}}"#), "img").unwrap();
        assert_eq!(r.png, crate::library::images::tests::PNG_1X1);
    }

    #[test]
    fn moderation_names_the_flagged_categories() {
        assert_eq!(parse_moderation(r#"{"results":[{"flagged":false,"categories":{}}]}"#).unwrap(), None);
        let flagged = parse_moderation(r#"{"results":[{"flagged":true,"categories":{"violence":true,"hate":false}}]}"#).unwrap();
        assert_eq!(flagged, Some(vec!["violence".to_string()]));
    }

    mod properties {
        use super::*;
        use crate::proptest_text::{bytes, config, tricky_text};
        use proptest::prelude::*;

        fn is_transient<T>(r: &Result<T, ProviderError>) -> bool {
            matches!(r, Err(ProviderError::Transient(_)))
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_reply_parses_or_is_a_transient_error(body in prop_oneof![
                tricky_text(120),
                bytes(120).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                Just(r#"{"choices":[{"message":{"content":null}}],"data":[{"b64_json":"iVBORw0KGgo="}],"results":[{"flagged":true}]}"#.to_owned()),
            ]) {
                let chat = parse_chat(&body, "m");
                prop_assert!(chat.is_ok() || is_transient(&chat));
                let image = parse_image(&body, "m");
                prop_assert!(image.is_ok() || is_transient(&image));
                let moderation = parse_moderation(&body);
                prop_assert!(moderation.is_ok() || is_transient(&moderation));
            }

            #[test]
            fn chat_text_is_the_first_choice_trimmed(content in tricky_text(100), model in proptest::option::of(tricky_text(10)), tokens in proptest::option::of((any::<i64>(), any::<i64>()))) {
                let mut reply = serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}, {"message": {"content": "second"}}]});
                if let Some(m) = &model {
                    reply["model"] = m.clone().into();
                }
                if let Some((i, o)) = tokens {
                    reply["usage"] = serde_json::json!({"prompt_tokens": i, "completion_tokens": o});
                }
                match parse_chat(&reply.to_string(), "fallback") {
                    Ok(r) => {
                        prop_assert_eq!(r.text.as_str(), content.trim());
                        prop_assert!(!r.text.is_empty());
                        prop_assert_eq!(r.model, model.unwrap_or_else(|| "fallback".into()));
                        prop_assert_eq!((r.tokens_in, r.tokens_out), tokens.map_or((None, None), |(i, o)| (Some(i), Some(o))));
                    }
                    Err(e) => {
                        prop_assert!(content.trim().is_empty(), "{:?}", e);
                    }
                }
            }

            #[test]
            fn an_image_reply_is_accepted_only_when_it_decodes_to_an_image(file in prop_oneof![
                bytes(80),
                bytes(40).prop_map(|tail| [crate::library::images::tests::PNG_1X1, &tail].concat()),
            ]) {
                let b64 = base64::engine::general_purpose::STANDARD.encode(&file);
                let reply = serde_json::json!({"data": [{"b64_json": format!(" {b64}\n")}]}).to_string();
                match parse_image(&reply, "img") {
                    Ok(r) => { prop_assert_eq!(r.png, file.clone()); prop_assert!(crate::library::images::sniff(&file).is_some()); }
                    Err(_) => prop_assert!(crate::library::images::sniff(&file).is_none()),
                }
            }

            #[test]
            fn moderation_names_exactly_the_true_categories(flagged in any::<bool>(), categories in proptest::collection::btree_map(tricky_text(10), any::<bool>(), 0..6)) {
                let reply = serde_json::json!({"results": [{"flagged": flagged, "categories": categories}]}).to_string();
                let got = parse_moderation(&reply).unwrap();
                let want: Vec<String> = categories.iter().filter(|(_, v)| **v).map(|(k, _)| k.clone()).collect();
                prop_assert_eq!(got.map(|mut g| { g.sort(); g }), flagged.then_some(want));
            }
        }
    }
}
