//! The batch job with the real SDK and the production retry policy (`CallPolicy::BATCH`)
//! against moto, through a proxy that throttles, fails, drops connections and leaves
//! batch writes partly unprocessed: nothing is lost, nothing is written twice, and the run
//! summary counts every retry, the SDK's own included.

use crate::batch_support as support;

use std::time::Instant;

use aws_adapter::dynamodb::{DynamoDbPredictions, DynamoDbScan};
use aws_adapter::s3::S3RunLog;
use aws_adapter::{AwsClients, CallPolicy};
use batch::pipeline::Settings;
use batch::{Job, Summary};
use e2e::{clients, moto_or_skip, unique};
use lambda_http::lambda_runtime::Diagnostic;
use store::predictions::MAX_BATCH;
use store::RetryCount;
use support::{
    assert_every_row_once, demo_model, fast_settings, invoke_scheduled, products,
    run_to_completion, stored_predictions, RUN_ID,
};
use testkit::fault_proxy::{Fault, FaultProxy};
use testkit::resources;

type ProxiedJob = Job<DynamoDbScan, DynamoDbPredictions, S3RunLog>;

const SCAN: &str = "Scan";
const WRITE: &str = "BatchWriteItem";
const RUNS_PREFIX: &str = "batch-runs/";

struct Stack {
    proxy: FaultProxy,
    job: ProxiedJob,
    /// The function's clients (through the proxy), for their retry counter.
    clients: AwsClients,
    attributes_table: String,
    predictions_table: String,
    bucket: String,
    items: Vec<testkit::Item>,
}

/// `rows` products seeded straight into moto, and the job built as the function builds it
/// (the production policy, unchanged) but with its clients pointed at a fault proxy.
async fn stack(rows: usize, page_size: i32, segments: u32, settings: Settings) -> Stack {
    let c = clients().await;
    let (attributes, predictions, bucket) =
        (unique("attributes"), unique("predictions"), unique("runs"));
    resources::create_table(&c.dynamodb, &attributes)
        .await
        .unwrap();
    resources::create_table(&c.dynamodb, &predictions)
        .await
        .unwrap();
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let items = products(rows);
    resources::put_items(&c.dynamodb, &attributes, &items, |_| {})
        .await
        .unwrap();

    let proxy = FaultProxy::start(&e2e::endpoint()).await.unwrap();
    let config = testkit::moto::sdk_config(&proxy.endpoint()).await;
    let clients = AwsClients::new(&config, CallPolicy::BATCH);
    let model = demo_model();
    let job = Job {
        scan: DynamoDbScan::new(clients.dynamodb.clone(), &attributes, model.features())
            .with_page_size(page_size),
        sink: DynamoDbPredictions::new(clients.dynamodb.clone(), &predictions),
        run_log: S3RunLog::new(clients.s3.clone(), &bucket, RUNS_PREFIX),
        segments,
        // One slice: the retry counter is the process's, and a sandbox runs one slice at
        // a time, while the test's slices would share this process.
        workers: 1,
        settings,
        store_retries: Box::new(clients.retries.clone()),
        accuracy: None,
        challenger: None,
        model,
    };
    Stack {
        proxy,
        job,
        clients,
        attributes_table: attributes,
        predictions_table: predictions,
        bucket,
        items,
    }
}

/// The keys under the run log's prefix, read straight from moto.
async fn stored_summaries(bucket: &str) -> Vec<String> {
    let listed = clients()
        .await
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(RUNS_PREFIX)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// `summary` as JSON and back, as the run log stores it: serde_json's float parsing may
/// move the drift figures' last bit, the same way on both sides.
fn as_stored(summary: &Summary) -> Summary {
    serde_json::from_str(&serde_json::to_string(summary).unwrap()).unwrap()
}

/// `latest.json` of the run log, read straight from moto.
async fn latest_summary(bucket: &str) -> Summary {
    let json = testkit::resources::get_object(
        &clients().await.s3,
        bucket,
        &format!("{RUNS_PREFIX}latest.json"),
    )
    .await
    .unwrap();
    serde_json::from_str(&json).unwrap()
}

/// The Scan calls and BatchWriteItem calls a run makes when nothing fails: each segment's
/// pages (as moto splits the table), and a write per `MAX_BATCH` predictions of each page.
async fn calls_without_faults(table: &str, segments: i32, page_size: i32) -> (u64, u64) {
    let dynamodb = clients().await.dynamodb;
    let (mut scans, mut writes) = (0, 0);
    for segment in 0..segments {
        let mut start = None;
        loop {
            let page = dynamodb
                .scan()
                .table_name(table)
                .segment(segment)
                .total_segments(segments)
                .limit(page_size)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            scans += 1;
            writes += page.items().len().div_ceil(MAX_BATCH) as u64;
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
    }
    (scans, writes)
}

fn sdk_retried(faults: &[Fault]) -> u64 {
    faults
        .iter()
        .filter(|f| !matches!(f, Fault::Unprocessed(_)))
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_errors_drops_and_partial_writes_lose_nothing_and_every_retry_is_counted() {
    moto_or_skip!();
    let started = Instant::now();
    // 2,000 rows, 4 segments, pages of 50: some 40 Scans and 80 BatchWriteItems, with
    // up to 4 segments x 4 writes in flight at once.
    let (rows, page_size, segments) = (2_000, 50, 4);
    let s = stack(rows, page_size, segments, fast_settings()).await;
    let scan_faults = [
        Fault::Throttle,
        Fault::ServerError(500),
        Fault::DropBeforeForward,
        Fault::Throttle,
        Fault::ServerError(503),
        Fault::DropAfterForward,
    ];
    let write_faults = [
        Fault::Throttle,
        Fault::Unprocessed(3),
        Fault::ServerError(500),
        Fault::Throttle,
        Fault::DropAfterForward,
        Fault::Unprocessed(10),
        Fault::ServerError(503),
        Fault::DropBeforeForward,
        Fault::Throttle,
        // A whole chunk held back: the proxy answers without forwarding anything.
        Fault::Unprocessed(25),
        Fault::Unprocessed(1),
    ];
    s.proxy.inject(SCAN, scan_faults);
    s.proxy.inject(WRITE, write_faults);

    let run_started = Instant::now();
    let (summary, invocations) = run_to_completion(&s.job, false).await;
    let run_time = run_started.elapsed();

    assert_eq!(invocations, 1);
    assert_eq!(
        (
            summary.status.as_str(),
            summary.rows_scanned,
            summary.rows_written,
            summary.rows_rejected
        ),
        ("complete", rows as u64, rows as u64, 0)
    );
    // Every fault met a request: the scripts were short enough for the run.
    assert_eq!(s.proxy.injected(SCAN), scan_faults.len());
    assert_eq!(s.proxy.injected(WRITE), write_faults.len());
    // Read straight from moto: one item per product (a write the client never heard of,
    // DropAfterForward, was repeated by the SDK; a put of the same key replaces the item).
    let stored = stored_predictions(&clients().await.dynamodb, &s.predictions_table).await;
    assert_every_row_once(&stored, &s.items);

    // Each fault costs exactly one request more: the SDK retries the throttles, server
    // errors and both kinds of drop (one attempt each), and the pipeline resends what each
    // Unprocessed fault held back once (a resend meeting the next fault is that fault's).
    let unprocessed = (write_faults.len() as u64) - sdk_retried(&write_faults);
    let expected_sdk = sdk_retried(&scan_faults) + sdk_retried(&write_faults);
    assert_eq!(s.clients.retries.retries(), expected_sdk);
    assert_eq!(summary.retries, expected_sdk + unprocessed);
    // On the wire, every call once plus each retry: nothing below the SDK (hyper's
    // connection pool) resent a request on its own, unseen by the interceptor.
    let (scans, chunks) =
        calls_without_faults(&s.attributes_table, segments as i32, page_size).await;
    let writes = s.proxy.requests(WRITE) as u64;
    assert_eq!(
        s.proxy.requests(SCAN) as u64,
        scans + sdk_retried(&scan_faults)
    );
    assert_eq!(writes, chunks + sdk_retried(&write_faults) + unprocessed);

    // The stored summary is the one returned, retries included; beside it, the one slice's
    // figures the finish step summed.
    let mut keys = stored_summaries(&s.bucket).await;
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("{RUNS_PREFIX}latest.json"),
            format!("{RUNS_PREFIX}{RUN_ID}.json"),
            format!("{RUNS_PREFIX}{RUN_ID}/slice-0.json"),
        ]
    );
    assert_eq!(latest_summary(&s.bucket).await, as_stored(&summary));
    eprintln!(
        "{} Scans, {writes} BatchWriteItems, {} retries; the run {run_time:?}, the test {:?}",
        s.proxy.requests(SCAN),
        summary.retries,
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_throttled_past_the_policy_fails_the_run_and_a_rerun_writes_every_row_once() {
    moto_or_skip!();
    let started = Instant::now();
    // One segment and one write in flight, so that every throttle lands on the same call.
    let settings = Settings {
        writes_in_flight: 1,
        ..fast_settings()
    };
    let s = stack(200, 50, 1, settings).await;
    let throttles = CallPolicy::BATCH.max_attempts as usize + 2;
    s.proxy.inject(WRITE, vec![Fault::Throttle; throttles]);

    let run_started = Instant::now();
    let err = invoke_scheduled(&s.job)
        .await
        .expect_err("the first write is throttled past the policy's attempts");
    let failed_after = run_started.elapsed();
    let message = err.to_string();
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "WriteFailed", "{message}");
    assert!(
        message.contains("ProvisionedThroughputExceededException"),
        "{message}"
    );
    // The SDK stopped at the policy's attempts, all of them throttled.
    assert_eq!(
        s.proxy.injected(WRITE),
        CallPolicy::BATCH.max_attempts as usize
    );
    assert_eq!(
        s.clients.retries.retries(),
        CallPolicy::BATCH.max_attempts as u64 - 1
    );
    assert!(
        stored_summaries(&s.bucket).await.is_empty(),
        "a failed run stores no summary"
    );
    // The throttled write was the run's first: nothing was written.
    let stored = stored_predictions(&clients().await.dynamodb, &s.predictions_table).await;
    assert!(stored.is_empty(), "{} written", stored.len());

    // The same event again: the two throttles left are retried by the SDK, then the run
    // completes.
    let rerun_started = Instant::now();
    let summary = invoke_scheduled(&s.job).await.unwrap();
    let rerun_time = rerun_started.elapsed();
    assert_eq!(s.proxy.injected(WRITE), throttles);
    assert_eq!(
        (summary.status.as_str(), summary.run_id.as_str()),
        ("complete", RUN_ID)
    );
    assert_eq!((summary.rows_written, summary.retries), (200, 2));
    let stored = stored_predictions(&clients().await.dynamodb, &s.predictions_table).await;
    assert_every_row_once(&stored, &s.items);
    assert_eq!(latest_summary(&s.bucket).await, as_stored(&summary));
    eprintln!(
        "failed after {failed_after:?}, the rerun {rerun_time:?}, the test {:?}",
        started.elapsed()
    );
}
