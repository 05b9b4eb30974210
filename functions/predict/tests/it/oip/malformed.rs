//! Malformed requests: bad tensors and bodies are 400 naming what is wrong; categorical
//! features take BYTES only; matrix inputs whole and alone; too much is 413.

use super::*;

#[tokio::test]
async fn bad_tensors_are_400_naming_the_input() {
    let app = demo_app();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a wrong shape",
            edited(|i| tensor(i, "ph")["shape"] = json!([1, 2])),
            "input `ph` has shape [1, 2]; expected [N] or [N, 1]",
        ),
        (
            "a three-axis shape",
            edited(|i| tensor(i, "ph")["shape"] = json!([2, 1, 1])),
            "input `ph` has shape [2, 1, 1]",
        ),
        (
            "a negative shape",
            edited(|i| tensor(i, "ph")["shape"] = json!([-2])),
            "input `ph` has shape [-2]",
        ),
        (
            "too few data items",
            edited(|i| tensor(i, "ph")["data"] = json!([3.1])),
            "input `ph` has shape [2] but 1 data items; the shape holds 2",
        ),
        (
            "too many data items",
            edited(|i| tensor(i, "ph")["data"] = json!([[3.1, 3.2], [3.3]])),
            "input `ph` has shape [2] but 3 data items",
        ),
        (
            "rows that differ between inputs",
            edited(|i| {
                let t = tensor(i, "ph");
                t["shape"] = json!([1]);
                t["data"] = json!([3.1]);
            }),
            "every input must have the same number of rows",
        ),
        (
            "an unknown datatype",
            edited(|i| tensor(i, "ph")["datatype"] = json!("FLOAT")),
            "input `ph` has datatype \"FLOAT\", which is not an Open Inference Protocol datatype",
        ),
        (
            "a datatype the model does not take",
            edited(|i| tensor(i, "ph")["datatype"] = json!("FP16")),
            "input `ph` has datatype FP16, which this model does not take",
        ),
        (
            "BOOL for a numeric feature",
            edited(|i| {
                let t = tensor(i, "ph");
                t["datatype"] = json!("BOOL");
                t["data"] = json!([true, false]);
            }),
            "input `ph` has datatype BOOL",
        ),
        (
            "BYTES for a numeric feature",
            edited(|i| {
                let t = tensor(i, "ph");
                t["datatype"] = json!("BYTES");
                t["data"] = json!(["3.1", "3.2"]);
            }),
            "input `ph` is numeric: its datatype must be FP32, FP64, INT8",
        ),
        (
            "a string in FP32 data",
            edited(|i| tensor(i, "ph")["data"] = json!([3.1, "3.2"])),
            "input `ph`: item 1 is a string, not a number (FP32)",
        ),
        (
            "a boolean in FP32 data",
            edited(|i| tensor(i, "ph")["data"] = json!([true, 3.2])),
            "input `ph`: item 0 is a boolean, not a number (FP32)",
        ),
        (
            "an object in the data",
            edited(|i| tensor(i, "ph")["data"] = json!([{"v": 1}, 3.2])),
            "input `ph`: item 0 is an object",
        ),
        (
            "null for a missing value",
            edited(|i| tensor(i, "ph")["data"] = json!([null, 3.2])),
            "input `ph`: item 0 is null, not a number (FP32); the Open Inference Protocol has no missing values",
        ),
        (
            "data that is not an array",
            edited(|i| tensor(i, "ph")["data"] = json!(3.1)),
            "input `ph`: data must be an array",
        ),
        (
            "no data",
            edited(|i| {
                tensor(i, "ph").as_object_mut().unwrap().remove("data");
            }),
            "input `ph` has no data",
        ),
        (
            "a value outside FP32",
            edited(|i| tensor(i, "ph")["data"] = json!([1e300, 3.2])),
            "input `ph`: item 0 (1e+300) is outside FP32's range",
        ),
        (
            "a fraction in INT32 data",
            edited(|i| {
                let t = tensor(i, "ph");
                t["datatype"] = json!("INT32");
                t["data"] = json!([3, 3.5]);
            }),
            "input `ph`: item 1 (3.5) is not an integer in INT32's range",
        ),
        (
            "a value outside UINT8",
            edited(|i| {
                let t = tensor(i, "ph");
                t["datatype"] = json!("UINT8");
                t["data"] = json!([3, 300]);
            }),
            "input `ph`: item 1 (300) is not an integer in UINT8's range",
        ),
        (
            "a negative UINT64",
            edited(|i| {
                let t = tensor(i, "ph");
                t["datatype"] = json!("UINT64");
                t["data"] = json!([-3, 3]);
            }),
            "input `ph`: item 0 (-3) is not an integer in UINT64's range",
        ),
        (
            "a missing input",
            edited(|i| i.retain(|t| t["name"] != "ph")),
            "input `ph` is missing; this model takes one tensor per feature (fixed_acidity,",
        ),
        (
            "two missing inputs",
            edited(|i| i.retain(|t| t["name"] != "ph" && t["name"] != "alcohol")),
            "input `ph` is missing (and 1 more: alcohol)",
        ),
        (
            "an unknown input",
            edited(|i| tensor(i, "ph")["name"] = json!("pH")),
            "unknown input `pH`; this model takes one tensor per feature",
        ),
        (
            "a duplicate input",
            edited(|i| {
                let copy = tensor(i, "ph").clone();
                i.push(copy);
            }),
            "input `ph` is given twice",
        ),
        (
            "binary data",
            edited(|i| {
                let t = tensor(i, "ph");
                t.as_object_mut().unwrap().remove("data");
                t["parameters"] = json!({"binary_data_size": 8});
            }),
            "input `ph` has binary_data_size 8, but only 0 bytes of binary data are left (binary \
             data needs the Inference-Header-Content-Length header",
        ),
        ("no inputs", json!({"inputs": []}), "inputs is empty; send one tensor per feature"),
        (
            "no rows",
            edited(|i| {
                for t in i {
                    t["shape"] = json!([0]);
                    t["data"] = json!([]);
                }
            }),
            "the inputs have no rows; send 1 to 1000",
        ),
    ];
    for (case, request, says) in cases {
        let (status, body) = infer(&app, &request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains(says),
            "{case}: {error:?} should say {says:?}"
        );
    }
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = demo_app();
    for bad in [
        "",
        "{",
        "[]",
        "null",
        r#"{"instances": []}"#,
        r#"{"inputs": 3}"#,
        r#"{"inputs": [{"name": "ph"}]}"#,
        r#"{"inputs": [{"name": "ph", "shape": [1.5], "datatype": "FP32", "data": [1]}]}"#,
        r#"{"inputs": [{"name": 7, "shape": [1], "datatype": "FP32", "data": [1]}]}"#,
        r#"{"inputs": [], "outputs": {"name": "predict"}}"#,
    ] {
        let path = "/v2/models/wine-quality/infer";
        let (status, body) = call(&app, http(Method::POST, path, bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("Open Inference Protocol inference request"),
            "{bad:?}: {body}"
        );
    }
}

#[tokio::test]
async fn categorical_features_take_bytes_only() {
    let app = classifier_app();
    let mut inputs = tensors(&app, &colored_instances(1));
    let color = tensor(&mut inputs, "color");
    color["datatype"] = json!("FP32");
    color["data"] = json!([1.0, 0.0]);
    let (status, body) = infer(&app, &json!({ "inputs": inputs.clone() })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        "input `color` is a categorical feature: its datatype must be BYTES (strings), not FP32"
    );
    let color = tensor(&mut inputs, "color");
    color["datatype"] = json!("BYTES");
    color["data"] = json!([1, 2]);
    let (status, body) = infer(&app, &json!({ "inputs": inputs })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        "input `color`: item 0 is a number, not a string (BYTES)"
    );
}

#[tokio::test]
async fn matrix_inputs_must_be_whole_and_alone() {
    let app = matrix_app();
    let input = app.model().schema().input_names()[0].clone();
    let names = app.model().schema().names().to_vec();
    let cases = [
        (
            json!({"inputs": [{"name": input, "shape": [1, 7], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7]}]}),
            format!("input `{input}` has shape [1, 7]; expected [N, 8]"),
        ),
        (
            json!({"inputs": [{"name": input, "shape": [8], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}]}),
            format!("input `{input}` has shape [8]; expected [N, 8]"),
        ),
        (
            json!({"inputs": [
                {"name": input, "shape": [1, 8], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]},
                {"name": names[0], "shape": [1], "datatype": "FP32", "data": [1]}
            ]}),
            format!("input `{input}` is the model's whole [N, 8] matrix: send it alone, or one tensor per feature instead"),
        ),
        (
            json!({"inputs": [{"name": "matrix", "shape": [1, 8], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}]}),
            format!("unknown input `matrix`; this model takes one tensor per feature ({}), or the matrix `{input}` [N, 8]", names.join(", ")),
        ),
    ];
    for (request, says) in cases {
        let (status, body) = infer(&app, &request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], says.as_str());
    }
}

#[tokio::test]
async fn too_many_rows_or_too_large_a_body_is_413() {
    let app = demo_app();
    let rows = vec![wine_instances(1).remove(0); MAX_INSTANCES + 1];
    let (status, body) = infer(&app, &json!({"inputs": tensors(&app, &rows)})).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"], "1001 rows; at most 1000 per request");
    let (status, body) = infer(
        &app,
        &json!({"inputs": [], "padding": "x".repeat(MAX_BODY_BYTES)}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // Exactly the limit is fine.
    let rows = vec![wine_instances(1).remove(0); MAX_INSTANCES];
    let (status, _) = infer(&app, &json!({"inputs": tensors(&app, &rows)})).await;
    assert_eq!(status, StatusCode::OK);
}
