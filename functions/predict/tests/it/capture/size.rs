//! Captures too long for one log event: a large request is split into records, each
//! numbered by its first row; a row too long for a record of its own is dropped. The
//! answer is the same either way.

use predict::App;
use serde_json::Value;
use store::capture::{CapturedAnswer, MAX_CAPTURE_LINE};
use testkit::predict_support::{demo_store, wines};

use super::*;

#[tokio::test]
async fn a_request_too_large_for_one_line_is_split_and_every_row_captured_once() {
    let (app, sink) = capturing(1.0);
    // `wine_instance` reads every wine again per call: once here.
    let instances: Vec<Value> = wines()[..1000]
        .iter()
        .map(|(_, row)| super::routes::as_instance(row))
        .collect();
    let set = |b: &mut Value| b["instances"] = Value::Array(instances.clone());
    let response = app.handle(event("predict-post.json", "id-big", set)).await;
    let want = bytes(
        &demo_app()
            .handle(event("predict-post.json", "id-big", set))
            .await,
    );
    assert_eq!(bytes(&response), want);
    let lines = sink.lines();
    assert!(lines.len() >= 2, "{} lines", lines.len());
    for line in &lines {
        assert!(line.len() < MAX_CAPTURE_LINE, "{}", line.len());
    }
    let answered = body(&response)["predictions"].clone();
    let mut next = 0;
    for capture in sink.captured() {
        assert_eq!(capture.request_id, "id-big");
        assert_eq!(capture.first_row as usize, next);
        for (k, row) in capture.rows.iter().enumerate() {
            match &row.answer {
                CapturedAnswer::Score { score } => {
                    assert_eq!(*score, answered[next + k].as_f64().unwrap())
                }
                other => panic!("{other:?}"),
            }
        }
        next += capture.rows.len();
    }
    assert_eq!(next, 1000);
}

#[tokio::test]
async fn a_row_too_long_for_a_line_alone_is_dropped_and_the_others_kept() {
    // A model with a categorical feature: one row can be as long as the body allows.
    let model = || {
        let path = repository().join("libs/scoring/tests/fixtures/typed/ct_regressor.onnx");
        scoring::Model::load(&std::fs::read(path).unwrap(), "ct-v1").unwrap()
    };
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            repository().join("libs/scoring/tests/fixtures/typed/ct_regressor.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut instances: Vec<Value> = fixture["rows"].as_array().unwrap()[..3].to_vec();
    instances[1]["color"] = "x".repeat(MAX_CAPTURE_LINE).into();
    let sink = Shared::default();
    let app =
        App::new(model(), demo_store(), "ct").with_capture(Capture::new(rate(1.0), sink.clone()));
    let set = |b: &mut Value| b["instances"] = Value::Array(instances.clone());
    let response = app.handle(event("predict-post.json", "id-long", set)).await;
    let want = App::new(model(), demo_store(), "ct")
        .handle(event("predict-post.json", "id-long", set))
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert_eq!(bytes(&response), bytes(&want));
    let captured = sink.captured();
    let kept: Vec<(u32, usize)> = captured
        .iter()
        .map(|c| (c.first_row, c.rows.len()))
        .collect();
    assert_eq!(kept, [(0, 1), (2, 1)]);
}
