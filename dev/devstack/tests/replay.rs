//! The `replay` command as a person runs it, on captures delivered to moto's S3 as on AWS
//! (log group, subscription, Firehose: testkit's `CapturePipeline`): the demo model's own
//! captured answers replayed with the demo model itself and with the challenger fixtures,
//! from the bucket and from a directory of downloaded objects, and the errors it names.

use std::path::PathBuf;

use aws_adapter::aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use scoring::{Model, Prediction};
use serde_json::Value;
use store::capture::{
    CapturedAnswer, CapturedRequest, CapturedRow, CapturedValue, Features, CAPTURE_FORMAT,
};
use testkit::capture_pipeline::CapturePipeline;
use testkit::models::{challenger, challengers, champion};
use testkit::moto::{repository_root, unique_name};
use testkit::resources;
use testkit::stack::Clients;

/// Captured requests of `rows_per_request` wines each, answered by the demo model, as
/// the predict function writes them; the first half under version `v1`, the rest `v2`.
fn demo_captures(requests: usize, rows_per_request: usize) -> Vec<CapturedRequest> {
    let model = Model::load(&champion(), "demo").unwrap();
    let wines = testkit::demo_data::repository_wines().unwrap();
    let now = DateTime::from(std::time::SystemTime::now())
        .fmt(DateTimeFormat::DateTime)
        .unwrap();
    (0..requests)
        .map(|r| CapturedRequest {
            capture: CAPTURE_FORMAT,
            request_id: format!("req-{r:04}"),
            time: now.clone(),
            route: "POST /predict".into(),
            model: "wine-quality".into(),
            model_version: if r < requests / 2 { "v1" } else { "v2" }.into(),
            challenger_version: None,
            product_id: None,
            first_row: 0,
            rows: (0..rows_per_request)
                .map(|i| {
                    let row = aws_adapter::dynamodb::row(wines[r * rows_per_request + i].clone());
                    let features = model
                        .features()
                        .iter()
                        .map(|name| {
                            let value = match row.get(name) {
                                Some(scoring::Value::Number(v)) => CapturedValue::Number(*v),
                                Some(scoring::Value::Text(t)) => CapturedValue::Text(t.clone()),
                                _ => CapturedValue::Null,
                            };
                            (name.clone(), value)
                        })
                        .collect();
                    let score = model.score_row(&row).unwrap();
                    CapturedRow {
                        features: Features(features),
                        answer: CapturedAnswer::Score {
                            score: f64::from(score),
                        },
                        challenger: None,
                    }
                })
                .collect(),
        })
        .collect()
}

/// A bucket with `captures` delivered through the pipeline, among other log lines.
async fn delivered(captures: &[CapturedRequest]) -> (Clients, String) {
    let lines: Vec<String> = captures
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    delivered_lines(&lines).await
}

/// A bucket with the log `lines` delivered through the pipeline, among other log lines.
async fn delivered_lines(captures: &[String]) -> (Clients, String) {
    let endpoint = testkit::moto::endpoint();
    let c = Clients::for_endpoint(&endpoint).await;
    let bucket = unique_name("captures");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let pipeline =
        CapturePipeline::create(&endpoint, &unique_name("predict"), &bucket, "captures/")
            .await
            .unwrap();
    let mut lines = vec![r#"{"level":"INFO","fields":{"message":"ready"}}"#.to_owned()];
    lines.extend(captures.iter().cloned());
    for chunk in lines.chunks(7) {
        pipeline.ship(chunk).await.unwrap();
    }
    (c, bucket)
}

/// Runs the command; (exit code, stdout, stderr).
async fn replay(args: &[&str], endpoint: &str) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(args)
        .env_clear()
        .envs(testkit::moto::aws_env(endpoint))
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn replay_json(captures: &str, candidate: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--captures", captures, "--candidate", candidate, "--json"];
    args.extend(extra);
    let (code, out, err) = replay(&args, &testkit::moto::endpoint()).await;
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn fixture(name: &str) -> String {
    repository_root()
        .join(format!("model/challengers/{name}.onnx"))
        .display()
        .to_string()
}

fn demo_model_path() -> String {
    repository_root()
        .join("model/wine_quality.onnx")
        .display()
        .to_string()
}

fn version<'a>(report: &'a Value, v: &str) -> &'a Value {
    report["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["model_version"] == v)
        .unwrap_or_else(|| panic!("no version {v}: {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_models_captures_replayed_with_itself_agree_and_with_the_white_wines_model_differ()
{
    let captures = demo_captures(40, 3);
    let (_c, bucket) = delivered(&captures).await;
    let uri = format!("s3://{bucket}/captures/");

    let same = replay_json(&uri, &demo_model_path(), &[]).await;
    assert_eq!(
        (same["requests_read"].as_u64(), same["rows_read"].as_u64()),
        (Some(40), Some(120))
    );
    assert_eq!(same["unreadable"], 0);
    for v in ["v1", "v2"] {
        let version = version(&same, v);
        assert_eq!(version["requests"], 20);
        let c = &version["comparison"];
        assert_eq!(
            (c["rows_compared"].as_u64(), c["challenger_errors"].as_u64()),
            (Some(60), Some(0))
        );
        assert_eq!(c["mean_abs_difference"], 0.0, "{c}");
        assert_eq!(c["p99_abs_difference"], 0.0, "{c}");
        assert_eq!(c["most_different"], serde_json::json!([]), "{c}");
    }

    // The white wines' model: what its own answers say, row by row.
    let white = Model::load(&challenger(challengers::WHITE), "white").unwrap();
    let mut differences: Vec<(f64, String)> = captures
        .iter()
        .filter(|r| r.model_version == "v2")
        .flat_map(|r| {
            r.rows.iter().enumerate().map(|(i, row)| {
                let CapturedAnswer::Score { score } = row.answer else {
                    unreachable!()
                };
                let theirs = white.predict_row(&row.features.to_row()).unwrap();
                let Prediction::Score(theirs) = theirs else {
                    unreachable!()
                };
                (
                    (score - f64::from(theirs)).abs(),
                    format!("{}#{i}", r.request_id),
                )
            })
        })
        .collect();
    differences.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mean = differences.iter().map(|d| d.0).sum::<f64>() / differences.len() as f64;
    let report = replay_json(
        &uri,
        &fixture(challengers::WHITE),
        &["--model-version", "v2"],
    )
    .await;
    assert_eq!(report["versions"].as_array().unwrap().len(), 1, "{report}");
    let c = &version(&report, "v2")["comparison"];
    assert_eq!(c["rows_compared"], 60);
    let got = c["mean_abs_difference"].as_f64().unwrap();
    assert!(
        (got - mean).abs() < 1e-9 && mean > 0.1,
        "{got} against {mean}"
    );
    assert!(c["psi"].as_f64().unwrap() > 0.0, "{c}");
    let listed: Vec<&str> = c["most_different"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let most: Vec<&str> = differences.iter().take(10).map(|d| d.1.as_str()).collect();
    assert_eq!(listed, most);

    // A candidate reading a feature the captures do not hold answers none of them.
    let vintage = replay_json(&uri, &fixture(challengers::VINTAGE), &[]).await;
    let c = &version(&vintage, "v1")["comparison"];
    assert_eq!(
        (c["rows_compared"].as_u64(), c["challenger_errors"].as_u64()),
        (Some(0), Some(60))
    );
    assert_eq!(
        c["challenger_error_reasons"]["missing or invalid attribute"],
        60
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloaded_objects_replay_as_the_bucket_does_and_the_text_report_names_the_figures() {
    let captures = demo_captures(10, 2);
    let (c, bucket) = delivered(&captures).await;
    let dir = std::env::temp_dir().join(unique_name("replay-download"));
    let listed = c.s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert!(listed.contents().len() >= 2, "several deliveries");
    for object in listed.contents() {
        let key = object.key().unwrap();
        let body =
            c.s3.get_object()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let uri = format!("s3://{bucket}/captures/");
    let white = fixture(challengers::WHITE);
    // The same time for both (the default, a week ago, moves with the clock).
    let since = ["--since", "2000-01-01T00:00:00Z"];
    let mut from_s3 = replay_json(&uri, &white, &since).await;
    let mut from_files = replay_json(dir.to_str().unwrap(), &white, &since).await;
    from_s3["captures"] = Value::Null;
    from_files["captures"] = Value::Null;
    assert_eq!(from_s3, from_files);

    let (code, text, err) = replay(
        &["--captures", dir.to_str().unwrap(), "--candidate", &white],
        &testkit::moto::endpoint(),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{err}");
    for needle in [
        "Read 10 requests (20 rows); 0 records could not be read as captures.",
        "Model version v1: 5 requests, 10 rows",
        "rows compared        10",
        "label agreement      - (classifiers only)",
        "mean |difference|",
        "PSI",
        "most different",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
}

#[tokio::test]
async fn no_captures_a_bad_candidate_an_unreachable_s3_and_bad_arguments_are_clear_errors() {
    let endpoint = testkit::moto::endpoint();
    let c = Clients::for_endpoint(&endpoint).await;
    let bucket = unique_name("captures");
    resources::create_bucket(&c.s3, &bucket).await.unwrap();
    let uri = format!("s3://{bucket}/captures/");
    let model = demo_model_path();
    let broken: PathBuf = std::env::temp_dir().join(unique_name("broken.onnx"));
    std::fs::write(&broken, b"not a model").unwrap();
    let closed = format!("http://127.0.0.1:{}", testkit::moto::free_port().unwrap());
    let cases: Vec<(Vec<&str>, &str, i32, &str)> = vec![
        (
            vec!["--captures", &uri, "--candidate", &model],
            &endpoint,
            1,
            "no captured requests in s3://",
        ),
        (
            vec!["--captures", &uri, "--candidate", broken.to_str().unwrap()],
            &endpoint,
            1,
            "cannot load the candidate",
        ),
        (
            vec!["--captures", &uri, "--candidate", "/no/such/model.onnx"],
            &endpoint,
            1,
            "cannot read the candidate /no/such/model.onnx",
        ),
        (
            vec!["--captures", &uri, "--candidate", &model],
            &closed,
            1,
            "cannot read the captures in s3://",
        ),
        (
            vec!["--captures", "/no/such/dir", "--candidate", &model],
            &endpoint,
            1,
            "cannot read /no/such/dir",
        ),
        (
            vec!["--captures", &uri],
            &endpoint,
            2,
            "--candidate is required",
        ),
    ];
    for (args, at, want_code, message) in cases {
        let (code, out, err) = replay(&args, at).await;
        assert_eq!(code, want_code, "{args:?}: {out} {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let _ = std::fs::remove_file(broken);
}

/// The predict function's stdout, as its capture writes it.
#[derive(Clone, Default)]
struct Stdout(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_written_by_the_predict_function_replay_as_answered_and_against_a_candidate() {
    use testkit::predict_support::{demo_app, event_at, event_json, wine_instance, wines};
    let stdout = Stdout::default();
    let app = demo_app().with_capture(predict::capture::Capture::new(
        aws_adapter::config::CaptureRate::ALL,
        stdout.clone(),
    ));
    // The wines each request scored, in order.
    let mut scored: Vec<usize> = Vec::new();
    for i in 0..24usize {
        let mut event = if i % 4 == 3 {
            scored.push(i % 9);
            event_at(
                "predict-get.json",
                &format!("/predict/wine-{:04}", 1 + i % 9),
            )
        } else {
            let chosen: Vec<usize> = (0..1 + i % 3).map(|k| (i * 7 + k) % 1599).collect();
            scored.extend(&chosen);
            let mut event = event_json("predict-post.json");
            let instances: Vec<Value> = chosen.iter().map(|&w| wine_instance(w)).collect();
            event["body"] = serde_json::json!({ "instances": instances })
                .to_string()
                .into();
            event
        };
        event["requestContext"]["requestId"] = format!("req-{i:04}").into();
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = app.handle(request).await;
        assert_eq!(response.status(), 200);
    }
    let written = String::from_utf8(stdout.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<String> = written.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 24, "one capture line per request: {written}");
    let (_c, bucket) = delivered_lines(&lines).await;
    let uri = format!("s3://{bucket}/captures/");
    let rows = scored.len() as u64;

    let same = replay_json(&uri, &demo_model_path(), &[]).await;
    assert_eq!(
        (same["requests_read"].as_u64(), same["rows_read"].as_u64()),
        (Some(24), Some(rows))
    );
    let c = &version(&same, "test-version")["comparison"];
    assert_eq!(
        (c["rows_compared"].as_u64(), c["challenger_errors"].as_u64()),
        (Some(rows), Some(0))
    );
    assert_eq!(c["mean_abs_difference"], 0.0, "{c}");
    assert_eq!(c["p99_abs_difference"], 0.0, "{c}");
    assert_eq!(c["psi"], 0.0, "{c}");

    // The white wines' model against the demo model, wine by wine, as the challenger
    // tests know them.
    let demo = Model::load(&champion(), "demo").unwrap();
    let white = Model::load(&challenger(challengers::WHITE), "white").unwrap();
    let all = wines();
    let mean = scored
        .iter()
        .map(|&w| {
            let (a, b) = (
                demo.score_row(&all[w].1).unwrap(),
                white.score_row(&all[w].1).unwrap(),
            );
            (f64::from(a) - f64::from(b)).abs()
        })
        .sum::<f64>()
        / rows as f64;
    let other = replay_json(&uri, &fixture(challengers::WHITE), &[]).await;
    let c = &version(&other, "test-version")["comparison"];
    assert_eq!(c["rows_compared"].as_u64(), Some(rows));
    let got = c["mean_abs_difference"].as_f64().unwrap();
    assert!(
        (got - mean).abs() < 1e-9 && mean > 0.1,
        "{got} against {mean}"
    );
    assert_eq!(c["most_different"].as_array().unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classifiers_captures_replayed_give_label_agreement() {
    use testkit::predict_support::{demo_store, event_json};
    let path = repository_root().join("model/wine_good_classifier.onnx");
    let model = Model::load(&std::fs::read(&path).unwrap(), "clf-v1").unwrap();
    let stdout = Stdout::default();
    let app = predict::App::new(model, demo_store(), "wine-good").with_capture(
        predict::capture::Capture::new(aws_adapter::config::CaptureRate::ALL, stdout.clone()),
    );
    let wines = testkit::demo_data::colored_wines().unwrap();
    for i in 0..12usize {
        let instances: Vec<Value> = (0..2)
            .map(|k| {
                let row =
                    aws_adapter::dynamodb::row(wines[(i * 131 + k * 17) % wines.len()].clone());
                let object: serde_json::Map<String, Value> = row
                    .iter()
                    .filter_map(|(name, v)| match v {
                        scoring::Value::Number(n) => Some((name.to_owned(), serde_json::json!(n))),
                        scoring::Value::Text(t) => Some((name.to_owned(), serde_json::json!(t))),
                        _ => None,
                    })
                    .collect();
                Value::Object(object)
            })
            .collect();
        let mut event = event_json("predict-post.json");
        event["body"] = serde_json::json!({ "instances": instances })
            .to_string()
            .into();
        event["requestContext"]["requestId"] = format!("clf-{i:04}").into();
        let response = app
            .handle(lambda_http::request::from_str(&event.to_string()).unwrap())
            .await;
        assert_eq!(response.status(), 200, "{:?}", response.body());
    }
    let written = String::from_utf8(stdout.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<String> = written.lines().map(str::to_owned).collect();
    let (_c, bucket) = delivered_lines(&lines).await;
    let uri = format!("s3://{bucket}/captures/");

    let same = replay_json(&uri, path.to_str().unwrap(), &[]).await;
    assert_eq!(same["candidate_task"], "classification");
    let c = &version(&same, "clf-v1")["comparison"];
    assert_eq!(c["rows_compared"], 24, "{c}");
    assert_eq!(
        (
            c["agreement_rate"].as_f64(),
            c["mean_abs_difference"].as_f64()
        ),
        (Some(1.0), Some(0.0)),
        "{c}"
    );

    // Another classifier, whose classes ("high", "low", "medium") are none of these
    // ("bad", "good"): no label agrees.
    let grade = replay_json(&uri, &fixture(challengers::GRADE), &[]).await;
    let c = &version(&grade, "clf-v1")["comparison"];
    assert_eq!(
        (c["rows_compared"].as_u64(), c["agreement_rate"].as_f64()),
        (Some(24), Some(0.0)),
        "{c}"
    );
    assert_eq!(c["most_different"][0]["labels_agree"], false, "{c}");
}
