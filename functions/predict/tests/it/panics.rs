//! A panic in the handler (a dependency's, or a bug of ours) ends that request with a JSON
//! 500 carrying the request id, and the sandbox serves the next one. `predict::serve` runs
//! in this test process against a local Runtime API, with an attribute store that panics
//! for one product: the only way to make the real request path panic on purpose. (Alone
//! in a process of its own, `testkit::alone!`: the runtime reads its settings from the
//! process environment, which this test sets.)

use std::time::Duration;

use scoring::Row;
use store::attributes::AttributeStore;
use store::StoreError;
use testkit::predict_support::{self, demo_model, event_files, repository};
use testkit::runtime_api::RuntimeApi;

/// The demo wines, except that reading `wine-0001` panics.
struct PanicsOnFirstWine(testkit::memory::InMemoryAttributes);

impl AttributeStore for PanicsOnFirstWine {
    async fn attributes(&self, product_id: &str) -> Result<Option<Row>, StoreError> {
        if product_id == "wine-0001" {
            let empty: Vec<Row> = Vec::new();
            let _ = &empty[std::hint::black_box(1)];
        }
        self.0.attributes(product_id).await
    }
}

#[tokio::test]
async fn a_panic_in_the_handler_is_a_json_500_and_the_next_request_is_served() {
    testkit::alone!();
    assert!(event_files().contains(&"predict-get.json".to_owned()));
    let api = RuntimeApi::start().await.unwrap();
    for (name, value) in [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", "predict".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true".into()),
    ] {
        std::env::set_var(name, value);
    }
    let app = predict::App::new(
        demo_model(),
        PanicsOnFirstWine(predict_support::demo_store()),
        predict_support::DEMO_MODEL_NAME,
    );
    tokio::select! {
        stopped = predict::serve(&app, None) => panic!("the loop ended: {stopped:?}"),
        () = requests(&api) => {}
    }
}

async fn requests(api: &RuntimeApi) {
    let get = std::fs::read(repository().join("events/predict-get.json")).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(30), api.invoke(get))
        .await
        .expect("an answer in time")
        .unwrap();
    assert_eq!(done.http_status(), Some(500), "{:?}", done.http_body());
    let body: serde_json::Value = serde_json::from_str(&done.http_body().unwrap()).unwrap();
    assert_eq!(body["request_id"], done.request_id.as_str(), "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("request id"), "{error}");
    assert!(!error.contains("index out of bounds"), "{error}");

    // Served on: another product, through the same loop.
    let mut other: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repository().join("events/predict-get.json")).unwrap(),
    )
    .unwrap();
    other["rawPath"] = "/predict/wine-0002".into();
    let done = tokio::time::timeout(Duration::from_secs(30), api.invoke_json(&other))
        .await
        .expect("an answer in time")
        .unwrap();
    assert_eq!(done.http_status(), Some(200), "{:?}", done.http_body());
}
