//! Health, server and model metadata, readiness; unknown models, versions, paths and
//! methods.

use super::*;

#[tokio::test]
async fn server_health_and_metadata() {
    let app = demo_app();
    assert_eq!(
        get(&app, "/v2/health/live").await,
        (StatusCode::OK, json!({"live": true}))
    );
    assert_eq!(
        get(&app, "/v2/health/ready").await,
        (StatusCode::OK, json!({"ready": true}))
    );
    let (status, body) = get(&app, "/v2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"name": "predict", "version": env!("CARGO_PKG_VERSION"), "extensions": ["binary_tensor_data"]})
    );
}

/// The demo regressor's features are one `[N, 11]` input, `features` (skl2onnx on a
/// NumPy array): its metadata names that input and its columns.
#[tokio::test]
async fn model_metadata_names_the_models_inputs_and_outputs() {
    let app = demo_app();
    let (status, body) = get(&app, "/v2/models/wine-quality").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], DEMO_MODEL_NAME);
    assert_eq!(body["versions"], json!(["test-version"]));
    assert_eq!(body["platform"], "onnx");
    assert_eq!(
        body["inputs"],
        json!([{"name": "features", "datatype": "FP32", "shape": [-1, 11],
                "parameters": {"feature_names": demo_model().features()}}])
    );
    // The demo regressor explains: its contributions' layout (tested in `explain`).
    assert_eq!(
        body["outputs"][0],
        json!({"name": "predict", "datatype": "FP32", "shape": [-1, 1]})
    );
    assert_eq!(body["outputs"][1]["name"], "contributions", "{body}");
    assert_eq!(body["outputs"].as_array().unwrap().len(), 2, "{body}");
    // The same through the version's path.
    let (status, versioned) = get(&app, "/v2/models/wine-quality/versions/test-version").await;
    assert_eq!((status, &versioned), (StatusCode::OK, &body));
}

#[tokio::test]
async fn a_classifiers_metadata_has_string_inputs_labels_and_the_class_order() {
    let app = classifier_app();
    let (status, body) = get(&app, "/v2/models/wine-good").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // One [N, 1] input per feature (skl2onnx on a DataFrame), typed by the column.
    let inputs = body["inputs"].as_array().unwrap();
    let names: Vec<&str> = inputs.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, app.model().features());
    let color = inputs.iter().find(|i| i["name"] == "color").unwrap();
    assert_eq!(
        color,
        &json!({"name": "color", "datatype": "BYTES", "shape": [-1, 1]})
    );
    let (_, health) = get(&app, "/health").await;
    let classes = &health["classes"];
    assert_eq!(classes.as_array().unwrap().len(), 2, "{health}");
    assert_eq!(
        body["outputs"].as_array().unwrap()[..2],
        [
            json!({"name": "predict", "datatype": "BYTES", "shape": [-1, 1]}),
            json!({"name": "predict_proba", "datatype": "FP32", "shape": [-1, 2],
             "parameters": {"classes": classes}})
        ]
    );
    // Then, as the demo classifier explains, its contributions (tested in `explain`).
    assert_eq!(body["outputs"][2]["name"], "contributions", "{body}");
    assert_eq!(body["outputs"].as_array().unwrap().len(), 3, "{body}");
}

#[tokio::test]
async fn a_matrix_models_metadata_has_its_one_input_with_the_column_names() {
    let app = matrix_app();
    let (status, body) = get(&app, "/v2/models/ridge").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let schema = app.model().schema();
    assert_eq!(
        body["inputs"],
        json!([{
            "name": schema.input_names()[0],
            "datatype": "FP32",
            "shape": [-1, 8],
            "parameters": {"feature_names": schema.names()}
        }])
    );
}

#[tokio::test]
async fn model_readiness() {
    let app = demo_app();
    let ready = json!({"name": "wine-quality", "ready": true});
    assert_eq!(
        get(&app, "/v2/models/wine-quality/ready").await,
        (StatusCode::OK, ready.clone())
    );
    assert_eq!(
        get(&app, "/v2/models/wine-quality/versions/test-version/ready").await,
        (StatusCode::OK, ready)
    );
}

#[tokio::test]
async fn an_unknown_model_or_version_is_404_on_every_model_route() {
    let app = demo_app();
    let one = json!({"inputs": tensors(&app, &wine_instances(1))});
    for (method, path) in [
        (Method::GET, "/v2/models/other"),
        (Method::GET, "/v2/models/other/ready"),
        (Method::POST, "/v2/models/other/infer"),
        (Method::GET, "/v2/models/wine-quality/versions/old"),
        (Method::GET, "/v2/models/wine-quality/versions/old/ready"),
        (Method::POST, "/v2/models/wine-quality/versions/old/infer"),
        (Method::POST, "/v2/models/other/versions/test-version/infer"),
        // Names are case-sensitive.
        (Method::GET, "/v2/models/Wine-Quality"),
    ] {
        let (status, body) = call(&app, http(method.clone(), path, one.to_string())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("not found"), "{error}");
        assert!(
            error.contains("wine-quality"),
            "names the served model: {error}"
        );
    }
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow_and_unknown_v2_paths_404() {
    let app = demo_app();
    for (method, path, allow) in [
        (Method::GET, "/v2/models/wine-quality/infer", "POST"),
        (Method::POST, "/v2/models/wine-quality", "GET"),
        (Method::PUT, "/v2/health/live", "GET"),
        (Method::DELETE, "/v2", "GET"),
    ] {
        let response = app.handle(http(method.clone(), path, Body::Empty)).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(response.headers()["allow"], allow, "{path}");
    }
    for path in [
        "/v2/models",
        "/v2/repository/index",
        "/v2/models/wine-quality/explain",
    ] {
        let (status, body) = get(&app, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"], format!("no route for {path}"));
    }
}
