//! The capture bucket as a [`CaptureSource`]: every object under the prefix delivered since
//! a time, whatever the key layout (the template's `model_version=<v>/date=<d>/` partitions,
//! Firehose's default `YYYY/MM/DD/HH/`, moto's), read a few at a time.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use futures_util::stream::{self, StreamExt};
use store::capture::{CaptureSource, Captured};
use store::StoreError;

use crate::errors::store_error;
use crate::s3_captures::objects::{CaptureReader, MAX_OBJECT_BYTES};

/// Objects downloaded at once: enough to hide S3's latency, few enough to bound memory
/// (each object is held whole while it is read).
pub const READ_CONCURRENCY: usize = 4;

pub struct S3Captures {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

/// `s3://bucket/prefix` as (bucket, prefix); the prefix may be empty.
pub fn parse_s3_uri(uri: &str) -> Result<(String, String), String> {
    let rest = uri
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{uri:?} is not an s3:// address"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("{uri:?} names no bucket"));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

impl S3Captures {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        S3Captures {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// `s3://<bucket>/<prefix>`.
    pub fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// The keys under the prefix last modified at or after `since` (whole seconds: a
    /// listing may give LastModified without its fraction, and a delivery is never earlier
    /// than the requests it holds).
    async fn keys_since(&self, since: &DateTime) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| match e.code() {
                Some("NoSuchBucket") => {
                    StoreError::not_found(format!("no such bucket: {}", self.bucket))
                }
                Some("AccessDenied") => StoreError::refused(format!(
                    "access denied listing {} (check s3:ListBucket)",
                    self.location()
                )),
                _ => store_error(&format!("ListObjectsV2 {}", self.location()), e),
            })?;
            for object in page.contents() {
                let (Some(key), Some(modified)) = (object.key(), object.last_modified()) else {
                    continue;
                };
                if modified.secs() < since.secs() {
                    continue;
                }
                let size = object.size().unwrap_or(0).max(0) as u64;
                if size > MAX_OBJECT_BYTES {
                    return Err(StoreError::too_large(size, MAX_OBJECT_BYTES).with_context(
                        &format!("s3://{}/{key} is not a capture delivery", self.bucket),
                    ));
                }
                keys.push(key.to_owned());
            }
        }
        Ok(keys)
    }

    async fn get(&self, key: String) -> Result<(String, Vec<u8>), StoreError> {
        let what = || format!("GetObject s3://{}/{key}", self.bucket);
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await;
        let object = match object {
            Ok(object) => object,
            // Expired (the bucket's lifecycle) between the listing and now: nothing to read.
            Err(e) if e.code() == Some("NoSuchKey") => return Ok((key, Vec::new())),
            Err(e) => return Err(store_error(&what(), e)),
        };
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| StoreError::unavailable(format!("{} body: {e}", what())))?
            .into_bytes();
        Ok((key, bytes.to_vec()))
    }
}

trait WithContext {
    fn with_context(self, context: &str) -> Self;
}

impl WithContext for StoreError {
    fn with_context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl CaptureSource for S3Captures {
    async fn captured_since(&self, since: &str) -> Result<Captured, StoreError> {
        let since = DateTime::from_str(since, DateTimeFormat::DateTimeWithOffset).map_err(|e| {
            StoreError::refused(format!(
                "{since:?} is not an RFC 3339 time (2026-12-07T21:30:00Z): {e}"
            ))
        })?;
        let keys = self.keys_since(&since).await?;
        let mut reader = CaptureReader::new();
        let mut objects = stream::iter(keys)
            .map(|key| self.get(key))
            .buffer_unordered(READ_CONCURRENCY);
        while let Some(object) = objects.next().await {
            let (key, bytes) = object?;
            reader.read_object(&format!("s3://{}/{key}", self.bucket), &bytes)?;
        }
        Ok(reader.finish())
    }
}
