//! Captures that cannot be delivered, with the real `predict` binary on moto: a log that
//! refuses every write (stdout on `/dev/full`), and a row too long for one CloudWatch Logs
//! event. Either way the caller gets the answer it gets with capture off, the sandbox
//! serves on, and what could be counted is (`CapturesDropped`).

use std::time::Duration;

use serde_json::Value;
use testkit::emf::{checked_document, sum, with};
use testkit::predict_support::repository;
use testkit::runtime_api::RuntimeApi;

use crate::bootstrap::{native, stack};
use store::capture::MAX_CAPTURE_LINE;

/// Each event's answer (status, headers, body) from a binary started with `env` plus
/// `CAPTURE_RATE=rate`, its stdout on `/dev/full` when `full_log`; and its stdout.
async fn answers(
    model: Vec<u8>,
    rate: &str,
    full_log: bool,
    events: &[Vec<u8>],
) -> (Vec<Value>, String) {
    let api = RuntimeApi::start().await.unwrap();
    let mut env = stack(Some(model)).await;
    env.push(("CAPTURE_RATE", rate.to_owned()));
    let mut command = api.launch(&native(), "predict");
    command.envs(env);
    if full_log {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        command.stdout(full);
    }
    let mut child = command.spawn().unwrap();
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let mut answers = Vec::new();
    for event in events {
        let done = tokio::time::timeout(Duration::from_secs(30), api.invoke(event.clone()))
            .await
            .expect("answered in time")
            .unwrap();
        let mut answer = done.response_json().unwrap();
        // Each run has a bucket of its own, so a model version of its own.
        let mut body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        body["model_version"] = "the model's".into();
        answer["body"] = body.to_string().into();
        answers.push(answer);
    }
    assert!(child.try_wait().unwrap().is_none(), "the sandbox serves on");
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    (answers, String::from_utf8(out.stdout).unwrap())
}

fn sample_events() -> Vec<Vec<u8>> {
    ["predict-get.json", "predict-post.json", "v2-infer.json"]
        .map(|file| std::fs::read(repository().join("events").join(file)).unwrap())
        .to_vec()
}

#[tokio::test]
async fn a_log_that_refuses_every_write_loses_the_captures_never_an_answer() {
    let model = testkit::predict_support::demo_model_bytes();
    let events = sample_events();
    let (off, _) = answers(model.clone(), "0", false, &events).await;
    let (refused, _) = answers(model, "1", true, &events).await;
    assert_eq!(refused, off);
    for answer in &refused {
        assert_eq!(answer["statusCode"], 200, "{answer}");
    }
}

#[tokio::test]
async fn a_row_too_long_for_a_log_event_is_dropped_counted_and_answered_as_uncaptured() {
    // A model with a categorical feature: a row can be as long as the body allows.
    let typed = repository().join("libs/scoring/tests/fixtures/typed");
    let model = std::fs::read(typed.join("ct_regressor.onnx")).unwrap();
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(typed.join("ct_regressor.json")).unwrap())
            .unwrap();
    let mut instances: Vec<Value> = fixture["rows"].as_array().unwrap()[..2].to_vec();
    instances[1]["color"] = "x".repeat(MAX_CAPTURE_LINE).into();
    let mut event: Value = serde_json::from_slice(
        &std::fs::read(repository().join("events/predict-post.json")).unwrap(),
    )
    .unwrap();
    event["body"] = serde_json::json!({ "instances": instances })
        .to_string()
        .into();
    let events = vec![event.to_string().into_bytes()];

    let (off, _) = answers(model.clone(), "0", false, &events).await;
    let (captured, stdout) = answers(model, "1", false, &events).await;
    assert_eq!(captured, off);
    assert_eq!(captured[0]["statusCode"], 200, "{}", captured[0]);
    let mut kept_rows = Vec::new();
    let mut metrics = Vec::new();
    for line in stdout.lines() {
        assert!(line.len() < MAX_CAPTURE_LINE, "no line over the limit");
        if line.starts_with(r#"{"capture""#) {
            let capture: store::capture::CapturedRequest = serde_json::from_str(line).unwrap();
            kept_rows.push((capture.first_row, capture.rows.len()));
        } else if line.starts_with(r#"{"_aws""#) {
            metrics.push(checked_document(line, aws_adapter::emf::DEFAULT_NAMESPACE));
        }
    }
    // The short row is kept; the long one is dropped and counted.
    assert_eq!(kept_rows, [(0, 1)]);
    assert_eq!(
        sum(&with(&metrics, "CapturesDropped", &[]), "CapturesDropped"),
        1.0
    );
    assert_eq!(
        sum(&with(&metrics, "CapturesWritten", &[]), "CapturesWritten"),
        1.0
    );
}
