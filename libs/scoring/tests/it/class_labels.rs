//! Class labels found through what follows the classifier (model/fixtures_class_labels.py):
//! exports with ZipMap off whose classifier names its classes in `classlabels_ints`
//! (LinearClassifier, SVMClassifier) and whose outputs reach it through a `Normalizer`, a
//! `Cast` or an `Identity`. Each must load, name its classes in probability order and
//! answer as onnxruntime does; a graph whose label does not lead to a classifier is refused
//! with a reason.

use std::path::{Path, PathBuf};

use prost::Message;
use scoring::{Label, LoadError, Model, Prediction, Task};
use serde::Deserialize;
use serde_json::{Map, Value};
use tract_onnx::pb::ModelProto;

const TOLERANCE: f32 = 1e-4;

#[derive(Debug, Deserialize)]
struct Fixture {
    ops: Vec<String>,
    rows: Vec<Map<String, Value>>,
    expected: Expected,
}

#[derive(Debug, Deserialize)]
struct Expected {
    classes: Vec<Value>,
    labels: Vec<Value>,
    probabilities: Vec<Vec<f32>>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Refusal {
    name: String,
    must_mention: Vec<String>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/class_labels")
}

fn read<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let text = std::fs::read_to_string(dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(format!("{name}.onnx"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> (Fixture, Model) {
    let model = Model::load(&bytes(name), "fixture").unwrap_or_else(|e| panic!("{name}: {e}"));
    (read(&format!("{name}.json")), model)
}

/// Loads, names the classes in probability order, and answers every row as onnxruntime:
/// labels exactly, probabilities within 1e-4.
fn agrees_with_onnxruntime(name: &str, ops_between: &[&str]) {
    let (f, model) = load(name);
    for op in ops_between {
        assert!(
            f.ops.iter().any(|o| o == op),
            "{name}: has no {op}: {:?}",
            f.ops
        );
    }
    let Task::Classification { classes } = model.task() else {
        panic!("{name}: read as a regressor");
    };
    let classes: Vec<Value> = classes
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    assert_eq!(
        classes, f.expected.classes,
        "{name}: classes, in probability order"
    );

    let answers = model
        .predict_rows(&f.rows)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(answers.len(), f.rows.len(), "{name}: one answer per row");
    for (row, answer) in answers.iter().enumerate() {
        let Prediction::Class(c) = answer else {
            panic!("{name}: row {row}: not a class")
        };
        assert_eq!(
            serde_json::to_value(c.label()).unwrap(),
            f.expected.labels[row],
            "{name}: row {row}: label"
        );
        let want = &f.expected.probabilities[row];
        assert_eq!(c.probabilities.len(), want.len(), "{name}: row {row}");
        for (g, w) in c.probabilities.iter().zip(want) {
            assert!(
                (g - w).abs() <= TOLERANCE,
                "{name}: row {row}: probabilities {:?} vs onnxruntime {want:?}",
                c.probabilities
            );
        }
    }
}

#[test]
fn every_fixture_is_listed_and_checked() {
    let names: Vec<String> = read::<Vec<Entry>>("index.json")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        [
            "logreg_ints_multiclass",
            "logreg_ints_cast_identity",
            "logreg_ints_binary",
            "svc_ints_binary"
        ],
        "a new fixture needs its own test below"
    );
}

/// The export: `LogisticRegression` with `zipmap=False`, a `LinearClassifier`
/// (`classlabels_ints`) followed by a `Normalizer`.
#[test]
fn logistic_regression_through_a_normalizer() {
    agrees_with_onnxruntime(
        "logreg_ints_multiclass",
        &["LinearClassifier", "Normalizer"],
    );
}

/// The same with a `Cast` and an `Identity` on each output's way out.
#[test]
fn logistic_regression_through_cast_and_identity() {
    agrees_with_onnxruntime(
        "logreg_ints_cast_identity",
        &["LinearClassifier", "Normalizer", "Cast", "Identity"],
    );
}

/// Binary: the `LinearClassifier` answers both outputs itself, its classes in `classlabels_ints`.
#[test]
fn binary_logistic_regression_with_int_labels() {
    agrees_with_onnxruntime("logreg_ints_binary", &["LinearClassifier"]);
}

/// An `SVMClassifier` (`classlabels_ints`, labels 1 and 6), its probabilities through a `Cast`.
#[test]
fn svc_with_int_labels_through_a_cast() {
    agrees_with_onnxruntime("svc_ints_binary", &["SVMClassifier", "Cast"]);
    let (_, model) = load("svc_ints_binary");
    let Task::Classification { classes } = model.task() else {
        unreachable!()
    };
    assert_eq!(&*classes, [Label::Int(1), Label::Int(6)]);
}

fn refused(bytes: &[u8]) -> String {
    match Model::load(bytes, "v") {
        Err(e @ LoadError::UnsupportedOutput(_)) => e.to_string(),
        other => panic!("expected an unsupported output, got {other:?}"),
    }
}

/// The label goes through a `LabelEncoder` (0/1/2 to 10/20/30): the classifier's classes
/// are not the label's, so the model names none and is refused, saying so.
#[test]
fn a_label_remapped_after_the_classifier_names_no_classes() {
    for r in read::<Vec<Refusal>>("refusals.json") {
        let err = refused(&bytes(&r.name));
        for word in &r.must_mention {
            assert!(err.contains(word.as_str()), "{}: {err}", r.name);
        }
        assert!(
            err.contains("classlabels_ints"),
            "{}: says what it looked for: {err}",
            r.name
        );
    }
}

/// A classifier operator that names no classes at all, behind a `Normalizer`: refused at
/// load, saying what is missing, not by a failure at the first request.
#[test]
fn a_classifier_without_class_labels_is_refused_naming_them() {
    let mut proto = ModelProto::decode(bytes("logreg_ints_multiclass").as_slice()).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    let mut removed = 0;
    for node in &mut graph.node {
        let before = node.attribute.len();
        node.attribute
            .retain(|a| !a.name.starts_with("classlabels_"));
        removed += before - node.attribute.len();
    }
    assert_eq!(removed, 1);
    let mut edited = Vec::new();
    proto.encode(&mut edited).unwrap();
    match Model::load(&edited, "v") {
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("class"), "names the missing classes: {e}");
        }
        Ok(_) => panic!("a classifier with no classes loaded"),
    }
}
