//! S3: the model object, fetched once at cold start, and the batch's run summaries.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use store::model_source::{ModelObject, ModelSource};
use store::run_log::{LatestRun, RunLog};
use store::StoreError;

use crate::config::ModelLocation;
use crate::errors::store_error;

/// The model object. Its version is the object's VersionId when the bucket is versioned,
/// otherwise its ETag.
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

    async fn fetch(&self, max_bytes: u64) -> Result<ModelObject, StoreError> {
        let mut object = self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(&self.location.key)
            .send()
            .await
            .map_err(|e| match e.code() {
                Some("NoSuchKey") => StoreError::not_found("no such key"),
                Some("NoSuchBucket") => StoreError::not_found("no such bucket"),
                Some("AccessDenied") => {
                    StoreError::refused("access denied (check the function role's s3:GetObject)")
                }
                _ => store_error("GetObject", e),
            })?;
        // Refused on the headers, before a body too large for the function is read.
        let length = object.content_length().and_then(|n| u64::try_from(n).ok());
        if let Some(length) = length.filter(|&n| n > max_bytes) {
            return Err(StoreError::too_large(length, max_bytes));
        }
        // Unversioned buckets report the VersionId "null".
        let version = object
            .version_id()
            .filter(|v| *v != "null")
            .or(object.e_tag().map(|t| t.trim_matches('"')))
            .unwrap_or("unversioned")
            .to_owned();
        // Chunks go straight into one buffer of the announced size: the model is held
        // once, not as chunks and then again as their concatenation.
        let mut bytes = Vec::with_capacity(length.unwrap_or(0) as usize);
        while let Some(chunk) = object.body.next().await {
            let chunk = chunk
                .map_err(|e| StoreError::unavailable(format!("reading the object failed: {e}")))?;
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(StoreError::too_large(
                    (bytes.len() + chunk.len()) as u64,
                    max_bytes,
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(ModelObject { bytes, version })
    }
}

/// Run summaries at `s3://<bucket>/<prefix><run_id>.json` and `<prefix>latest.json`; a
/// fanned-out run's slices at `<prefix><run_id>/slice-<n>.json`.
pub struct S3RunLog {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3RunLog {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        S3RunLog {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    pub fn latest_key(&self) -> String {
        format!("{}latest.json", self.prefix)
    }

    pub fn slice_key(&self, run_id: &str, slice: u32) -> String {
        format!("{}{run_id}/slice-{slice}.json", self.prefix)
    }

    pub fn accuracy_key(&self, run_id: &str) -> String {
        format!("{}{run_id}/accuracy.json", self.prefix)
    }

    async fn get_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        let Some(bytes) = self.get(key).await? else {
            return Ok(None);
        };
        String::from_utf8(bytes).map(Some).map_err(|_| {
            StoreError::refused(format!("s3://{}/{key} is not UTF-8 text", self.bucket))
        })
    }

    async fn put(&self, key: &str, json: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(json.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| store_error(&format!("PutObject s3://{}/{key}", self.bucket), e))?;
        Ok(())
    }

    /// The object's bytes, or `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let what = || format!("GetObject s3://{}/{key}", self.bucket);
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.code() == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(store_error(&what(), e)),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::unavailable(format!("{} body: {e}", what())))?
            .into_bytes();
        Ok(Some(bytes.to_vec()))
    }
}

impl RunLog for S3RunLog {
    async fn record(&self, run_id: &str, summary_json: &str) -> Result<(), StoreError> {
        self.put(&format!("{}{run_id}.json", self.prefix), summary_json)
            .await?;
        self.put(&self.latest_key(), summary_json).await
    }

    async fn record_slice(&self, run_id: &str, slice: u32, json: &str) -> Result<(), StoreError> {
        self.put(&self.slice_key(run_id, slice), json).await
    }

    async fn slice(&self, run_id: &str, slice: u32) -> Result<Option<String>, StoreError> {
        self.get_text(&self.slice_key(run_id, slice)).await
    }

    async fn record_accuracy(&self, run_id: &str, json: &str) -> Result<(), StoreError> {
        self.put(&self.accuracy_key(run_id), json).await
    }

    async fn accuracy(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        self.get_text(&self.accuracy_key(run_id)).await
    }

    async fn latest(&self) -> Result<Option<String>, StoreError> {
        self.get_text(&self.latest_key()).await
    }
}

impl LatestRun for S3RunLog {
    async fn latest_completed(&self) -> Result<Option<String>, StoreError> {
        let key = self.latest_key();
        let Some(bytes) = self.get(&key).await? else {
            return Ok(None);
        };
        #[derive(serde::Deserialize)]
        struct Summary {
            run_id: String,
        }
        let summary: Summary = serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::refused(format!(
                "s3://{}/{key} is not a run summary with a run_id: {e}",
                self.bucket
            ))
        })?;
        Ok(Some(summary.run_id))
    }
}
