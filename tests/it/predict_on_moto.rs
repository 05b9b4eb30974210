//! The predict function's init and handler with real SDK clients against moto server:
//! the model from S3, attributes from DynamoDB, every sample event, and starts with a
//! missing and a corrupt model.

use crate::predict_support as support;
use scoring::LoadBudget;

use aws_adapter::config::{ModelLocation, PredictConfig};
use aws_adapter::CallPolicy;
use e2e::{clients, function_clients, moto_or_skip, unique};
use predict::{init_with, InitError};
use support::{demo_model_bytes, event_files, json_body, request, EXPECTED_STATUS};
use testkit::{demo_data, resources};

/// A bucket (versioned or not) holding `model` (if any) and an attribute table with `wines`.
async fn stack(model: Option<Vec<u8>>, versioned: bool, wines: usize) -> PredictConfig {
    let c = clients().await;
    let bucket = unique("models");
    let table = unique("attributes");
    if versioned {
        resources::create_bucket(&c.s3, &bucket).await.unwrap();
    } else {
        c.s3.create_bucket().bucket(&bucket).send().await.unwrap();
    }
    let key = "wine/model.onnx".to_owned();
    if let Some(bytes) = model {
        resources::put_object(&c.s3, &bucket, &key, bytes)
            .await
            .unwrap();
    }
    resources::create_table(&c.dynamodb, &table).await.unwrap();
    let items = demo_data::repository_wines().unwrap();
    resources::put_items(&c.dynamodb, &table, &items[..wines], |_| {})
        .await
        .unwrap();
    let predictions = unique("predictions");
    support::store_nightly_result(&c.s3, &c.dynamodb, &bucket, &predictions).await;
    PredictConfig {
        load_budget: LoadBudget::unlimited(),
        capture_rate: aws_adapter::config::CaptureRate::OFF,
        model: ModelLocation { bucket, key },
        attributes_table: table,
        predictions_table: predictions,
        runs_prefix: "batch-runs/".into(),
        model_name: "wine-quality".into(),
        challenger: None,
        outcomes_table: None,
        outcome_retention_days: 400,
    }
}

async fn init(config: &PredictConfig) -> Result<predict::AwsApp, InitError> {
    init_with(config, &function_clients(CallPolicy::ONLINE).await).await
}

#[tokio::test]
async fn every_event_against_moto() {
    moto_or_skip!();
    let config = stack(Some(demo_model_bytes()), true, 1599).await;
    let app = init(&config).await.unwrap();
    for file in event_files() {
        let expected = EXPECTED_STATUS
            .iter()
            .find(|(f, _)| *f == file)
            .expect("expected status")
            .1;
        let response = app.handle(request(&file)).await;
        assert_eq!(
            response.status().as_u16(),
            expected,
            "{file}: {:?}",
            response.body()
        );
    }
}

#[tokio::test]
async fn get_reads_dynamodb_and_scores_like_the_model() {
    moto_or_skip!();
    let config = stack(Some(demo_model_bytes()), true, 30).await;
    let app = init(&config).await.unwrap();
    let model = scoring::Model::load(&demo_model_bytes(), "local").unwrap();
    let wines = demo_data::repository_wines().unwrap();
    for i in [0usize, 7, 29] {
        let id = demo_data::product_id(i);
        // API Gateway's raw path is what the function routes on.
        let req = lambda_http::RequestExt::with_raw_http_path(
            request("predict-get.json"),
            format!("/predict/{id}"),
        );
        let response = app.handle(req).await;
        let body = json_body(&response);
        assert_eq!(response.status(), 200, "{body}");
        assert_eq!(body["product_id"], id.as_str());
        let want = model
            .score_row(&aws_adapter::dynamodb::row(wines[i].clone()))
            .unwrap() as f64;
        assert!(
            (body["score"].as_f64().unwrap() - want).abs() < 1e-6,
            "{id}: {body}"
        );
    }
}

/// `GET /predict/{id}?explain=true` as API Gateway delivers it (the query in
/// `rawQueryString`): the stored wine's score with its explanation, which adds up to it.
#[tokio::test]
async fn an_explained_get_reads_dynamodb_and_adds_up_to_the_score() {
    moto_or_skip!();
    let config = stack(Some(demo_model_bytes()), true, 5).await;
    let app = init(&config).await.unwrap();
    let mut event = support::event_json("predict-get.json");
    event["rawQueryString"] = "explain=true".into();
    let response = app
        .handle(lambda_http::request::from_str(&event.to_string()).unwrap())
        .await;
    let body = json_body(&response);
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(body["product_id"], "wine-0001");
    let explanation = &body["explanation"];
    assert_eq!(explanation["space"], "score", "{body}");
    let contributions = explanation["contributions"].as_object().unwrap();
    assert_eq!(contributions.len(), 11, "{body}");
    let total = explanation["base_value"].as_f64().unwrap()
        + contributions
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum::<f64>();
    let score = body["score"].as_f64().unwrap();
    assert!(
        (total - score).abs() < 1e-5 * score.abs(),
        "{total} != {score}"
    );
}

#[tokio::test]
async fn model_version_is_the_version_id_or_else_the_etag() {
    moto_or_skip!();
    let c = clients().await;
    let versioned = stack(Some(demo_model_bytes()), true, 0).await;
    let app = init(&versioned).await.unwrap();
    let head =
        c.s3.head_object()
            .bucket(&versioned.model.bucket)
            .key(&versioned.model.key)
            .send()
            .await
            .unwrap();
    assert_eq!(app.model().version(), head.version_id().unwrap());

    let plain = stack(Some(demo_model_bytes()), false, 0).await;
    let app = init(&plain).await.unwrap();
    let head =
        c.s3.head_object()
            .bucket(&plain.model.bucket)
            .key(&plain.model.key)
            .send()
            .await
            .unwrap();
    assert_eq!(
        app.model().version(),
        head.e_tag().unwrap().trim_matches('"')
    );
}

#[tokio::test]
async fn start_without_the_model_fails_naming_bucket_key_and_reason() {
    moto_or_skip!();
    let config = stack(None, true, 0).await;
    let err = init(&config)
        .await
        .err()
        .expect("init must fail")
        .to_string();
    let location = format!("s3://{}/{}", config.model.bucket, config.model.key);
    assert_eq!(
        err,
        format!("cannot load the model from {location}: no such key")
    );

    let no_bucket = PredictConfig {
        model: ModelLocation {
            bucket: unique("absent"),
            key: "m.onnx".into(),
        },
        ..config.clone()
    };
    let err = init(&no_bucket)
        .await
        .err()
        .expect("init must fail")
        .to_string();
    assert!(err.ends_with(": no such bucket"), "{err}");
}

#[tokio::test]
async fn start_with_a_model_too_large_for_the_memory_fails_naming_size_and_memory_size() {
    moto_or_skip!();
    // Refused on the object's length, before its 60 MB are read: no ONNX is parsed.
    let config = PredictConfig {
        load_budget: LoadBudget::for_memory_mb(128),
        ..stack(Some(vec![7; 60_000_000]), true, 0).await
    };
    let err = init(&config).await.err().expect("init must fail");
    assert!(
        matches!(
            err,
            InitError::Model(store::model_source::ModelLoadError::TooLarge { .. })
        ),
        "{err}"
    );
    let err = err.to_string();
    let location = format!("s3://{}/{}", config.model.bucket, config.model.key);
    assert!(
        err.starts_with(&format!("cannot load the model from {location}: ")),
        "{err}"
    );
    for part in ["60.0 MB", "128 MB", "MemorySize"] {
        assert!(err.contains(part), "{part} in {err}");
    }

    // The demo model fits the smallest function.
    let config = PredictConfig {
        load_budget: LoadBudget::for_memory_mb(128),
        ..stack(Some(demo_model_bytes()), true, 0).await
    };
    assert!(init(&config).await.is_ok());
}

#[tokio::test]
async fn start_with_a_corrupt_model_fails_naming_the_reason() {
    moto_or_skip!();
    let mut corrupt = demo_model_bytes();
    corrupt.truncate(1000);
    let config = stack(Some(corrupt), true, 0).await;
    let err = init(&config)
        .await
        .err()
        .expect("init must fail")
        .to_string();
    assert!(
        err.starts_with(&format!(
            "cannot load the model from s3://{}/",
            config.model.bucket
        )),
        "{err}"
    );
    assert!(err.contains("not a readable ONNX model"), "{err}");
}

#[tokio::test]
async fn the_early_client_downloads_the_model_as_the_shared_clients_do() {
    use aws_adapter::clients::early_s3_client;
    use aws_adapter::s3::S3ModelSource;
    use store::model_source::ModelSource;

    let endpoint = moto_or_skip!();
    let config = stack(Some(demo_model_bytes()), true, 0).await;
    // What Lambda's environment gives the function, pointed at moto.
    let env = testkit::moto::aws_env(&endpoint);
    let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let early = early_s3_client(lookup, CallPolicy::ONLINE, &Default::default())
        .expect("the environment has region, credentials and endpoint");
    let fetched = S3ModelSource::new(early, config.model.clone())
        .fetch(u64::MAX)
        .await
        .unwrap();
    let shared = function_clients(CallPolicy::ONLINE).await;
    let expected = S3ModelSource::new(shared.s3.clone(), config.model.clone())
        .fetch(u64::MAX)
        .await
        .unwrap();
    assert_eq!(fetched, expected);
    assert_eq!(fetched.bytes, demo_model_bytes());

    // Told the object is over the limit by its length alone.
    let err = S3ModelSource::new(shared.s3, config.model.clone())
        .fetch(1_000)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        store::ErrorKind::TooLarge {
            bytes: demo_model_bytes().len() as u64
        }
    );
}
