//! The nightly run with a challenger against moto, through the real adapters: both models
//! loaded from S3 as the function loads them (`load_pair_timed`), the scan projecting both
//! models' features, the run in slices through the run log as the state machine drives
//! it; the predictions table holding the challenger's answer beside the champion's, and
//! `GET /predictions/{id}` answering both. For each challenger (one that agrees, one that
//! disagrees, one that fails to load, one that needs an attribute the products lack, a
//! classifier with other classes), the champion's items are byte for byte those of a run
//! without a challenger.

use scoring::LoadBudget;
use std::collections::HashMap;

use crate::batch_support as support;

use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::config::{ModelLocation, PredictConfig};
use aws_adapter::dynamodb::{DynamoDbPredictions, DynamoDbScan};
use aws_adapter::s3::{S3ModelSource, S3RunLog};
use aws_adapter::{AwsClients, CallPolicy};
use batch::challenger::{reasons, scanned_attributes};
use batch::{Job, Summary};
use e2e::{clients, function_clients, moto_or_skip, unique};
use lambda_http::{Body, Request, RequestExt};
use scoring::{ComparisonReport, Model, Prediction};
use serde_json::{json, Value};
use store::model_source::load_pair_timed;
use support::{fast_settings, products, run_to_completion, scanned, RUN_ID};
use testkit::models::{challenger, challengers};
use testkit::{resources, Item};

type MotoJob = Job<DynamoDbScan, DynamoDbPredictions, S3RunLog>;

/// An attribute table of `items`, an empty predictions table, a bucket with the models.
struct Tables {
    attributes: String,
    predictions: String,
    bucket: String,
    items: Vec<Item>,
}

const CHAMPION_KEY: &str = "champion.onnx";
const CHALLENGER_KEY: &str = "challenger.onnx";

async fn tables(items: Vec<Item>, champion: Vec<u8>) -> Tables {
    let c = clients().await;
    let t = Tables {
        attributes: unique("attributes"),
        predictions: unique("predictions"),
        bucket: unique("models"),
        items,
    };
    for table in [&t.attributes, &t.predictions] {
        resources::create_table(&c.dynamodb, table).await.unwrap();
    }
    resources::create_bucket(&c.s3, &t.bucket).await.unwrap();
    resources::put_object(&c.s3, &t.bucket, CHAMPION_KEY, champion)
        .await
        .unwrap();
    resources::put_items(&c.dynamodb, &t.attributes, &t.items, |_| {})
        .await
        .unwrap();
    t
}

impl Tables {
    fn location(&self, key: &str) -> ModelLocation {
        ModelLocation {
            bucket: self.bucket.clone(),
            key: key.into(),
        }
    }

    /// The batch function as its init builds it, with `challenger` uploaded as its
    /// challenger (`None`: none configured).
    async fn job(&self, challenger: Option<Vec<u8>>) -> MotoJob {
        let f = function_clients(CallPolicy::BATCH).await;
        if let Some(bytes) = challenger.clone() {
            resources::put_object(&clients().await.s3, &self.bucket, CHALLENGER_KEY, bytes)
                .await
                .unwrap();
        }
        let champion = S3ModelSource::new(f.s3.clone(), self.location(CHAMPION_KEY));
        let other =
            challenger.map(|_| S3ModelSource::new(f.s3.clone(), self.location(CHALLENGER_KEY)));
        let (model, _, loaded) =
            load_pair_timed(&champion, other.as_ref(), &LoadBudget::unlimited())
                .await
                .unwrap();
        let challenger = loaded.map(|c| c.map(|(m, _)| m).map_err(|e| e.to_string()));
        let attributes =
            scanned_attributes(&model, challenger.as_ref().and_then(|c| c.as_ref().ok()));
        Job {
            scan: DynamoDbScan::new(f.dynamodb.clone(), &self.attributes, &attributes)
                .with_page_size(150),
            sink: DynamoDbPredictions::new(f.dynamodb.clone(), &self.predictions),
            run_log: S3RunLog::new(f.s3.clone(), &self.bucket, "batch-runs/"),
            segments: 4,
            workers: 2,
            settings: fast_settings(),
            store_retries: Box::new(f.retries.clone()),
            accuracy: None,
            model,
            challenger,
        }
    }

    /// A night's run in slices (each cut into invocations, through JSON and the run log),
    /// summed by the finish step.
    async fn night(&self, challenger: Option<Vec<u8>>) -> Summary {
        let job = self.job(challenger).await;
        let (summary, _) = run_to_completion(&job, true).await;
        assert_eq!(
            (summary.status.as_str(), summary.run_id.as_str()),
            ("complete", RUN_ID)
        );
        summary
    }

    /// Every stored item, by product id, `scored_at` (the time of scoring) left out.
    async fn raw_items(&self) -> HashMap<String, Item> {
        let c = clients().await;
        let mut all = HashMap::new();
        let mut start = None;
        loop {
            let page = c
                .dynamodb
                .scan()
                .table_name(&self.predictions)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            for item in page.items() {
                let mut item = item.clone();
                item.remove("scored_at");
                all.insert(item["product_id"].as_s().unwrap().clone(), item);
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return all,
            }
        }
    }

    /// `GET /predictions/{id}` through the predict function's own adapters.
    async fn get(&self, id: &str) -> Value {
        let config = PredictConfig {
            load_budget: LoadBudget::unlimited(),
            capture_rate: aws_adapter::config::CaptureRate::OFF,
            model: self.location(CHAMPION_KEY),
            attributes_table: self.attributes.clone(),
            predictions_table: self.predictions.clone(),
            runs_prefix: "batch-runs/".into(),
            model_name: "wine-quality".into(),
            challenger: None,
            outcomes_table: None,
            outcome_retention_days: 400,
        };
        let sdk = testkit::moto::sdk_config(&e2e::endpoint()).await;
        let app = predict::init_with(&config, &AwsClients::new(&sdk, CallPolicy::ONLINE))
            .await
            .unwrap();
        let mut request = Request::new(Body::Empty);
        *request.uri_mut() = format!("/predictions/{id}").parse().unwrap();
        let response = app
            .handle(request.with_raw_http_path(format!("/predictions/{id}")))
            .await;
        assert_eq!(response.status().as_u16(), 200);
        serde_json::from_slice(response.body()).unwrap()
    }
}

/// The items without the challenger's attributes.
fn champion_part(mut items: HashMap<String, Item>) -> HashMap<String, Item> {
    for item in items.values_mut() {
        item.retain(|k, _| !k.starts_with("challenger_"));
    }
    items
}

fn report(summary: &Summary) -> ComparisonReport {
    let c = summary
        .challenger
        .clone()
        .expect("the challenger's figures");
    assert!(c.model_version.is_some(), "{c:?}");
    c.comparison.expect("compared")
}

fn own_answers(model: &Model, items: &[Item]) -> HashMap<String, Option<Prediction>> {
    scanned(items)
        .into_iter()
        .map(|s| (s.product_id, model.predict_row(&s.row).ok()))
        .collect()
}

/// A number as the function writes it in JSON (an `f32`'s shortest digits).
fn as_json(x: f32) -> Value {
    serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap()
}

fn without(mut body: Value, keys: &[&str]) -> Value {
    for key in keys {
        body.as_object_mut().unwrap().remove(*key);
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_challenger_leaves_the_champions_items_byte_for_byte_as_without_one() {
    moto_or_skip!();
    let t = tables(products(600), testkit::models::champion()).await;
    t.night(None).await;
    let alone = t.raw_items().await;
    assert_eq!(alone.len(), 600);
    let body_alone = t.get("p-00001").await;
    assert!(body_alone.get("challenger").is_none(), "{body_alone}");

    // Agrees: the same model trained again.
    let summary = t.night(Some(challenger(challengers::REFIT))).await;
    let r = report(&summary);
    assert_eq!((r.rows_compared, r.challenger_errors), (600, 0));
    assert!(r.mean_abs_difference.unwrap() < 1e-5, "{r:?}");
    assert!(r.p99_abs_difference.unwrap() < 1e-5, "{r:?}");
    assert_eq!(champion_part(t.raw_items().await), alone);

    // Disagrees: trained on the white wines. Its stored answers are its own; the mean
    // difference is what the test computes.
    let summary = t.night(Some(challenger(challengers::WHITE))).await;
    let r = report(&summary);
    let version = summary.challenger.clone().unwrap().model_version.unwrap();
    let white = Model::load(&challenger(challengers::WHITE), "w").unwrap();
    let champion = Model::load(&testkit::models::champion(), "c").unwrap();
    let stored = t.raw_items().await;
    let mut sum = 0.0;
    for s in scanned(&t.items) {
        let theirs = white.score_row(&s.row).unwrap();
        let item = &stored[&s.product_id];
        assert_eq!(
            item["challenger_score"],
            AttributeValue::N(theirs.to_string())
        );
        assert_eq!(
            item["challenger_version"],
            AttributeValue::S(version.clone())
        );
        sum += (f64::from(champion.score_row(&s.row).unwrap()) - f64::from(theirs)).abs();
    }
    let mean = sum / 600.0;
    assert!((r.mean_abs_difference.unwrap() - mean).abs() < 1e-9 * mean);
    assert_eq!(champion_part(stored), alone);
    let body = t.get("p-00001").await;
    let theirs = white.score_row(&scanned(&t.items[1..2])[0].row).unwrap();
    assert_eq!(
        body["challenger"],
        json!({"score": as_json(theirs), "model_version": version})
    );
    assert_eq!(
        without(body, &["challenger", "scored_at"]),
        without(body_alone.clone(), &["scored_at"]),
        "the champion's answer as without a challenger"
    );

    // Fails to load (garbage bytes): the run completes and says so; no item holds a
    // challenger's answer (the earlier night's are overwritten).
    let summary = t.night(Some(b"garbage, not an ONNX model".to_vec())).await;
    let c = summary.challenger.clone().unwrap();
    assert_eq!((&c.model_version, &c.comparison), (&None, &None));
    assert!(
        c.load_error.as_deref().unwrap().contains(CHALLENGER_KEY),
        "{c:?}"
    );
    assert_eq!(summary.rows_written, 600);
    assert_eq!(t.raw_items().await, alone, "byte for byte, nothing else");
    assert!(t.get("p-00001").await.get("challenger").is_none());

    // Needs `vintage`, which no product has: each row its error, with the reason.
    let summary = t.night(Some(challenger(challengers::VINTAGE))).await;
    let r = report(&summary);
    assert_eq!((r.rows_compared, r.challenger_errors), (0, 600));
    assert_eq!(
        r.challenger_error_reasons,
        [(reasons::MISSING_OR_INVALID.to_owned(), 600)].into()
    );
    assert_eq!(t.raw_items().await, alone);
}

/// Colored wines (the demo classifier reads `color`), `n` of them.
fn colored(n: usize) -> Vec<Item> {
    let wines = testkit::demo_data::colored_wines().unwrap();
    (0..n)
        .map(|i| {
            let mut item = wines[(i * 11) % wines.len()].clone();
            item.insert("product_id".into(), AttributeValue::S(format!("c-{i:05}")));
            item
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classifier_against_a_classifier_with_other_classes_stored_and_answered_both() {
    moto_or_skip!();
    let classifier =
        std::fs::read(testkit::moto::repository_root().join("model/wine_good_classifier.onnx"))
            .unwrap();
    let t = tables(colored(300), classifier.clone()).await;
    t.night(None).await;
    let alone = t.raw_items().await;
    let body_alone = t.get("c-00002").await;

    let summary = t.night(Some(challenger(challengers::GRADE))).await;
    let r = report(&summary);
    assert_eq!((r.rows_compared, r.challenger_errors), (300, 0));
    // The agreement as the test computes it: labels equal as text.
    let good = own_answers(&Model::load(&classifier, "g").unwrap(), &t.items);
    let grades = own_answers(
        &Model::load(&challenger(challengers::GRADE), "r").unwrap(),
        &t.items,
    );
    let label = |p: &Option<Prediction>| match p {
        Some(Prediction::Class(c)) => c.label().to_string(),
        other => panic!("a label: {other:?}"),
    };
    let agreed = good
        .iter()
        .filter(|(id, p)| label(p) == label(&grades[*id]))
        .count();
    assert_eq!(r.agreement_rate, Some(agreed as f64 / 300.0));
    assert!(r.psi.is_some(), "{r:?}");

    let stored = t.raw_items().await;
    for (id, item) in &stored {
        let Some(Prediction::Class(theirs)) = &grades[id] else {
            panic!()
        };
        assert_eq!(
            item["challenger_label"],
            AttributeValue::S(theirs.label().to_string()),
            "{id}"
        );
        let probabilities = item["challenger_probabilities"].as_m().unwrap();
        let mut classes: Vec<&str> = probabilities.keys().map(String::as_str).collect();
        classes.sort_unstable();
        assert_eq!(classes, ["high", "low", "medium"]);
    }
    assert_eq!(champion_part(stored), alone);

    let body = t.get("c-00002").await;
    let Some(Prediction::Class(theirs)) = &grades["c-00002"] else {
        panic!()
    };
    let c = &body["challenger"];
    assert_eq!(c["label"], theirs.label().to_string(), "{body}");
    for (class, p) in theirs.iter() {
        assert_eq!(c["probabilities"][class.to_string()], as_json(p), "{body}");
    }
    assert!(c["model_version"].is_string(), "{body}");
    assert_eq!(
        without(body, &["challenger", "scored_at"]),
        without(body_alone, &["scored_at"])
    );
}
