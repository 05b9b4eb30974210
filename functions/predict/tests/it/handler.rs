//! The handler with in-memory stores: each route, each error status, and the bodies.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request};
use predict::{App, MAX_BODY_BYTES, MAX_INSTANCES};
use scoring::Value as Attribute;
use serde_json::{json, Value};
use store::StoreError;
use testkit::memory::InMemoryAttributes;
use testkit::predict_support::{
    self, demo_app, demo_model, demo_store, http, json_body, request, wine_instance, wines,
};

fn post(body: impl Into<Body>) -> Request {
    http(Method::POST, "/predict", body)
}

async fn call<R: predict::results::Results>(
    app: &App<InMemoryAttributes, R>,
    request: Request,
) -> (StatusCode, Value) {
    let response = app.handle(request).await;
    (response.status(), json_body(&response))
}

#[tokio::test]
async fn get_scores_the_stored_product_with_the_model() {
    let app = demo_app();
    let (status, body) = call(&app, http(Method::GET, "/predict/wine-0002", Body::Empty)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["product_id"], "wine-0002");
    assert_eq!(body["model_version"], "test-version");
    let want = demo_model().score_row(&wines()[1].1).unwrap();
    assert!(
        (body["score"].as_f64().unwrap() - want as f64).abs() < 1e-6,
        "{body}"
    );
}

#[tokio::test]
async fn get_and_post_agree_on_the_same_wine() {
    let app = demo_app();
    let (_, get) = call(&app, http(Method::GET, "/predict/wine-0010", Body::Empty)).await;
    let (status, posted) = call(
        &app,
        post(json!({"instances": [wine_instance(9)]}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{posted}");
    assert_eq!(posted["predictions"][0], get["score"]);
}

#[tokio::test]
async fn post_scores_every_instance_in_order() {
    let app = demo_app();
    let instances: Vec<Value> = (0..50).map(wine_instance).collect();
    let (status, body) = call(&app, post(json!({ "instances": instances }).to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let predictions = body["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 50);
    let model = demo_model();
    for (i, p) in predictions.iter().enumerate() {
        let want = model.score_row(&wines()[i].1).unwrap() as f64;
        assert!((p.as_f64().unwrap() - want).abs() < 1e-6, "instance {i}");
    }
}

#[tokio::test]
async fn unknown_product_is_404() {
    let (status, body) = call(
        &demo_app(),
        http(Method::GET, "/predict/wine-9999", Body::Empty),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "product \"wine-9999\" not found");
}

#[tokio::test]
async fn stored_product_with_a_missing_or_non_numeric_attribute_is_422_naming_it() {
    let mut store = demo_store();
    let wine = store.rows.get_mut("wine-0001").unwrap();
    wine.remove("alcohol");
    let wine = store.rows.get_mut("wine-0002").unwrap();
    wine.insert("density", Attribute::Text("heavy".into()));
    let app = App::new(demo_model(), store, "wine-quality");

    let (status, body) = call(&app, http(Method::GET, "/predict/wine-0001", Body::Empty)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"],
        "product \"wine-0001\": feature `alcohol` is missing"
    );
    let (status, body) = call(&app, http(Method::GET, "/predict/wine-0002", Body::Empty)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"],
        "product \"wine-0002\": feature `density` is not a number (found a string)"
    );
}

#[tokio::test]
async fn an_unavailable_store_is_503_and_a_refusing_one_500_without_internals() {
    for (failure, status) in [
        (
            StoreError::unavailable("GetItem on table t failed: ThrottlingException req-id 42"),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            StoreError::refused("GetItem on table t failed: AccessDeniedException req-id 42"),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    ] {
        let store = InMemoryAttributes {
            failure: Some(failure),
            ..demo_store()
        };
        let (got, body) = call(
            &App::new(demo_model(), store, "wine-quality"),
            http(Method::GET, "/predict/wine-0001", Body::Empty),
        )
        .await;
        assert_eq!(got, status, "{body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains("attribute table"), "{body}");
        assert!(
            !message.contains("req-id") && !message.contains("table t"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn malformed_json_is_400() {
    for bad in [
        "",
        "{",
        "[]",
        "{\"instances\": 3}",
        "{\"rows\": []}",
        "null",
    ] {
        let (status, body) = call(&demo_app(), post(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("instances"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn empty_instances_is_400() {
    let (status, _) = call(&demo_app(), post(r#"{"instances": []}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_instances_are_422_naming_index_and_feature() {
    let app = demo_app();
    let mut missing = wine_instance(0);
    missing.as_object_mut().unwrap().remove("ph");
    let mut text = wine_instance(0);
    text["sulphates"] = json!("0.5");
    let cases = [
        (
            json!([wine_instance(0), missing]),
            "instance 1: feature `ph` is missing",
        ),
        (
            json!([text]),
            "instance 0: feature `sulphates` is not a number (found a string)",
        ),
        (
            json!([wine_instance(0), 7]),
            "instance 1 is not a JSON object",
        ),
        (
            json!([{"alcohol": null}]),
            "instance 0: feature `fixed_acidity` is missing",
        ),
    ];
    for (instances, message) in cases {
        let (status, body) = call(&app, post(json!({ "instances": instances }).to_string())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"], message);
    }
}

#[tokio::test]
async fn huge_numbers_are_422_not_a_panic() {
    let mut wine = wine_instance(0);
    wine["alcohol"] = json!(1e300);
    let (status, body) = call(
        &demo_app(),
        post(json!({ "instances": [wine] }).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`alcohol` is not a finite number"),
        "{body}"
    );
}

#[tokio::test]
async fn too_many_instances_is_413() {
    let instances = vec![wine_instance(0); MAX_INSTANCES + 1];
    let (status, body) = call(
        &demo_app(),
        post(json!({ "instances": instances }).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body["error"].as_str().unwrap().contains("1001 instances"),
        "{body}"
    );
    // Exactly the limit is fine.
    let instances = vec![wine_instance(0); MAX_INSTANCES];
    let (status, _) = call(
        &demo_app(),
        post(json!({ "instances": instances }).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn oversize_body_is_413() {
    let body = format!(
        "{{\"instances\": [], \"padding\": \"{}\"}}",
        "x".repeat(MAX_BODY_BYTES)
    );
    let (status, body) = call(&demo_app(), post(body)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");
}

#[tokio::test]
async fn binary_bodies_are_read_like_text() {
    let body = json!({"instances": [wine_instance(3)]})
        .to_string()
        .into_bytes();
    let (status, _) = call(&demo_app(), post(Body::Binary(body))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn health_names_the_model_and_its_features() {
    let (status, body) = call(&demo_app(), http(Method::GET, "/health", Body::Empty)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["model_version"], "test-version");
    assert_eq!(body["features"].as_array().unwrap().len(), 11);
    assert_eq!(body["task"], "regression");
    assert_eq!(
        body["features"][8],
        serde_json::json!({"name": "ph", "type": "float", "kind": "numeric", "accepts_missing": false})
    );
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let app = demo_app();
    let response = app.handle(http(Method::PUT, "/predict", Body::Empty)).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    let response = app.handle(request("predict-wrong-method.json")).await;
    assert_eq!(response.headers()["allow"], "GET");
}

#[tokio::test]
async fn unknown_path_is_404() {
    let (status, body) = call(&demo_app(), http(Method::GET, "/admin", Body::Empty)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no route for /admin");
}

#[tokio::test]
async fn get_event_answers_with_the_stored_wine() {
    let response = demo_app().handle(request("predict-get.json")).await;
    let body = json_body(&response);
    assert_eq!(body["product_id"], "wine-0001");
    let want = demo_model().score_row(&wines()[0].1).unwrap() as f64;
    assert!((body["score"].as_f64().unwrap() - want).abs() < 1e-6);
}

/// A model whose encoder refuses categories it never saw (`handle_unknown="error"`): such
/// a value is the caller's mistake, a 422 naming the instance, never a 5xx.
#[tokio::test]
async fn a_category_the_model_refuses_is_422_naming_the_instance() {
    let model =
        scoring::Model::load(&testkit::models::strict_categorical_model(), "strict").unwrap();
    let known = testkit::models::strict_categorical_row();
    let mut unknown = known.clone();
    unknown.insert("color".into(), json!("never-seen"));
    let mut rows = std::collections::HashMap::new();
    rows.insert(
        "p-unknown".to_owned(),
        unknown
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => Attribute::Text(s.clone()),
                    other => Attribute::Number(other.as_f64().unwrap()),
                };
                (k.clone(), value)
            })
            .collect(),
    );
    let app = App::new(
        model,
        InMemoryAttributes {
            rows,
            failure: None,
        },
        "strict",
    );
    let body = json!({"instances": [known, unknown]}).to_string();
    let (status, answer) = call(&app, http(Method::POST, "/predict", body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.starts_with("instance 1:"), "{message}");
    assert!(message.contains("handle_unknown"), "{message}");

    let (status, answer) = call(&app, http(Method::GET, "/predict/p-unknown", Body::Empty)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    // The sandbox's model is fine afterwards: a known row is answered.
    let body = json!({"instances": [known]}).to_string();
    let (status, answer) = call(&app, http(Method::POST, "/predict", body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["predictions"][0].is_number());
}

#[tokio::test]
async fn finite_values_the_model_overflows_on_are_422_naming_the_instance() {
    // A ridge regression: every feature at f32's largest value sums past it.
    let bytes = std::fs::read(
        predict_support::repository().join("libs/scoring/tests/fixtures/typed/imputer_ridge.onnx"),
    )
    .unwrap();
    let model = scoring::Model::load(&bytes, "ridge").unwrap();
    let names: Vec<String> = model.features().to_vec();
    let row = |x: f64| Value::Object(names.iter().map(|n| (n.clone(), json!(x))).collect());
    let app = App::new(model, demo_store(), "ridge");
    let (status, body) = call(
        &app,
        post(json!({ "instances": [row(1.0), row(3.0e38)] }).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("instance 1: "), "{error}");
    assert!(
        error.contains("the model's answer is not a finite number"),
        "{error}"
    );
    // The first row alone is fine.
    let (status, body) = call(&app, post(json!({ "instances": [row(1.0)] }).to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn predictions_answers_the_stored_result_and_whether_its_run_is_the_latest_completed() {
    let app = demo_app();
    let get = |id: &str| http(Method::GET, &format!("/predictions/{id}"), Body::Empty);
    let (status, body) = call(&app, get("wine-0001")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "product_id": "wine-0001",
            "score": 5.25,
            "model_version": "nightly-model",
            "run_id": predict_support::NIGHTLY_RUN,
            "scored_at": "2026-11-24T02:00:07.000Z",
            "latest_completed_run": predict_support::NIGHTLY_RUN,
            "from_latest_completed_run": true,
        })
    );
    let (status, body) = call(&app, get("wine-0002")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("wine-0002"),
        "{body}"
    );
    let (status, _) = call(&app, get("a%2Fb")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_result_from_an_older_run_is_answered_as_not_from_the_latest_completed_run() {
    use predict::results::NightlyResults;
    use testkit::memory::{InMemoryPredictions, InMemoryRunLog};
    let predictions = InMemoryPredictions::default();
    let runs = InMemoryRunLog::default();
    let mut stale = predict_support::nightly_result();
    stale.run_id = "nightly-2026-11-23T02:00:00Z".into();
    predictions
        .items
        .lock()
        .unwrap()
        .insert("wine-0001".into(), stale);
    runs.0
        .lock()
        .unwrap()
        .push((predict_support::NIGHTLY_RUN.into(), "{}".into()));
    let app = App::new(demo_model(), demo_store(), predict_support::DEMO_MODEL_NAME)
        .with_results(NightlyResults::new(predictions, runs));
    let (status, body) = call(
        &app,
        http(Method::GET, "/predictions/wine-0001", Body::Empty),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["run_id"], "nightly-2026-11-23T02:00:00Z");
    assert_eq!(body["latest_completed_run"], predict_support::NIGHTLY_RUN);
    assert_eq!(body["from_latest_completed_run"], false);
}

#[tokio::test]
async fn predictions_without_a_results_store_is_a_500_that_says_so() {
    let app = App::new(demo_model(), demo_store(), predict_support::DEMO_MODEL_NAME);
    let (status, body) = call(
        &app,
        http(Method::GET, "/predictions/wine-0001", Body::Empty),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("the predictions table or the run log refused the read"),
        "{body}"
    );
}
