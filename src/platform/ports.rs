//! Ports to the platform besides SQL (which is `db::Db`): files and queues.
//! Cloudflare implements them in `cf`; the pure core only sees these traits.

use crate::platform::queue_messages::{QueueMessage, QueueName};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortError(pub String);

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<PortError> for crate::http::problem::AppError {
    fn from(e: PortError) -> Self {
        crate::http::problem::AppError::internal(e)
    }
}

/// A stored file and the type it was stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Object storage (R2). Keys are made by the server, never taken from users.
#[allow(async_fn_in_trait)]
pub trait Blobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PortError>;
    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;
}

/// Work queues (Cloudflare Queues).
#[allow(async_fn_in_trait)]
pub trait Jobs {
    async fn send(&self, queue: QueueName, message: &QueueMessage) -> Result<(), PortError>;
}

impl<T: Blobs> Blobs for &T {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        (**self).put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError> {
        (**self).get(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        (**self).delete(key).await
    }
}
