//! The Open Inference Protocol (v2) routes through the handler, with in-memory stores:
//! every route, every class of error, and inference answers equal to `POST /predict`'s
//! for the same rows, for the demo regressor, the demo classifier (string labels, a
//! categorical `color`) and a model whose features are one `[N, 8]` matrix input.

mod support;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request};
use predict::results::Results;
use predict::{App, MAX_BODY_BYTES, MAX_INSTANCES};
use scoring::{FeatureType, Model, Value as Attribute};
use serde_json::{json, Map, Value};
use support::{demo_app, demo_model, demo_store, json_body, repository, wines, DEMO_MODEL_NAME};
use testkit::memory::InMemoryAttributes;

fn http(method: Method, path: &str, body: impl Into<Body>) -> Request {
    let mut request = Request::new(body.into());
    *request.method_mut() = method;
    *request.uri_mut() = path.parse().unwrap();
    request
}

async fn call<R: Results>(
    app: &App<InMemoryAttributes, R>,
    request: Request,
) -> (StatusCode, Value) {
    let response = app.handle(request).await;
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "every answer is JSON"
    );
    (response.status(), json_body(&response))
}

async fn get<R: Results>(app: &App<InMemoryAttributes, R>, path: &str) -> (StatusCode, Value) {
    call(app, http(Method::GET, path, Body::Empty)).await
}

async fn infer<R: Results>(app: &App<InMemoryAttributes, R>, body: &Value) -> (StatusCode, Value) {
    let path = format!("/v2/models/{}/infer", app.model_name());
    call(app, http(Method::POST, &path, body.to_string())).await
}

async fn post_predict<R: Results>(
    app: &App<InMemoryAttributes, R>,
    instances: &[Map<String, Value>],
) -> Value {
    let body = json!({ "instances": instances }).to_string();
    let (status, answer) = call(app, http(Method::POST, "/predict", body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn app_for(model: Model, name: &str) -> App<InMemoryAttributes> {
    App::new(model, demo_store(), name)
}

fn classifier_app() -> App<InMemoryAttributes> {
    let bytes = std::fs::read(repository().join("model/wine_good_classifier.onnx")).unwrap();
    app_for(
        Model::load(&bytes, "classifier-version").unwrap(),
        "wine-good",
    )
}

fn matrix_app() -> App<InMemoryAttributes> {
    let path = repository().join("libs/scoring/tests/fixtures/typed/imputer_ridge.onnx");
    let model = Model::load(&std::fs::read(path).unwrap(), "ridge-version").unwrap();
    assert_eq!(model.schema().layout(), scoring::InputLayout::Matrix);
    app_for(model, "ridge")
}

/// A stored row as a `POST /predict` instance (numbers and strings; no nulls).
fn instance(row: &scoring::Row) -> Map<String, Value> {
    row.iter()
        .filter_map(|(k, v)| match v {
            Attribute::Number(n) => Some((k.to_owned(), json!(n))),
            Attribute::Text(s) => Some((k.to_owned(), json!(s))),
            _ => None,
        })
        .collect()
}

fn wine_instances(n: usize) -> Vec<Map<String, Value>> {
    wines()
        .iter()
        .take(n)
        .map(|(_, row)| instance(row))
        .collect()
}

/// Red and white wines, `color` included, none with a gap.
fn colored_instances(per_color: usize) -> Vec<Map<String, Value>> {
    let all = testkit::demo_data::colored_wines().unwrap();
    let mut red = 0;
    let mut white = 0;
    all.into_iter()
        .filter(|item| {
            let count = if item["color"].as_s().unwrap() == "red" {
                &mut red
            } else {
                &mut white
            };
            *count += 1;
            *count <= per_color
        })
        .map(|item| instance(&aws_adapter::dynamodb::row(item)))
        .collect()
}

/// The OIP datatype a feature's tensor is sent as here.
fn datatype(ty: FeatureType) -> &'static str {
    match ty {
        FeatureType::Float => "FP32",
        FeatureType::Double => "FP64",
        FeatureType::Int64 => "INT64",
        FeatureType::String => "BYTES",
    }
}

/// One `[N]` tensor per feature of `app`'s model, holding `rows`.
fn tensors<R: Results>(
    app: &App<InMemoryAttributes, R>,
    rows: &[Map<String, Value>],
) -> Vec<Value> {
    app.model()
        .schema()
        .features()
        .iter()
        .map(|f| {
            let data: Vec<&Value> = rows.iter().map(|r| &r[&f.name]).collect();
            json!({"name": f.name, "shape": [rows.len()], "datatype": datatype(f.ty), "data": data})
        })
        .collect()
}

/// The output named `name` of an inference response.
fn output<'a>(response: &'a Value, name: &str) -> &'a Value {
    response["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no output {name}: {response}"))
}

// ------------------------------------------------------------------ health and metadata

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
    assert_eq!(
        body["outputs"],
        json!([{"name": "predict", "datatype": "FP32", "shape": [-1, 1]}])
    );
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
        body["outputs"],
        json!([
            {"name": "predict", "datatype": "BYTES", "shape": [-1, 1]},
            {"name": "predict_proba", "datatype": "FP32", "shape": [-1, 2],
             "parameters": {"classes": classes}}
        ])
    );
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

// ------------------------------------------------------------------ inference = POST /predict

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
            "unknown output `probabilities`; this model's outputs are predict, predict_proba",
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

// ------------------------------------------------------------------ malformed requests

/// The demo wine's tensors with one change.
fn edited(edit: impl FnOnce(&mut Vec<Value>)) -> Value {
    let mut inputs = tensors(&demo_app(), &wine_instances(2));
    edit(&mut inputs);
    json!({ "inputs": inputs })
}

fn tensor<'a>(inputs: &'a mut [Value], name: &str) -> &'a mut Value {
    inputs.iter_mut().find(|t| t["name"] == name).unwrap()
}

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

// ------------------------------------------------------------------ binary tensor data

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

// ------------------------------------------------------------------ values the model refuses

#[tokio::test]
async fn values_the_model_cannot_take_are_422_naming_row_and_feature() {
    // FP64 data beyond f32 for a float feature: the request is well formed, the value not.
    let request = edited(|i| {
        let t = tensor(i, "alcohol");
        t["datatype"] = json!("FP64");
        t["data"] = json!([9.4, 1e300]);
    });
    let (status, body) = infer(&demo_app(), &request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("row 1: feature `alcohol` is not a finite number ("),
        "{body}"
    );

    // Finite values the model overflows on.
    let app = matrix_app();
    let input = app.model().schema().input_names()[0].clone();
    let request = json!({"inputs": [{"name": input, "shape": [2, 8], "datatype": "FP32",
        "data": [[1, 1, 1, 1, 1, 1, 1, 1], [3e38, 3e38, 3e38, 3e38, 3e38, 3e38, 3e38, 3e38]]}]});
    let (status, body) = infer(&app, &request).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("row 1: the model's answer is not a finite number"),
        "{body}"
    );
}

#[tokio::test]
async fn a_category_the_model_refuses_is_422_naming_the_row() {
    let model = Model::load(&testkit::models::strict_categorical_model(), "strict").unwrap();
    let app = app_for(model, "strict");
    let known = testkit::models::strict_categorical_row();
    let mut unknown = known.clone();
    unknown.insert("color".into(), json!("never-seen"));
    let rows = [known.clone(), unknown];
    let (status, body) = infer(&app, &json!({"inputs": tensors(&app, &rows)})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("row 1:") && error.contains("handle_unknown"),
        "{error}"
    );
    // And the known row alone is answered as POST /predict answers it.
    let posted = post_predict(&app, std::slice::from_ref(&known)).await;
    let (status, body) = infer(&app, &json!({"inputs": tensors(&app, &[known])})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output(&body, "predict")["data"], posted["predictions"]);
}
