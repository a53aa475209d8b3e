//! Blimari: keep brands, generate on-brand content, pay with credits.
//!
//! Every folder but `cf` is the pure core, with no `worker::` types, so `cargo test`
//! covers it natively: `platform` (ports and plumbing), `http` (errors, routes, request
//! rules), and one folder per feature. `cf` holds the Cloudflare adapters of the ports,
//! the HTTP handlers and the three entry points, which stay thin.

pub mod accounts;
pub mod admin;
pub mod credits;
pub mod generation;
pub mod http;
pub mod library;
pub mod ops;
pub mod platform;
pub mod privacy;
#[cfg(test)]
mod proptest_text;

mod cf;

#[cfg(test)]
pub mod testing;
