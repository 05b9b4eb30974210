//! Inference answers equal to `POST /predict`'s for the same rows: regressor, classifier,
//! matrix model; integer datatypes; requested outputs.

use super::*;

#[tokio::test]
async fn infer_answers_the_regressor_as_post_predict_does() {
    let app = demo_app();
    let rows = wine_instances(50);
    let posted = post_predict(&app, &rows).await;
    let (status, body) = infer(&app, &json!({"id": "r-42", "inputs": tensors(&app, &rows)})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model_name"], "wine-quality");
    assert_eq!(body["model_version"], posted["model_version"]);
    assert_eq!(body["id"], "r-42");
    assert_eq!(body["outputs"].as_array().unwrap().len(), 1, "{body}");
    let predict = output(&body, "predict");
    assert_eq!(predict["datatype"], "FP32");
    assert_eq!(predict["shape"], json!([50, 1]));
    // The very same numbers (the same f32s, printed alike), not merely close ones.
    assert_eq!(predict["data"], posted["predictions"]);

    // [N, 1] tensors with nested data, and the version's path: the same answer, no id.
    let nested: Vec<Value> = tensors(&app, &rows)
        .into_iter()
        .map(|mut t| {
            let column: Vec<Value> = t["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| json!([v]))
                .collect();
            t["data"] = column.into();
            t["shape"] = json!([50, 1]);
            t
        })
        .collect();
    let request = json!({ "inputs": nested }).to_string();
    let (status, again) = call(
        &app,
        http(
            Method::POST,
            "/v2/models/wine-quality/versions/test-version/infer",
            request,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(output(&again, "predict")["data"], posted["predictions"]);
    assert!(again.get("id").is_none(), "{again}");

    // The model's own [N, 11] input, as its metadata describes it.
    let names = app.model().features().to_vec();
    let matrix: Vec<Vec<&Value>> = rows
        .iter()
        .map(|r| names.iter().map(|n| &r[n]).collect())
        .collect();
    let request = json!({"inputs": [{"name": "features", "shape": [50, 11], "datatype": "FP32", "data": matrix}]});
    let (status, body) = infer(&app, &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output(&body, "predict")["data"], posted["predictions"]);
}

#[tokio::test]
async fn infer_answers_the_classifier_as_post_predict_does() {
    let app = classifier_app();
    let rows = colored_instances(25);
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().any(|r| r["color"] == "white") && rows.iter().any(|r| r["color"] == "red"));
    let posted = post_predict(&app, &rows).await;
    let (status, body) = infer(&app, &json!({"inputs": tensors(&app, &rows)})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, health) = get(&app, "/health").await;
    let classes: Vec<String> = health["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let labels = output(&body, "predict");
    let proba = output(&body, "predict_proba");
    assert_eq!(
        (&labels["datatype"], &labels["shape"]),
        (&json!("BYTES"), &json!([50, 1]))
    );
    assert_eq!(
        (&proba["datatype"], &proba["shape"]),
        (&json!("FP32"), &json!([50, 2]))
    );
    let proba = proba["data"].as_array().unwrap();
    for (i, answer) in posted["predictions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(labels["data"][i], answer["label"], "row {i}");
        for (c, class) in classes.iter().enumerate() {
            assert_eq!(
                proba[i * 2 + c],
                answer["probabilities"][class],
                "row {i}, {class}"
            );
        }
    }
    assert!(
        labels["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "good")
            && labels["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == "bad"),
        "both classes answered: {labels}"
    );
}

#[tokio::test]
async fn infer_answers_a_matrix_model_as_post_predict_does_from_the_matrix_or_columns() {
    let app = matrix_app();
    let schema = app.model().schema();
    let names = schema.names().to_vec();
    let rows: Vec<Map<String, Value>> = (0..20)
        .map(|r| {
            names
                .iter()
                .enumerate()
                .map(|(c, n)| (n.clone(), json!(((r * 7 + c * 3) % 11) as f64 * 0.37 - 1.5)))
                .collect()
        })
        .collect();
    let posted = post_predict(&app, &rows).await;
    let matrix: Vec<Vec<&Value>> = rows
        .iter()
        .map(|r| names.iter().map(|n| &r[n]).collect())
        .collect();
    let as_matrix = json!({"inputs": [{
        "name": schema.input_names()[0], "shape": [20, 8], "datatype": "FP32", "data": matrix
    }]});
    let (status, body) = infer(&app, &as_matrix).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output(&body, "predict")["data"], posted["predictions"]);
    // Flat row-major data, and FP64: the model's float input gets the same f32s.
    let flat: Vec<&Value> = matrix.iter().flatten().copied().collect();
    let flat = json!({"inputs": [{
        "name": schema.input_names()[0], "shape": [20, 8], "datatype": "FP64", "data": flat
    }]});
    let (status, body) = infer(&app, &flat).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output(&body, "predict")["data"], posted["predictions"]);
    // One tensor per column works for a matrix model too.
    let (status, body) = infer(&app, &json!({"inputs": tensors(&app, &rows)})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output(&body, "predict")["data"], posted["predictions"]);
}

#[tokio::test]
async fn integer_datatypes_feed_numeric_features_like_json_numbers() {
    let app = demo_app();
    // Whole-number features of the first wines, sent as integers of several widths.
    let rows = wine_instances(5);
    let posted = post_predict(&app, &rows).await;
    let mut inputs = tensors(&app, &rows);
    for t in &mut inputs {
        let whole = t["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.as_f64().unwrap().fract() == 0.0);
        if whole {
            let ints: Vec<i64> = t["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as i64)
                .collect();
            t["data"] = json!(ints);
            t["datatype"] = json!(if t["name"] == "free_sulfur_dioxide" {
                "UINT8"
            } else {
                "INT64"
            });
        }
    }
    let ints = inputs.iter().filter(|t| t["datatype"] != "FP32").count();
    assert!(ints >= 2, "some integer tensors: {inputs:?}");
    let (status, body) = infer(&app, &json!({ "inputs": inputs })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output(&body, "predict")["data"], posted["predictions"]);
}

#[tokio::test]
async fn requested_outputs_are_answered_in_the_order_asked() {
    let app = classifier_app();
    let rows = colored_instances(2);
    let ask = |outputs: Value| json!({"inputs": tensors(&app, &rows), "outputs": outputs});
    let (status, body) = infer(&app, &ask(json!([{"name": "predict_proba"}]))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["predict_proba"]);
    let (_, body) = infer(
        &app,
        &ask(json!([{"name": "predict_proba"}, {"name": "predict", "parameters": {"binary_data": false}}])),
    )
    .await;
    let names: Vec<&str> = body["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["predict_proba", "predict"], "{body}");
    for (outputs, says) in [
        (
            json!([{"name": "probabilities"}]),
            "unknown output `probabilities`; this model's outputs are predict, predict_proba, \
             contributions",
        ),
        (
            json!([{"name": "predict"}, {"name": "predict"}]),
            "output `predict` is asked for twice",
        ),
    ] {
        let (status, body) = infer(&app, &ask(outputs)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], says);
    }
    // A regressor has no probabilities.
    let app = demo_app();
    let request = json!({"inputs": tensors(&app, &wine_instances(1)), "outputs": [{"name": "predict_proba"}]});
    let (status, body) = infer(&app, &request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("outputs are predict"),
        "{body}"
    );
}
