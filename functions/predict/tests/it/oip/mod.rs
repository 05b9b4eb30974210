//! The Open Inference Protocol (v2) routes through the handler, with in-memory stores:
//! every route, every class of error, and inference answers equal to `POST /predict`'s
//! for the same rows, for the demo regressor, the demo classifier (string labels, a
//! categorical `color`) and a model whose features are one `[N, 8]` matrix input. The
//! helpers here are shared by the modules below, one per concern.

mod binary;
mod inference;
mod malformed;
mod metadata;
mod refused;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request};
use predict::results::Results;
use predict::{App, MAX_BODY_BYTES, MAX_INSTANCES};
use scoring::{FeatureType, Model, Value as Attribute};
use serde_json::{json, Map, Value};
use testkit::memory::InMemoryAttributes;
use testkit::predict_support::{
    demo_app, demo_model, demo_store, http, json_body, repository, wines, DEMO_MODEL_NAME,
};

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

/// The demo wine's tensors with one change.
fn edited(edit: impl FnOnce(&mut Vec<Value>)) -> Value {
    let mut inputs = tensors(&demo_app(), &wine_instances(2));
    edit(&mut inputs);
    json!({ "inputs": inputs })
}

fn tensor<'a>(inputs: &'a mut [Value], name: &str) -> &'a mut Value {
    inputs.iter_mut().find(|t| t["name"] == name).unwrap()
}
