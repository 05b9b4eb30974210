//! The real `predict` binary, run as Lambda runs it: against a local Runtime API on
//! loopback, with moto for S3 and DynamoDB (`MOTO_ENDPOINT`, set by `make test`). Every
//! sample event goes through main.rs, lambda_http and the handler; a start without a model
//! fails the init.

mod support;

use std::time::Duration;

use support::{demo_model_bytes, event_files, repository, EXPECTED_STATUS};
use testkit::moto::unique_name as unique;
use testkit::resources;
use testkit::runtime_api::RuntimeApi;
use testkit::stack::Clients;
use tokio::process::Child;

fn moto_endpoint() -> String {
    testkit::moto::test_endpoint().expect("checked by moto_or_skip! first")
}

/// Bucket (with the model, if given) and a table with the wines; returns the function's env.
async fn stack(model: Option<Vec<u8>>) -> Vec<(&'static str, String)> {
    let c = Clients::for_endpoint(&moto_endpoint()).await;
    let (bucket, table) = (unique("models"), unique("attributes"));
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    if let Some(bytes) = model {
        resources::put_object(&c.s3, &bucket, "model.onnx", bytes)
            .await
            .unwrap();
    }
    resources::create_table(&c.dynamodb, &table).await.unwrap();
    let wines = testkit::demo_data::repository_wines().unwrap();
    resources::put_items(&c.dynamodb, &table, &wines[..5], |_| {})
        .await
        .unwrap();
    let mut env = testkit::moto::aws_env(&moto_endpoint());
    env.extend([
        ("MODEL_BUCKET", bucket),
        ("MODEL_KEY", "model.onnx".into()),
        ("ATTRIBUTES_TABLE", table),
        ("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true".into()),
    ]);
    env
}

fn spawn(api: &RuntimeApi, env: Vec<(&'static str, String)>) -> Child {
    api.command(env!("CARGO_BIN_EXE_predict"), "predict")
        .envs(env)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn every_event_through_the_bootstrap() {
    testkit::moto_or_skip!();
    let api = RuntimeApi::start().await.unwrap();
    let mut child = spawn(&api, stack(Some(demo_model_bytes())).await);
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    for file in event_files() {
        let expected = EXPECTED_STATUS.iter().find(|(f, _)| *f == file).unwrap().1;
        let event = std::fs::read(repository().join("events").join(&file)).unwrap();
        let done = tokio::time::timeout(Duration::from_secs(30), api.invoke(event))
            .await
            .expect("answer in time")
            .unwrap();
        assert_eq!(
            done.http_status(),
            Some(expected),
            "{file}: {:?}",
            done.http_body()
        );
        let body: serde_json::Value = serde_json::from_str(&done.http_body().unwrap()).unwrap();
        assert!(body.is_object(), "{file}: {body}");
    }
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    // One JSON log line per request, naming route and status; no bodies.
    let logs = String::from_utf8_lossy(&out.stdout);
    let requests: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(requests.len(), event_files().len(), "{logs}");
    assert!(requests
        .iter()
        .all(|r| r["fields"]["status"].is_u64() && r["fields"]["latency_us"].is_u64()));
    assert!(
        !logs.contains("instances"),
        "request bodies must not be logged"
    );
}

#[tokio::test]
async fn a_start_without_the_model_fails_the_init_with_a_json_log_line() {
    testkit::moto_or_skip!();
    let api = RuntimeApi::start().await.unwrap();
    let child = spawn(&api, stack(None).await);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("exits")
        .unwrap();
    assert!(!out.status.success());
    assert!(api.polls().is_empty(), "it must never ask for an event");
    let logs = String::from_utf8_lossy(&out.stdout);
    let line: serde_json::Value = logs
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .expect(&format!("a JSON log line: {logs}"));
    let error = line["fields"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("cannot load the model from s3://models-")
            && error.ends_with("/model.onnx: no such key"),
        "{error}"
    );
}
