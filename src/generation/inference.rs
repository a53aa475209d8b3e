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
}
