//! Models for the functions' tests, from the committed scoring fixtures.

use prost::Message;
use tract_onnx::pb::ModelProto;

use crate::moto::repository_root;

/// The typed fixture `ct_regressor` (numeric and categorical columns) with its one-hot
/// encoders set to refuse unknown categories: ONNX `zeros = 0`, what skl2onnx writes for
/// `OneHotEncoder(handle_unknown="error")`. Its string features are `color` and `region`.
pub fn strict_categorical_model() -> Vec<u8> {
    let path = repository_root().join("libs/scoring/tests/fixtures/typed/ct_regressor.onnx");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut proto = ModelProto::decode(bytes.as_slice()).expect("a committed ONNX fixture");
    let graph = proto.graph.as_mut().expect("a graph");
    for node in graph
        .node
        .iter_mut()
        .filter(|n| n.op_type == "OneHotEncoder")
    {
        for attribute in node.attribute.iter_mut().filter(|a| a.name == "zeros") {
            attribute.i = 0;
        }
    }
    proto.encode_to_vec()
}

/// A row of `ct_regressor`'s features whose categories the model knows; `color` and
/// `region` may be changed to try others.
pub fn strict_categorical_row() -> serde_json::Map<String, serde_json::Value> {
    let path = repository_root().join("libs/scoring/tests/fixtures/typed/ct_regressor.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixture: serde_json::Value = serde_json::from_str(&text).expect("fixture JSON");
    let model = scoring::Model::load(&strict_categorical_model(), "strict").expect("loads");
    fixture["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r.as_object())
        .find(|r| model.predict_row(*r).is_ok())
        .expect("a row with known categories")
        .clone()
}

/// The challenger fixtures of `model/challengers/` (written by
/// `model/fixtures_challenger.py`), by file stem.
pub mod challengers {
    /// The demo model trained again (same rows, same seed): answers equal to the champion's.
    pub const REFIT: &str = "wine_quality_refit";
    /// The demo model's recipe on the white wines: disagrees with the champion on red ones.
    pub const WHITE: &str = "wine_quality_white";
    /// The demo features plus `vintage`, which the demo products do not have.
    pub const VINTAGE: &str = "wine_quality_vintage";
    /// A classifier on the demo features with classes "high", "low", "medium" (the demo
    /// classifier's are "bad", "good").
    pub const GRADE: &str = "wine_grade_classifier";
    /// Every one of them.
    pub const ALL: [&str; 4] = [REFIT, WHITE, VINTAGE, GRADE];
    /// The feature only the vintage challenger reads.
    pub const VINTAGE_FEATURE: &str = "vintage";
}

/// The bytes of `model/challengers/{name}.onnx` (see [`challengers`]).
pub fn challenger(name: &str) -> Vec<u8> {
    let path = repository_root().join(format!("model/challengers/{name}.onnx"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The demo regressor, `model/wine_quality.onnx` (the champion the challengers are made for).
pub fn champion() -> Vec<u8> {
    let path = repository_root().join("model/wine_quality.onnx");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A challenger that cannot load: the refit challenger cut in half (a truncated
/// protobuf, as a partial upload would leave it).
pub fn unloadable_challenger() -> Vec<u8> {
    let mut bytes = challenger(challengers::REFIT);
    bytes.truncate(bytes.len() / 2);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The first `n` red wines (the demo products' attributes), by feature name.
    fn red_wines(n: usize) -> Vec<HashMap<String, f64>> {
        let path = repository_root().join("model/data/winequality-red.csv");
        let csv = std::fs::read_to_string(&path).unwrap();
        let mut lines = csv.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap()
            .split(',')
            .map(crate::demo_data::attribute_name)
            .collect();
        lines
            .take(n)
            .map(|line| {
                header
                    .iter()
                    .zip(line.split(','))
                    .filter(|(name, _)| name.as_str() != crate::demo_data::LABEL)
                    .map(|(name, v)| (name.clone(), v.trim().parse().unwrap()))
                    .collect()
            })
            .collect()
    }

    fn load(bytes: &[u8], name: &str) -> scoring::Model {
        scoring::Model::load(bytes, name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn the_challengers_load_and_answer_as_made() {
        let rows = red_wines(200);
        let champion = load(&champion(), "champion");
        let scores = |model: &scoring::Model| -> Vec<f32> {
            rows.iter().map(|r| model.score_row(r).unwrap()).collect()
        };
        let expected = scores(&champion);

        // The refit: the champion's answers, to float precision.
        let refit = load(&challenger(challengers::REFIT), challengers::REFIT);
        assert_eq!(refit.features(), champion.features());
        for (a, b) in scores(&refit).iter().zip(&expected) {
            assert!((a - b).abs() < 1e-5, "refit {a} vs champion {b}");
        }

        // The white wines' model: the same inputs, other answers on most red wines.
        let white = load(&challenger(challengers::WHITE), challengers::WHITE);
        assert_eq!(white.features(), champion.features());
        let off = scores(&white)
            .iter()
            .zip(&expected)
            .filter(|(a, b)| (*a - *b).abs() > 0.25)
            .count();
        assert!(
            off > rows.len() / 2,
            "only {off} of {} rows differ",
            rows.len()
        );

        // The vintage model: the champion's features and one the demo products lack.
        let vintage = load(&challenger(challengers::VINTAGE), challengers::VINTAGE);
        assert_eq!(vintage.features().len(), champion.features().len() + 1);
        assert_eq!(
            vintage.features().last().map(String::as_str),
            Some(challengers::VINTAGE_FEATURE)
        );
        assert!(
            vintage.predict_row(&rows[0]).is_err(),
            "answers without a vintage"
        );
        let mut with_vintage = rows[0].clone();
        with_vintage.insert(challengers::VINTAGE_FEATURE.to_owned(), 2004.0);
        assert!(vintage.score_row(&with_vintage).unwrap().is_finite());

        // The grade classifier: other classes than the demo classifier's, on these rows.
        let grade = load(&challenger(challengers::GRADE), challengers::GRADE);
        match grade.task() {
            scoring::Task::Classification { classes } => {
                let mut names: Vec<String> = classes.iter().map(|c| c.to_string()).collect();
                names.sort();
                assert_eq!(names, ["high", "low", "medium"]);
            }
            other => panic!("the grade classifier is a {other:?}"),
        }
        assert!(grade.predict_row(&rows[0]).unwrap().score().is_none());

        // The broken one does not load.
        assert!(scoring::Model::load(&unloadable_challenger(), "broken").is_err());
    }
}
