//! Lambda entry point: wires configuration, clients, the model and (when configured) the
//! state machine, then runs the job for each event: the schedule's, a slice's, or finish.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_adapter::config::DEFAULT_OUTCOME_RETENTION_DAYS;
use aws_adapter::config::{BatchConfig, InitError};
use aws_adapter::dynamodb::{DynamoDbOutcomes, DynamoDbPredictions, DynamoDbScan};
use aws_adapter::s3::{S3ModelSource, S3RunLog};
use aws_adapter::s3_captures::S3Captures;
use aws_adapter::step_functions::StepFunctionsRuns;
use aws_adapter::{AwsClients, CallPolicy};
use batch::challenger::scanned_attributes;
use batch::guard::guarded;
use batch::join::{AccuracyJoin, OutcomeJoin};
use batch::pipeline::{Settings, SCAN_PAGE_ITEMS};
use batch::{BatchEvent, Job};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use store::model_source::load_pair_timed;

type AwsJob = Job<DynamoDbScan, DynamoDbPredictions, S3RunLog>;

// A run allocates and frees a dozen small strings per row (the SDK's items and write
// requests); glibc's allocator was a large share of the pipeline's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let metrics = aws_adapter::lambda::start("batch");
    // Described before init, which may count a challenger that failed to load.
    if metrics.is_some() {
        batch::telemetry::describe();
    }
    let (job, runs, margin) = aws_adapter::lambda::ready_or_exit(init().await);
    let (job, runs, metrics) = (&job, runs.as_ref(), metrics.as_ref());
    run(service_fn(
        move |event: LambdaEvent<BatchEvent>| async move {
            let deadline = deadline(event.context.deadline);
            let stop_at = Some(deadline.checked_sub(margin).unwrap_or_else(Instant::now));
            let result = guarded(
                job.invoke(event.payload, stop_at, chrono::Utc::now(), runs),
                deadline,
            )
            .await;
            if let Err(e) = &result {
                tracing::error!(error_type = e.error_type(), error = %e, "batch invocation failed");
            }
            if let Some(metrics) = metrics {
                metrics.flush();
            }
            result
        },
    ))
    .await
}

async fn init() -> Result<(AwsJob, Option<StepFunctionsRuns>, Duration), InitError> {
    let config = BatchConfig::from_env()?;
    let clients = AwsClients::from_env(CallPolicy::BATCH).await;
    let champion = S3ModelSource::new(clients.s3.clone(), config.model.clone());
    let challenger = config
        .challenger
        .clone()
        .map(|location| S3ModelSource::new(clients.s3.clone(), location));
    // The champion's failure fails init; the challenger's is logged, counted and said in
    // each run's summary, and the runs go on without comparing.
    let (model, _, challenger) =
        load_pair_timed(&champion, challenger.as_ref(), &config.load_budget).await?;
    tracing::info!(model_version = model.version(), "model loaded");
    let challenger = challenger.map(|loaded| match loaded {
        Ok((challenger, _)) => {
            tracing::info!(
                challenger_version = challenger.version(),
                "challenger loaded"
            );
            Ok(challenger)
        }
        Err(e) => {
            tracing::error!(error = %e, "the challenger failed to load; runs go on without it");
            batch::telemetry::challenger_load_failed(model.version());
            Err(e.to_string())
        }
    });
    // Explanations asked for explicitly, from a model that cannot give them: refused now,
    // with the model's reason, rather than a night of results without them.
    if config.explain_top_k > 0 {
        if let Err(reason) = model.explainability() {
            return Err(InitError::Unexplainable {
                top_k: config.explain_top_k,
                reason: reason.to_owned(),
            });
        }
    }
    // Both models' features: a challenger reading an attribute the champion does not gets
    // it wherever the table has it.
    let attributes = scanned_attributes(&model, challenger.as_ref().and_then(|c| c.as_ref().ok()));
    let scan = DynamoDbScan::new(
        clients.dynamodb.clone(),
        &config.attributes_table,
        &attributes,
    )
    .with_page_size(SCAN_PAGE_ITEMS as i32);
    let runs = config
        .state_machine_arn
        .as_ref()
        .map(|arn| StepFunctionsRuns::new(clients.step_functions(), arn));
    let job = Job {
        scan,
        sink: DynamoDbPredictions::new(clients.dynamodb.clone(), &config.predictions_table),
        run_log: S3RunLog::new(
            clients.s3.clone(),
            &config.model.bucket,
            &config.runs_prefix,
        ),
        segments: config.scan_segments,
        workers: config.workers,
        settings: Settings {
            explain_top_k: config.explain_top_k,
            ..Settings::default()
        },
        store_retries: Box::new(clients.retries.clone()),
        accuracy: accuracy_join(&config, &clients),
        model,
        challenger,
    };
    // Reading stops early enough for a slow page to finish, or be handed back, before the
    // deadline guard.
    let margin = config.deadline_margin(batch::budget::least_margin(job.settings.resend.max_delay));
    Ok((job, runs, margin))
}

/// The nightly join, when an outcomes table is configured (the retention is the writer's
/// business: the batch only reads).
fn accuracy_join(config: &BatchConfig, clients: &AwsClients) -> Option<Box<dyn AccuracyJoin>> {
    let table = config.outcomes_table.as_ref()?;
    Some(Box::new(OutcomeJoin {
        outcomes: DynamoDbOutcomes::new(
            clients.dynamodb.clone(),
            table,
            DEFAULT_OUTCOME_RETENTION_DAYS,
        ),
        captures: config
            .capture_bucket
            .as_ref()
            .map(|bucket| S3Captures::new(clients.s3.clone(), bucket, &config.capture_prefix)),
        predictions: DynamoDbPredictions::new(clients.dynamodb.clone(), &config.predictions_table),
        lookback_days: config.capture_lookback_days,
    }))
}

/// The invocation's deadline (ms since the epoch) as an `Instant`.
fn deadline(deadline_ms: u64) -> Instant {
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Instant::now() + left
}
