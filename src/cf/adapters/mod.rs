//! The ports of the pure core, implemented on Cloudflare's bindings and `fetch`.

pub mod d1;
pub mod database;
pub mod email;
pub mod inference;
pub mod kv;
pub mod neon;
pub mod queues;
pub mod r2;
pub mod stripe;
pub mod sentry;
pub mod web;
pub mod webcrypto;

/// The binding names of `wrangler.toml` (a unit test checks them against the file).
pub const DB_BINDING: &str = "DB";
pub const KV_BINDING: &str = "SESSIONS";
pub const BLOBS_BINDING: &str = "UPLOADS";

#[cfg(test)]
mod tests {
    #[test]
    fn wrangler_toml_declares_these_bindings() {
        let toml = include_str!("../../../wrangler.toml");
        for binding in [super::DB_BINDING, super::KV_BINDING, super::BLOBS_BINDING] {
            assert!(toml.contains(&format!("binding = \"{binding}\"")), "{binding}");
        }
    }
}
