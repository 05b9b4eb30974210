//! Captures from the real bootstrap to the capture bucket, as on AWS: the bootstrap's stdout
//! posted to its log group as Lambda does, the subscription filter to a Firehose delivery
//! stream, the stream into S3 (all on moto: testkit's `CapturePipeline`), read back by
//! `S3Captures`. At rate 1 every scoring request is read back exactly as answered; at 0
//! none; at 0.25 a quarter, within the stated tolerance.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_adapter::config::CaptureRate;
use aws_adapter::s3_captures::S3Captures;
use store::capture::{CaptureSource, Captured, CapturedAnswer, CapturedValue};
use testkit::capture_pipeline::CapturePipeline;
use testkit::moto::unique_name as unique;
use testkit::predict_support::{event_at, event_json, wine_instance};
use testkit::resources;
use testkit::runtime_api::RuntimeApi;
use testkit::stack::Clients;

use crate::bootstrap::{moto_endpoint, spawn, stack};

/// A scoring request sent and what it was answered.
struct Sent {
    request_id: String,
    route: &'static str,
    /// The answer's scores, in row order.
    scores: Vec<f64>,
}

/// Request `i`: a `POST /predict` of 1 to 3 wines, or every fifth a `GET /predict/{id}`
/// of one of the stack's five wines; API Gateway's request id `req-<i>`.
fn event(i: usize) -> (serde_json::Value, &'static str) {
    let mut event = if i % 5 == 4 {
        event_at(
            "predict-get.json",
            &format!("/predict/wine-000{}", 1 + i % 5),
        )
    } else {
        let mut event = event_json("predict-post.json");
        let instances: Vec<serde_json::Value> = (0..1 + i % 3)
            .map(|k| wine_instance((i * 3 + k) % 1599))
            .collect();
        event["body"] = serde_json::json!({ "instances": instances })
            .to_string()
            .into();
        event
    };
    event["requestContext"]["requestId"] = format!("req-{i:04}").into();
    let route = if i % 5 == 4 {
        "GET /predict/{product_id}"
    } else {
        "POST /predict"
    };
    (event, route)
}

/// What a run at a rate left.
struct Run {
    sent: Vec<Sent>,
    /// What `S3Captures` read from the bucket since just before the requests.
    read: Captured,
    /// The objects the delivery stream wrote.
    objects: usize,
    /// The bootstrap's whole stdout.
    logs: String,
}

/// Runs the bootstrap at `rate` for `requests` scoring requests, its stdout shipped
/// through the pipeline.
async fn captured_at(rate: &str, requests: usize) -> Run {
    let endpoint = moto_endpoint();
    let c = Clients::for_endpoint(&endpoint).await;
    let bucket = unique("captures");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let pipeline = CapturePipeline::create(&endpoint, &unique("predict"), &bucket, "captures/")
        .await
        .unwrap();
    let mut env = stack(Some(testkit::predict_support::demo_model_bytes())).await;
    env.push(("CAPTURE_RATE", rate.to_owned()));
    let api = RuntimeApi::start().await.unwrap();
    let mut child = spawn(&api, env);
    let shipping = pipeline.ship_from(child.stdout.take().unwrap());
    tokio::time::timeout(Duration::from_secs(60), api.wait_for_poll(1))
        .await
        .expect("init in time")
        .unwrap();
    let since = chrono::Utc::now().to_rfc3339();
    let mut sent = Vec::new();
    for i in 0..requests {
        let (event, route) = event(i);
        let done = tokio::time::timeout(Duration::from_secs(30), api.invoke_json(&event))
            .await
            .expect("answer in time")
            .unwrap();
        let response = done.response_json().unwrap();
        assert_eq!(response["statusCode"], 200, "{response}");
        let request_id = format!("req-{i:04}");
        assert_eq!(response["headers"]["x-request-id"], request_id.as_str());
        let body: serde_json::Value = serde_json::from_str(&done.http_body().unwrap()).unwrap();
        let scores = match body.get("predictions") {
            Some(rows) => rows
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_f64().unwrap())
                .collect(),
            None => vec![body["score"].as_f64().unwrap()],
        };
        sent.push(Sent {
            request_id,
            route,
            scores,
        });
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let logs = tokio::time::timeout(Duration::from_secs(60), shipping)
        .await
        .expect("shipped in time")
        .unwrap()
        .unwrap();
    let read = S3Captures::new(c.s3.clone(), &bucket, "captures/")
        .captured_since(&since)
        .await
        .unwrap();
    let listed = c.s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    Run {
        sent,
        read,
        objects: listed.contents().len(),
        logs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_rate_1_every_scoring_request_is_read_back_from_the_bucket_as_answered() {
    let Run {
        sent, read, logs, ..
    } = captured_at("1", 25).await;
    assert_eq!(read.unreadable, 0, "{logs}");
    let by_id: BTreeMap<&str, _> = read
        .requests
        .iter()
        .map(|r| (r.request_id.as_str(), r))
        .collect();
    assert_eq!(by_id.len(), read.requests.len(), "each request once");
    let ids: Vec<&str> = by_id.keys().copied().collect();
    let want: Vec<&str> = sent.iter().map(|s| s.request_id.as_str()).collect();
    assert_eq!(ids, want);
    let model = testkit::predict_support::demo_model();
    for s in &sent {
        let captured = by_id[s.request_id.as_str()];
        assert_eq!((captured.route.as_str(), captured.first_row), (s.route, 0));
        assert_eq!(captured.model, testkit::predict_support::DEMO_MODEL_NAME);
        assert_eq!(captured.rows.len(), s.scores.len(), "{}", s.request_id);
        for (row, score) in captured.rows.iter().zip(&s.scores) {
            // The answer as given, and the features as the model read them: scored again,
            // they give it again.
            let CapturedAnswer::Score { score: answered } = row.answer else {
                panic!("{:?}", row.answer)
            };
            assert!((answered - score).abs() < 1e-5, "{answered} vs {score}");
            let names: Vec<&str> = row.features.0.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                names,
                model
                    .features()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            );
            assert!(row
                .features
                .0
                .iter()
                .all(|(_, v)| matches!(v, CapturedValue::Number(_))));
            let again = model.score_row(&row.features.to_row()).unwrap();
            assert_eq!(again, answered as f32);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_rate_0_nothing_is_captured_though_the_log_lines_reach_the_bucket() {
    let run = captured_at("0", 20).await;
    assert_eq!(run.sent.len(), 20);
    assert_eq!(run.read, Captured::default());
    // moto's subscription ignores the filter pattern: the function's other lines (logs,
    // EMF) did go through the pipeline, and the reader left them out.
    assert!(
        run.objects > 0,
        "the pipeline delivered nothing: {}",
        run.logs
    );
    assert!(run.logs.contains(r#""_aws""#), "{}", run.logs);
    assert!(!run.logs.contains(r#"{"capture":"#), "{}", run.logs);
}

/// 400 requests at 0.25: the sample is decided by a hash of the request id, so its size is
/// binomial(400, 0.25): mean 100, standard deviation 8.7. The tolerance, ±35 (four
/// standard deviations), fails a fair sampler about once in 15,000 runs (and the ids here
/// are fixed, so the count is too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_rate_a_quarter_about_a_quarter_is_read_back_and_exactly_those_sampled() {
    let Run { sent, read, .. } = captured_at("0.25", 400).await;
    assert_eq!(read.unreadable, 0);
    let n = read.requests.len();
    assert!((65..=135).contains(&n), "{n} of 400 captured at 0.25");
    // Exactly the requests the function's sampler picks.
    let sampler = predict::capture::Sampler::new(CaptureRate::new(0.25).unwrap());
    let mut want: Vec<&str> = sent
        .iter()
        .map(|s| s.request_id.as_str())
        .filter(|id| sampler.sampled(id))
        .collect();
    let mut got: Vec<&str> = read
        .requests
        .iter()
        .map(|r| r.request_id.as_str())
        .collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
}
