//! Where the model comes from at cold start: an S3 object, fetched once. Its version is the
//! object's VersionId when the bucket is versioned, otherwise its ETag.

use std::future::Future;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use scoring::Model;

use crate::config::ModelLocation;

/// Model bytes plus the version they were stored as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelObject {
    pub bytes: Vec<u8>,
    pub version: String,
}

pub trait ModelSource: Send + Sync {
    /// Where the model is, for messages (`s3://bucket/key`).
    fn location(&self) -> String;
    fn fetch(&self) -> impl Future<Output = Result<ModelObject, String>> + Send;
}

/// The function never serves without a model: this error fails the cold start, naming
/// where the model was looked for and why it could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot load the model from {location}: {reason}")]
pub struct ModelLoadError {
    pub location: String,
    pub reason: String,
}

/// Fetches the model and builds it, once.
pub async fn load_model(source: &impl ModelSource) -> Result<Model, ModelLoadError> {
    let failed = |reason: String| ModelLoadError {
        location: source.location(),
        reason,
    };
    let object = source.fetch().await.map_err(failed)?;
    Model::load(&object.bytes, object.version).map_err(|e| failed(e.to_string()))
}

pub struct S3ModelSource {
    client: aws_sdk_s3::Client,
    location: ModelLocation,
}

impl S3ModelSource {
    pub fn new(client: aws_sdk_s3::Client, location: ModelLocation) -> Self {
        S3ModelSource { client, location }
    }
}

impl ModelSource for S3ModelSource {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.location.bucket, self.location.key)
    }

    async fn fetch(&self) -> Result<ModelObject, String> {
        let object = self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(&self.location.key)
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("NoSuchKey") => "no such key".to_owned(),
                Some("NoSuchBucket") => "no such bucket".to_owned(),
                Some("AccessDenied") => {
                    "access denied (check the function role's s3:GetObject)".to_owned()
                }
                _ => DisplayErrorContext(&e).to_string(),
            })?;
        // Unversioned buckets report the VersionId "null".
        let version = object
            .version_id()
            .filter(|v| *v != "null")
            .or(object.e_tag().map(|t| t.trim_matches('"')))
            .unwrap_or("unversioned")
            .to_owned();
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| format!("reading the object failed: {e}"))?;
        Ok(ModelObject {
            bytes: bytes.into_bytes().to_vec(),
            version,
        })
    }
}

/// An in-memory model source for unit tests.
pub struct InMemoryModelSource(pub Result<ModelObject, String>);

impl ModelSource for InMemoryModelSource {
    fn location(&self) -> String {
        "memory://model".to_owned()
    }

    async fn fetch(&self) -> Result<ModelObject, String> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_name_the_location_and_the_reason() {
        let missing = InMemoryModelSource(Err("no such key".into()));
        let err = load_model(&missing).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot load the model from memory://model: no such key"
        );

        let corrupt = InMemoryModelSource(Ok(ModelObject {
            bytes: b"garbage".to_vec(),
            version: "1".into(),
        }));
        let err = load_model(&corrupt).await.unwrap_err();
        assert!(err.reason.contains("not a readable ONNX model"), "{err}");
    }
}
