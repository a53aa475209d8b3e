//! Blimari: keep brands, generate on-brand content, pay with credits.
//!
//! The crate is split in two. Everything at the top level is a pure core with no
//! `worker::` types, so `cargo test` covers it natively. `cf` holds the Cloudflare
//! adapters (D1, KV, R2, Queues) and the three entry points, which stay thin.

pub mod accounts;
pub mod clock;
pub mod config;
pub mod content_types;
pub mod cron;
pub mod csrf;
pub mod brand_check;
pub mod brands;
pub mod db;
pub mod email_address;
pub mod health;
pub mod ids;
pub mod images;
pub mod inference;
pub mod jobs;
pub mod json_body;
pub mod ledger;
pub mod log;
pub mod mail;
pub mod passwords;
pub mod ports;
pub mod probes;
pub mod problem;
pub mod prompt;
pub mod queue_messages;
pub mod routes;
pub mod security_events;
pub mod security_headers;
pub mod sessions;
pub mod throttle;
pub mod uploads;

mod cf;
