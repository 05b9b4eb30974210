//! Binary tensor data (Triton's extension), both ways, and its malformed requests.

use super::*;

/// One tensor's JSON data as the binary extension sends it (little-endian items; `BYTES`
/// items each after their 4-byte length).
fn encode(datatype: &str, data: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in data {
        match datatype {
            "FP32" => out.extend((v.as_f64().unwrap() as f32).to_le_bytes()),
            "FP64" => out.extend(v.as_f64().unwrap().to_le_bytes()),
            "INT64" => out.extend(v.as_i64().unwrap().to_le_bytes()),
            "INT32" => out.extend((v.as_i64().unwrap() as i32).to_le_bytes()),
            "UINT16" => out.extend((v.as_u64().unwrap() as u16).to_le_bytes()),
            "BYTES" => {
                let s = v.as_str().unwrap();
                out.extend((s.len() as u32).to_le_bytes());
                out.extend(s.as_bytes());
            }
            other => panic!("no encoding for {other}"),
        }
    }
    out
}

/// `request` with every input's data moved behind the JSON as binary.
fn binary_request(path: &str, mut request: Value) -> Request {
    let mut binary = Vec::new();
    for t in request["inputs"].as_array_mut().unwrap() {
        let data = t.as_object_mut().unwrap().remove("data").unwrap();
        let bytes = encode(t["datatype"].as_str().unwrap(), data.as_array().unwrap());
        t["parameters"] = json!({"binary_data_size": bytes.len()});
        binary.extend(bytes);
    }
    raw_binary_request(path, &request.to_string(), &binary)
}

fn raw_binary_request(path: &str, json: &str, binary: &[u8]) -> Request {
    let mut body = json.as_bytes().to_vec();
    body.extend(binary);
    let mut request = http(Method::POST, path, Body::Binary(body));
    request
        .headers_mut()
        .insert("Inference-Header-Content-Length", json.len().into());
    request
}

/// A binary answer's JSON and its outputs' binary data, split as the header says.
fn split_answer(response: &lambda_http::Response<Body>) -> (Value, Vec<u8>) {
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let json_len: usize = response.headers()["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: &[u8] = response.body().as_ref();
    let (json, binary) = body.split_at(json_len);
    (serde_json::from_slice(json).unwrap(), binary.to_vec())
}

#[tokio::test]
async fn binary_inputs_and_outputs_answer_as_json_does() {
    {
        let app = demo_app();
        let rows = wine_instances(5);
        let inputs = tensors(&app, &rows);
        let (_, as_json) = infer(&app, &json!({ "inputs": inputs.clone() })).await;
        let path = "/v2/models/wine-quality/infer";
        // Binary inputs, JSON outputs.
        let response = app
            .handle(binary_request(
                path,
                json!({"id": "b1", "inputs": inputs.clone()}),
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json_body(&response)["outputs"], as_json["outputs"]);
        // Binary inputs and, with binary_data_output, binary outputs.
        let response = app
            .handle(binary_request(
                path,
                json!({"inputs": inputs.clone(), "parameters": {"binary_data_output": true}}),
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let (answer, binary) = split_answer(&response);
        let predict = output(&answer, "predict");
        assert!(predict.get("data").is_none(), "{answer}");
        assert_eq!(predict["parameters"]["binary_data_size"], 4 * rows.len());
        let scores: Vec<f32> = binary
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let json_scores: Vec<f32> = output(&as_json, "predict")["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(scores, json_scores);
    }
}

#[tokio::test]
async fn a_classifier_takes_binary_bytes_and_answers_binary_labels() {
    let app = classifier_app();
    let rows = colored_instances(3);
    let inputs = tensors(&app, &rows);
    let (_, as_json) = infer(&app, &json!({ "inputs": inputs.clone() })).await;
    // Only predict in binary: predict_proba stays JSON.
    let request = json!({"inputs": inputs, "outputs": [
        {"name": "predict", "parameters": {"binary_data": true}},
        {"name": "predict_proba"},
    ]});
    let response = app
        .handle(binary_request("/v2/models/wine-good/infer", request))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (answer, binary) = split_answer(&response);
    assert_eq!(
        output(&answer, "predict_proba"),
        output(&as_json, "predict_proba")
    );
    let labels = output(&as_json, "predict")["data"].as_array().unwrap();
    let datatype = output(&answer, "predict")["datatype"].as_str().unwrap();
    assert_eq!(datatype, output(&as_json, "predict")["datatype"]);
    assert_eq!(binary, encode(datatype, labels));
}

#[tokio::test]
async fn integer_datatypes_in_binary_are_read_as_in_json() {
    let app = demo_app();
    let rows = wine_instances(1);
    let mut inputs = tensors(&app, &rows);
    // Whole-number features sent as INT32 and UINT16, the rest FP64.
    for t in inputs.iter_mut() {
        let v = t["data"][0].as_f64().unwrap();
        t["datatype"] = json!(if v.fract() != 0.0 {
            "FP64"
        } else if v > 100.0 {
            "UINT16"
        } else {
            "INT32"
        });
        if v.fract() == 0.0 {
            t["data"] = json!([v as i64]);
        }
    }
    assert!(inputs.iter().any(|t| t["datatype"] == "INT32"));
    let (status, as_json) = infer(&app, &json!({ "inputs": inputs.clone() })).await;
    assert_eq!(status, StatusCode::OK, "{as_json}");
    let response = app
        .handle(binary_request(
            "/v2/models/wine-quality/infer",
            json!({ "inputs": inputs }),
        ))
        .await;
    assert_eq!(json_body(&response)["outputs"], as_json["outputs"]);
}

#[tokio::test]
async fn malformed_binary_requests_are_400_naming_what_is_wrong() {
    let app = demo_app();
    let path = "/v2/models/wine-quality/infer";
    let inputs = tensors(&app, &wine_instances(1));
    // The JSON part of a binary request whose last input (`ph`'s place aside) is binary.
    let with_binary = |name: &str, datatype: &str, size: Value| {
        let mut inputs = inputs.clone();
        let t = tensor(&mut inputs, name);
        t.as_object_mut().unwrap().remove("data");
        t["datatype"] = json!(datatype);
        t["parameters"] = json!({ "binary_data_size": size });
        json!({ "inputs": inputs }).to_string()
    };
    let good = with_binary("ph", "FP32", json!(4));
    let cases: Vec<(&str, Request, &str)> = vec![
        (
            "a header that is no number",
            {
                let mut r = raw_binary_request(path, &good, &3.3f32.to_le_bytes());
                r.headers_mut()
                    .insert("Inference-Header-Content-Length", "twelve".parse().unwrap());
                r
            },
            "the Inference-Header-Content-Length header must be the JSON part's length",
        ),
        (
            "a header longer than the body",
            {
                let mut r = raw_binary_request(path, &good, &[]);
                r.headers_mut()
                    .insert("Inference-Header-Content-Length", 100_000.into());
                r
            },
            "says the JSON part is 100000 bytes, but the body has",
        ),
        (
            "too few bytes",
            raw_binary_request(path, &good, &[0, 0]),
            "input `ph` has binary_data_size 4, but only 2 bytes of binary data are left",
        ),
        (
            "trailing bytes",
            raw_binary_request(path, &good, &[0, 0, 0x40, 0x40, 1, 2]),
            "2 bytes of binary data are left after the inputs' binary_data_size",
        ),
        (
            "a size that is no whole number of items",
            raw_binary_request(path, &with_binary("ph", "FP64", json!(4)), &[0; 4]),
            "input `ph`: binary_data_size 4 is not a whole number of FP64 items (8 bytes each)",
        ),
        (
            "NaN",
            raw_binary_request(path, &good, &f32::NAN.to_le_bytes()),
            "input `ph`: item 0 is NaN, not a finite number",
        ),
        (
            "a size that is no byte count",
            raw_binary_request(path, &with_binary("ph", "FP32", json!("four")), &[0; 4]),
            "input `ph`: parameters.binary_data_size must be a byte count",
        ),
        (
            "data and binary both",
            {
                let mut inputs = inputs.clone();
                tensor(&mut inputs, "ph")["parameters"] = json!({"binary_data_size": 4});
                raw_binary_request(path, &json!({ "inputs": inputs }).to_string(), &[0; 4])
            },
            "input `ph` has both data and parameters.binary_data_size",
        ),
        (
            "a refused datatype",
            raw_binary_request(path, &with_binary("ph", "FP16", json!(2)), &[0; 2]),
            "input `ph` has datatype FP16",
        ),
        (
            "a binary_data flag that is no boolean",
            {
                let mut r: Value = serde_json::from_str(&good).unwrap();
                r["parameters"] = json!({"binary_data_output": "yes"});
                raw_binary_request(path, &r.to_string(), &3.3f32.to_le_bytes())
            },
            "the request: parameters.binary_data_output must be true or false",
        ),
    ];
    for (case, request, says) in cases {
        let (status, body) = call(&app, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains(says),
            "{case}: {error:?} should say {says:?}"
        );
    }
    // The good one answers.
    let response = app
        .handle(raw_binary_request(path, &good, &3.3f32.to_le_bytes()))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
}

#[tokio::test]
async fn binary_bytes_items_must_be_whole_and_utf8() {
    let app = classifier_app();
    let path = "/v2/models/wine-good/infer";
    let mut inputs = tensors(&app, &colored_instances(1)[..1]);
    let color = tensor(&mut inputs, "color");
    color.as_object_mut().unwrap().remove("data");
    for (binary, says) in [
        (
            vec![3, 0, 0, 0, b'r', b'e'],
            "input `color`: the binary data ends inside item 0's bytes",
        ),
        (
            vec![3, 0],
            "input `color`: the binary data ends inside item 0's length",
        ),
        (
            vec![2, 0, 0, 0, 0xff, 0xfe],
            "input `color`: item 0 is not UTF-8 text",
        ),
    ] {
        tensor(&mut inputs, "color")["parameters"] = json!({"binary_data_size": binary.len()});
        let json = json!({ "inputs": inputs }).to_string();
        let (status, body) = call(&app, raw_binary_request(path, &json, &binary)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }
}
