//! The `Blobs` port on R2.

use crate::platform::ports::{Blob, Blobs, PortError, UploadedPart};
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

    async fn create_multipart(&self, key: &str, content_type: &str) -> Result<String, PortError> {
        let metadata = HttpMetadata { content_type: Some(content_type.to_owned()), ..Default::default() };
        let upload = self.0.create_multipart_upload(key).http_metadata(metadata).execute().await.map_err(error)?;
        Ok(upload.upload_id().await)
    }

    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u16, bytes: Vec<u8>) -> Result<UploadedPart, PortError> {
        let upload = self.0.resume_multipart_upload(key, upload_id).map_err(error)?;
        let part = upload.upload_part(part_number, bytes).await.map_err(error)?;
        Ok(UploadedPart { part_number: part.part_number(), etag: part.etag() })
    }

    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: Vec<UploadedPart>) -> Result<(), PortError> {
        let upload = self.0.resume_multipart_upload(key, upload_id).map_err(error)?;
        let parts = parts.into_iter().map(|p| worker::UploadedPart::new(p.part_number, p.etag));
        upload.complete(parts).await.map_err(error)?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), PortError> {
        let upload = self.0.resume_multipart_upload(key, upload_id).map_err(error)?;
        upload.abort().await.map_err(error)
    }
}
