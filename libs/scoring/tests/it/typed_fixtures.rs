//! Typed fixtures (model/fixtures_typed.py): classifiers and regressors over numeric,
//! categorical and missing values, exported at the converters' defaults. Rows go in by
//! feature name, as JSON objects, exactly as a caller sends them; every answer must agree
//! with onnxruntime's: labels exactly, scores and probabilities within 1e-4.

use std::path::{Path, PathBuf};

use scoring::{FeatureType, Label, Model, Prediction, Predictions, Task};
use serde::Deserialize;
use serde_json::{Map, Value};

const TOLERANCE: f32 = 1e-4;

#[derive(Debug, Deserialize)]
struct Feature {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

#[derive(Debug, Deserialize)]
struct Fixture {
    name: String,
    kind: String,
    #[serde(default)]
    zipmap: Option<bool>,
    layout: String,
    features: Vec<Feature>,
    ops: Vec<String>,
    handles_missing: Vec<String>,
    rows: Vec<Map<String, Value>>,
    expected: Expected,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expected {
    Scores {
        scores: Vec<f32>,
    },
    Classes {
        classes: Vec<Value>,
        labels: Vec<Value>,
        probabilities: Vec<Vec<f32>>,
    },
}

#[derive(Debug, Deserialize)]
struct Entry {
    name: String,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/typed")
}

fn names() -> Vec<String> {
    let index = std::fs::read_to_string(dir().join("index.json")).expect("typed fixtures index");
    let entries: Vec<Entry> = serde_json::from_str(&index).expect("index is JSON");
    entries.into_iter().map(|e| e.name).collect()
}

fn fixture(name: &str) -> (Fixture, Model) {
    let json = std::fs::read_to_string(dir().join(format!("{name}.json"))).unwrap();
    let f: Fixture = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}.json: {e}"));
    let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
    let model = Model::load(&bytes, "fixture").unwrap_or_else(|e| panic!("{name}: {e}"));
    (f, model)
}

fn label_json(label: &Label) -> Value {
    serde_json::to_value(label).unwrap()
}

/// Compares the answers for rows `start..` with the fixture's.
fn check_answers(f: &Fixture, start: usize, got: &Predictions) {
    match (&f.expected, got) {
        (Expected::Scores { scores }, Predictions::Scores(s)) => {
            for (i, (g, w)) in s.iter().zip(&scores[start..]).enumerate() {
                assert!(
                    (g - w).abs() <= TOLERANCE,
                    "{}: row {}: {g} vs onnxruntime {w}",
                    f.name,
                    start + i
                );
            }
        }
        (
            Expected::Classes {
                labels,
                probabilities,
                ..
            },
            got @ Predictions::Classes { .. },
        ) => {
            for (i, answer) in got.iter().enumerate() {
                let row = start + i;
                let Prediction::Class(c) = answer else {
                    unreachable!()
                };
                assert_eq!(
                    label_json(c.label()),
                    labels[row],
                    "{}: row {row}: label",
                    f.name
                );
                for (g, w) in c.probabilities.iter().zip(&probabilities[row]) {
                    assert!(
                        (g - w).abs() <= TOLERANCE,
                        "{}: row {row}: probabilities {:?} vs onnxruntime {:?}",
                        f.name,
                        c.probabilities,
                        probabilities[row]
                    );
                }
            }
        }
        _ => panic!(
            "{}: the model's task is not the fixture's {}",
            f.name, f.kind
        ),
    }
}

fn check(name: &str) {
    let (f, model) = fixture(name);
    assert!(f.rows.len() >= 1000, "{name}: 1,000 rows");
    let schema = model.schema();
    let got: Vec<(&str, &str)> = schema
        .features()
        .iter()
        .map(|x| (x.name.as_str(), x.ty.name()))
        .collect();
    let want: Vec<(&str, &str)> = f
        .features
        .iter()
        .map(|x| (x.name.as_str(), x.ty.as_str()))
        .collect();
    assert_eq!(got, want, "{name}: features and types come from the model");
    assert_eq!(
        matches!(schema.layout(), scoring::InputLayout::Matrix),
        f.layout == "matrix",
        "{name}: layout"
    );
    let mut handled: Vec<&str> = schema
        .features()
        .iter()
        .filter(|x| x.accepts_missing)
        .map(|x| x.name.as_str())
        .collect();
    handled.sort();
    let mut want_handled: Vec<&str> = f.handles_missing.iter().map(String::as_str).collect();
    want_handled.sort();
    assert_eq!(
        handled, want_handled,
        "{name}: features whose null the model handles"
    );

    match (&model.task(), &f.expected) {
        (Task::Regression, Expected::Scores { .. }) => assert_eq!(f.kind, "regressor"),
        (Task::Classification { classes }, Expected::Classes { classes: want, .. }) => {
            assert_eq!(f.kind, "classifier");
            let got: Vec<Value> = classes.iter().map(label_json).collect();
            assert_eq!(&got, want, "{name}: classes, in probability order");
        }
        (task, _) => panic!("{name}: read as {task:?}, fixture says {}", f.kind),
    }

    // Calls of different sizes one after another: each answers for its own rows.
    let mut start = 0;
    for size in [1, 30, 7, 100, 1, 250, 2, 64, 600].into_iter().cycle() {
        let end = (start + size).min(f.rows.len());
        let got = model
            .predict_rows(&f.rows[start..end])
            .unwrap_or_else(|e| panic!("{name}: rows {start}..{end}: {e}"));
        assert_eq!(got.len(), end - start);
        check_answers(&f, start, &got);
        start = end;
        if start == f.rows.len() {
            break;
        }
    }
    // One row at a time, through the single-row path.
    for (i, row) in f.rows.iter().enumerate().take(50) {
        let one = model.predict_row(row).unwrap();
        let batch = match one {
            Prediction::Score(s) => Predictions::Scores(vec![s]),
            Prediction::Class(c) => Predictions::Classes {
                labels: vec![c.label],
                probabilities: c.probabilities.clone(),
                classes: c.classes.clone(),
            },
        };
        check_answers(&f, i, &batch);
    }
    assert!(f.ops.iter().all(|op| !op.is_empty()));
    let _ = f.zipmap;
}

#[test]
fn every_typed_fixture_agrees_with_onnxruntime_call_after_call() {
    let names = names();
    assert!(!names.is_empty());
    let mut failures = Vec::new();
    for name in &names {
        if let Err(e) = std::panic::catch_unwind(|| check(name)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{name}: {msg}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn feature_types_name_numeric_and_categorical() {
    assert_eq!(FeatureType::String.kind(), "categorical");
    assert_eq!(FeatureType::Int64.kind(), "numeric");
}

#[derive(Debug, Deserialize)]
struct Refusal {
    name: String,
    onnx: String,
    must_mention: Vec<String>,
}

/// Models with an operator nobody here implements are refused at load, by name.
#[test]
fn unsupported_operators_are_refused_by_name() {
    let list = std::fs::read_to_string(dir().join("refusals.json")).unwrap();
    let refusals: Vec<Refusal> = serde_json::from_str(&list).unwrap();
    assert!(refusals.len() >= 3);
    for r in refusals {
        let bytes = std::fs::read(dir().join(&r.onnx)).unwrap();
        let err = Model::load(&bytes, "v").expect_err(&r.name).to_string();
        for word in &r.must_mention {
            assert!(err.contains(word.as_str()), "{}: {err}", r.name);
        }
    }
}

/// A model whose encoder refuses unknown categories (`handle_unknown="error"`, ONNX
/// `zeros=0`): a row with one is the caller's mistake, named as such, and a batch can
/// answer its other rows one by one.
#[test]
fn an_encoder_that_refuses_unknown_categories_fails_only_that_row() {
    use prost::Message;
    let bytes = std::fs::read(dir().join("ct_regressor.onnx")).unwrap();
    let mut proto = tract_onnx::pb::ModelProto::decode(bytes.as_slice()).unwrap();
    let mut edited = 0;
    for node in &mut proto.graph.as_mut().unwrap().node {
        if node.op_type == "OneHotEncoder" {
            for a in &mut node.attribute {
                if a.name == "zeros" {
                    a.i = 0;
                    edited += 1;
                }
            }
        }
    }
    assert!(edited > 0);
    let model = Model::load(&proto.encode_to_vec(), "strict").unwrap();
    let (f, _) = fixture("ct_regressor");
    let category = f.features.iter().find(|x| x.ty == "string").unwrap();
    // Known rows: the first rows whose categories are all ones the model knows.
    let known: Vec<&Map<String, Value>> = f
        .rows
        .iter()
        .filter(|r| model.predict_row(*r).is_ok())
        .take(3)
        .collect();
    assert_eq!(known.len(), 3);
    let mut unknown = known[1].clone();
    unknown.insert(category.name.clone(), json_str("never-seen-in-training"));
    let rows = vec![known[0].clone(), unknown.clone(), known[2].clone()];
    let err = model.predict_rows(&rows).unwrap_err();
    assert_eq!(err, scoring::ScoreError::UnknownCategory, "{err}");
    assert!(err.to_string().contains("handle_unknown"), "{err}");

    let mut batch = model.schema().batch(3);
    for r in &rows {
        model.schema().read_row(r, &mut batch).unwrap();
    }
    // One scoring call: the refused row fails alone, the others are answered.
    let scored = model.score(&batch, &mut ()).unwrap();
    let each: Vec<_> = scored.outcomes().collect();
    assert!(each[0].is_ok() && each[2].is_ok(), "{each:?}");
    assert_eq!(each[1], Err(scoring::RowFailure::UnknownCategory));
    assert_eq!(
        scored.failures(),
        &[(1, scoring::RowFailure::UnknownCategory)]
    );
    assert_eq!(
        each[0].as_ref().unwrap(),
        &model.predict_row(known[0]).unwrap()
    );
}

fn json_str(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// A batch gives back each value as the model reads it: numbers in the feature's type,
/// categories as text, missing values as NaN or the missing category.
#[test]
fn a_batch_gives_back_the_values_the_model_reads() {
    let model = Model::load(
        &std::fs::read(dir().join("ct_regressor.onnx")).unwrap(),
        "v",
    )
    .unwrap();
    let schema = model.schema();
    let mut row = Map::new();
    row.insert("age".into(), Value::from(41.5));
    row.insert("income".into(), Value::Null);
    row.insert("tenure_years".into(), Value::from(3));
    row.insert("balance".into(), Value::from(0.1));
    row.insert("color".into(), Value::from("red"));
    row.insert("region".into(), Value::Null);
    let mut batch = schema.batch(2);
    schema.read_row(&row, &mut batch).unwrap();
    schema.read_row(&row, &mut batch).unwrap();
    let at = |name: &str| schema.names().iter().position(|n| n == name).unwrap();
    use scoring::BatchValue;
    assert_eq!(batch.value(1, at("age")), Some(BatchValue::F32(41.5)));
    assert!(matches!(batch.value(0, at("income")), Some(BatchValue::F32(v)) if v.is_nan()));
    assert_eq!(batch.value(0, at("balance")), Some(BatchValue::F32(0.1)));
    assert_eq!(batch.value(0, at("color")), Some(BatchValue::Text("red")));
    assert_eq!(
        batch.value(0, at("region")),
        Some(BatchValue::Text(scoring::MISSING_TEXT))
    );
    assert_eq!(batch.value(2, 0), None);
    assert_eq!(batch.value(0, schema.len()), None);
}
