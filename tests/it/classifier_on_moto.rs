//! The demo classifier (red and white wines, `color` a categorical string, "good" or
//! "bad") through the predict function and the batch job with the real adapters against
//! moto: numbers, strings and missing values (NULL or absent) from DynamoDB and JSON;
//! labels and class probabilities back, in the answers and in the predictions table.

use crate::batch_support as support;
use scoring::LoadBudget;

use std::collections::HashMap;

use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::config::{ModelLocation, PredictConfig};
use aws_adapter::dynamodb::{row, DynamoDbPredictions, DynamoDbScan};
use aws_adapter::s3::S3RunLog;
use aws_adapter::CallPolicy;
use batch::Job;
use e2e::{clients, function_clients, moto_or_skip, unique};
use lambda_http::http::Method;
use lambda_http::{Body, Request};
use scoring::{Model, Prediction};
use serde_json::{json, Value};
use support::{fast_settings, run_to_completion, stored_predictions};
use testkit::{demo_data, resources, Item};

fn classifier_bytes() -> Vec<u8> {
    std::fs::read(testkit::moto::repository_root().join("model/wine_good_classifier.onnx")).unwrap()
}

/// 30 red and 30 white wines, then three with gaps: alcohol NULL, color absent, color NULL.
fn products() -> Vec<Item> {
    let all = demo_data::colored_wines().unwrap();
    let (red, white): (Vec<Item>, Vec<Item>) = all
        .into_iter()
        .partition(|i| i["color"].as_s().map(String::as_str) == Ok("red"));
    let mut items: Vec<Item> = red
        .into_iter()
        .take(30)
        .chain(white.into_iter().take(30))
        .collect();
    let gap = |id: &str, edit: &dyn Fn(&mut Item)| {
        let mut item = items_template();
        item.insert("product_id".into(), AttributeValue::S(id.into()));
        edit(&mut item);
        item
    };
    items.push(gap("gap-alcohol-null", &|i| {
        i.insert("alcohol".into(), AttributeValue::Null(true));
    }));
    items.push(gap("gap-color-absent", &|i| {
        i.remove("color");
    }));
    items.push(gap("gap-color-null", &|i| {
        i.insert("color".into(), AttributeValue::Null(true));
    }));
    items
}

fn items_template() -> Item {
    demo_data::colored_wines().unwrap().swap_remove(5)
}

async fn attributes_table(items: &[Item]) -> String {
    let c = clients().await;
    let table = unique("attributes");
    resources::create_table(&c.dynamodb, &table).await.unwrap();
    resources::put_items(&c.dynamodb, &table, items, |_| {})
        .await
        .unwrap();
    table
}

fn get(id: &str) -> Request {
    let mut req = Request::new(Body::Empty);
    *req.method_mut() = Method::GET;
    *req.uri_mut() = format!("/predict/{id}").parse().unwrap();
    req
}

fn post(body: Value) -> Request {
    let mut req = Request::new(Body::Text(body.to_string()));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = "/predict".parse().unwrap();
    req
}

fn body(response: &lambda_http::Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

/// The JSON answer the function must give for `prediction`.
fn expected_json(prediction: &Prediction) -> (Value, HashMap<String, f64>) {
    let Prediction::Class(c) = prediction else {
        panic!("a classifier answers classes")
    };
    let probabilities = c
        .iter()
        .map(|(class, p)| (class.to_string(), f64::from(p)))
        .collect();
    (serde_json::to_value(c.label()).unwrap(), probabilities)
}

fn assert_answer(got: &Value, want: &Prediction, what: &str) {
    let (label, probabilities) = expected_json(want);
    assert_eq!(got["label"], label, "{what}: {got}");
    let map = got["probabilities"].as_object().unwrap();
    assert_eq!(map.len(), probabilities.len(), "{what}");
    for (class, p) in probabilities {
        assert!(
            (map[&class].as_f64().unwrap() - p).abs() < 1e-6,
            "{what}: {got}"
        );
    }
}

#[tokio::test]
async fn get_and_post_answer_labels_and_probabilities_for_numbers_strings_and_gaps() {
    moto_or_skip!();
    let c = clients().await;
    let items = products();
    let bucket = unique("models");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    resources::put_object(&c.s3, &bucket, "wine/good.onnx", classifier_bytes())
        .await
        .unwrap();
    let config = PredictConfig {
        load_budget: LoadBudget::unlimited(),
        capture_rate: aws_adapter::config::CaptureRate::OFF,
        model: ModelLocation {
            bucket,
            key: "wine/good.onnx".into(),
        },
        attributes_table: attributes_table(&items).await,
        predictions_table: unique("predictions"),
        runs_prefix: "batch-runs/".into(),
        model_name: "wine-good".into(),
        challenger: None,
        outcomes_table: None,
        outcome_retention_days: 400,
    };
    let app = predict::init_with(&config, &function_clients(CallPolicy::ONLINE).await)
        .await
        .unwrap();
    let model = Model::load(&classifier_bytes(), "local").unwrap();

    // GET: every product, gaps included, as the model answers its DynamoDB row.
    for item in &items {
        let id = item["product_id"].as_s().unwrap();
        let response = app.handle(get(id)).await;
        let got = body(&response);
        assert_eq!(response.status(), 200, "{id}: {got}");
        let want = model.predict_row(&row(item.clone())).unwrap();
        assert_answer(&got, &want, id);
        assert!(got.get("score").is_none());
    }

    // POST: a number, a string and an explicit null in the same request.
    let mut instance = serde_json::Map::new();
    for name in model.features() {
        instance.insert(name.clone(), json!(1.0));
    }
    instance.insert("color".into(), json!("white"));
    let mut gap = instance.clone();
    gap.insert("alcohol".into(), Value::Null);
    gap.insert("color".into(), Value::Null);
    let response = app
        .handle(post(json!({"instances": [instance, gap]})))
        .await;
    let got = body(&response);
    assert_eq!(response.status(), 200, "{got}");
    let want = model
        .predict_rows(&[instance.clone(), gap.clone()])
        .unwrap();
    for (i, w) in want.iter().enumerate() {
        assert_answer(&got["predictions"][i], &w, "POST");
    }

    // A number where the model takes a category: 422 naming the feature.
    let mut wrong = instance.clone();
    wrong.insert("color".into(), json!(3));
    let response = app.handle(post(json!({"instances": [wrong]}))).await;
    let got = body(&response);
    assert_eq!(response.status(), 422, "{got}");
    assert!(got["error"].as_str().unwrap().contains("`color`"), "{got}");

    // /health: the categorical feature and the classes.
    let response = app.handle(get_path("/health")).await;
    let got = body(&response);
    assert_eq!(got["task"], "classification");
    assert_eq!(got["classes"], json!(["bad", "good"]));
    let color = got["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "color")
        .unwrap();
    assert_eq!(color["kind"], "categorical");
    assert_eq!(color["type"], "string");
}

fn get_path(path: &str) -> Request {
    let mut req = Request::new(Body::Empty);
    *req.uri_mut() = path.parse().unwrap();
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_writes_labels_and_probability_maps() {
    moto_or_skip!();
    let c = clients().await;
    let f = function_clients(CallPolicy::BATCH).await;
    let items = products();
    let attributes = attributes_table(&items).await;
    let predictions = unique("predictions");
    resources::create_table(&c.dynamodb, &predictions)
        .await
        .unwrap();
    let bucket = unique("runs");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let model = Model::load(&classifier_bytes(), "model-v1").unwrap();
    let job = Job {
        scan: DynamoDbScan::new(f.dynamodb.clone(), &attributes, model.features()),
        sink: DynamoDbPredictions::new(f.dynamodb.clone(), &predictions),
        run_log: S3RunLog::new(f.s3.clone(), &bucket, "batch-runs/"),
        segments: 2,
        workers: 2,
        settings: fast_settings(),
        store_retries: Box::new(f.retries.clone()),
        accuracy: None,
        challenger: None,
        model: model.clone(),
    };
    let (summary, _) = run_to_completion(&job, false).await;
    assert_eq!(summary.rows_written as usize, items.len());
    assert_eq!(summary.rows_rejected, 0);

    let stored = stored_predictions(&c.dynamodb, &predictions).await;
    assert_eq!(stored.len(), items.len());
    for item in &items {
        let id = item["product_id"].as_s().unwrap();
        let want = model.predict_row(&row(item.clone())).unwrap();
        let Prediction::Class(want) = want else {
            panic!()
        };
        let Prediction::Class(got) = &stored[id].answer else {
            panic!("{id}: a label and probabilities")
        };
        assert_eq!(got.label(), want.label(), "{id}");
        assert_eq!(got.classes, want.classes, "{id}: classes in order");
        assert_eq!(got.probabilities, want.probabilities, "{id}");
    }
    // The raw item: the label a string, the probabilities a map of numbers.
    let raw = c
        .dynamodb
        .get_item()
        .table_name(&predictions)
        .key("product_id", AttributeValue::S("gap-color-null".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(matches!(raw["label"], AttributeValue::S(_)), "{raw:?}");
    let map = raw["probabilities"].as_m().unwrap();
    assert!(
        map.contains_key("good") && map.contains_key("bad"),
        "{raw:?}"
    );
    assert!(!raw.contains_key("score"));
}
