//! Faults moto cannot make, through the real DynamoDB adapters with aws-smithy-mocks and
//! the production retry policy (`CallPolicy::BATCH`, applied by `aws_adapter::configure!`
//! as the function does): BatchWriteItem leaving items unprocessed several times,
//! throttling and server errors the SDK retries, errors it does not. Nothing is lost and
//! every retry is counted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_adapter::dynamodb::{prediction_from_item, DynamoDbPredictions, DynamoDbScan};
use aws_adapter::{configure, CallPolicy, SdkRetries};
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use batch::Job;
use store::predictions::{Prediction, PredictionSink};
use store::scan::AttributeScan;
use store::{ErrorKind, RetryCount};
use testkit::batch_support::*;
use testkit::memory::InMemoryRunLog;

const TABLE: &str = "predictions";

fn prediction(id: &str) -> Prediction {
    Prediction {
        product_id: id.into(),
        answer: scoring::Prediction::Score(5.5),
        model_version: "v".into(),
        run_id: "r".into(),
        scored_at: "2026-11-24T02:00:01.000Z".into(),
        explanation: None,
        challenger: None,
    }
}

/// DynamoDB's answer to a throttled call, as it is on the wire (JSON protocol, HTTP 400).
fn throttled() -> (u16, Option<String>) {
    (
        400,
        Some(
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#
                .to_owned(),
        ),
    )
}

/// A client of mocked DynamoDB with the batch function's own retry policy.
fn client(rules: &[&Rule], mode: RuleMode, retries: &SdkRetries) -> Client {
    mock_client!(aws_sdk_dynamodb, mode, rules, |c| configure!(
        c,
        CallPolicy::BATCH,
        retries,
        "dynamodb"
    ))
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
    let retries = SdkRetries::default();
    let sink = DynamoDbPredictions::new(client(&[&rule], RuleMode::MatchAny, &retries), TABLE);
    let batch: Vec<Prediction> = (0..5).map(|i| prediction(&format!("p{i}"))).collect();
    let rest = sink.write(&batch).await.unwrap();
    assert_eq!(
        rest.iter()
            .map(|p| p.product_id.as_str())
            .collect::<Vec<_>>(),
        ["p3", "p4"]
    );
    assert_eq!(retries.retries(), 0);
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_by_the_sdk_and_counted() {
    let (status, body) = throttled();
    let rule = mock!(Client::batch_write_item)
        .sequence()
        .http_status(status, body)
        .http_status(500, None)
        .http_status(503, None)
        .output(|| BatchWriteItemOutput::builder().build())
        .build();
    let retries = SdkRetries::default();
    let sink = DynamoDbPredictions::new(client(&[&rule], RuleMode::Sequential, &retries), TABLE);
    assert!(sink.write(&[prediction("a")]).await.unwrap().is_empty());
    assert_eq!(retries.retries(), 3);
}

#[tokio::test]
async fn past_the_policys_attempts_a_throttled_call_is_unavailable() {
    let (status, body) = throttled();
    let rule = mock!(Client::batch_write_item)
        .sequence()
        .http_status(status, body)
        .times(CallPolicy::BATCH.max_attempts as usize)
        .build();
    let retries = SdkRetries::default();
    let sink = DynamoDbPredictions::new(client(&[&rule], RuleMode::Sequential, &retries), TABLE);
    let err = sink.write(&[prediction("a")]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err}");
    assert!(
        err.message
            .contains("ProvisionedThroughputExceededException"),
        "{err}"
    );
    assert_eq!(retries.retries(), CallPolicy::BATCH.max_attempts as u64 - 1);
}

#[tokio::test]
async fn a_validation_error_is_refused_at_once() {
    let rule = mock!(Client::batch_write_item)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"bad item"}"#.to_owned()),
        )
        .build();
    let retries = SdkRetries::default();
    let sink = DynamoDbPredictions::new(client(&[&rule], RuleMode::Sequential, &retries), TABLE);
    let err = sink.write(&[prediction("a")]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Refused, "{err}");
    assert_eq!(retries.retries(), 0);

    let err = DynamoDbPredictions::new(client(&[], RuleMode::MatchAny, &retries), TABLE)
        .write(&vec![prediction("a"); 26])
        .await
        .unwrap_err();
    assert!(
        err.kind == ErrorKind::Refused && err.message.contains("limit 25"),
        "{err}"
    );
}

#[tokio::test]
async fn a_scan_page_is_retried_by_the_sdk_and_carries_the_last_key() {
    let (status, body) = throttled();
    let rule = mock!(Client::scan)
        .sequence()
        .http_status(status, body)
        .output(|| {
            ScanOutput::builder()
                .items(HashMap::from([
                    ("product_id".to_owned(), AttributeValue::S("p1".into())),
                    ("alcohol".to_owned(), AttributeValue::N("9.5".into())),
                ]))
                .last_evaluated_key("product_id", AttributeValue::S("p1".into()))
                .build()
        })
        .build();
    let retries = SdkRetries::default();
    let scan = DynamoDbScan::new(
        client(&[&rule], RuleMode::Sequential, &retries),
        "attributes",
        &["alcohol".to_owned()],
    );
    let page = scan.page(0, 4, None).await.unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].product_id, "p1");
    assert_eq!(
        page.rows[0].row.get("alcohol"),
        Some(&scoring::Value::Number(9.5))
    );
    assert_eq!(page.next.as_deref(), Some("p1"));
    assert_eq!(retries.retries(), 1);
}

/// The whole job on mocked DynamoDB with the production retry policy: every other write
/// call leaves part of its request unprocessed. Nothing is lost and the summary counts
/// every resend. (A mock answers an operation's retries from the rule that answered its
/// first attempt, so the SDK's retries inside a whole run are tested on moto, through a
/// fault-injecting proxy: tests/batch_faults_on_moto.rs.)
#[tokio::test]
async fn the_job_writes_everything_through_unprocessed_items() {
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
            .map(|(_, it)| it.clone());
        ScanOutput::builder()
            .set_items(Some(page.collect()))
            .build()
    });
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
    let retries = SdkRetries::default();
    let client = client(&[&scan_rule, &write_rule], RuleMode::MatchAny, &retries);

    let job = Job {
        model: demo_model(),
        scan: DynamoDbScan::new(client.clone(), "attributes", &[]),
        sink: DynamoDbPredictions::new(client, TABLE),
        run_log: InMemoryRunLog::default(),
        segments: 4,
        workers: 1,
        settings: fast_settings(),
        store_retries: Box::new(retries.clone()),
        accuracy: None,
        challenger: None,
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
    let resends = (*calls.lock().unwrap() as u64).div_ceil(2);
    assert!(resends > 0);
    assert_eq!(retries.retries(), 0);
    assert_eq!(
        summary.retries, resends,
        "every resend of unprocessed items"
    );
    let stored = stored.lock().unwrap();
    let written: HashMap<String, Prediction> = stored
        .iter()
        .map(|(id, item)| (id.clone(), prediction_from_item(item).unwrap()))
        .collect();
    assert_every_row_once(&written, &items);
}
