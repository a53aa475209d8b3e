//! Structured JSON log lines (G1). Only ids and technical facts: never an email,
//! password, token or prompt text. Every field passes the one scrubber shared with
//! Sentry (`ops::scrub`) on its way out. Lines go to the console, which Workers Logs and
//! `wrangler tail` collect.

use serde::Serialize;

/// How bad a line is; `Error` lines go to the console's error stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Serialize)]
pub struct RequestLog<'a> {
    pub level: Level,
    pub msg: &'static str,
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub latency_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    /// Internal cause of a 5xx, for the operator (never shown to the user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct EventLog<'a> {
    pub level: Level,
    pub msg: &'a str,
    #[serde(flatten)]
    pub fields: serde_json::Value,
}

/// Renders one line of JSON; a serialisation failure still yields a line.
pub fn line<T: Serialize>(record: &T) -> String {
    serde_json::to_string(record).unwrap_or_else(|e| format!("{{\"level\":\"error\",\"msg\":\"log encoding failed: {e}\"}}"))
}

/// Writes a line at the given level, its fields scrubbed.
pub fn emit(level: Level, msg: &str, fields: serde_json::Value) {
    let text = line(&EventLog { level, msg, fields: crate::ops::scrub::scrub_value(&fields) });
    write_line(level, &text);
}

pub(crate) fn write_line(level: Level, text: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        let line = wasm_bindgen::JsValue::from_str(text);
        if level == Level::Error {
            web_sys::console::error_1(&line);
        } else {
            web_sys::console::log_1(&line);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = level;
        eprintln!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_one_json_object_with_the_request_id() {
        let text = line(&RequestLog {
            level: Level::Info,
            msg: "request",
            request_id: "r1",
            method: "GET",
            route: "GET /api/health",
            status: 200,
            latency_ms: 3,
            user_id: None,
            error: None,
        });
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["request_id"], "r1");
        assert_eq!(v["status"], 200);
        assert!(v.get("user_id").is_none());
    }

    #[test]
    fn event_lines_are_scrubbed() {
        let text = line(&EventLog {
            level: Level::Info,
            msg: "x",
            fields: crate::ops::scrub::scrub_value(&serde_json::json!({ "user_id": "usr_1", "email": "a@b.co", "error": "for a@b.co" })),
        });
        assert!(!text.contains("a@b.co") && text.contains("usr_1"), "{text}");
    }
}
