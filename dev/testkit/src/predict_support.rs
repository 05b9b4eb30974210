//! The predict function's test support (feature `predict-support`), shared by its tests,
//! its bench and the end-to-end tests: the demo model, the wines, the demo app on
//! in-memory stores, requests, the sample events and the status each one must get.

use std::path::PathBuf;

use crate::memory::{InMemoryAttributes, InMemoryPredictions, InMemoryRunLog};
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use predict::results::NightlyResults;
use predict::App;
use scoring::Model;
use scoring::Row;
use store::predictions::Prediction;

/// Every file of `events/` and its expected status, whatever the backing store.
pub const EXPECTED_STATUS: &[(&str, u16)] = &[
    ("predict-get.json", 200),
    ("predict-get-unknown.json", 404),
    ("predict-post.json", 200),
    ("predict-post-malformed.json", 400),
    ("predict-post-invalid-instance.json", 422),
    ("predict-wrong-method.json", 405),
    ("health.json", 200),
    ("unknown-path.json", 404),
    ("rest-api-v1-predict-get.json", 200),
    ("predictions-get.json", 200),
    ("predictions-get-unknown.json", 404),
    // The Open Inference Protocol (v2), for the model named DEMO_MODEL_NAME.
    ("v2-server-live.json", 200),
    ("v2-server-ready.json", 200),
    ("v2-server-metadata.json", 200),
    ("v2-model-metadata-unknown-version.json", 404),
    ("v2-infer-unknown-version.json", 404),
    ("v2-model-metadata.json", 200),
    ("v2-model-ready.json", 200),
    ("v2-infer.json", 200),
    ("v2-infer-unknown-model.json", 404),
    ("v2-infer-bad-shape.json", 400),
];

/// `events/<file>` as JSON.
pub fn event_json(file: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(repository().join("events").join(file)).unwrap()).unwrap()
}

/// `events/<file>` sent to `path` instead (an HTTP API v2 event).
pub fn event_at(file: &str, path: &str) -> serde_json::Value {
    let mut event = event_json(file);
    event["rawPath"] = path.into();
    event["requestContext"]["http"]["path"] = path.into();
    event
}

/// The repository root.
pub fn repository() -> PathBuf {
    crate::moto::repository_root()
}

/// The demo regressor's name in the `/v2` routes, as the template and `make dev` name it
/// (and as the sample events under `events/v2-*` address it).
pub const DEMO_MODEL_NAME: &str = "wine-quality";

pub fn demo_model_bytes() -> Vec<u8> {
    std::fs::read(repository().join("model/wine_quality.onnx")).unwrap()
}

pub fn demo_model() -> Model {
    Model::load(&demo_model_bytes(), "test-version").unwrap()
}

/// The demo wines as the DynamoDB adapter reads them: (product id, attributes).
pub fn wines() -> Vec<(String, Row)> {
    crate::demo_data::repository_wines()
        .unwrap()
        .into_iter()
        .map(|mut item| {
            let id = item.remove("product_id").unwrap();
            (id.as_s().unwrap().clone(), aws_adapter::dynamodb::row(item))
        })
        .collect()
}

/// Wine `index`'s numeric attributes as a `POST /predict` instance.
pub fn wine_instance(index: usize) -> serde_json::Value {
    let object = wines()[index]
        .1
        .iter()
        .filter_map(|(k, v)| match v {
            scoring::Value::Number(n) => Some((k.to_owned(), serde_json::json!(n))),
            _ => None,
        })
        .collect::<serde_json::Map<_, _>>();
    serde_json::Value::Object(object)
}

pub fn demo_store() -> InMemoryAttributes {
    InMemoryAttributes {
        rows: wines().into_iter().collect(),
        failure: None,
    }
}

/// The app the handler tests use: the demo model, the wines, and one nightly result.
pub type DemoApp = App<InMemoryAttributes, NightlyResults<InMemoryPredictions, InMemoryRunLog>>;

pub fn demo_app() -> DemoApp {
    let predictions = InMemoryPredictions::default();
    let result = nightly_result();
    predictions
        .items
        .lock()
        .unwrap()
        .insert(result.product_id.clone(), result);
    let runs = InMemoryRunLog::default();
    runs.0.lock().unwrap().push((
        NIGHTLY_RUN.into(),
        format!(r#"{{"run_id":"{NIGHTLY_RUN}"}}"#),
    ));
    App::new(demo_model(), demo_store(), DEMO_MODEL_NAME)
        .with_results(NightlyResults::new(predictions, runs))
}

/// The completed run of the sample nightly result.
pub const NIGHTLY_RUN: &str = "nightly-2026-11-24T02:00:00Z";

/// The nightly result of `wine-0001` (what `events/predictions-get.json` asks for), from
/// the latest completed run.
pub fn nightly_result() -> Prediction {
    Prediction {
        product_id: "wine-0001".into(),
        answer: scoring::Prediction::Score(5.25),
        model_version: "nightly-model".into(),
        run_id: NIGHTLY_RUN.into(),
        scored_at: "2026-11-24T02:00:07.000Z".into(),
        explanation: None,
        challenger: None,
    }
}

/// The same nightly result on moto: a predictions table holding it, and the run log's
/// `batch-runs/latest.json` naming its run in `bucket`.
pub async fn store_nightly_result(
    s3: &aws_adapter::aws_sdk_s3::Client,
    dynamodb: &aws_adapter::aws_sdk_dynamodb::Client,
    bucket: &str,
    table: &str,
) {
    crate::resources::create_table(dynamodb, table)
        .await
        .unwrap();
    dynamodb
        .put_item()
        .table_name(table)
        .set_item(Some(aws_adapter::dynamodb::prediction_item(
            &nightly_result(),
        )))
        .send()
        .await
        .unwrap();
    crate::resources::put_object(
        s3,
        bucket,
        "batch-runs/latest.json",
        format!(r#"{{"run_id":"{NIGHTLY_RUN}","status":"complete"}}"#).into_bytes(),
    )
    .await
    .unwrap();
}

/// The API Gateway event files of `events/` (the `batch-*` ones are the batch function's),
/// sorted.
pub fn event_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repository().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".json") && !f.starts_with("batch-"))
        .collect();
    files.sort();
    files
}

/// An event file as the runtime would hand it to the handler, configured as the template
/// configures the function (no stage prefix in the path).
pub fn request(file: &str) -> Request {
    static STAGE_SWITCH: std::sync::Once = std::sync::Once::new();
    STAGE_SWITCH.call_once(|| std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true"));
    let json = std::fs::read_to_string(repository().join("events").join(file)).unwrap();
    lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("events/{file}: {e}"))
}

pub fn json_body(response: &Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).expect("the body is JSON")
}

/// A bare request as the handler sees it after `lambda_http` has read the event: `method`
/// on `path` (with its query), `body`.
pub fn http(method: Method, path: &str, body: impl Into<Body>) -> Request {
    let mut request = Request::new(body.into());
    *request.method_mut() = method;
    *request.uri_mut() = path.parse().unwrap();
    request
}
