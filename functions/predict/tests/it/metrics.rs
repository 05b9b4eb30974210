//! The online function's metrics, as CloudWatch would read them: the EMF lines written by
//! the installed recorder after requests through the handler are checked against the
//! embedded metric format's rules, then for each metric and dimension the function
//! promises. Also the canary's metric: a model trained on the wrong units pushes the share
//! of rows outside training over the alarm's threshold within 100 requests; the right
//! model stays under it.
//!
//! The recorder is process-wide, and the other tests of this binary make requests too: each
//! test here runs alone in a process of its own (`testkit::alone!`), and starts by draining
//! what the recorder holds.

use std::sync::OnceLock;
use std::time::Duration;

use aws_adapter::emf::Emf;
use lambda_http::http::Method;
use lambda_http::Body;
use predict::telemetry::{self, InitTimes, CANARY_OUTSIDE_TRAINING_PERCENT};
use predict::App;
use scoring::Model;
use serde_json::{json, Value};
use testkit::emf::{checked_document, sum, unit, with};
use testkit::predict_support::{
    demo_app, demo_model, demo_store, http, repository, wine_instance, wines, DEMO_MODEL_NAME,
};
use tokio::sync::{Mutex, MutexGuard};

const NAMESPACE: &str = "ModelServingTest";
const FUNCTION: &str = "predict-test";
/// The share of traffic the template's canary (Canary10Percent5Minutes) sends to a new
/// version: the alarm sees the bad version's rows diluted by the old one's.
const CANARY_TRAFFIC_SHARE: f64 = 0.10;

fn emf() -> &'static Emf {
    static EMF: OnceLock<Emf> = OnceLock::new();
    EMF.get_or_init(|| {
        let emf = Emf::install(NAMESPACE, FUNCTION).expect("the only recorder");
        telemetry::describe();
        emf
    })
}

/// This test's turn with the recorder, with nothing left over from another.
pub(crate) async fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::const_new(());
    let guard = TURN.lock().await;
    emf().flush_to(std::io::sink()).unwrap();
    guard
}

/// The EMF documents flushed now, each checked against the format's rules.
pub(crate) fn flushed() -> Vec<Value> {
    let mut out = Vec::new();
    emf().flush_to(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    text.lines()
        .map(|l| checked_document(l, NAMESPACE))
        .collect()
}

fn model(file: &str, version: &str) -> Model {
    Model::load(
        &std::fs::read(repository().join("model").join(file)).unwrap(),
        version,
    )
    .unwrap()
}

#[tokio::test]
async fn each_request_metric_and_dimension_is_emitted_as_emf() {
    testkit::alone!();
    let _turn = turn().await;
    let app = demo_app();
    assert!(
        app.model().card().is_some(),
        "the demo model carries its card"
    );
    let instances = json!({"instances": (0..120).map(wine_instance).collect::<Vec<_>>()});
    app.handle(http(Method::GET, "/predict/wine-0002", Body::Empty))
        .await;
    app.handle(http(Method::GET, "/predict/nope", Body::Empty))
        .await;
    app.handle(http(Method::POST, "/predict", instances.to_string()))
        .await;
    telemetry::cold_start(
        app.model().version(),
        &InitTimes {
            config: Duration::from_micros(10),
            clients: Duration::from_millis(2),
            model_fetch: Duration::from_millis(30),
            model_build: Duration::from_millis(5),
            total: Duration::from_millis(33),
        },
    );
    let docs = flushed();
    for doc in &docs {
        assert_eq!(doc["FunctionName"], FUNCTION);
    }

    // Requests and latency by model version, route and status class.
    let by_route = ["ModelVersion", "Route", "StatusClass"];
    let requests = with(&docs, "Requests", &by_route);
    assert_eq!(sum(&requests, "Requests"), 3.0);
    let answered = |route: &str, class: &str| {
        requests
            .iter()
            .find(|d| d["Route"] == route && d["StatusClass"] == class)
            .map(|d| d["Requests"].as_f64().unwrap())
    };
    assert_eq!(answered("GET /predict/{product_id}", "2xx"), Some(1.0));
    assert_eq!(answered("GET /predict/{product_id}", "4xx"), Some(1.0));
    assert_eq!(answered("POST /predict", "2xx"), Some(1.0));
    for doc in &requests {
        assert_eq!(doc["ModelVersion"], "test-version");
        assert_eq!(unit(doc, "Latency").as_deref(), Some("Milliseconds"));
        assert_eq!(doc["Latency"].as_array().unwrap().len(), 1);
    }

    // The answers and their inputs, per version and, for the canary alarm, across them.
    let per_version = with(&docs, "RowsScored", &["ModelVersion"]);
    assert_eq!(sum(&per_version, "RowsScored"), 121.0);
    assert_eq!(sum(&with(&docs, "RowsScored", &[]), "RowsScored"), 121.0);
    // The demo wines are the training data's: wines 0..120 and 1 are all inside it, and
    // counters that stay at zero are left out.
    assert!(with(&docs, "RowsOutsideTraining", &["ModelVersion"]).is_empty());
    let scores = with(&docs, "Score", &["ModelVersion"]);
    let values: Vec<f64> = scores
        .iter()
        .flat_map(|d| d["Score"].as_array().unwrap().clone())
        .map(|v| v.as_f64().unwrap())
        .collect();
    // One from the GET; the 120 instances sampled evenly, every third.
    const { assert!(telemetry::MAX_SCORES_PER_REQUEST < 120) };
    let step = 120usize.div_ceil(telemetry::MAX_SCORES_PER_REQUEST);
    assert_eq!(values.len(), 1 + 120usize.div_ceil(step));
    assert!(values.iter().all(|s| (3.0..8.0).contains(s)), "{values:?}");

    // The cold start, broken down.
    for metric in [
        "ColdStart",
        "InitConfig",
        "InitClients",
        "InitModelFetch",
        "InitModelBuild",
        "InitTotal",
    ] {
        let docs = with(&docs, metric, &["ModelVersion"]);
        assert_eq!(docs.len(), 1, "{metric}");
    }
    let init = with(&docs, "InitTotal", &["ModelVersion"])[0];
    // Measured, not summed: the model load overlaps the clients.
    assert_eq!(init["InitTotal"], json!([33.0]));
    assert_eq!(init["ColdStart"], 1);
    assert_eq!(
        unit(init, "InitModelFetch").as_deref(),
        Some("Milliseconds")
    );

    // Nothing is emitted twice.
    assert!(flushed().is_empty());
}

#[tokio::test]
async fn a_classifier_counts_its_predicted_labels() {
    testkit::alone!();
    let _turn = turn().await;
    let app = App::new(
        model("wine_good_classifier.onnx", "cls-1"),
        demo_store(),
        DEMO_MODEL_NAME,
    );
    assert!(app.model().card().unwrap().labels.is_some());
    let rows: Vec<Value> = (0..200)
        .map(|i| {
            let mut row = wine_instance(i);
            row["color"] = json!("red");
            row
        })
        .collect();
    let response = app
        .handle(http(
            Method::POST,
            "/predict",
            json!({ "instances": rows }).to_string(),
        ))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let docs = flushed();
    let labels = with(&docs, "PredictedLabel", &["ModelVersion", "Label"]);
    assert_eq!(sum(&labels, "PredictedLabel"), 200.0);
    for doc in &labels {
        let label = doc["Label"].as_str().unwrap();
        let answered = body["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["label"] == label)
            .count();
        assert_eq!(
            doc["PredictedLabel"].as_f64().unwrap() as usize,
            answered,
            "{label}"
        );
    }
    // No score histogram for a classifier.
    assert!(with(&docs, "Score", &["ModelVersion"]).is_empty());
}

#[tokio::test]
async fn a_model_without_a_card_serves_and_reports_no_range_counts() {
    testkit::alone!();
    let _turn = turn().await;
    // A fixture model with no card: ridge regression over ten features.
    let fixtures = repository().join("libs/scoring/tests/fixtures");
    let model = Model::load(
        &std::fs::read(fixtures.join("ridge.onnx")).unwrap(),
        "no-card",
    )
    .unwrap();
    assert!(model.card().is_none());
    let x = std::fs::read(fixtures.join("ridge.x.f32")).unwrap();
    let row: serde_json::Map<String, Value> = model
        .features()
        .iter()
        .zip(x.chunks_exact(4))
        .map(|(name, b)| {
            (
                name.clone(),
                json!(f32::from_le_bytes(b.try_into().unwrap())),
            )
        })
        .collect();
    let app = App::new(model, demo_store(), DEMO_MODEL_NAME);
    let response = app
        .handle(http(
            Method::POST,
            "/predict",
            json!({ "instances": [row] }).to_string(),
        ))
        .await;
    assert_eq!(response.status(), 200);
    let docs = flushed();
    assert_eq!(sum(&with(&docs, "RowsScored", &[]), "RowsScored"), 1.0);
    assert_eq!(with(&docs, "Score", &["ModelVersion"]).len(), 1);
    assert!(docs.iter().all(|d| d["RowsOutsideTraining"].is_null()
        && d["RowsFeatureOutOfRange"].is_null()
        && d["ScoresOutOfRange"].is_null()));
}

/// What the canary saw of `model` serving the demo products one GET at a time.
struct CanaryView {
    /// After how many requests the alarm's share (rows outside training over rows scored,
    /// across versions, in percent) first went over the threshold given.
    crossed: Option<usize>,
    /// The share after the last request.
    share: f64,
    /// The per-version counts: rows with a feature out of range, scores out of range, rows
    /// outside training (either).
    features: f64,
    scores: f64,
    either: f64,
}

async fn serve_demo_products(model: Model, requests: usize, over: f64) -> CanaryView {
    let app = App::new(model, demo_store(), DEMO_MODEL_NAME);
    let (mut outside, mut scored, mut crossed) = (0.0, 0.0, None);
    let (mut features, mut scores, mut either) = (0.0, 0.0, 0.0);
    for (i, (id, _)) in wines().iter().take(requests).enumerate() {
        let response = app
            .handle(http(Method::GET, &format!("/predict/{id}"), Body::Empty))
            .await;
        assert_eq!(response.status(), 200);
        let docs = flushed();
        let across = |metric: &str| sum(&with(&docs, metric, &[]), metric);
        let per_version = |metric: &str| sum(&with(&docs, metric, &["ModelVersion"]), metric);
        outside += across("RowsOutsideTraining");
        scored += across("RowsScored");
        features += per_version("RowsFeatureOutOfRange");
        scores += per_version("ScoresOutOfRange");
        either += per_version("RowsOutsideTraining");
        if crossed.is_none() && 100.0 * outside / scored > over {
            crossed = Some(i + 1);
        }
    }
    assert_eq!(either, outside, "per version and across versions agree");
    CanaryView {
        crossed,
        share: 100.0 * outside / scored,
        features,
        scores,
        either,
    }
}

#[tokio::test]
async fn a_model_trained_on_the_wrong_units_trips_the_canary_metric_and_the_right_one_does_not() {
    testkit::alone!();
    let _turn = turn().await;
    // The bad version alone must be so far out that a tenth of the traffic still
    // crosses the threshold.
    let diluted = CANARY_OUTSIDE_TRAINING_PERCENT / CANARY_TRAFFIC_SHARE;
    let wrong = serve_demo_products(
        model("wine_quality_wrong_units.onnx", "wrong"),
        100,
        diluted,
    )
    .await;
    let crossed = wrong
        .crossed
        .unwrap_or_else(|| panic!("never over {diluted}%: {}%", wrong.share));
    assert!(crossed <= 100, "{crossed}");
    // Every product has features in other units than the model's.
    assert_eq!(wrong.features, 100.0);
    println!(
        "wrong units: over {diluted}% after {crossed} requests; {:.1}% after 100",
        wrong.share
    );

    let every = wines().len();
    let right = serve_demo_products(
        model("wine_quality.onnx", "right"),
        every,
        CANARY_OUTSIDE_TRAINING_PERCENT,
    )
    .await;
    assert_eq!(
        right.crossed, None,
        "the right model crossed: {}%",
        right.share
    );
    // The held-out fifth of the data has a few rows past the training extremes, in a
    // feature and in the score: each counted under its own metric, a row once in all.
    assert!(
        right.features >= 1.0 && right.scores >= 1.0,
        "{} {}",
        right.features,
        right.scores
    );
    assert!(right.either >= right.features.max(right.scores));
    assert!(right.either <= right.features + right.scores);
    println!(
        "right model: {:.2}% of {every} products outside training ({} by a feature, {} by the score)",
        right.share, right.features, right.scores
    );
}

#[tokio::test]
async fn outcomes_received_and_refused_are_counted_by_function_alone() {
    testkit::alone!();
    let _turn = turn().await;
    let app = App::new(demo_model(), demo_store(), DEMO_MODEL_NAME)
        .with_outcomes(Some(store::outcomes::MemoryOutcomes::default()));
    let at = "2026-01-02T03:04:05Z";
    let entries = |n: usize, outcome: Value| {
        let list: Vec<Value> = (0..n)
            .map(|i| json!({"product_id": format!("p{i}"), "outcome": outcome, "observed_at": at}))
            .collect();
        json!(list).to_string()
    };
    for (body, status) in [
        (entries(30, json!(1.5)), 200),
        (entries(4, json!("good")), 200),
        (entries(7, Value::Null), 400),
        ("not json".to_owned(), 400),
    ] {
        let response = app.handle(http(Method::POST, "/outcomes", body)).await;
        assert_eq!(response.status(), status);
    }
    let docs = flushed();
    let received = with(&docs, "OutcomesReceived", &[]);
    assert_eq!(sum(&received, "OutcomesReceived"), 34.0);
    // The entries of the refused list, and one for the body that was no list.
    let refused = with(&docs, "OutcomesRefused", &[]);
    assert_eq!(sum(&refused, "OutcomesRefused"), 8.0);
    for doc in received.iter().chain(&refused) {
        for metric in ["OutcomesReceived", "OutcomesRefused"] {
            if !doc[metric].is_null() {
                assert_eq!(unit(doc, metric).as_deref(), Some("Count"));
            }
        }
    }
    let requests = with(&docs, "Requests", &["ModelVersion", "Route", "StatusClass"]);
    let routed: f64 = requests
        .iter()
        .filter(|d| d["Route"] == "POST /outcomes")
        .map(|d| d["Requests"].as_f64().unwrap())
        .sum();
    assert_eq!(routed, 4.0);
}
