//! The `Blobs` port on R2.

use crate::platform::ports::{Blob, Blobs, PortError};
use worker::{Bucket, HttpMetadata};

pub struct R2(pub Bucket);

fn error(e: worker::Error) -> PortError {
    PortError(format!("r2: {e}"))
}

impl Blobs for R2 {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        let metadata = HttpMetadata { content_type: Some(content_type.to_owned()), ..Default::default() };
        self.0.put(key, bytes).http_metadata(metadata).execute().await.map_err(error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, PortError> {
        let Some(object) = self.0.get(key).execute().await.map_err(error)? else {
            return Ok(None);
        };
        let content_type = object.http_metadata().content_type.unwrap_or_else(|| "application/octet-stream".into());
        let bytes = match object.body() {
            Some(body) => body.bytes().await.map_err(error)?,
            None => Vec::new(),
        };
        Ok(Some(Blob { bytes, content_type }))
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.0.delete(key).await.map_err(error)
    }
}
