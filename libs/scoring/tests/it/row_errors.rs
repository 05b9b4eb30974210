//! Every row error is typed, names the feature (and the row in a batch), and never panics.

use crate::common;

use std::collections::HashMap;

use common::fixture;
use scoring::{Model, Row, RowError, RowProblem, ScoreError};
use serde_json::{json, Map, Value};

fn model() -> (Model, Vec<String>) {
    let f = fixture("ridge");
    (Model::load(&f.model_bytes(), "v1").unwrap(), f.features)
}

fn good_row(features: &[String]) -> Map<String, Value> {
    features
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), json!(i as f64 * 0.1)))
        .collect()
}

fn row_error(result: Result<impl std::fmt::Debug, ScoreError>) -> RowError {
    match result {
        Err(ScoreError::Row(e)) => e,
        other => panic!("expected a row error, got {other:?}"),
    }
}

#[test]
fn a_good_row_scores_and_extra_attributes_are_ignored() {
    let (m, names) = model();
    let mut row = good_row(&names);
    let plain = m.score_row(&row).unwrap();
    row.insert("colour".into(), json!("red"));
    row.insert("product_id".into(), json!(17));
    assert_eq!(m.score_row(&row).unwrap(), plain);
    assert!(plain.is_finite());
}

#[test]
fn missing_feature() {
    let (m, names) = model();
    let mut row = good_row(&names);
    row.remove(&names[3]);
    let e = row_error(m.score_row(&row));
    assert_eq!(
        e,
        RowError {
            row: None,
            feature: names[3].clone(),
            problem: RowProblem::Missing
        }
    );
    assert_eq!(e.to_string(), format!("feature `{}` is missing", names[3]));
}

#[test]
fn non_numeric_values() {
    let (m, names) = model();
    for (value, kind) in [
        (json!("7.4"), "a string"),
        (json!(true), "a boolean"),
        (json!([1]), "an array"),
        (json!({"a": 1}), "an object"),
    ] {
        let mut row = good_row(&names);
        row.insert(names[1].clone(), value);
        let e = row_error(m.score_row(&row));
        assert_eq!(e.feature, names[1]);
        assert_eq!(e.problem, RowProblem::NotNumeric { found: kind.into() });
        assert!(e.to_string().contains("is not a number"), "{e}");
    }
    // A null where the model has no imputer: refused, saying why.
    let mut row = good_row(&names);
    row.insert(names[1].clone(), Value::Null);
    let e = row_error(m.score_row(&row));
    assert_eq!(e.problem, RowProblem::MissingNotHandled);
    assert!(e.to_string().contains("no imputer"), "{e}");
}

#[test]
fn non_finite_numbers() {
    let (m, names) = model();
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
        let mut row: HashMap<String, f64> = names.iter().map(|n| (n.clone(), 1.0)).collect();
        row.insert(names[0].clone(), v);
        let e = row_error(m.score_row(&row));
        assert_eq!(e.feature, names[0]);
        assert!(
            matches!(e.problem, RowProblem::NotFinite { .. }),
            "{v}: {e:?}"
        );
    }
}

/// The domain's own row, as the stores hand it out, scores like any other row and names
/// each value it cannot use.
#[test]
fn owned_rows() {
    let (m, names) = model();
    let row: Row = names
        .iter()
        .map(|n| (n.clone(), scoring::Value::Number(0.5)))
        .collect();
    let numbers: HashMap<String, f64> = names.iter().map(|n| (n.clone(), 0.5)).collect();
    assert_eq!(m.score_row(&row).unwrap(), m.score_row(&numbers).unwrap());

    for (bad, problem) in [
        (
            scoring::Value::Text("0.5".into()),
            "not a number (found a string)",
        ),
        (
            scoring::Value::Null,
            "is null, but the model has no imputer",
        ),
        (
            scoring::Value::Other("a list (L)"),
            "not a number (found a list (L))",
        ),
        (scoring::Value::Number(f64::NAN), "not a finite number"),
    ] {
        let mut row = row.clone();
        row.insert(names[2].clone(), bad.clone());
        let e = row_error(m.score_row(&row));
        assert_eq!(e.feature, names[2]);
        assert!(e.to_string().contains(problem), "{bad:?}: {e}");
    }
}

#[test]
fn batch_errors_name_the_row() {
    let (m, names) = model();
    let mut rows = vec![good_row(&names); 5];
    rows[3].insert(names[4].clone(), json!("x"));
    let e = row_error(m.score_rows(&rows));
    assert_eq!(e.row, Some(3));
    assert_eq!(e.feature, names[4]);
    assert!(
        e.to_string()
            .starts_with(&format!("row 3: feature `{}`", names[4])),
        "{e}"
    );
}

#[test]
fn a_batch_scores_like_its_rows() {
    let (m, names) = model();
    let rows: Vec<Map<String, Value>> = (0..7)
        .map(|k| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), json!((i * k) as f64 * 0.01)))
                .collect()
        })
        .collect();
    let batch = m.score_rows(&rows).unwrap();
    for (row, score) in rows.iter().zip(&batch) {
        assert!((m.score_row(row).unwrap() - score).abs() < 1e-6);
    }
    assert!(m.score_rows::<Map<String, Value>>(&[]).unwrap().is_empty());
}

#[test]
fn matrix_of_the_wrong_width() {
    let (m, names) = model();
    let err = m.score_matrix(&vec![0.0; names.len() + 1]).unwrap_err();
    assert_eq!(
        err,
        ScoreError::Shape {
            values: names.len() + 1,
            width: names.len()
        }
    );
}

#[test]
fn version_is_kept() {
    let (m, _) = model();
    assert_eq!(m.version(), "v1");
}
