//! Where the captures are read from: the capture bucket (`s3://bucket/prefix`, through
//! `S3Captures`, `AWS_ENDPOINT_URL` honoured), or objects downloaded from it to a
//! directory (or one file), read by the same `CaptureReader`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_adapter::aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use aws_adapter::s3_captures::{parse_s3_uri, CaptureReader, S3Captures, MAX_OBJECT_BYTES};
use aws_adapter::{AwsClients, CallPolicy};
use store::capture::{CaptureSource, Captured};

/// A person is waiting: a few retries, not the batch function's minutes of them.
const POLICY: CallPolicy = CallPolicy {
    max_attempts: 3,
    initial_backoff: Duration::from_millis(100),
    max_backoff: Duration::from_secs(1),
    connect_timeout: Duration::from_secs(3),
    attempt_timeout: Duration::from_secs(30),
    operation_timeout: Duration::from_secs(60),
    retry_quota: false,
};

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    S3 { bucket: String, prefix: String },
    Files(PathBuf),
}

impl Source {
    pub fn parse(arg: &str) -> Result<Source, String> {
        if arg.starts_with("s3://") {
            let (bucket, prefix) = parse_s3_uri(arg)?;
            return Ok(Source::S3 { bucket, prefix });
        }
        Ok(Source::Files(PathBuf::from(arg)))
    }

    pub fn describe(&self) -> String {
        match self {
            Source::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
            Source::Files(path) => path.display().to_string(),
        }
    }
}

/// The captured requests answered at or after `since` (RFC 3339), and what could not be
/// read. A bucket's objects are picked by delivery time first, then every source's
/// requests by their own time.
pub async fn read(source: &Source, since: &str) -> Result<Captured, String> {
    let mut captured = match source {
        Source::S3 { bucket, prefix } => {
            let clients = AwsClients::from_env(POLICY).await;
            S3Captures::new(clients.s3, bucket, prefix)
                .captured_since(since)
                .await
                .map_err(|e| format!("cannot read the captures in {}: {e}", source.describe()))?
        }
        Source::Files(path) => read_files(path)?,
    };
    let since = millis(since).ok_or_else(|| format!("{since:?} is not an RFC 3339 time"))?;
    // A request whose time does not parse is kept: the object it came in was picked.
    captured
        .requests
        .retain(|r| millis(&r.time).is_none_or(|t| t >= since));
    Ok(captured)
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub fn millis(time: &str) -> Option<i128> {
    DateTime::from_str(time, DateTimeFormat::DateTimeWithOffset)
        .ok()
        .map(|t| t.as_nanos() / 1_000_000)
}

/// Every file under `path` (or `path` itself), in name order.
fn read_files(path: &Path) -> Result<Captured, String> {
    let mut files = Vec::new();
    collect(path, &mut files).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    files.sort();
    let mut reader = CaptureReader::new();
    for file in files {
        let name = file.display().to_string();
        let size = std::fs::metadata(&file)
            .map_err(|e| format!("{name}: {e}"))?
            .len();
        if size > MAX_OBJECT_BYTES {
            return Err(format!(
                "{name} is {size} bytes, over the limit of {MAX_OBJECT_BYTES}: not a capture \
                 delivery"
            ));
        }
        let bytes = std::fs::read(&file).map_err(|e| format!("{name}: {e}"))?;
        reader
            .read_object(&name, &bytes)
            .map_err(|e| e.to_string())?;
    }
    Ok(reader.finish())
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if std::fs::metadata(path)?.is_file() {
        files.push(path.to_owned());
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let child = entry.path();
        if entry.file_type()?.is_dir() {
            collect(&child, files)?;
        } else {
            files.push(child);
        }
    }
    Ok(())
}
