//! The challenger called directly: `?model=challenger` on the scoring routes and its
//! Open Inference Protocol name answer with the challenger and its version; asked for with
//! none loaded, a 404 saying why, with nothing internal.

use lambda_http::http::Method;
use serde_json::{json, Value};
use testkit::models::challengers::{GRADE, VINTAGE, VINTAGE_FEATURE, WHITE};
use testkit::predict_support::{demo_app, http, json_body, wine_instance, wines};

use super::{challenger_model, get, post, with_challenger};

#[tokio::test]
async fn model_challenger_answers_with_the_challenger_and_its_version() {
    let app = with_challenger(WHITE);
    let white = challenger_model(WHITE);
    let (id, row) = &wines()[4];
    let response = app
        .handle(get(&format!("/predict/{id}?model=challenger")))
        .await;
    let body = json_body(&response);
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(body["model_version"], "wine_quality_white-v1");
    assert_eq!(body["product_id"], id.as_str());
    let want = white.score_row(row).unwrap();
    assert_eq!(body["score"].as_f64().unwrap() as f32, want, "{body}");
    // Not the champion's answer.
    let champion = json_body(&app.handle(get(&format!("/predict/{id}"))).await);
    assert_eq!(champion["model_version"], "test-version");
    assert_ne!(champion["score"], body["score"]);

    let instances: Vec<Value> = (0..3).map(wine_instance).collect();
    let response = app
        .handle(post(
            "/predict?model=challenger",
            &json!({ "instances": instances }),
        ))
        .await;
    let body = json_body(&response);
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(body["model_version"], "wine_quality_white-v1");
    for (i, instance) in instances.iter().enumerate() {
        let want = white.score_row(instance.as_object().unwrap()).unwrap();
        assert_eq!(body["predictions"][i].as_f64().unwrap() as f32, want);
    }

    // Explained, when the challenger explains.
    let response = app
        .handle(get(&format!("/predict/{id}?model=challenger&explain=true")))
        .await;
    let body = json_body(&response);
    match white.explainability() {
        Ok(_) => {
            assert_eq!(response.status(), 200, "{body}");
            assert_eq!(body["model_version"], "wine_quality_white-v1");
            assert!(body["explanation"]["contributions"].is_object(), "{body}");
        }
        Err(_) => assert_eq!(response.status(), 422, "{body}"),
    }
}

#[tokio::test]
async fn another_model_value_is_a_400_naming_the_allowed_ones() {
    for app in [with_challenger(WHITE), demo_app()] {
        for request in [
            get("/predict/wine-0001?model=shadow"),
            post(
                "/predict?model=",
                &json!({ "instances": [wine_instance(0)] }),
            ),
            get("/predict/wine-0001?model=champion&model=challenger"),
        ] {
            let response = app.handle(request).await;
            let body = json_body(&response);
            assert_eq!(response.status(), 400, "{body}");
            let error = body["error"].as_str().unwrap();
            assert!(error.contains("champion or challenger"), "{error}");
        }
    }
}

#[tokio::test]
async fn asking_for_the_challenger_with_none_loaded_is_a_404_saying_why() {
    for (app, why) in [
        (demo_app(), "none is configured"),
        (
            demo_app().with_failed_challenger(),
            "failed to load at cold start",
        ),
    ] {
        for request in [
            get("/predict/wine-0001?model=challenger"),
            post(
                "/predict?model=challenger",
                &json!({ "instances": [wine_instance(0)] }),
            ),
        ] {
            let response = app.handle(request).await;
            let body = json_body(&response);
            assert_eq!(response.status(), 404, "{body}");
            let error = body["error"].as_str().unwrap();
            assert!(error.starts_with("no challenger is loaded: "), "{error}");
            assert!(error.contains(why), "{error}");
            for internal in ["s3://", "CHALLENGER_MODEL_KEY", "onnx"] {
                assert!(!error.contains(internal), "{internal} in {error}");
            }
        }
    }
}

#[tokio::test]
async fn a_challenger_refuses_what_it_cannot_read_when_called_directly() {
    // Called directly, the vintage challenger is the model: a row without `vintage` is the
    // caller's to fix, as with any model.
    let app = with_challenger(VINTAGE);
    let response = app
        .handle(post(
            "/predict?model=challenger",
            &json!({ "instances": [wine_instance(0)] }),
        ))
        .await;
    let body = json_body(&response);
    assert_eq!(response.status(), 422, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains(VINTAGE_FEATURE),
        "{body}"
    );
    let mut with_vintage = wine_instance(0);
    with_vintage[VINTAGE_FEATURE] = json!(2004);
    let response = app
        .handle(post(
            "/predict?model=challenger",
            &json!({ "instances": [with_vintage] }),
        ))
        .await;
    let body = json_body(&response);
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(body["model_version"], "wine_quality_vintage-v1");
}

/// One `[N]` FP64 tensor per feature of the first `n` wines.
fn infer_body(n: usize) -> Value {
    let rows: Vec<Value> = (0..n).map(wine_instance).collect();
    let names: Vec<String> = rows[0].as_object().unwrap().keys().cloned().collect();
    json!({
        "inputs": names.iter().map(|name| json!({
            "name": name,
            "shape": [n],
            "datatype": "FP64",
            "data": rows.iter().map(|r| r[name].clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    })
}

#[tokio::test]
async fn the_challenger_answers_the_protocol_under_its_own_name() {
    let app = with_challenger(GRADE);
    let grade = challenger_model(GRADE);
    let name = "wine-quality-challenger";
    let version = "wine_grade_classifier-v1";

    let metadata = app.handle(get(&format!("/v2/models/{name}"))).await;
    let body = json_body(&metadata);
    assert_eq!(metadata.status(), 200, "{body}");
    assert_eq!(body["name"], name);
    assert_eq!(body["versions"], json!([version]));
    let outputs: Vec<&str> = body["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(outputs.starts_with(&["predict", "predict_proba"]), "{body}");
    let versioned = app
        .handle(get(&format!("/v2/models/{name}/versions/{version}")))
        .await;
    assert_eq!(json_body(&versioned), body);

    for path in [
        format!("/v2/models/{name}/ready"),
        format!("/v2/models/{name}/versions/{version}/ready"),
    ] {
        let ready = json_body(&app.handle(get(&path)).await);
        assert_eq!(ready, json!({"name": name, "ready": true}), "{path}");
    }

    let rows = 6;
    for path in [
        format!("/v2/models/{name}/infer"),
        format!("/v2/models/{name}/versions/{version}/infer"),
    ] {
        let response = app.handle(post(&path, &infer_body(rows))).await;
        let body = json_body(&response);
        assert_eq!(response.status(), 200, "{path}: {body}");
        assert_eq!(body["model_name"], name);
        assert_eq!(body["model_version"], version);
        let labels = &body["outputs"][0];
        assert_eq!(labels["name"], "predict");
        for i in 0..rows {
            let want = grade
                .predict_row(wine_instance(i).as_object().unwrap())
                .unwrap();
            let scoring::Prediction::Class(want) = want else {
                panic!("a classifier")
            };
            assert_eq!(labels["data"][i], want.label().to_string(), "row {i}");
        }
    }
    // Explained, when the challenger explains.
    let mut explained = infer_body(2);
    explained["parameters"] = json!({"explain": true});
    let response = app
        .handle(post(&format!("/v2/models/{name}/infer"), &explained))
        .await;
    let body = json_body(&response);
    match grade.explainability() {
        Ok(_) => {
            assert_eq!(response.status(), 200, "{body}");
            assert!(
                body["outputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|o| o["name"] == "contributions"),
                "{body}"
            );
        }
        Err(_) => assert_eq!(response.status(), 422, "{body}"),
    }

    // Another version of it, and the champion's version under its name: not found.
    for path in [
        format!("/v2/models/{name}/versions/test-version/infer"),
        format!("/v2/models/{name}/versions/nope/infer"),
    ] {
        let response = app.handle(post(&path, &infer_body(1))).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    // The champion still answers under its own name, with its own version.
    let response = app
        .handle(post("/v2/models/wine-quality/infer", &infer_body(1)))
        .await;
    let body = json_body(&response);
    assert_eq!(response.status(), 200, "{body}");
    assert_eq!(body["model_version"], "test-version");
    let response = app
        .handle(get(
            "/v2/models/wine-quality/versions/wine_grade_classifier-v1",
        ))
        .await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn without_a_challenger_its_protocol_name_is_not_found_as_any_other() {
    for app in [demo_app(), demo_app().with_failed_challenger()] {
        for (method, path) in [
            (Method::GET, "/v2/models/wine-quality-challenger"),
            (Method::GET, "/v2/models/wine-quality-challenger/ready"),
            (Method::POST, "/v2/models/wine-quality-challenger/infer"),
        ] {
            let body = if method == Method::POST {
                infer_body(1).to_string()
            } else {
                String::new()
            };
            let response = app.handle(http(method, path, body)).await;
            let body = json_body(&response);
            assert_eq!(response.status(), 404, "{path}: {body}");
            assert!(
                body["error"]
                    .as_str()
                    .unwrap()
                    .contains("model \"wine-quality-challenger\" not found"),
                "{body}"
            );
        }
    }
}
