//! Faults moto cannot make, through the real DynamoDB adapters with aws-smithy-mocks:
//! BatchWriteItem leaving items unprocessed several times, throughput exceptions, a Scan
//! page error. Nothing is lost and retries are counted.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemError, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::scan::{ScanError, ScanOutput};
use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use batch::Job;
use aws_adapter::predictions::{DynamoDbPredictions, Prediction, PredictionSink};
use aws_adapter::run_log::InMemoryRunLog;
use aws_adapter::scan::{AttributeScan, DynamoDbScan};
use support::*;

const TABLE: &str = "predictions";

fn prediction(id: &str) -> Prediction {
    Prediction {
        product_id: id.into(),
        score: 5.5,
        model_version: "v".into(),
        run_id: "r".into(),
        scored_at: "2026-11-24T02:00:01.000Z".into(),
    }
}

fn throughput_error() -> BatchWriteItemError {
    BatchWriteItemError::ProvisionedThroughputExceededException(
        ProvisionedThroughputExceededException::builder()
            .message("slow down")
            .build(),
    )
}

/// A BatchWriteItem answer leaving all but the first `written` requests unprocessed.
fn unprocessed(requests: &[WriteRequest], written: usize) -> BatchWriteItemOutput {
    BatchWriteItemOutput::builder()
        .unprocessed_items(TABLE, requests[written..].to_vec())
        .build()
}

#[tokio::test]
async fn the_adapter_hands_back_exactly_the_unprocessed_predictions() {
    let rule = mock!(Client::batch_write_item)
        .then_compute_output(|input| unprocessed(&input.request_items().unwrap()[TABLE], 3));
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    let sink = DynamoDbPredictions::new(client, TABLE);
    let batch: Vec<Prediction> = (0..5).map(|i| prediction(&format!("p{i}"))).collect();
    let rest = sink.write(&batch).await.unwrap();
    assert_eq!(
        rest.iter()
            .map(|p| p.product_id.as_str())
            .collect::<Vec<_>>(),
        ["p3", "p4"]
    );
}

#[tokio::test]
async fn throughput_exceptions_are_retryable_and_validation_errors_are_not() {
    let rule = mock!(Client::batch_write_item).then_error(throughput_error);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    let err = DynamoDbPredictions::new(client, TABLE)
        .write(&[prediction("a")])
        .await
        .unwrap_err();
    assert!(err.retryable, "{err}");
    assert!(
        err.message
            .contains("ProvisionedThroughputExceededException"),
        "{err}"
    );

    let err = DynamoDbPredictions::new(mock_client!(aws_sdk_dynamodb, &[]), TABLE)
        .write(&vec![prediction("a"); 26])
        .await
        .unwrap_err();
    assert!(!err.retryable && err.message.contains("limit 25"), "{err}");
}

#[tokio::test]
async fn a_scan_page_error_is_retryable_and_pages_carry_the_last_key() {
    let rule = mock!(Client::scan)
        .sequence()
        .error(|| {
            ScanError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder().build(),
            )
        })
        .output(|| {
            ScanOutput::builder()
                .items(HashMap::from([(
                    "product_id".to_owned(),
                    AttributeValue::S("p1".into()),
                )]))
                .last_evaluated_key("product_id", AttributeValue::S("p1".into()))
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    let scan = DynamoDbScan::new(client, "attributes", &["alcohol".to_owned()]);
    let err = scan.page(0, 4, None).await.unwrap_err();
    assert!(err.retryable, "{err}");
    let page = scan.page(0, 4, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next.as_deref(), Some("p1"));
}

/// The whole job on mocked DynamoDB: every write request is first left partly unprocessed
/// twice and throttled once; every scan page first fails once. Nothing is lost.
#[tokio::test]
async fn the_job_writes_everything_through_unprocessed_items_and_throttling() {
    let items = products(300);
    let stored: Arc<Mutex<HashMap<String, HashMap<String, AttributeValue>>>> = Default::default();
    let calls = Arc::new(Mutex::new(0usize));

    let scan_items = items.clone();
    let scan_rule = mock!(Client::scan).then_compute_output(move |input| {
        // One page per segment, items split by position.
        let (segment, total) = (
            input.segment().unwrap() as usize,
            input.total_segments().unwrap() as usize,
        );
        let page = scan_items
            .iter()
            .enumerate()
            .filter(|(i, _)| i % total == segment)
            .map(|(_, it)| it.0.clone());
        ScanOutput::builder()
            .set_items(Some(page.collect()))
            .build()
    });
    let scan_errors = mock!(Client::scan)
        .sequence()
        .error(|| {
            ScanError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder().build(),
            )
        })
        .times(4)
        .build();
    let (store, count) = (stored.clone(), calls.clone());
    let write_rule = mock!(Client::batch_write_item).then_compute_output(move |input| {
        let requests = &input.request_items().unwrap()[TABLE];
        let mut n = count.lock().unwrap();
        *n += 1;
        // Odd calls leave the last two unprocessed; the rest are written.
        let written = if *n % 2 == 1 {
            requests.len().saturating_sub(2)
        } else {
            requests.len()
        };
        for r in &requests[..written] {
            let item = r.put_request().unwrap().item().clone();
            store
                .lock()
                .unwrap()
                .insert(item["product_id"].as_s().unwrap().clone(), item);
        }
        unprocessed(requests, written)
    });
    let throttle_once = mock!(Client::batch_write_item)
        .sequence()
        .error(throughput_error)
        .times(1)
        .build();
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&scan_errors, &scan_rule, &throttle_once, &write_rule],
        |c| c.retry_config(RetryConfig::disabled())
    );

    let job = Job {
        model: demo_model(),
        scan: DynamoDbScan::new(client.clone(), "attributes", &[]),
        sink: DynamoDbPredictions::new(client, TABLE),
        run_log: InMemoryRunLog::default(),
        segments: 4,
        settings: fast_settings(),
    };
    let summary = invoke_scheduled(&job).await.unwrap();
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_written,
            summary.status.as_str()
        ),
        (300, 300, "complete")
    );
    assert!(
        summary.retries >= 4 + 1,
        "scan errors and the throttle are counted: {}",
        summary.retries
    );
    let stored = stored.lock().unwrap();
    let written: HashMap<String, Prediction> = stored
        .iter()
        .map(|(id, item)| (id.clone(), Prediction::from_item(item).unwrap()))
        .collect();
    assert_every_row_once(&written, &items);
}
