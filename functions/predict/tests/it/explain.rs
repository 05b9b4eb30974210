//! Explained answers on every route: `GET /predict/{id}?explain=...`, `POST /predict` with
//! `"explain": true`, the Open Inference Protocol's `contributions` output (JSON and
//! binary) and its metadata, `GET /health`; for the demo regressor (score space), the demo
//! classifier (one margin, its positive class), a three-class LightGBM model ([N, T, F])
//! and a model without node covers (every explanation refused with a 422 saying how to add
//! them). Unexplained answers stay what they were, byte for byte.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use predict::results::Results;
use predict::App;
use scoring::{Model, Row, Value as Attribute};
use serde_json::{json, Map, Value};
use testkit::memory::InMemoryAttributes;
use testkit::predict_support::{
    demo_app, demo_model, http, json_body, repository, wine_instance, wines,
};

// ------------------------------------------------------------------ apps and calls

fn explain_fixture(name: &str) -> Model {
    let path = repository().join(format!("libs/scoring/tests/fixtures/explain/{name}.onnx"));
    Model::load(&std::fs::read(path).unwrap(), "fixture-version").unwrap()
}

/// A stored row as a `POST /predict` instance (a gap as null).
fn instance(row: &Row) -> Map<String, Value> {
    row.iter()
        .map(|(k, v)| {
            let value = match v {
                Attribute::Number(n) => json!(n),
                Attribute::Text(s) => json!(s),
                Attribute::Null => Value::Null,
                other => panic!("{k}: {other:?}"),
            };
            (k.to_owned(), value)
        })
        .collect()
}

/// The demo classifier over the red and white wines (`red-0001`.., `white-0001`..).
fn classifier_app() -> App<InMemoryAttributes> {
    let bytes = std::fs::read(repository().join("model/wine_good_classifier.onnx")).unwrap();
    let rows = testkit::demo_data::colored_wines()
        .unwrap()
        .into_iter()
        .map(|mut item| {
            let id = item.remove("product_id").unwrap();
            (id.as_s().unwrap().clone(), aws_adapter::dynamodb::row(item))
        })
        .collect();
    App::new(
        Model::load(&bytes, "classifier-version").unwrap(),
        InMemoryAttributes {
            rows,
            failure: None,
        },
        "wine-good",
    )
}

/// One product, `p-1`, with every feature of `model` at 0.5.
fn one_product_app(model: Model, name: &str) -> App<InMemoryAttributes> {
    let row: Row = model
        .features()
        .iter()
        .map(|f| (f.clone(), Attribute::Number(0.5)))
        .collect();
    App::new(
        model,
        InMemoryAttributes {
            rows: [("p-1".to_owned(), row)].into_iter().collect(),
            failure: None,
        },
        name,
    )
}

/// A LightGBM three-class model: margins per class.
fn multiclass_app() -> App<InMemoryAttributes> {
    one_product_app(explain_fixture("lgbm_multiclass"), "lgbm")
}

/// A gradient-boosted regressor whose card has no node covers.
fn no_covers_app() -> App<InMemoryAttributes> {
    one_product_app(explain_fixture("refuse_no_covers"), "no-covers")
}

/// The fixture rows of `name` without gaps (the protocol has no missing values).
fn fixture_rows(name: &str) -> Vec<Map<String, Value>> {
    let path = repository().join(format!("libs/scoring/tests/fixtures/explain/{name}.json"));
    let fixture: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    fixture["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .filter(|r| r.values().all(Value::is_number))
        .take(4)
        .collect()
}

async fn raw<R: Results>(app: &App<InMemoryAttributes, R>, request: Request) -> Response<Body> {
    app.handle(request).await
}

async fn call<R: Results>(
    app: &App<InMemoryAttributes, R>,
    request: Request,
) -> (StatusCode, Value) {
    let response = raw(app, request).await;
    (response.status(), json_body(&response))
}

async fn get<R: Results>(app: &App<InMemoryAttributes, R>, path: &str) -> (StatusCode, Value) {
    call(app, http(Method::GET, path, Body::Empty)).await
}

async fn post<R: Results>(app: &App<InMemoryAttributes, R>, body: &Value) -> (StatusCode, Value) {
    call(app, http(Method::POST, "/predict", body.to_string())).await
}

async fn infer<R: Results>(app: &App<InMemoryAttributes, R>, body: &Value) -> (StatusCode, Value) {
    let path = format!("/v2/models/{}/infer", app.model_name());
    call(app, http(Method::POST, &path, body.to_string())).await
}

/// The body's bytes, for byte-for-byte comparisons.
async fn bytes<R: Results>(app: &App<InMemoryAttributes, R>, request: Request) -> Vec<u8> {
    let response = raw(app, request).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    response.body().to_vec()
}

/// One `[N]` FP64 (numbers) or BYTES (strings) tensor per feature, holding `rows`.
fn tensors(model: &Model, rows: &[Map<String, Value>]) -> Vec<Value> {
    model
        .schema()
        .features()
        .iter()
        .map(|f| {
            let data: Vec<&Value> = rows.iter().map(|r| &r[&f.name]).collect();
            let datatype = if data[0].is_string() { "BYTES" } else { "FP64" };
            json!({"name": f.name, "shape": [rows.len()], "datatype": datatype, "data": data})
        })
        .collect()
}

fn output<'a>(response: &'a Value, name: &str) -> &'a Value {
    response["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no output {name}: {response}"))
}

fn output_names(response: &Value) -> Vec<&str> {
    response["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect()
}

// ------------------------------------------------------------------ what answers must hold

/// `contributions` (`{feature: value}`) in the model's feature order; every feature once.
fn in_feature_order(model: &Model, contributions: &Value) -> Vec<f64> {
    let by_name = contributions.as_object().unwrap();
    assert_eq!(by_name.len(), model.features().len(), "{contributions}");
    model
        .features()
        .iter()
        .map(|f| {
            by_name[f]
                .as_f64()
                .unwrap_or_else(|| panic!("{f}: {contributions}"))
        })
        .collect()
}

fn assert_close(got: f64, want: f64, what: &str) {
    let error = (got - want).abs() / want.abs().max(1.0);
    assert!(
        error < 1e-5,
        "{what}: {got} != {want} (relative error {error})"
    );
}

/// A regressor's explanation: base + Σ contributions = the score.
fn assert_adds_up_to_score(model: &Model, explanation: &Value, score: f64) {
    assert_eq!(explanation["space"], "score", "{explanation}");
    let contributions = in_feature_order(model, &explanation["contributions"]);
    let total = explanation["base_value"].as_f64().unwrap() + contributions.iter().sum::<f64>();
    assert_close(total, score, "base + contributions vs score");
}

/// The demo classifier's explanation: one margin, its positive class `good`, whose
/// logistic is P(good).
fn assert_adds_up_to_probability(model: &Model, explanation: &Value, probabilities: &Value) {
    assert_eq!(explanation["space"], "margin", "{explanation}");
    let base_values = explanation["base_values"].as_object().unwrap();
    assert_eq!(
        base_values.keys().collect::<Vec<_>>(),
        ["good"],
        "{explanation}"
    );
    let contributions = in_feature_order(model, &explanation["contributions"]["good"]);
    let margin = base_values["good"].as_f64().unwrap() + contributions.iter().sum::<f64>();
    assert_close(
        1.0 / (1.0 + (-margin).exp()),
        probabilities["good"].as_f64().unwrap(),
        "logistic(base + contributions) vs P(good)",
    );
}

fn without_explanation(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("explanation");
    body
}

// ------------------------------------------------------------------ GET /predict/{id}

#[tokio::test]
async fn an_explained_get_adds_up_to_the_regressors_score_and_an_unexplained_one_is_unchanged() {
    let app = demo_app();
    let model = demo_model();
    let score = model.score_row(&wines()[1].1).unwrap();
    // The answer as it was before explanations, to the byte.
    let before = format!(
        r#"{{"product_id":"wine-0002","score":{},"model_version":"test-version"}}"#,
        serde_json::to_string(&score).unwrap()
    );
    for query in [
        "",
        "?explain=false",
        "?explain=0",
        "?verbose=1",
        "?explain=false&x",
    ] {
        let path = format!("/predict/wine-0002{query}");
        let body = bytes(&app, http(Method::GET, &path, Body::Empty)).await;
        assert_eq!(String::from_utf8(body).unwrap(), before, "{path}");
    }
    for query in ["?explain=true", "?explain=1", "?a=b&explain=true"] {
        let (status, body) = get(&app, &format!("/predict/wine-0002{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{body}");
        assert_eq!(
            without_explanation(body.clone()),
            serde_json::from_str::<Value>(&before).unwrap()
        );
        assert_adds_up_to_score(&model, &body["explanation"], f64::from(score));
        let explanation = body["explanation"].as_object().unwrap();
        assert_eq!(
            explanation.len(),
            3,
            "space, base_value, contributions: {body}"
        );
    }
}

#[tokio::test]
async fn an_explained_get_adds_up_to_the_classifiers_probability_in_margins() {
    let app = classifier_app();
    for id in ["red-0042", "white-0001", "white-0100"] {
        let (status, plain) = get(&app, &format!("/predict/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{plain}");
        assert!(plain.get("explanation").is_none(), "{plain}");
        let (status, body) = get(&app, &format!("/predict/{id}?explain=true")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // The label and probabilities as without explain, the explanation beside them.
        assert_eq!(without_explanation(body.clone()), plain);
        assert_adds_up_to_probability(app.model(), &body["explanation"], &body["probabilities"]);
    }
}

// ------------------------------------------------------------------ POST /predict

#[tokio::test]
async fn an_explained_post_answers_a_regressors_score_as_an_object_with_its_explanation() {
    let app = demo_app();
    let instances: Vec<Value> = (0..5).map(wine_instance).collect();
    let request = |body: Value| http(Method::POST, "/predict", body.to_string());
    let plain = bytes(&app, request(json!({ "instances": instances }))).await;
    for explain in [json!(false), Value::Null] {
        let body = json!({ "instances": instances, "explain": explain });
        assert_eq!(
            bytes(&app, request(body)).await,
            plain,
            "explain: {explain}"
        );
    }
    let plain: Value = serde_json::from_slice(&plain).unwrap();
    let (status, body) = post(&app, &json!({ "instances": instances, "explain": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["model_version"], plain["model_version"]);
    let predictions = body["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 5);
    for (i, answer) in predictions.iter().enumerate() {
        assert_eq!(
            answer.as_object().unwrap().len(),
            2,
            "score, explanation: {answer}"
        );
        assert_eq!(answer["score"], plain["predictions"][i], "instance {i}");
        let score = answer["score"].as_f64().unwrap();
        assert_adds_up_to_score(app.model(), &answer["explanation"], score);
        // The same wine through GET: the same explanation.
        let id = testkit::demo_data::product_id(i);
        let (_, got) = get(&app, &format!("/predict/{id}?explain=true")).await;
        assert_eq!(got["explanation"], answer["explanation"], "instance {i}");
    }
}

#[tokio::test]
async fn an_explained_post_adds_the_explanation_to_a_classifiers_answer() {
    let app = classifier_app();
    let mut instances: Vec<Map<String, Value>> = ["red-0001", "white-0007"]
        .iter()
        .map(|id| instance(&colored_row(id)))
        .collect();
    // A gap the model imputes is explained too.
    let mut gap = instances[1].clone();
    gap.insert("alcohol".into(), Value::Null);
    instances.push(gap);
    let (status, plain) = post(&app, &json!({ "instances": instances })).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let (status, body) = post(&app, &json!({ "instances": instances, "explain": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (i, answer) in body["predictions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(without_explanation(answer.clone()), plain["predictions"][i]);
        assert_adds_up_to_probability(
            app.model(),
            &answer["explanation"],
            &answer["probabilities"],
        );
    }
}

/// The demo classifier's stored row `id`.
fn colored_row(id: &str) -> Row {
    let item = testkit::demo_data::colored_wines()
        .unwrap()
        .into_iter()
        .find(|item| item["product_id"].as_s().unwrap() == id)
        .unwrap();
    let mut row = aws_adapter::dynamodb::row(item);
    row.remove("product_id");
    row
}

// ------------------------------------------------------------------ Open Inference Protocol

/// `contributions` as its flat data, checked against its shape.
fn contributions_data(response: &Value, shape: &[usize]) -> Vec<f64> {
    let out = output(response, "contributions");
    assert_eq!(out["datatype"], "FP64", "{out}");
    assert_eq!(out["shape"], json!(shape), "{out}");
    let data: Vec<f64> = out["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(data.len(), shape.iter().product::<usize>());
    data
}

#[tokio::test]
async fn the_contributions_tensor_is_post_predicts_explanations_for_the_regressor() {
    let app = demo_app();
    let model = app.model();
    let rows: Vec<Map<String, Value>> = (0..3)
        .map(|i| wine_instance(i).as_object().unwrap().clone())
        .collect();
    let inputs = tensors(model, &rows);
    // Unexplained: the outputs as before.
    let (status, plain) = infer(&app, &json!({ "inputs": inputs })).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert_eq!(output_names(&plain), ["predict"]);

    let explained = json!({"inputs": inputs, "parameters": {"explain": true}});
    let (status, body) = infer(&app, &explained).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output_names(&body), ["predict", "contributions"]);
    assert_eq!(output(&body, "predict"), output(&plain, "predict"));
    let data = contributions_data(&body, &[3, 11]);
    let (_, posted) = post(&app, &json!({"instances": rows, "explain": true})).await;
    for (i, answer) in posted["predictions"].as_array().unwrap().iter().enumerate() {
        let want = in_feature_order(model, &answer["explanation"]["contributions"]);
        assert_eq!(data[i * 11..(i + 1) * 11], want[..], "row {i}");
    }

    // Named in `outputs`, explain is implied; with explain and outputs that do not name
    // it, it comes last.
    let named = json!({"inputs": inputs, "outputs": [{"name": "contributions"}]});
    let (status, only) = infer(&app, &named).await;
    assert_eq!(status, StatusCode::OK, "{only}");
    assert_eq!(output_names(&only), ["contributions"]);
    assert_eq!(contributions_data(&only, &[3, 11]), data);
    let unnamed = json!({"inputs": inputs, "outputs": [{"name": "predict"}], "parameters": {"explain": true}});
    let (_, appended) = infer(&app, &unnamed).await;
    assert_eq!(output_names(&appended), ["predict", "contributions"]);

    // In binary: FP64 little-endian, the same values.
    let request = http(
        Method::POST,
        "/v2/models/wine-quality/infer",
        json!({"inputs": inputs, "parameters": {"explain": true, "binary_data_output": true}})
            .to_string(),
    );
    let response = raw(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json_len: usize = response.headers()["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (head, binary) = response.body().as_ref().split_at(json_len);
    let head: Value = serde_json::from_slice(head).unwrap();
    let predict_size = output(&head, "predict")["parameters"]["binary_data_size"]
        .as_u64()
        .unwrap() as usize;
    let out = output(&head, "contributions");
    assert_eq!(out["shape"], json!([3, 11]));
    assert_eq!(out["parameters"]["binary_data_size"], 3 * 11 * 8);
    assert!(out.get("data").is_none(), "{out}");
    let decoded: Vec<f64> = binary[predict_size..]
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    // The JSON's shortest decimal names the binary's value; serde_json (without its
    // float_roundtrip feature) may read it back a unit in the last place off.
    assert_eq!(decoded.len(), data.len());
    for (i, (b, j)) in decoded.iter().zip(&data).enumerate() {
        assert!(
            (b - j).abs() <= 2.0 * f64::EPSILON * j.abs(),
            "item {i}: {b} != {j}"
        );
    }
}

#[tokio::test]
async fn the_contributions_tensor_has_a_class_axis_where_the_model_explains_several() {
    // The demo classifier explains one margin, `good`'s: [N, F].
    let app = classifier_app();
    let rows: Vec<Map<String, Value>> = ["red-0003", "white-0002"]
        .iter()
        .map(|id| instance(&colored_row(id)))
        .collect();
    let inputs = tensors(app.model(), &rows);
    let (status, body) = infer(
        &app,
        &json!({"inputs": inputs, "parameters": {"explain": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        output_names(&body),
        ["predict", "predict_proba", "contributions"]
    );
    let data = contributions_data(&body, &[2, 12]);
    let (_, posted) = post(&app, &json!({"instances": rows, "explain": true})).await;
    for i in 0..2 {
        let explanation = &posted["predictions"][i]["explanation"];
        let want = in_feature_order(app.model(), &explanation["contributions"]["good"]);
        assert_eq!(data[i * 12..(i + 1) * 12], want[..], "row {i}");
    }

    // Three classes, a margin each: [N, 3, F], classes in the metadata's order.
    let app = multiclass_app();
    let model = app.model();
    let rows = fixture_rows("lgbm_multiclass");
    assert!(rows.len() >= 2);
    let n = rows.len();
    let (status, body) = infer(
        &app,
        &json!({"inputs": tensors(model, &rows), "parameters": {"explain": true}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = contributions_data(&body, &[n, 3, 6]);
    let (_, metadata) = get(&app, "/v2/models/lgbm").await;
    let classes = output(&metadata, "contributions")["parameters"]["classes"].clone();
    let (status, posted) = post(&app, &json!({"instances": rows, "explain": true})).await;
    assert_eq!(status, StatusCode::OK, "{posted}");
    for i in 0..n {
        let answer = &posted["predictions"][i];
        let explanation = &answer["explanation"];
        assert_eq!(explanation["space"], "margin");
        let margins: Vec<f64> = classes
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(t, class)| {
                let class = match class {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let want = in_feature_order(model, &explanation["contributions"][&class]);
                let at = (i * 3 + t) * 6;
                assert_eq!(data[at..at + 6], want[..], "row {i}, class {class}");
                explanation["base_values"][&class].as_f64().unwrap() + want.iter().sum::<f64>()
            })
            .collect();
        // Softmax of the margins is every class's probability.
        let top = margins.iter().cloned().fold(f64::MIN, f64::max);
        let total: f64 = margins.iter().map(|m| (m - top).exp()).sum();
        for (t, class) in classes.as_array().unwrap().iter().enumerate() {
            let class = match class {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_close(
                (margins[t] - top).exp() / total,
                answer["probabilities"][&class].as_f64().unwrap(),
                &format!("row {i}: softmax of the margins vs P({class})"),
            );
        }
    }
}

#[tokio::test]
async fn the_model_metadata_lists_contributions_with_its_layout() {
    let app = demo_app();
    let targets = app.model().explainability().unwrap();
    let (status, body) = get(&app, "/v2/models/wine-quality").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        output(&body, "contributions"),
        &json!({
            "name": "contributions",
            "datatype": "FP64",
            "shape": [-1, 11],
            "parameters": {
                "space": "score",
                "feature_names": app.model().features(),
                "base_values": &targets.base_values[..],
            }
        })
    );

    let app = classifier_app();
    let (_, body) = get(&app, "/v2/models/wine-good").await;
    let contributions = output(&body, "contributions");
    assert_eq!(contributions["shape"], json!([-1, 12]));
    assert_eq!(contributions["parameters"]["space"], "margin");
    assert_eq!(contributions["parameters"]["classes"], json!(["good"]));
    assert_eq!(
        contributions["parameters"]["feature_names"],
        json!(app.model().features())
    );
    assert_eq!(
        contributions["parameters"]["base_values"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let app = multiclass_app();
    let (_, body) = get(&app, "/v2/models/lgbm").await;
    let contributions = output(&body, "contributions");
    assert_eq!(contributions["shape"], json!([-1, 3, 6]));
    assert_eq!(
        contributions["parameters"]["classes"],
        output(&body, "predict_proba")["parameters"]["classes"]
    );

    // A model that cannot explain does not list it.
    let (status, body) = get(&no_covers_app(), "/v2/models/no-covers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(output_names(&body), ["predict"]);
}

// ------------------------------------------------------------------ health

#[tokio::test]
async fn health_says_whether_the_model_explains_and_why_not() {
    let (_, body) = get(&demo_app(), "/health").await;
    assert_eq!(
        body["explanations"],
        json!({"available": true, "space": "score"})
    );
    let (_, body) = get(&classifier_app(), "/health").await;
    assert_eq!(
        body["explanations"],
        json!({"available": true, "space": "margin", "classes": ["good"]})
    );
    let app = no_covers_app();
    let (status, body) = get(&app, "/health").await;
    assert_eq!(status, StatusCode::OK);
    let reason = app.model().explainability().unwrap_err();
    assert_eq!(
        body["explanations"],
        json!({"available": false, "reason": reason})
    );
    assert!(reason.contains("cover"), "{reason}");
}

// ------------------------------------------------------------------ refusals

#[tokio::test]
async fn a_model_without_covers_answers_but_refuses_to_explain_with_a_422_saying_why() {
    let app = no_covers_app();
    let reason = app.model().explainability().unwrap_err().to_owned();
    let says = format!("the model cannot explain its answers: {reason}");
    let row = one_row(app.model());
    let inputs = tensors(app.model(), std::slice::from_ref(&row));

    // Unexplained, every route answers.
    let (status, body) = get(&app, "/predict/p-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(&app, &json!({ "instances": [row] })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = infer(&app, &json!({ "inputs": inputs })).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for (what, (status, body)) in [
        ("GET", get(&app, "/predict/p-1?explain=true").await),
        (
            "POST",
            post(&app, &json!({ "instances": [row], "explain": true })).await,
        ),
        (
            "infer with explain",
            infer(
                &app,
                &json!({"inputs": inputs, "parameters": {"explain": true}}),
            )
            .await,
        ),
        (
            "infer naming contributions",
            infer(
                &app,
                &json!({"inputs": inputs, "outputs": [{"name": "contributions"}]}),
            )
            .await,
        ),
    ] {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(body["error"], says, "{what}");
    }
}

fn one_row(model: &Model) -> Map<String, Value> {
    model
        .features()
        .iter()
        .map(|f| (f.clone(), json!(0.5)))
        .collect()
}

#[tokio::test]
async fn explain_must_be_a_flag() {
    let app = demo_app();
    for query in [
        "explain=maybe",
        "explain",
        "explain=",
        "explain=TRUE",
        "explain=true&explain=0",
    ] {
        let (status, body) = get(&app, &format!("/predict/wine-0001?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("explain") && error.contains("true, false, 1 or 0"),
            "{query}: {error}"
        );
    }
    let instances = json!([wine_instance(0)]);
    for explain in [json!("true"), json!(1), json!({})] {
        let (status, body) = post(&app, &json!({"instances": instances, "explain": explain})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{explain}: {body}");
        assert_eq!(
            body["error"],
            format!("explain must be true or false, not {explain}")
        );
    }
    let inputs = tensors(
        app.model(),
        &[wine_instance(0).as_object().unwrap().clone()],
    );
    let (status, body) = infer(
        &app,
        &json!({"inputs": inputs, "parameters": {"explain": "yes"}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        "the request: parameters.explain must be true or false, not \"yes\""
    );
    let contradiction = json!({
        "inputs": inputs,
        "outputs": [{"name": "contributions"}],
        "parameters": {"explain": false}
    });
    let (status, body) = infer(&app, &contradiction).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("explain false"),
        "{body}"
    );
}
