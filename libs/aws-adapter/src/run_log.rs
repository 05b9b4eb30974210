//! Where batch run summaries are kept so the latest can be read back:
//! `s3://<bucket>/<prefix><run_id>.json` and `s3://<bucket>/<prefix>latest.json`.

use std::future::Future;
use std::sync::Mutex;

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

pub trait RunLog: Send + Sync {
    fn record(
        &self,
        run_id: &str,
        summary_json: &str,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

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
}

impl RunLog for S3RunLog {
    async fn record(&self, run_id: &str, summary_json: &str) -> Result<(), String> {
        for key in [format!("{}{run_id}.json", self.prefix), self.latest_key()] {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("application/json")
                .body(ByteStream::from(summary_json.as_bytes().to_vec()))
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "storing s3://{}/{key} failed: {}",
                        self.bucket,
                        DisplayErrorContext(&e)
                    )
                })?;
        }
        Ok(())
    }
}

/// Summaries in memory, for unit tests.
#[derive(Debug, Default)]
pub struct InMemoryRunLog(pub Mutex<Vec<(String, String)>>);

impl RunLog for InMemoryRunLog {
    async fn record(&self, run_id: &str, summary_json: &str) -> Result<(), String> {
        self.0
            .lock()
            .unwrap()
            .push((run_id.to_owned(), summary_json.to_owned()));
        Ok(())
    }
}
