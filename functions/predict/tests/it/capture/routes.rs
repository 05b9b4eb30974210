//! What each scoring route's capture holds: the request id the caller got back, the
//! route, the model and its version, the product, the features as the model read them
//! (in its order) and the answers as the API gave them; with a challenger, its version
//! and its answers.

use lambda_http::http::StatusCode;
use serde_json::{json, Value};
use store::capture::{CapturedAnswer, CapturedRequest, CapturedValue};
use testkit::models::{challenger, challengers};
use testkit::predict_support::{demo_model, wines, DEMO_MODEL_NAME};

use super::*;

fn score(answer: &CapturedAnswer) -> f64 {
    match answer {
        CapturedAnswer::Score { score } => *score,
        other => panic!("{other:?}"),
    }
}

fn number(value: &CapturedValue) -> f64 {
    match value {
        CapturedValue::Number(n) => *n,
        other => panic!("{other:?}"),
    }
}

/// The features are the demo model's, in its order, with the values it read (`f32`).
fn check_features(capture: &CapturedRequest, instances: &[Value]) {
    let model = demo_model();
    assert_eq!(capture.rows.len(), instances.len());
    for (row, instance) in capture.rows.iter().zip(instances) {
        let names: Vec<&str> = row.features.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, model.schema().names());
        for (name, value) in &row.features.0 {
            let sent = instance[name].as_f64().unwrap();
            assert_eq!(number(value) as f32, sent as f32, "{name}");
        }
    }
}

#[tokio::test]
async fn each_scoring_route_captures_what_the_model_read_and_answered() {
    let (app, sink) = capturing(1.0);

    let get = app
        .handle(event("predict-get.json", "id-get", |_| {}))
        .await;
    assert_eq!(get.status(), StatusCode::OK);
    let post = app
        .handle(event("predict-post.json", "id-post", |_| {}))
        .await;
    let infer = app.handle(event("v2-infer.json", "id-infer", |_| {})).await;
    let captured = sink.captured();
    assert_eq!(captured.len(), 3);

    let c = &captured[0];
    assert_eq!(
        (
            c.request_id.as_str(),
            c.route.as_str(),
            c.product_id.as_deref()
        ),
        ("id-get", "GET /predict/{product_id}", Some("wine-0001"))
    );
    assert_eq!(
        (c.model.as_str(), c.model_version.as_str()),
        (DEMO_MODEL_NAME, "test-version")
    );
    assert_eq!((c.first_row, c.challenger_version.as_ref()), (0, None));
    let wine = as_instance(&wines()[0].1);
    check_features(c, &[wine]);
    assert_eq!(
        score(&c.rows[0].answer),
        body(&get)["score"].as_f64().unwrap()
    );

    let c = &captured[1];
    assert_eq!(
        (c.route.as_str(), c.product_id.as_ref()),
        ("POST /predict", None)
    );
    let sent: Value = serde_json::from_str(
        &String::from_utf8(std::fs::read(repository().join("events/predict-post.json")).unwrap())
            .unwrap(),
    )
    .unwrap();
    let sent: Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    check_features(c, sent["instances"].as_array().unwrap());
    let answered = body(&post)["predictions"].clone();
    for (i, row) in c.rows.iter().enumerate() {
        assert_eq!(score(&row.answer), answered[i].as_f64().unwrap());
    }

    let c = &captured[2];
    assert_eq!(c.route, "POST /v2/models/{name}/infer");
    assert_eq!(c.rows.len(), 2);
    let outputs = body(&infer)["outputs"][0]["data"].clone();
    for (i, row) in c.rows.iter().enumerate() {
        assert_eq!(score(&row.answer), outputs[i].as_f64().unwrap());
    }
    // The body's own id is the caller's, left alone.
    assert_eq!(body(&infer)["id"], "req-0001");
    assert_eq!(request_id(&infer), Some("id-infer"));
}

/// A stored product as `POST /predict` would send it.
pub(super) fn as_instance(row: &scoring::Row) -> Value {
    Value::Object(
        row.iter()
            .filter_map(|(k, v)| match v {
                scoring::Value::Number(n) => Some((k.to_string(), json!(n))),
                _ => None,
            })
            .collect(),
    )
}

#[tokio::test]
async fn every_scoring_answer_names_its_request_id_captured_or_not_and_nothing_else_does() {
    let (app, sink) = capturing(0.0);
    for file in [
        "predict-get.json",
        "predict-post.json",
        "v2-infer.json",
        "predict-get-unknown.json",
        "v2-infer-bad-shape.json",
    ] {
        let response = app.handle(event(file, "the-id", |_| {})).await;
        assert_eq!(request_id(&response), Some("the-id"), "{file}");
    }
    // REST API (payload v1): its request context has the id too.
    let rest = app
        .handle(testkit::predict_support::request(
            "rest-api-v1-predict-get.json",
        ))
        .await;
    assert_eq!(rest.status(), StatusCode::OK);
    assert_eq!(
        request_id(&rest),
        Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
    );
    for file in [
        "health.json",
        "predictions-get.json",
        "v2-model-metadata.json",
    ] {
        let response = app.handle(event(file, "the-id", |_| {})).await;
        assert_eq!(request_id(&response), None, "{file}");
    }
    assert!(sink.lines().is_empty());

    // Captured through the REST API: the same id in the header and the capture.
    let (app, sink) = capturing(1.0);
    app.handle(testkit::predict_support::request(
        "rest-api-v1-predict-get.json",
    ))
    .await;
    assert_eq!(
        sink.captured()[0].request_id,
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
}

#[tokio::test]
async fn a_challenger_beside_the_model_is_captured_with_its_version_and_answers() {
    let white = scoring::Model::load(&challenger(challengers::WHITE), "white-v1").unwrap();
    let sink = Shared::default();
    let app = demo_app()
        .with_challenger(scoring::Model::load(&challenger(challengers::WHITE), "white-v1").unwrap())
        .with_capture(Capture::new(rate(1.0), sink.clone()));
    let instances: Vec<Value> = (0..5)
        .map(testkit::predict_support::wine_instance)
        .collect();
    let post = |id: &'static str, query: Option<&'static str>| {
        let instances = instances.clone();
        let mut request = event("predict-post.json", id, move |b| {
            b["instances"] = Value::Array(instances)
        });
        if let Some(q) = query {
            *request.uri_mut() = format!("/predict?{q}").parse().unwrap();
        }
        request
    };
    app.handle(post("id-1", None)).await;
    let c = &sink.captured()[0];
    assert_eq!(c.model_version, "test-version");
    assert_eq!(c.challenger_version.as_deref(), Some("white-v1"));
    for (i, row) in c.rows.iter().enumerate() {
        let want = white
            .predict_row(instances[i].as_object().unwrap())
            .unwrap()
            .score()
            .unwrap();
        assert_eq!(
            score(row.challenger.as_ref().unwrap()) as f32,
            want,
            "row {i}"
        );
    }

    // Asked for directly, the challenger is the model that answered.
    app.handle(post("id-3", Some("model=challenger"))).await;
    let c = &sink.captured()[1];
    assert_eq!(
        (c.model_version.as_str(), c.challenger_version.as_ref()),
        ("white-v1", None)
    );
    assert!(c.rows.iter().all(|r| r.challenger.is_none()));

    // A challenger that cannot read the rows (it needs `vintage`): its answers are errors.
    let vintage = scoring::Model::load(&challenger(challengers::VINTAGE), "vintage-v1").unwrap();
    let sink = Shared::default();
    let app = demo_app()
        .with_challenger(vintage)
        .with_capture(Capture::new(rate(1.0), sink.clone()));
    app.handle(post("id-2", None)).await;
    let c = &sink.captured()[0];
    assert_eq!(c.challenger_version.as_deref(), Some("vintage-v1"));
    for row in &c.rows {
        assert!(
            matches!(row.challenger, Some(CapturedAnswer::Error { .. })),
            "{row:?}"
        );
    }
}
