//! The `Web` port on Workers (B5): `fetch` with `redirect: "manual"` (the core checks
//! every `Location` before anything is fetched from it), a time limit per request
//! (`AbortSignal.timeout`, which also ends the body), a size limit while reading, and no
//! credentials: Workers' `fetch` keeps no cookies, and we send no `Cookie` or
//! `Authorization`. HTML is parsed by the runtime's own HTMLRewriter (lol_html inside
//! workerd), so the streaming parser costs the worker's wasm nothing.

use crate::platform::ports::{HtmlEvent, PortError, Web, WebError, WebResponse, HTML_ATTRIBUTES, HTML_ELEMENTS, HTML_TEXT_TAGS, MAX_HTML_EVENTS};
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Each request (the page, a redirect, a stylesheet, a logo) gets this long.
pub const TIMEOUT_MS: f64 = 8_000.0;
const USER_AGENT: &str = "BlimariBrandImport/1.0 (+https://blimari.space)";

pub struct WorkerWeb;

fn get(target: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &key.into())
}

fn method(target: &JsValue, key: &str) -> Result<Function, JsValue> {
    get(target, key)?.dyn_into::<Function>()
}

fn failed(e: JsValue) -> WebError {
    let name = get(&e, "name").ok().and_then(|n| n.as_string()).unwrap_or_default();
    if name == "TimeoutError" || name == "AbortError" {
        WebError::TimedOut
    } else {
        WebError::Failed(e.as_string().or_else(|| get(&e, "message").ok().and_then(|m| m.as_string())).unwrap_or_else(|| "fetch failed".into()))
    }
}

fn port_error(e: JsValue) -> PortError {
    PortError(format!("HTMLRewriter: {}", e.as_string().or_else(|| get(&e, "message").ok().and_then(|m| m.as_string())).unwrap_or_default()))
}

async fn fetch(url: &str, max_bytes: usize) -> Result<WebResponse, JsValue> {
    let global = js_sys::global();
    let headers = Object::new();
    Reflect::set(&headers, &"Accept".into(), &"text/html,application/xhtml+xml,text/css,image/*;q=0.8,*/*;q=0.1".into())?;
    Reflect::set(&headers, &"User-Agent".into(), &USER_AGENT.into())?;
    let init = Object::new();
    Reflect::set(&init, &"method".into(), &"GET".into())?;
    Reflect::set(&init, &"redirect".into(), &"manual".into())?;
    Reflect::set(&init, &"headers".into(), &headers)?;
    let abort_signal = get(&global, "AbortSignal")?;
    let signal = method(&abort_signal, "timeout")?.call1(&abort_signal, &JsValue::from_f64(TIMEOUT_MS))?;
    Reflect::set(&init, &"signal".into(), &signal)?;
    let promise = method(&global, "fetch")?.call2(&global, &url.into(), &init)?;
    let response = JsFuture::from(promise.dyn_into::<js_sys::Promise>()?).await?;
    let status = get(&response, "status")?.as_f64().unwrap_or(0.0) as u16;
    let response_headers = get(&response, "headers")?;
    let header = |name: &str| -> Result<Option<String>, JsValue> { Ok(method(&response_headers, "get")?.call1(&response_headers, &name.into())?.as_string()) };
    let location = header("Location")?;
    let content_type = header("Content-Type")?;
    let mut body = Vec::new();
    let stream = get(&response, "body")?;
    if !stream.is_null() && !stream.is_undefined() {
        let reader = method(&stream, "getReader")?.call0(&stream)?;
        loop {
            let read = method(&reader, "read")?.call0(&reader)?.dyn_into::<js_sys::Promise>()?;
            let result = JsFuture::from(read).await?;
            if get(&result, "done")?.as_bool().unwrap_or(true) {
                break;
            }
            let chunk = Uint8Array::new(&get(&result, "value")?);
            if body.len() + chunk.length() as usize > max_bytes {
                if let Ok(cancel) = method(&reader, "cancel") {
                    let _ = cancel.call0(&reader);
                }
                return Err(JsValue::from_str("too large"));
            }
            body.extend_from_slice(&chunk.to_vec());
        }
    }
    Ok(WebResponse { status, location, content_type, body })
}

impl Web for WorkerWeb {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<WebResponse, WebError> {
        fetch(url, max_bytes).await.map_err(|e| if e.as_string().as_deref() == Some("too large") { WebError::TooLarge } else { failed(e) })
    }

    async fn scan_html(&self, html: &[u8]) -> Result<Vec<HtmlEvent>, PortError> {
        let events: Rc<RefCell<Vec<HtmlEvent>>> = Rc::default();
        let global = js_sys::global();
        let constructor = get(&global, "HTMLRewriter").and_then(|c| c.dyn_into::<Function>()).map_err(port_error)?;
        let mut rewriter = Reflect::construct(&constructor, &Array::new()).map_err(port_error)?;
        let on = method(&rewriter, "on").map_err(port_error)?;
        // The closures must outlive the transform below; they are dropped at the end.
        let mut keep: Vec<Closure<dyn FnMut(JsValue)>> = Vec::new();

        let sink = events.clone();
        let element = Closure::<dyn FnMut(JsValue)>::new(move |el: JsValue| {
            let mut sink = sink.borrow_mut();
            if sink.len() >= MAX_HTML_EVENTS {
                return;
            }
            let tag = get(&el, "tagName").ok().and_then(|t| t.as_string()).unwrap_or_default();
            let get_attribute = method(&el, "getAttribute");
            let attrs = HTML_ATTRIBUTES
                .iter()
                .filter_map(|a| {
                    let value = get_attribute.as_ref().ok()?.call1(&el, &(*a).into()).ok()?.as_string()?;
                    Some((a.to_string(), value))
                })
                .collect();
            sink.push(HtmlEvent::Element { tag, attrs });
        });
        let handlers = Object::new();
        Reflect::set(&handlers, &"element".into(), element.as_ref()).map_err(port_error)?;
        rewriter = on.call2(&rewriter, &HTML_ELEMENTS.into(), &handlers).map_err(port_error)?;
        keep.push(element);

        for tag in HTML_TEXT_TAGS {
            let sink = events.clone();
            let text = Closure::<dyn FnMut(JsValue)>::new(move |chunk: JsValue| {
                let mut sink = sink.borrow_mut();
                let text = get(&chunk, "text").ok().and_then(|t| t.as_string()).unwrap_or_default();
                if sink.len() < MAX_HTML_EVENTS && !text.is_empty() {
                    sink.push(HtmlEvent::Text { tag: tag.to_owned(), text });
                }
            });
            let handlers = Object::new();
            Reflect::set(&handlers, &"text".into(), text.as_ref()).map_err(port_error)?;
            rewriter = on.call2(&rewriter, &tag.into(), &handlers).map_err(port_error)?;
            keep.push(text);
        }

        let response_ctor = get(&global, "Response").and_then(|c| c.dyn_into::<Function>()).map_err(port_error)?;
        let input = Reflect::construct(&response_ctor, &Array::of1(&Uint8Array::from(html))).map_err(port_error)?;
        let output = method(&rewriter, "transform").and_then(|t| t.call1(&rewriter, &input)).map_err(port_error)?;
        let done = method(&output, "arrayBuffer").and_then(|f| f.call0(&output)).and_then(|p| p.dyn_into::<js_sys::Promise>()).map_err(port_error)?;
        // A page the parser gives up on still gives the events seen so far.
        let _ = JsFuture::from(done).await;
        drop(keep);
        let out = events.borrow().clone();
        Ok(out)
    }
}
