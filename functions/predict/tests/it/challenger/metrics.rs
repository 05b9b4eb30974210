//! The challenger's metrics, as CloudWatch would read them (the EMF lines the recorder
//! writes, checked as `crate::metrics` checks them): per pair of versions, the rows it
//! answered, compared, disagreed on or failed, each row's absolute difference and its own
//! scores or labels, equal to what the test computes from the two models; and never a
//! row added to the champion's metrics. Each test runs alone (the recorder is the
//! process's).

use std::collections::BTreeMap;

use predict::telemetry;
use predict::App;
use scoring::Prediction;
use serde_json::{json, Value};
use testkit::emf::{sum, with};
use testkit::models::challengers::{GRADE, REFIT, VINTAGE, WHITE};
use testkit::predict_support::{
    demo_app, demo_model, demo_store, request, wine_instance, DEMO_MODEL_NAME,
};

use super::{challenger_model, get, good_classifier, post, with_challenger};
use crate::metrics::{flushed, turn};

const PAIR: [&str; 2] = ["ChampionVersion", "ChallengerVersion"];

/// A histogram's values over documents.
fn values(docs: &[&Value], metric: &str) -> Vec<f64> {
    docs.iter()
        .flat_map(|d| match &d[metric] {
            Value::Array(values) => values.iter().map(|v| v.as_f64().unwrap()).collect(),
            v => vec![v.as_f64().unwrap()],
        })
        .collect()
}

/// `metric`'s sum per pair of versions (checking the pair named), and with
/// `FunctionName` only.
fn per_pair(docs: &[Value], metric: &str, challenger_version: &str) -> f64 {
    let pair = with(docs, metric, &PAIR);
    for doc in &pair {
        assert_eq!(doc["ChallengerVersion"], challenger_version, "{doc}");
    }
    sum(&pair, metric)
}

fn only_function(docs: &[Value], metric: &str) -> f64 {
    sum(&with(docs, metric, &[]), metric)
}

/// Multisets of floats equal within `tolerance`.
fn assert_same_values(mut got: Vec<f64>, mut want: Vec<f64>, tolerance: f64) {
    got.sort_by(f64::total_cmp);
    want.sort_by(f64::total_cmp);
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= tolerance, "{got:?} vs {want:?}");
    }
}

fn instances(n: usize) -> Value {
    json!({ "instances": (0..n).map(wine_instance).collect::<Vec<_>>() })
}

#[tokio::test]
async fn an_agreeing_challenger_is_compared_on_every_row_and_adds_nothing_to_the_champions() {
    testkit::alone!();
    let _turn = turn().await;
    let app = with_challenger(REFIT);
    assert!(app.challenger().loaded().unwrap().same_schema());
    for request in [
        get("/predict/wine-0002"),
        post("/predict", &instances(120)),
        request("v2-infer.json"),
    ] {
        assert_eq!(app.handle(request).await.status(), 200);
    }
    let docs = flushed();
    let rows = 1.0 + 120.0 + 2.0;
    let version = "wine_quality_refit-v1";
    for doc in with(&docs, "ChallengerRowsScored", &PAIR) {
        assert_eq!(doc["ChampionVersion"], "test-version");
    }
    assert_eq!(per_pair(&docs, "ChallengerRowsScored", version), rows);
    assert_eq!(per_pair(&docs, "ChallengerRowsCompared", version), rows);
    assert_eq!(only_function(&docs, "ChallengerRowsCompared"), rows);
    // Regressors: no labels to disagree on; no row the challenger failed.
    for metric in [
        "ChallengerLabelsDisagreed",
        "ChallengerErrors",
        "ChallengerPredictedLabel",
    ] {
        assert!(docs.iter().all(|d| d[metric].is_null()), "{metric}");
    }
    // Every row's difference (the 120 sampled evenly), all at float precision.
    let differences = values(
        &with(&docs, "ChallengerAbsDifference", &PAIR),
        "ChallengerAbsDifference",
    );
    let step = 120usize.div_ceil(telemetry::MAX_SCORES_PER_REQUEST);
    assert_eq!(differences.len(), 1 + 120usize.div_ceil(step) + 2);
    assert!(differences.iter().all(|d| *d < 1e-5), "{differences:?}");
    let scores = values(&with(&docs, "ChallengerScore", &PAIR), "ChallengerScore");
    assert_eq!(scores.len(), differences.len());
    assert!(scores.iter().all(|s| (3.0..8.0).contains(s)), "{scores:?}");
    // The champion's counts are the champion's rows alone: the canary alarm's ratio is
    // what it was.
    assert_eq!(
        sum(&with(&docs, "RowsScored", &["ModelVersion"]), "RowsScored"),
        rows
    );
    assert_eq!(only_function(&docs, "RowsScored"), rows);
    let champion_scores = values(&with(&docs, "Score", &["ModelVersion"]), "Score");
    assert_eq!(champion_scores.len(), scores.len());
}

#[tokio::test]
async fn a_disagreeing_challenger_records_each_rows_absolute_difference() {
    testkit::alone!();
    let _turn = turn().await;
    let app = with_challenger(WHITE);
    let (champion, white) = (demo_model(), challenger_model(WHITE));
    let n = 40;
    const { assert!(40 <= telemetry::MAX_SCORES_PER_REQUEST) };
    assert_eq!(
        app.handle(post("/predict", &instances(n))).await.status(),
        200
    );
    let docs = flushed();
    let want: Vec<f64> = (0..n)
        .map(|i| {
            let row = wine_instance(i);
            let row = row.as_object().unwrap();
            let (a, b) = (
                champion.score_row(row).unwrap(),
                white.score_row(row).unwrap(),
            );
            (f64::from(a) - f64::from(b)).abs()
        })
        .collect();
    let got = values(
        &with(&docs, "ChallengerAbsDifference", &PAIR),
        "ChallengerAbsDifference",
    );
    assert_same_values(got, want.clone(), 1e-9);
    assert!(
        want.iter().filter(|d| **d > 0.25).count() > n / 4,
        "the white wines' model disagrees: {want:?}"
    );
    let version = "wine_quality_white-v1";
    assert_eq!(per_pair(&docs, "ChallengerRowsCompared", version), n as f64);
    let white_scores: Vec<f64> = (0..n)
        .map(|i| {
            f64::from(
                white
                    .score_row(wine_instance(i).as_object().unwrap())
                    .unwrap(),
            )
        })
        .collect();
    assert_same_values(
        values(&with(&docs, "ChallengerScore", &PAIR), "ChallengerScore"),
        white_scores,
        1e-6,
    );
}

#[tokio::test]
async fn a_challenger_needing_an_attribute_the_rows_lack_counts_an_error_per_row() {
    testkit::alone!();
    let _turn = turn().await;
    let app = with_challenger(VINTAGE);
    assert!(!app.challenger().loaded().unwrap().same_schema());
    assert_eq!(
        app.handle(post("/predict", &instances(7))).await.status(),
        200
    );
    assert_eq!(app.handle(request("v2-infer.json")).await.status(), 200);
    let docs = flushed();
    let version = "wine_quality_vintage-v1";
    // Bodies name every attribute they send: a row without `vintage` cannot be read.
    assert_eq!(per_pair(&docs, "ChallengerErrors", version), 7.0 + 2.0);
    for metric in [
        "ChallengerRowsScored",
        "ChallengerRowsCompared",
        "ChallengerAbsDifference",
    ] {
        assert!(docs.iter().all(|d| d[metric].is_null()), "{metric}");
    }
    assert_eq!(only_function(&docs, "RowsScored"), 9.0);

    // A stored product leaves out what it does not have: an absent attribute is a
    // missing value only where the model takes one, and the vintage model's does not.
    let vintage = challenger_model(VINTAGE);
    assert!(!vintage.schema().features().last().unwrap().accepts_missing);
    assert_eq!(app.handle(get("/predict/wine-0001")).await.status(), 200);
    let docs = flushed();
    assert_eq!(per_pair(&docs, "ChallengerErrors", version), 1.0);
    assert_eq!(only_function(&docs, "RowsScored"), 1.0);
}

#[tokio::test]
async fn classifiers_with_other_classes_disagree_on_as_many_rows_as_counted() {
    testkit::alone!();
    let _turn = turn().await;
    let (champion, grade) = (good_classifier(), challenger_model(GRADE));
    let app = App::new(good_classifier(), demo_store(), DEMO_MODEL_NAME)
        .with_challenger(challenger_model(GRADE));
    let rows: Vec<Value> = (0..200)
        .map(|i| {
            let mut row = wine_instance(i);
            row["color"] = json!("red");
            row
        })
        .collect();
    let response = app
        .handle(post("/predict", &json!({ "instances": rows })))
        .await;
    assert_eq!(response.status(), 200);
    let docs = flushed();

    let mut disagreed = 0;
    let mut differences = Vec::new();
    let mut labels: BTreeMap<String, f64> = BTreeMap::new();
    let step = rows.len().div_ceil(telemetry::MAX_SCORES_PER_REQUEST);
    for (i, row) in rows.iter().enumerate() {
        let row = row.as_object().unwrap();
        let (Prediction::Class(a), Prediction::Class(b)) = (
            champion.predict_row(row).unwrap(),
            grade.predict_row(row).unwrap(),
        ) else {
            panic!("two classifiers")
        };
        let label = a.label().to_string();
        disagreed += usize::from(label != b.label().to_string());
        *labels.entry(b.label().to_string()).or_default() += 1.0;
        if i % step == 0 {
            // The probability each gives the champion's label (the grade classifier has
            // no "good" or "bad": 0).
            let theirs = b
                .iter()
                .find(|(class, _)| class.to_string() == label)
                .map_or(0.0, |(_, p)| p);
            differences.push((f64::from(a.probabilities[a.label]) - f64::from(theirs)).abs());
        }
    }
    let version = "wine_grade_classifier-v1";
    assert_eq!(per_pair(&docs, "ChallengerRowsCompared", version), 200.0);
    assert_eq!(
        per_pair(&docs, "ChallengerLabelsDisagreed", version),
        disagreed as f64
    );
    assert_eq!(
        only_function(&docs, "ChallengerLabelsDisagreed"),
        disagreed as f64
    );
    assert_eq!(disagreed, 200, "no class in common: every label differs");
    assert_same_values(
        values(
            &with(&docs, "ChallengerAbsDifference", &PAIR),
            "ChallengerAbsDifference",
        ),
        differences,
        1e-6,
    );
    let counted: BTreeMap<String, f64> = with(
        &docs,
        "ChallengerPredictedLabel",
        &["ChampionVersion", "ChallengerVersion", "Label"],
    )
    .iter()
    .map(|d| {
        (
            d["Label"].as_str().unwrap().to_owned(),
            d["ChallengerPredictedLabel"].as_f64().unwrap(),
        )
    })
    .collect();
    assert_eq!(counted, labels);
    // The champion's labels are its own.
    let champion_labels = with(&docs, "PredictedLabel", &["ModelVersion", "Label"]);
    assert_eq!(sum(&champion_labels, "PredictedLabel"), 200.0);
    assert!(champion_labels
        .iter()
        .all(|d| ["good", "bad"].contains(&d["Label"].as_str().unwrap())));
}

#[tokio::test]
async fn a_regressor_against_a_classifier_is_compared_without_a_difference() {
    testkit::alone!();
    let _turn = turn().await;
    let app = with_challenger(GRADE);
    assert_eq!(
        app.handle(post("/predict", &instances(10))).await.status(),
        200
    );
    assert_eq!(app.handle(get("/predict/wine-0001")).await.status(), 200);
    let docs = flushed();
    let version = "wine_grade_classifier-v1";
    assert_eq!(per_pair(&docs, "ChallengerRowsCompared", version), 11.0);
    assert_eq!(
        sum(
            &with(
                &docs,
                "ChallengerPredictedLabel",
                &["ChampionVersion", "ChallengerVersion", "Label"]
            ),
            "ChallengerPredictedLabel"
        ),
        11.0
    );
    for metric in [
        "ChallengerAbsDifference",
        "ChallengerLabelsDisagreed",
        "ChallengerErrors",
        "ChallengerScore",
    ] {
        assert!(docs.iter().all(|d| d[metric].is_null()), "{metric}");
    }
}

#[tokio::test]
async fn the_challenger_called_directly_counts_as_the_challenger_alone() {
    testkit::alone!();
    let _turn = turn().await;
    let app = with_challenger(REFIT);
    let response = app.handle(get("/predict/wine-0001?model=challenger")).await;
    assert_eq!(response.status(), 200);
    let mut infer = testkit::predict_support::event_json("v2-infer.json");
    let path = "/v2/models/wine-quality-challenger/infer";
    infer["rawPath"] = path.into();
    infer["requestContext"]["http"]["path"] = path.into();
    let response = app
        .handle(lambda_http::request::from_str(&infer.to_string()).unwrap())
        .await;
    assert_eq!(response.status(), 200);
    let docs = flushed();
    assert_eq!(
        per_pair(&docs, "ChallengerRowsScored", "wine_quality_refit-v1"),
        3.0
    );
    // Nothing compared, nothing scored by the champion.
    for metric in ["ChallengerRowsCompared", "RowsScored", "Score"] {
        assert!(docs.iter().all(|d| d[metric].is_null()), "{metric}");
    }
}

#[tokio::test]
async fn a_challenger_that_failed_to_load_is_counted_at_cold_start_and_not_after() {
    testkit::alone!();
    let _turn = turn().await;
    let app = demo_app().with_failed_challenger();
    telemetry::challenger_load_failed(app.model().version());
    assert_eq!(
        app.handle(post("/predict", &instances(3))).await.status(),
        200
    );
    let docs = flushed();
    let failed = with(&docs, "ChallengerLoadFailed", &["ChampionVersion"]);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["ChampionVersion"], "test-version");
    assert_eq!(failed[0]["ChallengerLoadFailed"], 1);
    assert!(docs.iter().all(|d| d
        .as_object()
        .unwrap()
        .keys()
        .all(|k| k == "ChallengerLoadFailed" || !k.starts_with("Challenger"))));
    assert_eq!(only_function(&docs, "RowsScored"), 3.0);
}
