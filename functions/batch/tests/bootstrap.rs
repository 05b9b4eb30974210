//! The real `batch` binary, run as Lambda runs it: against a local Runtime API on loopback,
//! with moto for S3 and DynamoDB (`MOTO_ENDPOINT`, set by `make test`). The scheduled event
//! goes through main.rs, lambda_runtime and the job; a run past its deadline continues
//! through the function invoking itself (Lambda's Invoke API, served by the same local
//! Runtime API, which queues the continuation as the function's next event).

mod support;

use std::time::Duration;

use batch::pipeline::SCAN_PAGE_ITEMS;
use batch::Summary;
use support::{assert_every_row_once_by, products, stored_predictions, RUN_ID};
use testkit::moto::{aws_env, unique_name};
use testkit::resources;
use testkit::runtime_api::{Options, RuntimeApi};
use testkit::stack::{demo_model_bytes, Clients};
use tokio::process::Child;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:batch:live";

struct Stack {
    clients: Clients,
    env: Vec<(&'static str, String)>,
    bucket: String,
    predictions_table: String,
    items: Vec<testkit::Item>,
}

fn test_endpoint() -> String {
    testkit::moto::test_endpoint().expect("checked by moto_or_skip! first")
}

/// Bucket + model, an attribute table with `rows` products, an empty predictions table;
/// the function's environment for them.
async fn stack(rows: usize, segments: u32) -> Stack {
    let clients = Clients::for_endpoint(&test_endpoint()).await;
    let (bucket, attributes, predictions) = (
        unique_name("models"),
        unique_name("attributes"),
        unique_name("predictions"),
    );
    resources::create_bucket(&clients.s3, &bucket)
        .await
        .unwrap();
    resources::put_object(
        &clients.s3,
        &bucket,
        "model.onnx",
        demo_model_bytes().unwrap(),
    )
    .await
    .unwrap();
    for table in [&attributes, &predictions] {
        resources::create_table(&clients.dynamodb, table)
            .await
            .unwrap();
    }
    let items = products(rows);
    resources::put_items(&clients.dynamodb, &attributes, &items, |_| {})
        .await
        .unwrap();
    let mut env = aws_env(&test_endpoint());
    env.extend([
        ("MODEL_BUCKET", bucket.clone()),
        ("MODEL_KEY", "model.onnx".into()),
        ("ATTRIBUTES_TABLE", attributes),
        ("PREDICTIONS_TABLE", predictions.clone()),
        ("SCAN_SEGMENTS", segments.to_string()),
        ("DEADLINE_MARGIN_SECONDS", "60".into()),
    ]);
    Stack {
        clients,
        env,
        bucket,
        predictions_table: predictions,
        items,
    }
}

/// The API with every invocation given `timeout` (its deadline header).
async fn runtime_api(timeout: Duration) -> RuntimeApi {
    RuntimeApi::start_with(Options {
        function_arn: FUNCTION_ARN.into(),
        timeout,
    })
    .await
    .unwrap()
}

fn spawn(api: &RuntimeApi, env: &[(&'static str, String)]) -> Child {
    api.command(env!("CARGO_BIN_EXE_batch"), "batch")
        .envs(env.iter().cloned())
        // The continuation's Invoke goes to the local Runtime API, like Lambda's own.
        .env(
            "AWS_ENDPOINT_URL_LAMBDA",
            format!("http://{}", api.address()),
        )
        .spawn()
        .unwrap()
}

fn scheduled_event() -> Vec<u8> {
    std::fs::read(testkit::moto::repository_root().join("events/batch-scheduled.json")).unwrap()
}

async fn summary_of(pending: testkit::runtime_api::PendingInvocation) -> Summary {
    let done = tokio::time::timeout(Duration::from_secs(120), pending.wait())
        .await
        .expect("the invocation ends in time")
        .unwrap();
    let body = done.response().expect("a summary, not an error");
    serde_json::from_slice(body).unwrap()
}

async fn latest_summary(stack: &Stack) -> Summary {
    let object = stack
        .clients
        .s3
        .get_object()
        .bucket(&stack.bucket)
        .key("batch-runs/latest.json")
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_run_scores_every_row_and_stores_its_summary() {
    testkit::moto_or_skip!();
    let stack = stack(400, 4).await;
    let api = runtime_api(Duration::from_secs(900)).await;
    let _child = spawn(&api, &stack.env);

    let summary = summary_of(api.push(scheduled_event())).await;
    assert_eq!(
        (
            summary.status.as_str(),
            summary.run_id.as_str(),
            summary.rows_scanned,
            summary.rows_written,
            summary.invocations
        ),
        ("complete", RUN_ID, 400, 400, 1)
    );
    assert!(!summary.model_version.is_empty());
    let written = stored_predictions(&stack.clients.dynamodb, &stack.predictions_table).await;
    assert_every_row_once_by(&written, &stack.items, &summary.model_version);
    assert_eq!(latest_summary(&stack).await, summary);
    assert!(
        api.next_async_invocation(Duration::from_millis(10))
            .await
            .is_none(),
        "a run with time to spare does not continue"
    );
    assert!(
        api.protocol_errors().is_empty(),
        "{:?}",
        api.protocol_errors()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_its_deadline_continues_by_invoking_itself_until_done() {
    testkit::moto_or_skip!();
    // One segment, 2.5 pages: with a deadline inside the margin (20 s against 60) every
    // invocation reads one page, so the run takes three invocations. (Not much shorter:
    // the deadline guard stops a run still busy 3 s before its deadline.)
    let rows = SCAN_PAGE_ITEMS * 5 / 2;
    let stack = stack(rows, 1).await;
    let api = runtime_api(Duration::from_secs(20)).await;
    let _child = spawn(&api, &stack.env);

    let first = summary_of(api.push(scheduled_event())).await;
    assert_eq!(
        (first.status.as_str(), first.rows_written, first.invocations),
        ("continuing", SCAN_PAGE_ITEMS as u64, 1)
    );
    let mut last = first;
    while last.status == "continuing" {
        let next = api
            .next_async_invocation(Duration::from_secs(30))
            .await
            .expect("the function invokes itself to continue");
        assert_eq!(
            next.function, FUNCTION_ARN,
            "through the ARN it was invoked as"
        );
        last = summary_of(next.pending).await;
    }
    assert_eq!(
        (
            last.status.as_str(),
            last.run_id.as_str(),
            last.rows_scanned,
            last.rows_written,
            last.invocations
        ),
        ("complete", RUN_ID, rows as u64, rows as u64, 3)
    );
    let written = stored_predictions(&stack.clients.dynamodb, &stack.predictions_table).await;
    assert_every_row_once_by(&written, &stack.items, &last.model_version);
    assert_eq!(latest_summary(&stack).await, last);
    assert!(
        api.protocol_errors().is_empty(),
        "{:?}",
        api.protocol_errors()
    );
}

#[tokio::test]
async fn a_start_without_its_configuration_fails_the_init_naming_the_variable() {
    testkit::moto_or_skip!();
    let mut stack = stack(0, 1).await;
    stack.env.retain(|(name, _)| *name != "PREDICTIONS_TABLE");
    let api = runtime_api(Duration::from_secs(900)).await;
    let child = spawn(&api, &stack.env);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(api.polls().is_empty(), "it must never ask for an event");
    let logs = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = logs
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("a JSON log line: {logs}"));
    assert_eq!(
        line["fields"]["error"],
        "environment variable PREDICTIONS_TABLE is not set"
    );
}
