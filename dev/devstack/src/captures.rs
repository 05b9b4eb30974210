//! `make dev`'s captures: the regressor captures every scoring request (`CAPTURE_RATE=1`);
//! its capture lines, picked out of its output as the template's subscription filter picks
//! them out of its log group, travel as on AWS through moto: posted to the log group, sent
//! by the subscription to the Firehose delivery stream, written by it into the capture
//! bucket (testkit's `CapturePipeline`).

use testkit::capture_pipeline::CapturePipeline;
use testkit::resources;
use tokio::sync::mpsc;

pub const CAPTURE_BUCKET: &str = "captures";
pub const CAPTURE_PREFIX: &str = "captures/";
/// The log group's function, as the stack names it (`<stack>-predict`).
const FUNCTION: &str = "wine-quality-predict";

/// Where the regressor's capture lines go.
pub struct Captures {
    lines: mpsc::UnboundedSender<String>,
}

impl Captures {
    /// The bucket, the log group, the delivery stream and the subscription on moto, and a
    /// task shipping the lines sent to [`Captures::sender`] (those that came meanwhile
    /// together, as Lambda batches a function's output).
    pub async fn start(
        endpoint: &str,
        s3: &aws_adapter::aws_sdk_s3::Client,
    ) -> Result<Captures, String> {
        resources::create_bucket(s3, CAPTURE_BUCKET).await?;
        let pipeline =
            CapturePipeline::create(endpoint, FUNCTION, CAPTURE_BUCKET, CAPTURE_PREFIX).await?;
        let (lines, mut received) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(line) = received.recv().await {
                let mut batch = vec![line];
                while let Ok(more) = received.try_recv() {
                    batch.push(more);
                }
                if let Err(e) = pipeline.ship(&batch).await {
                    println!("[captures] not delivered: {e}");
                }
            }
        });
        Ok(Captures { lines })
    }

    pub fn sender(&self) -> mpsc::UnboundedSender<String> {
        self.lines.clone()
    }

    pub fn uri() -> String {
        format!("s3://{CAPTURE_BUCKET}/{CAPTURE_PREFIX}")
    }
}

/// Whether a line of the function's output is a capture: what the subscription filter's
/// pattern (`{ $.capture = 1 }`) selects, as the capture writer starts every line.
pub fn is_capture(line: &str) -> bool {
    line.starts_with("{\"capture\":")
}
