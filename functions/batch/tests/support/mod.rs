//! Shared by the batch tests: the demo model, products, and a job over in-memory stores.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::dynamodb::prediction_from_item;
use batch::continuation::{ContinuationEvent, SelfInvoke};
use batch::pipeline::{ResendPolicy, Settings};
use batch::{BatchEvent, Job, Summary};
use scoring::Model;
use store::predictions::Prediction;
use store::scan::ScannedRow;
use testkit::memory::InMemoryRunLog;
use testkit::memory::InMemoryScan;
use testkit::memory::{InMemoryPredictions, RecordedInvocations};
use testkit::Item;

pub const SCHEDULE_TIME: &str = "2026-11-24T02:00:00Z";
pub const RUN_ID: &str = "nightly-2026-11-24T02:00:00Z";

pub fn demo_model() -> Model {
    let path = testkit::moto::repository_root().join("model/wine_quality.onnx");
    Model::load(&std::fs::read(path).unwrap(), "model-v1").unwrap()
}

/// `n` products as DynamoDB items: the wines, repeated, with ids `p-00000` ...
pub fn products(n: usize) -> Vec<Item> {
    let wines = testkit::demo_data::repository_wines().unwrap();
    (0..n)
        .map(|i| {
            let mut item = wines[i % wines.len()].clone();
            item.insert("product_id".into(), AttributeValue::S(format!("p-{i:05}")));
            item
        })
        .collect()
}

/// Items as the attribute scan hands them out (through the DynamoDB adapter's own reading).
pub fn scanned(items: &[Item]) -> Vec<ScannedRow> {
    items
        .iter()
        .map(|item| {
            let mut item = item.clone();
            let id = item.remove("product_id").expect("a product id");
            ScannedRow {
                product_id: id.as_s().expect("a string id").clone(),
                row: aws_adapter::dynamodb::row(item),
            }
        })
        .collect()
}

/// A scheduled event as EventBridge delivers it (the file in events/).
pub fn scheduled_event() -> BatchEvent {
    let path = testkit::moto::repository_root().join("events/batch-scheduled.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn fast_settings() -> Settings {
    Settings {
        score_batch: 200,
        writes_in_flight: 4,
        resend: ResendPolicy {
            max_attempts: 6,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
    }
}

pub type MemoryJob = Job<InMemoryScan, InMemoryPredictions, InMemoryRunLog>;

pub fn job(items: Vec<Item>, page_size: usize, sink: InMemoryPredictions) -> MemoryJob {
    Job {
        model: demo_model(),
        scan: InMemoryScan::new(scanned(&items), page_size),
        sink,
        run_log: InMemoryRunLog::default(),
        segments: 4,
        settings: fast_settings(),
        store_retries: Box::new(()),
    }
}

/// One invocation with the scheduled event, no deadline; a continuation would be recorded,
/// not sent.
pub async fn invoke_scheduled<S, P, L>(job: &Job<S, P, L>) -> Result<Summary, batch::JobError>
where
    S: store::scan::AttributeScan,
    P: store::predictions::PredictionSink,
    L: store::run_log::RunLog,
{
    let recorded = RecordedInvocations::default();
    job.invoke(
        scheduled_event(),
        None,
        chrono::Utc::now(),
        &continuation(&recorded),
    )
    .await
}

/// The function's own way to continue (invoking itself), into a twin that records the
/// invocations instead of making them.
pub fn continuation(recorded: &RecordedInvocations) -> SelfInvoke<'_, RecordedInvocations> {
    SelfInvoke {
        invoker: recorded,
        function: "arn:aws:lambda:us-east-1:123456789012:function:batch".to_owned(),
    }
}

/// The last continuation recorded, as Lambda would deliver it.
pub fn last_continuation(recorded: &RecordedInvocations) -> ContinuationEvent {
    let payload = recorded.take().pop().expect("a continuation was sent");
    serde_json::from_slice(&payload).expect("a continuation event")
}

/// Runs a scheduled event to completion, delivering continuations (through JSON) like
/// Lambda would; `stop_now` gives every invocation a deadline already past.
pub async fn run_to_completion<S, P, L>(job: &Job<S, P, L>, stop_now: bool) -> (Summary, usize)
where
    S: store::scan::AttributeScan,
    P: store::predictions::PredictionSink,
    L: store::run_log::RunLog,
{
    let recorded = RecordedInvocations::default();
    let continuations = continuation(&recorded);
    let mut event = scheduled_event();
    let mut invocations = 0;
    loop {
        invocations += 1;
        let stop_at = stop_now.then(std::time::Instant::now);
        let summary = job
            .invoke(event, stop_at, chrono::Utc::now(), &continuations)
            .await
            .unwrap();
        if summary.status == "complete" {
            return (summary, invocations);
        }
        event = BatchEvent::Continuation(last_continuation(&recorded));
    }
}

/// The scores the model gives each valid product, by id.
pub fn expected_scores(items: &[Item]) -> HashMap<String, f32> {
    let model = demo_model();
    scanned(items)
        .into_iter()
        .filter_map(|s| Some((s.product_id, model.score_row(&s.row).ok()?)))
        .collect()
}

pub fn assert_every_row_once(written: &HashMap<String, Prediction>, items: &[Item]) {
    assert_every_row_once_by(written, items, "model-v1")
}

/// Every valid row has exactly one result: the model's score, this run, `model_version`.
pub fn assert_every_row_once_by(
    written: &HashMap<String, Prediction>,
    items: &[Item],
    model_version: &str,
) {
    let expected = expected_scores(items);
    assert_eq!(written.len(), expected.len(), "one result per valid row");
    for (id, score) in &expected {
        let p = &written[id];
        assert_eq!(p.answer, scoring::Prediction::Score(*score), "{id}");
        assert_eq!(&*p.run_id, RUN_ID);
        assert_eq!(&*p.model_version, model_version);
    }
}

/// Every item of a predictions table on DynamoDB (moto), by product id; fails on an item
/// that is not a well-formed result or a product written twice.
pub async fn stored_predictions(
    dynamodb: &aws_adapter::aws_sdk_dynamodb::Client,
    table: &str,
) -> HashMap<String, Prediction> {
    let mut all = HashMap::new();
    let mut start = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let p = prediction_from_item(item).expect("a well-formed result item");
            assert!(
                all.insert(p.product_id.clone(), p).is_none(),
                "one item per product"
            );
        }
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return all,
        }
    }
}
