//! Offline inference read back: the batch job writes the predictions table and its run
//! summary on moto, then `GET /predictions/{product_id}` reads them through the predict
//! function's own adapters. A product that becomes invalid between two runs, or leaves the
//! attribute table, keeps the first run's item, answered as not from the latest completed
//! run. Each GET is one GetItem and no Scan (counted by the fault proxy the function's
//! clients go through).

use crate::batch_support as support;
use scoring::LoadBudget;

use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::config::{ModelLocation, PredictConfig};
use aws_adapter::dynamodb::{DynamoDbPredictions, DynamoDbScan};
use aws_adapter::s3::S3RunLog;
use aws_adapter::{AwsClients, CallPolicy};
use batch::{BatchEvent, Job};
use e2e::{clients, function_clients, moto_or_skip, unique};
use lambda_http::{Body, Request, RequestExt};
use support::{demo_model, fast_settings, products, summary_of};
use testkit::fault_proxy::FaultProxy;
use testkit::memory::RecordedStarts;
use testkit::resources;

const FIRST_NIGHT: &str = "2026-11-24T02:00:00Z";
const SECOND_NIGHT: &str = "2026-11-25T02:00:00Z";

fn scheduled_at(time: &str) -> BatchEvent {
    let path = testkit::moto::repository_root().join("events/batch-scheduled.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["time"] = time.into();
    serde_json::from_value(event).unwrap()
}

fn get(id: &str) -> Request {
    let mut request = Request::new(Body::Empty);
    *request.uri_mut() = format!("/predictions/{id}").parse().unwrap();
    request.with_raw_http_path(format!("/predictions/{id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_invalid_or_gone_after_a_run_is_not_answered_as_tonights() {
    moto_or_skip!();
    let c = clients().await;
    let (attributes, predictions, bucket) = (
        unique("attributes"),
        unique("predictions"),
        unique("models"),
    );
    resources::create_table(&c.dynamodb, &attributes)
        .await
        .unwrap();
    resources::create_table(&c.dynamodb, &predictions)
        .await
        .unwrap();
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let model_bytes =
        std::fs::read(testkit::moto::repository_root().join("model/wine_quality.onnx")).unwrap();
    resources::put_object(&c.s3, &bucket, "model.onnx", model_bytes)
        .await
        .unwrap();
    let items = products(20);
    resources::put_items(&c.dynamodb, &attributes, &items, |_| {})
        .await
        .unwrap();

    // The batch function, as deployed, writing to moto.
    let f = function_clients(CallPolicy::BATCH).await;
    let model = demo_model();
    let job = Job {
        scan: DynamoDbScan::new(f.dynamodb.clone(), &attributes, model.features()),
        sink: DynamoDbPredictions::new(f.dynamodb.clone(), &predictions),
        run_log: S3RunLog::new(f.s3.clone(), &bucket, "batch-runs/"),
        segments: 2,
        workers: 1,
        settings: fast_settings(),
        store_retries: Box::new(()),
        accuracy: None,
        challenger: None,
        model,
    };
    let night = |time: &'static str| {
        let job = &job;
        async move {
            let summary = summary_of(
                job.invoke(
                    scheduled_at(time),
                    None,
                    chrono::Utc::now(),
                    None::<&RecordedStarts>,
                )
                .await
                .unwrap(),
            );
            assert_eq!(summary.status, "complete");
            summary
        }
    };

    // The predict function, its clients through a proxy that counts DynamoDB's calls.
    let proxy = FaultProxy::start(&e2e::endpoint()).await.unwrap();
    let sdk = testkit::moto::sdk_config(&proxy.endpoint()).await;
    let config = PredictConfig {
        load_budget: LoadBudget::unlimited(),
        capture_rate: aws_adapter::config::CaptureRate::OFF,
        model: ModelLocation {
            bucket: bucket.clone(),
            key: "model.onnx".into(),
        },
        attributes_table: attributes.clone(),
        predictions_table: predictions.clone(),
        runs_prefix: "batch-runs/".into(),
        model_name: "wine-quality".into(),
        challenger: None,
        outcomes_table: None,
        outcome_retention_days: 400,
    };
    let app = predict::init_with(&config, &AwsClients::new(&sdk, CallPolicy::ONLINE))
        .await
        .unwrap();
    let read = |id: &'static str| {
        let app = &app;
        let proxy = &proxy;
        async move {
            let before = proxy.requests("GetItem");
            let response = app.handle(get(id)).await;
            assert_eq!(proxy.requests("GetItem"), before + 1, "one GetItem per GET");
            let status = response.status().as_u16();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(response.body()).unwrap(),
            )
        }
    };

    // Before any run: nothing stored.
    let (status, body) = read("p-00000").await;
    assert_eq!(status, 404, "{body}");

    let first = night(FIRST_NIGHT).await;
    assert_eq!(first.rows_written, 20);
    for id in ["p-00000", "p-00001", "p-00002"] {
        let (status, body) = read(id).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["run_id"], first.run_id, "{body}");
        assert_eq!(body["from_latest_completed_run"], true, "{body}");
        assert!(body["score"].is_f64(), "{body}");
    }

    // Between the nights: p-00001 gets a value the model cannot score, p-00002 is deleted.
    c.dynamodb
        .update_item()
        .table_name(&attributes)
        .key("product_id", AttributeValue::S("p-00001".into()))
        .update_expression("SET alcohol = :v")
        .expression_attribute_values(":v", AttributeValue::S("strong".into()))
        .send()
        .await
        .unwrap();
    c.dynamodb
        .delete_item()
        .table_name(&attributes)
        .key("product_id", AttributeValue::S("p-00002".into()))
        .send()
        .await
        .unwrap();
    let second = night(SECOND_NIGHT).await;
    assert_eq!((second.rows_written, second.rows_rejected), (18, 1));

    // The app read the latest run before the second night completed; a result newer than
    // it makes it read the run log again (at most once a second).
    tokio::time::sleep(predict::results::EARLY_READ_EVERY).await;
    let (status, body) = read("p-00000").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["run_id"], second.run_id, "{body}");
    assert_eq!(body["from_latest_completed_run"], true, "{body}");
    for id in ["p-00001", "p-00002"] {
        let (status, body) = read(id).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["run_id"], first.run_id, "{id}: {body}");
        assert_eq!(body["latest_completed_run"], second.run_id, "{id}: {body}");
        assert_eq!(body["from_latest_completed_run"], false, "{id}: {body}");
    }
    assert_eq!(proxy.requests("Scan"), 0, "the read path never scans");
    assert_eq!(proxy.requests("Query"), 0);
}

/// `EXPLAIN_TOP_K=3`: each item the batch writes on moto holds its three largest
/// contributions (a list of `{feature, value}` maps, largest first) and their space, and
/// `GET /predictions/{product_id}` answers them as stored; the answers are the run's
/// without explanations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_explain_top_k_stores_the_contributions_and_the_get_returns_them() {
    moto_or_skip!();
    let c = clients().await;
    let (attributes, predictions, bucket) = (
        unique("attributes"),
        unique("predictions"),
        unique("models"),
    );
    for table in [&attributes, &predictions] {
        resources::create_table(&c.dynamodb, table).await.unwrap();
    }
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let model_bytes =
        std::fs::read(testkit::moto::repository_root().join("model/wine_quality.onnx")).unwrap();
    resources::put_object(&c.s3, &bucket, "model.onnx", model_bytes)
        .await
        .unwrap();
    let items = products(30);
    resources::put_items(&c.dynamodb, &attributes, &items, |_| {})
        .await
        .unwrap();

    // The batch function's settings as it reads them from its environment.
    let env = [
        ("MODEL_BUCKET", bucket.as_str()),
        ("MODEL_KEY", "model.onnx"),
        ("ATTRIBUTES_TABLE", attributes.as_str()),
        ("PREDICTIONS_TABLE", predictions.as_str()),
        ("EXPLAIN_TOP_K", "3"),
    ];
    let config = aws_adapter::config::BatchConfig::from_lookup(|name| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    assert_eq!(config.explain_top_k, 3);
    let f = function_clients(CallPolicy::BATCH).await;
    let model = demo_model();
    model.explainability().expect("the demo model explains");
    let job = Job {
        scan: DynamoDbScan::new(f.dynamodb.clone(), &attributes, model.features()),
        sink: DynamoDbPredictions::new(f.dynamodb.clone(), &predictions),
        run_log: S3RunLog::new(f.s3.clone(), &bucket, &config.runs_prefix),
        segments: 2,
        workers: 1,
        settings: batch::pipeline::Settings {
            explain_top_k: config.explain_top_k,
            ..fast_settings()
        },
        store_retries: Box::new(()),
        accuracy: None,
        challenger: None,
        model,
    };
    let summary = summary_of(
        job.invoke(
            scheduled_at(FIRST_NIGHT),
            None,
            chrono::Utc::now(),
            None::<&RecordedStarts>,
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        (summary.rows_written, summary.rows_unexplained),
        (30, 0),
        "{summary:?}"
    );

    // The items as DynamoDB holds them.
    let stored = support::stored_predictions(&c.dynamodb, &predictions).await;
    support::assert_every_row_once(&stored, &items);
    let raw = c
        .dynamodb
        .get_item()
        .table_name(&predictions)
        .key("product_id", AttributeValue::S("p-00007".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("the item");
    assert_eq!(raw["explanation_space"], AttributeValue::S("score".into()));
    let list = raw["contributions"].as_l().unwrap();
    assert_eq!(list.len(), 3);
    let features = job.model.features();
    let mut magnitudes = Vec::new();
    for entry in list {
        let entry = entry.as_m().unwrap();
        let feature = entry["feature"].as_s().unwrap();
        assert!(features.contains(feature), "{feature}");
        magnitudes.push(entry["value"].as_n().unwrap().parse::<f64>().unwrap().abs());
    }
    assert!(
        magnitudes.windows(2).all(|w| w[0] >= w[1]),
        "{magnitudes:?}"
    );

    // GET /predictions/{id} through the predict function's own adapters.
    let config = PredictConfig {
        load_budget: LoadBudget::unlimited(),
        capture_rate: aws_adapter::config::CaptureRate::OFF,
        model: ModelLocation {
            bucket: bucket.clone(),
            key: "model.onnx".into(),
        },
        attributes_table: attributes.clone(),
        predictions_table: predictions.clone(),
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
    for id in ["p-00000", "p-00007", "p-00029"] {
        let response = app.handle(get(id)).await;
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(response.status().as_u16(), 200, "{body}");
        assert_eq!(body["from_latest_completed_run"], true, "{body}");
        assert_eq!(body["explanation_space"], "score", "{body}");
        let explanation = stored[id].explanation.as_ref().unwrap();
        let got = body["contributions"].as_array().unwrap();
        assert_eq!(got.len(), 3, "{body}");
        // As stored, in order (serde_json reads floats to within an ulp).
        for (got, (feature, value)) in got.iter().zip(&explanation.contributions) {
            assert_eq!(got["feature"], **feature, "{id}: {body}");
            let read = got["value"].as_f64().unwrap();
            assert!((read - value).abs() <= 1e-15 * value.abs(), "{id}: {body}");
        }
        assert!(body.get("explained_class").is_none(), "{body}");
    }
}
