//! The capture pipeline on moto, as the template sets it up on AWS: a function's stdout
//! lines posted to its log group `/aws/lambda/<function>` (what Lambda does with them), a
//! subscription filter on that group sending them to a Kinesis Data Firehose delivery
//! stream, and the stream writing into the capture bucket.
//!
//! CloudWatch Logs and Firehose are called with their plain JSON protocol over HTTP (the
//! SDK crates of both would cost the build minutes for five calls). moto's CloudFormation
//! creates neither a delivery stream nor a subscription filter, so they are created here.
//! moto ignores the filter pattern (every line goes through) and the stream's processing:
//! it writes each `PutLogEvents` call as one gzipped CloudWatch Logs envelope under
//! `<prefix>YYYY/MM/DD/HH/`, which the capture reader reads as it reads Firehose's own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;

use crate::moto::REGION;

/// The template's pattern (`CaptureSubscriptionFilter`); moto does not apply it.
pub const FILTER_PATTERN: &str = "{ $.capture = 1 }";

/// CloudWatch Logs' limits per `PutLogEvents` call: 10,000 events, 1,048,576 bytes counting
/// 26 bytes per event.
const MAX_EVENTS: usize = 10_000;
const MAX_BATCH_BYTES: usize = 1_048_576;
const EVENT_OVERHEAD: usize = 26;

/// How long a line waits before it is shipped with whatever came after it.
const SHIP_EVERY: Duration = Duration::from_millis(100);

/// A log group subscribed to a delivery stream into `s3://<bucket>/<prefix>`, on moto.
#[derive(Debug, Clone)]
pub struct CapturePipeline {
    endpoint: String,
    pub log_group: String,
    pub log_stream: String,
    pub delivery_stream: String,
    pub bucket: String,
    /// Where the stream writes: `captures/` in the template.
    pub prefix: String,
}

impl CapturePipeline {
    /// Creates, on moto at `endpoint`: the log group `/aws/lambda/<function>` with one log
    /// stream, the delivery stream `<function>-captures` into `s3://<bucket>/<prefix>`
    /// (GZIP; the bucket must exist), and the subscription filter between them.
    pub async fn create(
        endpoint: &str,
        function: &str,
        bucket: &str,
        prefix: &str,
    ) -> Result<CapturePipeline, String> {
        let pipeline = CapturePipeline {
            endpoint: endpoint.to_owned(),
            log_group: format!("/aws/lambda/{function}"),
            log_stream: "2026/12/07/[$LATEST]0123456789abcdef".into(),
            delivery_stream: format!("{function}-captures"),
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        };
        let role = |name: &str| format!("arn:aws:iam::123456789012:role/{name}");
        pipeline
            .logs(
                "CreateLogGroup",
                json!({"logGroupName": pipeline.log_group}),
            )
            .await?;
        pipeline
            .logs(
                "CreateLogStream",
                json!({"logGroupName": pipeline.log_group, "logStreamName": pipeline.log_stream}),
            )
            .await?;
        let created = call(
            endpoint,
            "firehose",
            "Firehose_20150804.CreateDeliveryStream",
            json!({
                "DeliveryStreamName": pipeline.delivery_stream,
                "DeliveryStreamType": "DirectPut",
                "ExtendedS3DestinationConfiguration": {
                    "BucketARN": format!("arn:aws:s3:::{bucket}"),
                    "RoleARN": role("capture-delivery"),
                    "Prefix": prefix,
                    "ErrorOutputPrefix": "capture-errors/",
                    "CompressionFormat": "GZIP",
                    "BufferingHints": {"IntervalInSeconds": 60, "SizeInMBs": 64},
                },
            }),
        )
        .await?;
        let stream_arn = created["DeliveryStreamARN"]
            .as_str()
            .ok_or_else(|| format!("CreateDeliveryStream answered {created}"))?
            .to_owned();
        pipeline
            .logs(
                "PutSubscriptionFilter",
                json!({
                    "logGroupName": pipeline.log_group,
                    "filterName": "captures",
                    "filterPattern": FILTER_PATTERN,
                    "destinationArn": stream_arn,
                    "roleArn": role("capture-subscription"),
                }),
            )
            .await?;
        Ok(pipeline)
    }

    async fn logs(&self, action: &str, body: Value) -> Result<Value, String> {
        call(
            &self.endpoint,
            "logs",
            &format!("Logs_20140328.{action}"),
            body,
        )
        .await
    }

    /// Posts `lines` to the log group as log events (empty lines left out, as Lambda does),
    /// in as few `PutLogEvents` calls as CloudWatch Logs' limits allow. Returns the calls.
    pub async fn ship<S: AsRef<str>>(&self, lines: &[S]) -> Result<usize, String> {
        let mut calls = 0;
        let mut batch: Vec<Value> = Vec::new();
        let mut bytes = 0;
        for line in lines.iter().map(AsRef::as_ref).filter(|l| !l.is_empty()) {
            let size = line.len() + EVENT_OVERHEAD;
            if !batch.is_empty() && (batch.len() == MAX_EVENTS || bytes + size > MAX_BATCH_BYTES) {
                self.put(std::mem::take(&mut batch)).await?;
                calls += 1;
                bytes = 0;
            }
            batch.push(json!({"timestamp": now_millis(), "message": line}));
            bytes += size;
        }
        if !batch.is_empty() {
            self.put(batch).await?;
            calls += 1;
        }
        Ok(calls)
    }

    async fn put(&self, events: Vec<Value>) -> Result<(), String> {
        self.logs(
            "PutLogEvents",
            json!({
                "logGroupName": self.log_group,
                "logStreamName": self.log_stream,
                "logEvents": events,
            }),
        )
        .await
        .map(drop)
    }

    /// Reads `pipe` (a bootstrap's stdout) to its end, shipping its lines as they come (at
    /// most [`SHIP_EVERY`] late, as Lambda batches them), and returns all it read, for
    /// the test's other checks (logs, EMF).
    pub fn ship_from(
        &self,
        pipe: impl AsyncRead + Unpin + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<String, String>> {
        let pipeline = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            let mut all = String::new();
            let mut pending: Vec<String> = Vec::new();
            loop {
                let next = tokio::time::timeout(SHIP_EVERY, lines.next_line()).await;
                match next {
                    Ok(Ok(Some(line))) => {
                        all.push_str(&line);
                        all.push('\n');
                        pending.push(line);
                        continue;
                    }
                    // Quiet for a while: ship what came.
                    Err(_) => {}
                    Ok(Ok(None)) | Ok(Err(_)) => {
                        pipeline.ship(&pending).await?;
                        return Ok(all);
                    }
                }
                pipeline.ship(&std::mem::take(&mut pending)).await?;
            }
        })
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One call of an AWS JSON-protocol API (`X-Amz-Target`) on moto. moto tells the service
/// by the credential scope of the `Authorization` header and checks no signature.
pub async fn call(
    endpoint: &str,
    service: &str,
    target: &str,
    body: Value,
) -> Result<Value, String> {
    let address = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| format!("{endpoint}: not an http:// endpoint"))?
        .trim_end_matches('/')
        .to_owned();
    let stream = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("{target}: cannot connect to {address}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{target}: {e}"))?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", &address)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20261207/{REGION}/{service}/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("{target}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{target}: {e}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{target}: {e}"))?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    if !status.is_success() {
        return Err(format!("{target}: {status} {text}"));
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("{target}: {e}: {text}"))
}
