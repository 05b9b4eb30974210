//! The real `predict` binary with a challenger configured (`CHALLENGER_MODEL_KEY` in the
//! model's bucket on moto), run as Lambda runs it: a broken challenger is logged with its
//! reason and counted at cold start while the champion serves on; a loaded one shadows
//! each request, and the rows it cannot read are one warning per request and a count.

use std::time::Duration;

use serde_json::Value;
use testkit::emf::{checked_document, sum, with};
use testkit::models::challengers::VINTAGE;
use testkit::predict_support::{self, demo_model_bytes, repository};
use testkit::runtime_api::RuntimeApi;
use testkit::stack::Clients;

use crate::bootstrap::{moto_endpoint, spawn, stack};

/// The function's environment with `challenger` stored as its challenger.
async fn with_challenger(challenger: Vec<u8>) -> Vec<(&'static str, String)> {
    let mut env = stack(Some(demo_model_bytes())).await;
    let bucket = env
        .iter()
        .find(|(k, _)| *k == "MODEL_BUCKET")
        .unwrap()
        .1
        .clone();
    let c = Clients::for_endpoint(&moto_endpoint()).await;
    testkit::resources::put_object(&c.s3, &bucket, "challenger.onnx", challenger)
        .await
        .unwrap();
    env.push(("CHALLENGER_MODEL_KEY", "challenger.onnx".into()));
    env
}

/// The sample event `file`, with `query` as its query string.
fn event(file: &str, query: &str) -> Vec<u8> {
    let mut event = predict_support::event_json(file);
    event["rawQueryString"] = query.into();
    event.to_string().into_bytes()
}

/// Invokes `event` and returns its status and JSON body.
async fn invoke(api: &RuntimeApi, event: Vec<u8>) -> (Option<u16>, Value) {
    let done = tokio::time::timeout(Duration::from_secs(30), api.invoke(event))
        .await
        .expect("answer in time")
        .unwrap();
    let body = serde_json::from_str(&done.http_body().unwrap()).unwrap();
    (done.http_status(), body)
}

/// The JSON log lines and the EMF documents of a run's stdout.
fn logs_and_metrics(stdout: &str) -> (Vec<Value>, Vec<Value>) {
    let logs = stdout
        .lines()
        .filter(|l| !l.starts_with(r#"{"_aws""#))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let metrics = stdout
        .lines()
        .filter(|l| l.starts_with(r#"{"_aws""#))
        .map(|l| checked_document(l, aws_adapter::emf::DEFAULT_NAMESPACE))
        .collect();
    (logs, metrics)
}

#[tokio::test]
async fn a_broken_challenger_is_logged_and_counted_and_the_champion_serves_on() {
    let api = RuntimeApi::start().await.unwrap();
    let env = with_challenger(b"garbage, not an ONNX model".to_vec()).await;
    let child = spawn(&api, env);
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time: a broken challenger never fails the start")
        .unwrap();
    let get = std::fs::read(repository().join("events/predict-get.json")).unwrap();
    let (status, body) = invoke(&api, get).await;
    assert_eq!(status, Some(200), "{body}");
    let (status, body) = invoke(&api, event("predict-get.json", "model=challenger")).await;
    assert_eq!(status, Some(404), "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("failed to load at cold start"), "{error}");
    assert!(
        !error.contains("s3://") && !error.contains("garbage"),
        "{error}"
    );
    let (status, health) = invoke(&api, event("health.json", "")).await;
    assert_eq!(status, Some(200));
    assert_eq!(health["challenger"]["loaded"], false, "{health}");

    let mut child = child;
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (logs, metrics) = logs_and_metrics(&stdout);
    // The reason, with where the challenger was looked for, is in the log.
    let failure = logs
        .iter()
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("an error line: {stdout}"));
    let reason = failure["fields"]["error"].as_str().unwrap();
    assert!(
        reason.contains("s3://models-") && reason.contains("/challenger.onnx"),
        "{reason}"
    );
    assert!(reason.contains("not a readable ONNX model"), "{reason}");
    // Counted once, at cold start, for the champion's version; the cold start as before.
    let failed = with(&metrics, "ChallengerLoadFailed", &["ChampionVersion"]);
    assert_eq!(sum(&failed, "ChallengerLoadFailed"), 1.0, "{stdout}");
    let cold = with(&metrics, "ColdStart", &["ModelVersion"]);
    assert_eq!(sum(&cold, "ColdStart"), 1.0);
    assert_eq!(failed[0]["ChampionVersion"], cold[0]["ModelVersion"]);
    assert!(cold[0]["InitModelBuild"][0].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn a_challenger_lacking_an_attribute_warns_once_per_request_and_counts_each_row() {
    let api = RuntimeApi::start().await.unwrap();
    let env = with_challenger(testkit::models::challenger(VINTAGE)).await;
    let child = spawn(&api, env);
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let (status, health) = invoke(&api, event("health.json", "")).await;
    assert_eq!(status, Some(200));
    let challenger = &health["challenger"];
    assert_eq!(challenger["loaded"], true, "{health}");
    assert_eq!(challenger["model_name"], "wine-quality-challenger");
    // Its own S3 version, not the champion's.
    let version = challenger["model_version"].as_str().unwrap().to_owned();
    assert_ne!(Value::from(version.as_str()), health["model_version"]);

    // Two instances, neither with `vintage`: the champion answers both.
    let post = std::fs::read(repository().join("events/predict-post.json")).unwrap();
    for _ in 0..3 {
        let (status, body) = invoke(&api, post.clone()).await;
        assert_eq!(status, Some(200), "{body}");
        assert_eq!(body["model_version"], health["model_version"]);
    }

    let mut child = child;
    child.start_kill().unwrap();
    let out = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (logs, metrics) = logs_and_metrics(&stdout);
    let loaded = logs
        .iter()
        .find(|l| l["fields"]["message"] == "challenger loaded")
        .unwrap_or_else(|| panic!("the challenger's load is logged: {stdout}"));
    assert_eq!(loaded["fields"]["challenger_version"], version.as_str());
    assert_eq!(loaded["fields"]["same_schema"], false);
    let warnings: Vec<&Value> = logs.iter().filter(|l| l["level"] == "WARN").collect();
    assert_eq!(warnings.len(), 3, "one per request: {stdout}");
    for warning in &warnings {
        assert_eq!(warning["fields"]["rows"], 2, "{warning}");
        assert_eq!(warning["fields"]["reason"], "missing or invalid attribute");
        assert!(
            warning["fields"]["detail"]
                .as_str()
                .unwrap()
                .contains("vintage"),
            "{warning}"
        );
    }
    let errors = with(
        &metrics,
        "ChallengerErrors",
        &["ChampionVersion", "ChallengerVersion"],
    );
    assert_eq!(sum(&errors, "ChallengerErrors"), 6.0, "{stdout}");
    assert!(errors
        .iter()
        .all(|d| d["ChallengerVersion"] == version.as_str()));
    assert!(with(&metrics, "ChallengerLoadFailed", &["ChampionVersion"]).is_empty());
}
