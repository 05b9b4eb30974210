//! The predict function's init and handler with a challenger, real SDK clients against
//! moto server: both models from S3 (each its own object version), the attributes from
//! DynamoDB. Every sample event answers byte for byte as without a challenger, whatever
//! the challenger (agreeing, disagreeing, needing an attribute the products lack, a
//! classifier, garbage bytes, no such key); the challenger answers GET, POST and the Open
//! Inference Protocol when asked for, with its own version.

use crate::predict_support as support;
use scoring::LoadBudget;

use aws_adapter::config::{ModelLocation, PredictConfig};
use aws_adapter::CallPolicy;
use e2e::{clients, function_clients, moto_or_skip, unique};
use predict::challenger::Challenger;
use predict::{init_with, AwsApp};
use support::{demo_model_bytes, event_files, json_body, request};
use testkit::models::{challenger, challengers};
use testkit::{demo_data, resources};

const CHALLENGER_KEY: &str = "wine/challenger.onnx";

/// A versioned bucket with the demo model and, if given, `challenger`; the wines'
/// attribute table; the nightly result. The configuration names the challenger's key
/// (stored or not).
async fn stack(challenger: Option<Vec<u8>>) -> PredictConfig {
    let c = clients().await;
    let bucket = unique("models");
    let table = unique("attributes");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let key = "wine/model.onnx".to_owned();
    resources::put_object(&c.s3, &bucket, &key, demo_model_bytes())
        .await
        .unwrap();
    if let Some(bytes) = challenger {
        resources::put_object(&c.s3, &bucket, CHALLENGER_KEY, bytes)
            .await
            .unwrap();
    }
    resources::create_table(&c.dynamodb, &table).await.unwrap();
    let items = demo_data::repository_wines().unwrap();
    resources::put_items(&c.dynamodb, &table, &items[..40], |_| {})
        .await
        .unwrap();
    let predictions = unique("predictions");
    support::store_nightly_result(&c.s3, &c.dynamodb, &bucket, &predictions).await;
    PredictConfig {
        load_budget: LoadBudget::unlimited(),
        capture_rate: aws_adapter::config::CaptureRate::OFF,
        challenger: Some(ModelLocation {
            bucket: bucket.clone(),
            key: CHALLENGER_KEY.into(),
        }),
        model: ModelLocation { bucket, key },
        attributes_table: table,
        predictions_table: predictions,
        runs_prefix: "batch-runs/".into(),
        model_name: "wine-quality".into(),
        outcomes_table: None,
        outcome_retention_days: 400,
    }
}

async fn init(config: &PredictConfig) -> AwsApp {
    init_with(config, &function_clients(CallPolicy::ONLINE).await)
        .await
        .unwrap()
}

/// The same function without its challenger.
async fn alone(config: &PredictConfig) -> AwsApp {
    init(&PredictConfig {
        challenger: None,
        ..config.clone()
    })
    .await
}

/// The challenger object's S3 version id.
async fn challenger_version(config: &PredictConfig) -> String {
    let c = clients().await;
    let head =
        c.s3.head_object()
            .bucket(&config.model.bucket)
            .key(CHALLENGER_KEY)
            .send()
            .await
            .unwrap();
    head.version_id().unwrap().to_owned()
}

fn response_bytes(response: &lambda_http::Response<lambda_http::Body>) -> (u16, Vec<u8>) {
    (
        response.status().as_u16(),
        response.body().as_ref().to_vec(),
    )
}

/// `file`'s event with `query` as its query string, as API Gateway delivers it.
fn with_query(file: &str, query: &str) -> lambda_http::Request {
    let mut event = support::event_json(file);
    event["rawQueryString"] = query.into();
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

#[tokio::test]
async fn every_event_answers_byte_for_byte_as_without_a_challenger() {
    moto_or_skip!();
    let mut kinds: Vec<(&str, Option<Vec<u8>>)> = challengers::ALL
        .iter()
        .map(|name| (*name, Some(challenger(name))))
        .collect();
    kinds.push(("garbage", Some(b"not a model".to_vec())));
    kinds.push(("no such key", None));
    for (kind, bytes) in kinds {
        let loads = bytes.is_some() && kind != "garbage";
        let config = stack(bytes).await;
        let (with, without) = (init(&config).await, alone(&config).await);
        assert_eq!(
            with.challenger().loaded().is_some(),
            loads,
            "{kind}: {:?}",
            with.challenger().why_absent()
        );
        if !loads {
            assert!(
                matches!(with.challenger(), Challenger::FailedToLoad),
                "{kind}"
            );
        }
        assert_eq!(with.model().version(), without.model().version());
        for file in event_files().iter().filter(|f| *f != "health.json") {
            let (a, b) = (
                with.handle(request(file)).await,
                without.handle(request(file)).await,
            );
            assert_eq!(response_bytes(&a), response_bytes(&b), "{kind}: {file}");
        }
        for query in ["explain=true", "model=champion"] {
            let (a, b) = (
                with.handle(with_query("predict-get.json", query)).await,
                without.handle(with_query("predict-get.json", query)).await,
            );
            assert_eq!(a.status(), 200, "{kind}: {query}");
            assert_eq!(response_bytes(&a), response_bytes(&b), "{kind}: {query}");
        }
        // Only /health tells a challenger is configured.
        let health = json_body(&with.handle(request("health.json")).await);
        assert_eq!(health["challenger"]["loaded"], loads, "{kind}: {health}");
        let health = json_body(&without.handle(request("health.json")).await);
        assert!(health.get("challenger").is_none(), "{health}");
    }
}

#[tokio::test]
async fn the_challenger_answers_get_post_and_the_protocol_when_asked_for() {
    moto_or_skip!();
    let config = stack(Some(challenger(challengers::WHITE))).await;
    let app = init(&config).await;
    let version = challenger_version(&config).await;
    assert_ne!(app.model().version(), version);
    let white = scoring::Model::load(&challenger(challengers::WHITE), "local").unwrap();
    let wines = demo_data::repository_wines().unwrap();

    // GET: the stored wine, scored by the challenger.
    let response = app
        .handle(with_query("predict-get.json", "model=challenger"))
        .await;
    let body = json_body(&response);
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(body["model_version"], version.as_str());
    let want = white
        .score_row(&aws_adapter::dynamodb::row(wines[0].clone()))
        .unwrap();
    assert_eq!(body["score"].as_f64().unwrap() as f32, want, "{body}");

    // POST: the event's instances.
    let response = app
        .handle(with_query("predict-post.json", "model=challenger"))
        .await;
    let body = json_body(&response);
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(body["model_version"], version.as_str());
    let champion = json_body(&app.handle(request("predict-post.json")).await);
    assert_ne!(champion["model_version"], body["model_version"]);
    assert_ne!(champion["predictions"], body["predictions"]);

    // The protocol, under the challenger's name, versioned or not.
    for path in [
        "/v2/models/wine-quality-challenger/infer".to_owned(),
        format!("/v2/models/wine-quality-challenger/versions/{version}/infer"),
    ] {
        let event = support::event_at("v2-infer.json", &path);
        let response = app
            .handle(lambda_http::request::from_str(&event.to_string()).unwrap())
            .await;
        let body = json_body(&response);
        assert_eq!(response.status(), 200, "{path}: {body}");
        assert_eq!(body["model_name"], "wine-quality-challenger");
        assert_eq!(body["model_version"], version.as_str());
    }
    let event = support::event_at(
        "v2-model-ready.json",
        "/v2/models/wine-quality-challenger/ready",
    );
    let response = app
        .handle(lambda_http::request::from_str(&event.to_string()).unwrap())
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_challenger_that_cannot_load_leaves_the_champion_serving_and_says_why() {
    moto_or_skip!();
    for (kind, bytes) in [
        ("garbage", Some(b"\x00\x01garbage".to_vec())),
        ("truncated", Some(testkit::models::unloadable_challenger())),
        ("no such key", None),
    ] {
        let config = stack(bytes).await;
        let app = init(&config).await;
        assert!(
            matches!(app.challenger(), Challenger::FailedToLoad),
            "{kind}"
        );
        let response = app.handle(request("predict-get.json")).await;
        assert_eq!(response.status(), 200, "{kind}");
        for file in ["predict-get.json", "predict-post.json"] {
            let response = app.handle(with_query(file, "model=challenger")).await;
            let body = json_body(&response);
            assert_eq!(response.status(), 404, "{kind}: {body}");
            let error = body["error"].as_str().unwrap();
            assert!(error.contains("failed to load at cold start"), "{error}");
            assert!(!error.contains(&config.model.bucket), "{error}");
        }
    }
}
