//! The batch function's test support (feature `batch-support`), shared by its tests, its
//! examples and the end-to-end tests: the demo model, products, a job over in-memory
//! stores, a run driven as the state machine drives it, and a stack of it on moto.

use std::collections::HashMap;
use std::time::Duration;

use crate::memory::{InMemoryPredictions, InMemoryRunLog, InMemoryScan, RecordedStarts};
use crate::Item;
use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::dynamodb::prediction_from_item;
use batch::pipeline::{ResendPolicy, Settings};
use batch::run::{Plan, SliceState};
use batch::{Answer, BatchEvent, Job, Summary};
use scoring::Model;
use store::predictions::Prediction;
use store::scan::ScannedRow;

pub const SCHEDULE_TIME: &str = "2026-11-24T02:00:00Z";
pub const RUN_ID: &str = "nightly-2026-11-24T02:00:00Z";

pub fn demo_model() -> Model {
    let path = crate::moto::repository_root().join("model/wine_quality.onnx");
    Model::load(&std::fs::read(path).unwrap(), "model-v1").unwrap()
}

/// `n` products as DynamoDB items: the wines, repeated, with ids `p-00000` ...
pub fn products(n: usize) -> Vec<Item> {
    let wines = crate::demo_data::repository_wines().unwrap();
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
    let path = crate::moto::repository_root().join("events/batch-scheduled.json");
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
        explain_top_k: 0,
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
        workers: 2,
        settings: fast_settings(),
        store_retries: Box::new(()),
        accuracy: None,
        challenger: None,
    }
}

/// One invocation with the scheduled event, no deadline and no state machine: the whole
/// table in one go.
pub async fn invoke_scheduled<S, P, L>(job: &Job<S, P, L>) -> Result<Summary, batch::JobError>
where
    S: store::scan::AttributeScan,
    P: store::predictions::PredictionSink,
    L: store::run_log::RunLog,
{
    job.invoke(
        scheduled_event(),
        None,
        chrono::Utc::now(),
        None::<&RecordedStarts>,
    )
    .await
    .map(summary_of)
}

/// The summary a run's last invocation answers.
pub fn summary_of(answer: Answer) -> Summary {
    match answer {
        Answer::Summary(summary) => summary,
        other => panic!("expected a run summary, got {other:?}"),
    }
}

/// The plan the scheduled event starts, through a twin of the state machine's start that
/// records it.
pub async fn plan_of<S, P, L>(job: &Job<S, P, L>) -> Plan
where
    S: store::scan::AttributeScan,
    P: store::predictions::PredictionSink,
    L: store::run_log::RunLog,
{
    let starts = RecordedStarts::default();
    let answer = job
        .invoke(scheduled_event(), None, chrono::Utc::now(), Some(&starts))
        .await
        .unwrap();
    assert!(
        matches!(answer, Answer::Started(ref s) if !s.already_started),
        "{answer:?}"
    );
    serde_json::from_str(&starts.inputs().pop().expect("a run was started")).unwrap()
}

/// Invokes the job with `event` as the state machine would send it (through JSON).
pub async fn invoke_json<S, P, L>(
    job: &Job<S, P, L>,
    event: serde_json::Value,
    stop_now: bool,
) -> Result<Answer, batch::JobError>
where
    S: store::scan::AttributeScan,
    P: store::predictions::PredictionSink,
    L: store::run_log::RunLog,
{
    let event: BatchEvent = serde_json::from_value(event).unwrap();
    let stop_at = stop_now.then(std::time::Instant::now);
    job.invoke(event, stop_at, chrono::Utc::now(), None::<&RecordedStarts>)
        .await
}

/// One slice, invoked again with what it answered until done (the state machine's loop);
/// the invocations it took.
pub async fn score_slice_to_end<S, P, L>(
    job: &Job<S, P, L>,
    mut slice: SliceState,
    stop_now: bool,
) -> usize
where
    S: store::scan::AttributeScan,
    P: store::predictions::PredictionSink,
    L: store::run_log::RunLog,
{
    let mut invocations = 0;
    while !slice.done {
        invocations += 1;
        let answer = invoke_json(job, serde_json::json!({ "slice": slice }), stop_now)
            .await
            .unwrap();
        let json = serde_json::to_value(&answer).unwrap();
        slice = serde_json::from_value(json["slice"].clone()).expect("a slice answered");
    }
    invocations
}

/// Runs a scheduled event to completion as the state machine does: plan, every slice at
/// once (each invoked until done), finish; every event through JSON. `stop_now` gives
/// every invocation a deadline already past. Answers the summary and the invocations that
/// scored.
pub async fn run_to_completion<S, P, L>(job: &Job<S, P, L>, stop_now: bool) -> (Summary, usize)
where
    S: store::scan::AttributeScan,
    P: store::predictions::PredictionSink,
    L: store::run_log::RunLog,
{
    let plan = plan_of(job).await;
    let invocations: usize = futures_util::future::join_all(
        plan.slices
            .iter()
            .map(|slice| score_slice_to_end(job, slice.clone(), stop_now)),
    )
    .await
    .into_iter()
    .sum();
    let answer = invoke_json(job, serde_json::json!({ "finish": plan }), false)
        .await
        .unwrap();
    (summary_of(answer), invocations)
}

/// On a moto server: a bucket with the demo model, an attribute table of `rows` products,
/// an empty predictions table; and the batch function's environment for them.
pub struct MotoStack {
    pub clients: crate::stack::Clients,
    pub env: Vec<(&'static str, String)>,
    pub bucket: String,
    pub predictions_table: String,
    pub items: Vec<Item>,
}

impl MotoStack {
    pub async fn create(endpoint: &str, rows: usize, segments: u32) -> MotoStack {
        use crate::moto::unique_name;
        use crate::resources;
        let clients = crate::stack::Clients::for_endpoint(endpoint).await;
        let (bucket, attributes, predictions) = (
            unique_name("models"),
            unique_name("attributes"),
            unique_name("predictions"),
        );
        resources::create_bucket(&clients.s3, &bucket)
            .await
            .unwrap();
        let model = crate::stack::demo_model_bytes().unwrap();
        resources::put_object(&clients.s3, &bucket, "model.onnx", model)
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
        let mut env = crate::moto::aws_env(endpoint);
        env.extend([
            ("MODEL_BUCKET", bucket.clone()),
            ("MODEL_KEY", "model.onnx".into()),
            ("ATTRIBUTES_TABLE", attributes),
            ("PREDICTIONS_TABLE", predictions.clone()),
            ("SCAN_SEGMENTS", segments.to_string()),
            ("DEADLINE_MARGIN_SECONDS", "60".into()),
        ]);
        MotoStack {
            clients,
            env,
            bucket,
            predictions_table: predictions,
            items,
        }
    }

    /// The stored summary of the latest completed run, if one completed.
    pub async fn latest_summary(&self) -> Option<Summary> {
        let json =
            crate::resources::get_object(&self.clients.s3, &self.bucket, "batch-runs/latest.json")
                .await
                .ok()?;
        Some(serde_json::from_str(&json).unwrap())
    }

    pub async fn predictions(&self) -> HashMap<String, Prediction> {
        stored_predictions(&self.clients.dynamodb, &self.predictions_table).await
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
