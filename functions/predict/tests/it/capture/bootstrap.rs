//! The real `predict` binary on moto (see `crate::bootstrap`): with `CAPTURE_RATE=1`, one
//! capture line per scoring request on its stdout, whole lines beside its log lines and
//! metrics; with 0, none; a rate that is no share refuses the start, naming it.

use std::time::Duration;

use serde_json::Value;
use store::capture::CapturedRequest;
use testkit::emf::{checked_document, sum, with};
use testkit::predict_support::repository;
use testkit::runtime_api::RuntimeApi;

use crate::bootstrap::{spawn, stack};

/// The scoring events and one that is not; every one from API Gateway request
/// `Ab1cDEfGhIJkLMn=`.
const EVENTS: [&str; 5] = [
    "predict-get.json",
    "predict-post.json",
    "v2-infer.json",
    "health.json",
    "predict-get-unknown.json",
];

/// Runs `EVENTS` through the binary with `CAPTURE_RATE=rate`: each answer's
/// `x-request-id`, and its stdout's capture lines, other JSON lines and EMF documents.
async fn run(
    rate: &str,
) -> (
    Vec<Option<String>>,
    Vec<CapturedRequest>,
    Vec<Value>,
    Vec<Value>,
) {
    let api = RuntimeApi::start().await.unwrap();
    let mut env = stack(Some(testkit::predict_support::demo_model_bytes())).await;
    env.push(("CAPTURE_RATE", rate.to_owned()));
    let mut child = spawn(&api, env);
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let mut ids = Vec::new();
    for file in EVENTS {
        let event = std::fs::read(repository().join("events").join(file)).unwrap();
        let done = tokio::time::timeout(Duration::from_secs(30), api.invoke(event))
            .await
            .expect("answer in time")
            .unwrap();
        let response = done.response_json().unwrap();
        ids.push(
            response["headers"]["x-request-id"]
                .as_str()
                .map(str::to_owned),
        );
    }
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (mut captures, mut logs, mut metrics) = (Vec::new(), Vec::new(), Vec::new());
    for line in stdout.lines() {
        let json: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("a whole JSON line: {e}: {line}"));
        if json.get("capture").is_some() {
            captures.push(serde_json::from_value(json).unwrap());
        } else if line.starts_with(r#"{"_aws""#) {
            metrics.push(checked_document(line, aws_adapter::emf::DEFAULT_NAMESPACE));
        } else {
            logs.push(json);
        }
    }
    (ids, captures, logs, metrics)
}

#[tokio::test]
async fn at_rate_1_each_scoring_request_writes_one_capture_line_and_at_0_none() {
    let (ids, captures, logs, metrics) = run("1").await;
    let id = Some("Ab1cDEfGhIJkLMn=".to_owned());
    // The scoring answers name the request, captured or not; /health does not.
    assert_eq!(ids, [id.clone(), id.clone(), id.clone(), None, id.clone()]);
    let routes: Vec<&str> = captures.iter().map(|c| c.route.as_str()).collect();
    assert_eq!(
        routes,
        [
            "GET /predict/{product_id}",
            "POST /predict",
            "POST /v2/models/{name}/infer"
        ]
    );
    for capture in &captures {
        assert_eq!(Some(capture.request_id.clone()), id);
        assert!(!capture.rows.is_empty());
        // The version the function reports: the S3 object's.
        assert!(!capture.model_version.is_empty());
    }
    assert_eq!(captures[0].product_id.as_deref(), Some("wine-0001"));
    assert!(logs.iter().any(|l| l["fields"]["message"] == "request"));
    let written = with(&metrics, "CapturesWritten", &[]);
    assert_eq!(sum(&written, "CapturesWritten"), 3.0);
    assert!(with(&metrics, "CapturesDropped", &[]).is_empty());

    let (ids, captures, _, metrics) = run("0").await;
    assert_eq!(ids[0], id, "the header, captured or not");
    assert!(captures.is_empty());
    assert!(with(&metrics, "CapturesWritten", &[]).is_empty());
}

#[tokio::test]
async fn a_capture_rate_that_is_no_share_refuses_the_start_naming_it() {
    let api = RuntimeApi::start().await.unwrap();
    let mut env = stack(Some(testkit::predict_support::demo_model_bytes())).await;
    env.push(("CAPTURE_RATE", "1.5".to_owned()));
    let child = spawn(&api, env);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("exits")
        .unwrap();
    assert!(!out.status.success());
    assert!(api.polls().is_empty(), "it must never ask for an event");
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        logs.contains("CAPTURE_RATE") && logs.contains("from 0"),
        "{logs}"
    );
}
