//! The ports of the pure core, implemented on Cloudflare's bindings and `fetch`.

pub mod d1;
pub mod database;
pub mod email;
pub mod inference;
pub mod kv;
pub mod neon;
pub mod queues;
pub mod r2;
pub mod webcrypto;
