//! The predict function with the real SDK and the online policy (`CallPolicy::ONLINE`)
//! against moto, through a proxy that throttles and drops DynamoDB's GetItem: what the SDK
//! retries is invisible to the caller; an outage longer than the policy's attempts is the
//! function's own JSON 503, which names neither the table nor DynamoDB's error; a stalled
//! DynamoDB is that same 503, well within the function's timeout.

use crate::predict_support as support;
use scoring::LoadBudget;

use aws_adapter::config::{ModelLocation, PredictConfig};
use aws_adapter::{AwsClients, CallPolicy};
use e2e::{clients, moto_or_skip, unique};
use store::RetryCount;
use support::{demo_model_bytes, json_body, request};
use testkit::fault_proxy::{Fault, FaultProxy};
use testkit::{demo_data, resources};

const GET_ITEM: &str = "GetItem";

/// The model and 30 wines straight into moto; the app initialised as the function
/// initialises itself, with its clients pointed at a fault proxy (the model is read from
/// S3 through it, untouched).
async fn app() -> (FaultProxy, predict::AwsApp, AwsClients, String) {
    let c = clients().await;
    let (bucket, table) = (unique("models"), unique("attributes"));
    let key = "wine/model.onnx".to_owned();
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    resources::put_object(&c.s3, &bucket, &key, demo_model_bytes())
        .await
        .unwrap();
    resources::create_table(&c.dynamodb, &table).await.unwrap();
    let wines = demo_data::repository_wines().unwrap();
    resources::put_items(&c.dynamodb, &table, &wines[..30], |_| {})
        .await
        .unwrap();
    let config = PredictConfig {
        load_budget: LoadBudget::unlimited(),
        capture_rate: aws_adapter::config::CaptureRate::OFF,
        model: ModelLocation { bucket, key },
        attributes_table: table.clone(),
        predictions_table: unique("predictions"),
        runs_prefix: "batch-runs/".into(),
        model_name: "wine-quality".into(),
        challenger: None,
        outcomes_table: None,
        outcome_retention_days: 400,
    };
    let proxy = FaultProxy::start(&e2e::endpoint()).await.unwrap();
    let sdk = testkit::moto::sdk_config(&proxy.endpoint()).await;
    let clients = AwsClients::new(&sdk, CallPolicy::ONLINE);
    let app = predict::init_with(&config, &clients).await.unwrap();
    (proxy, app, clients, table)
}

/// GET /predict/wine-0001, as API Gateway delivers it.
async fn get_first_wine(app: &predict::AwsApp) -> (u16, serde_json::Value) {
    let response = app.handle(request("predict-get.json")).await;
    (response.status().as_u16(), json_body(&response))
}

#[tokio::test]
async fn a_throttle_and_a_dropped_connection_are_retried_unseen() {
    moto_or_skip!();
    let (proxy, app, clients, _) = app().await;
    proxy.inject(GET_ITEM, [Fault::Throttle, Fault::DropBeforeForward]);
    let (status, body) = get_first_wine(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["product_id"], "wine-0001");
    assert!(body["score"].is_f64(), "{body}");
    assert_eq!(proxy.injected(GET_ITEM), 2);
    assert_eq!(
        (proxy.requests(GET_ITEM), clients.retries.retries()),
        (3, 2)
    );
}

#[tokio::test]
async fn throttled_past_the_policy_the_answer_is_a_json_503_that_leaks_nothing() {
    moto_or_skip!();
    let (proxy, app, clients, table) = app().await;
    let attempts = CallPolicy::ONLINE.max_attempts as usize;
    proxy.inject(GET_ITEM, vec![Fault::Throttle; attempts + 1]);

    let (status, body) = get_first_wine(&app).await;
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().expect("an error message");
    assert!(!error.is_empty());
    let text = body.to_string();
    assert!(!text.contains(&table), "{text}");
    assert!(
        !text.contains("ProvisionedThroughputExceededException"),
        "{text}"
    );
    // The SDK gave up after the policy's attempts, every one throttled.
    assert_eq!(proxy.injected(GET_ITEM), attempts);
    assert_eq!(clients.retries.retries(), attempts as u64 - 1);

    // The next request meets the last throttle, which the SDK retries: the table is back.
    let (status, body) = get_first_wine(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(proxy.injected(GET_ITEM), attempts + 1);
}

/// The predict function's timeout in template.yaml.
const FUNCTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[tokio::test]
async fn a_stalled_dynamodb_is_a_json_503_within_the_function_timeout() {
    moto_or_skip!();
    let (proxy, app, _, table) = app().await;
    let stall = Fault::Stall(std::time::Duration::from_secs(60));
    proxy.inject(
        GET_ITEM,
        vec![stall; CallPolicy::ONLINE.max_attempts as usize],
    );

    let started = std::time::Instant::now();
    let (status, body) = get_first_wine(&app).await;
    let took = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(!body.to_string().contains(&table), "{body}");
    // The SDK's operation timeout, with room left to answer.
    assert!(took >= CallPolicy::ONLINE.operation_timeout, "{took:?}");
    assert!(
        took < CallPolicy::ONLINE.operation_timeout + std::time::Duration::from_secs(2),
        "{took:?}"
    );
    assert!(took < FUNCTION_TIMEOUT, "{took:?}");
    assert!(
        proxy.injected(GET_ITEM) >= 2,
        "the stalled attempt was retried"
    );
}
