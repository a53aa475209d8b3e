//! The `SessionStore` port on Workers KV.

use crate::platform::ports::PortError;
use crate::accounts::sessions::{kv_key, SessionRecord, SessionStore};
use worker::KvStore;

pub struct KvSessions(pub KvStore);

fn error(e: impl std::fmt::Display) -> PortError {
    PortError(format!("kv: {e}"))
}

impl SessionStore for KvSessions {
    async fn get(&self, token_hash: &str) -> Result<Option<SessionRecord>, PortError> {
        // As text, parsed here: one string crosses, not one call per field.
        match self.0.get(&kv_key(token_hash)).text().await.map_err(error)? {
            Some(text) => serde_json::from_str(&text).map(Some).map_err(error),
            None => Ok(None),
        }
    }

    async fn put(&self, token_hash: &str, record: &SessionRecord, ttl_seconds: u64) -> Result<(), PortError> {
        self.0
            .put(&kv_key(token_hash), record)
            .map_err(error)?
            .expiration_ttl(ttl_seconds)
            .execute()
            .await
            .map_err(error)
    }

    async fn delete(&self, token_hash: &str) -> Result<(), PortError> {
        self.0.delete(&kv_key(token_hash)).await.map_err(error)
    }
}
