//! Lambda entry point: wires configuration, clients and the model, then runs the job for
//! each scheduled (or continuation) event.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use batch::continuation::SelfInvoke;
use batch::pipeline::{Settings, SCAN_PAGE_ITEMS};
use batch::{BatchEvent, Job, Summary};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use aws_adapter::config::BatchConfig;
use aws_adapter::model_source::{load_model, S3ModelSource};
use aws_adapter::predictions::DynamoDbPredictions;
use aws_adapter::run_log::S3RunLog;
use aws_adapter::scan::DynamoDbScan;

type AwsJob = Job<DynamoDbScan, DynamoDbPredictions, S3RunLog>;

// A run allocates and frees a dozen small strings per row (the SDK's items and write
// requests); mimalloc made the pipeline 1.5x faster than glibc's allocator
// (benches/pipeline.rs, which uses the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let (job, lambda, margin) = match init().await {
        Ok(ready) => ready,
        Err(e) => {
            // One JSON log line naming what is wrong; the non-zero exit fails the init.
            tracing::error!(error = %e, "init failed");
            std::process::exit(1);
        }
    };
    let (job, lambda) = (&job, &lambda);
    run(service_fn(
        move |event: LambdaEvent<BatchEvent>| async move {
            let stop_at = stop_reading_at(event.context.deadline, margin);
            // Continue through the exact function version (alias) this invocation ran as.
            let continuation = SelfInvoke {
                client: lambda.clone(),
                function: event.context.invoked_function_arn,
            };
            let summary: Summary = job
                .invoke(event.payload, stop_at, chrono::Utc::now(), &continuation)
                .await?;
            Ok::<_, Error>(summary)
        },
    ))
    .await
}

async fn init() -> Result<(AwsJob, aws_sdk_lambda::Client, Duration), String> {
    let config = BatchConfig::from_env().map_err(|e| e.to_string())?;
    let shared =
        aws_adapter::aws_config::load_defaults(aws_adapter::aws_config::BehaviorVersion::latest()).await;
    let s3 = aws_adapter::aws_sdk_s3::Client::new(&shared);
    let dynamodb = aws_adapter::aws_sdk_dynamodb::Client::new(&shared);
    let model = load_model(&S3ModelSource::new(s3.clone(), config.model.clone()))
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(model_version = model.version(), "model loaded");
    let scan = DynamoDbScan::new(dynamodb.clone(), &config.attributes_table, model.features())
        .with_page_size(SCAN_PAGE_ITEMS as i32);
    let job = Job {
        scan,
        sink: DynamoDbPredictions::new(dynamodb, &config.predictions_table),
        run_log: S3RunLog::new(s3, &config.model.bucket, &config.runs_prefix),
        segments: config.scan_segments,
        settings: Settings::default(),
        model,
    };
    Ok((
        job,
        aws_sdk_lambda::Client::new(&shared),
        Duration::from_secs(config.deadline_margin_seconds),
    ))
}

/// The invocation's deadline (ms since the epoch) less the margin, as an `Instant`.
fn stop_reading_at(deadline_ms: u64, margin: Duration) -> Option<Instant> {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Some(Instant::now() + left.saturating_sub(margin))
}
