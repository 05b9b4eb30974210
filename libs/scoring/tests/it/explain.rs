//! Explanations against the libraries' own (LightGBM's and XGBoost's `pred_contrib`, the
//! shap package's TreeExplainer, exact linear attributions) on the committed fixtures of
//! `model/fixtures_explain.py`, local accuracy against the model's own answers, and the
//! refusals by name.

use std::path::{Path, PathBuf};

use scoring::{Batch, Model, Prediction, RowExplanation, Space};
use serde_json::{Map, Value};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain")
}

/// Every fixture's name, refusals or not.
fn fixtures(refusals: bool) -> Vec<(String, Model, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let spec: Value =
                serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.json"))).unwrap())
                    .unwrap();
            (spec.get("refusal").is_some() == refusals).then(|| {
                let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
                let model = Model::load(&bytes, "fixture")
                    .unwrap_or_else(|e| panic!("{name}: the model does not load: {e}"));
                (name, model, spec)
            })
        })
        .collect()
}

fn batch(model: &Model, rows: &[Value]) -> Batch {
    let schema = model.schema();
    let mut batch = schema.batch(rows.len());
    for row in rows {
        let row: &Map<String, Value> = row.as_object().unwrap();
        schema.read_row(row, &mut batch).unwrap();
    }
    batch
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

/// The answer in the explanation's space for target `t`: a score, a probability, or the
/// margin behind one (logit for one margin, log-probability up to a shared constant for
/// several: compared through differences, see below).
fn in_space(prediction: &Prediction, space: Space, class: Option<usize>) -> f64 {
    match (prediction, space) {
        (Prediction::Score(s), _) => f64::from(*s),
        (Prediction::Class(c), _) => f64::from(c.probabilities[class.unwrap()]),
    }
}

#[test]
fn contributions_equal_the_libraries_own_and_add_up_to_the_answer() {
    let fixtures = fixtures(false);
    assert!(fixtures.len() >= 10, "{} fixtures", fixtures.len());
    for (name, model, spec) in fixtures {
        let targets = model
            .explainability()
            .unwrap_or_else(|why| panic!("{name}: cannot explain: {why}"));
        let space = match spec["space"].as_str().unwrap() {
            "score" => Space::Score,
            "margin" => Space::Margin,
            _ => Space::Probability,
        };
        assert_eq!(targets.space, space, "{name}");
        assert_eq!(&*targets.features, texts(&spec["features"]), "{name}");
        let expected_targets = spec.get("targets").filter(|t| !t.is_null()).map(texts);
        let classes: Option<Vec<String>> = targets
            .classes
            .as_ref()
            .map(|c| c.iter().map(|l| l.to_string()).collect());
        assert_eq!(classes, expected_targets, "{name}: the explained targets");

        let rows = spec["rows"].as_array().unwrap();
        let batch = batch(&model, rows);
        let scored = model.score(&batch, &mut ()).unwrap();
        let explanations = model.explain(&batch, &scored).unwrap();
        let tolerance = spec["tolerance"].as_f64().unwrap();
        for (r, expected) in spec["expected"].as_array().unwrap().iter().enumerate() {
            let row = explanations
                .row(r)
                .unwrap_or_else(|| panic!("{name}: row {r} unexplained"));
            let bases = numbers(&expected["base_values"]);
            for (t, contributions) in expected["contributions"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
            {
                let want = numbers(contributions);
                let got = row.contributions(t);
                // Relative to the row's largest contribution: float32 leaves leave near-zero
                // contributions off by more, relatively, than the large ones.
                let scale = want.iter().fold(1e-12_f64, |m, v| m.max(v.abs()));
                for (f, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= tolerance * scale,
                        "{name} row {r} target {t} feature {f}: {g} against {w}"
                    );
                }
                let base = targets.base_values[t];
                assert!(
                    (base - bases[t]).abs() <= tolerance * bases[t].abs().max(1.0),
                    "{name} target {t}: base value {base} against {}",
                    bases[t]
                );
            }
            local_accuracy(&name, &model, &scored.outcome(r).unwrap(), &row);
        }
    }
}

/// Base value + contributions = the answer in the explanation's space.
fn local_accuracy(name: &str, model: &Model, prediction: &Prediction, row: &RowExplanation) {
    let targets = row.targets();
    let sums: Vec<f64> = (0..targets.n_targets())
        .map(|t| targets.base_values[t] + row.contributions(t).iter().sum::<f64>())
        .collect();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0);
    match targets.space {
        Space::Score => assert!(
            close(sums[0], in_space(prediction, Space::Score, None)),
            "{name}"
        ),
        Space::Probability => {
            for (t, sum) in sums.iter().enumerate() {
                assert!(
                    close(*sum, in_space(prediction, targets.space, Some(t))),
                    "{name}: {sum}"
                );
            }
        }
        Space::Margin => {
            let Prediction::Class(c) = prediction else {
                panic!("{name}: a margin for a regressor")
            };
            let p = &c.probabilities;
            let classes = model_classes(model);
            if sums.len() == 1 {
                // One margin: the positive class's probability is its logistic.
                let positive = classes
                    .iter()
                    .position(|l| *l == targets.classes.as_ref().unwrap()[0].to_string())
                    .unwrap();
                let logistic = 1.0 / (1.0 + (-sums[0]).exp());
                assert!(
                    close(logistic, f64::from(p[positive])),
                    "{name}: {logistic} against {}",
                    p[positive]
                );
            } else {
                // Several: softmax of the margins.
                let top = sums.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = sums.iter().map(|m| (m - top).exp()).sum();
                for (t, m) in sums.iter().enumerate() {
                    let softmax = (m - top).exp() / z;
                    assert!(
                        close(softmax, f64::from(p[t])),
                        "{name} class {t}: {softmax} against {}",
                        p[t]
                    );
                }
            }
        }
    }
}

fn model_classes(model: &Model) -> Vec<String> {
    match model.task() {
        scoring::Task::Classification { classes } => {
            classes.iter().map(|l| l.to_string()).collect()
        }
        scoring::Task::Regression => vec![],
    }
}

#[test]
fn a_model_that_cannot_explain_says_why_by_name() {
    let fixtures = fixtures(true);
    assert!(fixtures.len() >= 3);
    for (name, model, spec) in fixtures {
        let says = spec["refusal"].as_str().unwrap();
        let why = model
            .explainability()
            .expect_err(&format!("{name} explains"));
        assert!(why.contains(says), "{name}: {why}");
        // It still answers.
        let rows: Vec<Value> = vec![Value::Object(
            model
                .features()
                .iter()
                .map(|f| (f.clone(), Value::from(0.5)))
                .collect(),
        )];
        let batch = batch(&model, &rows);
        let scored = model.score(&batch, &mut ()).unwrap();
        assert!(scored.outcome(0).is_ok(), "{name}");
        let err = model.explain(&batch, &scored).unwrap_err();
        assert!(
            matches!(err, scoring::ExplainError::Unexplainable(_)),
            "{name}: {err}"
        );
    }
}
