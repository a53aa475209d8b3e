//! The `Inference` port over an OpenAI-compatible HTTP API, with a timeout per call.

use crate::platform::config::InferenceConfig;
use crate::generation::inference::{self, ImageResult, Inference, TextResult};
use crate::generation::jobs::ProviderError;
use crate::generation::prompt::ChatMessage;
use wasm_bindgen::JsCast;
use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit};

pub struct OpenAiCompatible<'a>(pub &'a InferenceConfig);

/// `AbortSignal.timeout(ms)`: the request is cancelled when it runs out.
fn timeout_signal(ms: i64) -> Option<AbortSignal> {
    let ctor = js_sys::Reflect::get(&js_sys::global(), &"AbortSignal".into()).ok()?;
    let timeout = js_sys::Reflect::get(&ctor, &"timeout".into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
    let signal = timeout.call1(&ctor, &wasm_bindgen::JsValue::from_f64(ms as f64)).ok()?;
    Some(AbortSignal::from(signal.unchecked_into::<web_sys::AbortSignal>()))
}

impl OpenAiCompatible<'_> {
    async fn post(&self, path: &str, body: worker::wasm_bindgen::JsValue, content_type: Option<&str>) -> Result<String, ProviderError> {
        let transient = |e: worker::Error| ProviderError::Transient(format!("request to the provider failed: {e}"));
        let headers = Headers::new();
        if let Some(key) = &self.0.api_key {
            headers.set("Authorization", &format!("Bearer {key}")).map_err(transient)?;
        }
        if let Some(ct) = content_type {
            headers.set("Content-Type", ct).map_err(transient)?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body));
        let request = Request::new_with_init(&format!("{}{path}", self.0.base_url), &init).map_err(transient)?;
        let fetch = Fetch::Request(request);
        let mut response = match timeout_signal(self.0.timeout_ms) {
            Some(signal) => fetch.send_with_signal(&signal).await,
            None => fetch.send().await,
        }
        .map_err(transient)?;
        let status = response.status_code();
        let text = response.text().await.map_err(transient)?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(ProviderError::from_status(status))
        }
    }

    async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<String, ProviderError> {
        self.post(path, body.to_string().into(), Some("application/json")).await
    }
}

impl Inference for OpenAiCompatible<'_> {
    async fn chat(&self, messages: &[ChatMessage]) -> Result<TextResult, ProviderError> {
        let body = serde_json::json!({ "model": self.0.text_model, "messages": messages });
        inference::parse_chat(&self.post_json("/v1/chat/completions", &body).await?, &self.0.text_model)
    }

    async fn image(&self, prompt: &str, size: &str) -> Result<ImageResult, ProviderError> {
        let body = serde_json::json!({ "model": self.0.image_model, "prompt": prompt, "size": size, "n": 1 });
        inference::parse_image(&self.post_json("/v1/images/generations", &body).await?, &self.0.image_model)
    }

    async fn edit(&self, prompt: &str, size: &str, references: Vec<(Vec<u8>, String)>) -> Result<ImageResult, ProviderError> {
        let form = web_sys::FormData::new().map_err(|_| ProviderError::Permanent("form".into()))?;
        let field = |k: &str, v: &str| form.append_with_str(k, v).map_err(|_| ProviderError::Permanent("form".into()));
        field("model", &self.0.image_model)?;
        field("prompt", prompt)?;
        field("size", size)?;
        for (i, (bytes, mime)) in references.iter().enumerate() {
            let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
            let options = web_sys::BlobPropertyBag::new();
            options.set_type(mime);
            let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
                .map_err(|_| ProviderError::Permanent("image blob".into()))?;
            form.append_with_blob_and_filename("image[]", &blob, &format!("reference-{i}.png"))
                .map_err(|_| ProviderError::Permanent("form".into()))?;
        }
        // The runtime sets the multipart Content-Type with its boundary.
        inference::parse_image(&self.post("/v1/images/edits", form.into(), None).await?, &self.0.image_model)
    }

    async fn moderate(&self, input: &str) -> Result<Option<Vec<String>>, ProviderError> {
        let Some(model) = &self.0.moderation_model else { return Ok(None) };
        let body = serde_json::json!({ "model": model, "input": input });
        inference::parse_moderation(&self.post_json("/v1/moderations", &body).await?)
    }
}
