//! Shared by the predict tests: the demo model, the wines, the sample events and the
//! status each one must get.
#![allow(dead_code)]

use std::path::PathBuf;

use lambda_http::{Body, Request, Response};
use predict::App;
use scoring::Model;
use scoring::Row;
use testkit::memory::InMemoryAttributes;

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
    // The Open Inference Protocol (v2), for the model named DEMO_MODEL_NAME.
    ("v2-server-live.json", 200),
    ("v2-model-metadata.json", 200),
    ("v2-model-ready.json", 200),
    ("v2-infer.json", 200),
    ("v2-infer-unknown-model.json", 404),
    ("v2-infer-bad-shape.json", 400),
];

/// The repository root (this module is also compiled into the top-level e2e tests, so it
/// does not use its own crate's manifest directory).
pub fn repository() -> PathBuf {
    testkit::moto::repository_root()
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
    testkit::demo_data::repository_wines()
        .unwrap()
        .into_iter()
        .map(|mut item| {
            let id = item.remove("product_id").unwrap();
            (id.as_s().unwrap().clone(), aws_adapter::dynamodb::row(item))
        })
        .collect()
}

pub fn demo_store() -> InMemoryAttributes {
    InMemoryAttributes {
        rows: wines().into_iter().collect(),
        failure: None,
    }
}

pub fn demo_app() -> App<InMemoryAttributes> {
    App::new(demo_model(), demo_store(), DEMO_MODEL_NAME)
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
