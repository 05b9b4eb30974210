//! Agreement with onnxruntime, within 1e-4 absolute, on every committed fixture.

use crate::common;

use std::collections::HashMap;

use common::{fixture, max_abs_diff, Fixture};
use scoring::{InputLayout, Model};
use tract_onnx::prelude::*;

const TOLERANCE: f32 = 1e-4;

fn check_model(name: &str, expected_ops: &[&str]) -> (Fixture, Model) {
    let f = fixture(name);
    assert!(f.rows >= 1000, "{name}: at least 1,000 rows");
    for op in expected_ops {
        assert!(
            f.ops.iter().any(|o| o == op),
            "{name} should exercise {op}, has {:?}",
            f.ops
        );
    }
    let model = Model::load(&f.model_bytes(), "fixture").unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        model.features(),
        f.features.as_slice(),
        "{name}: feature names come from the model"
    );
    let layout = if f.input_layout == "per_feature" {
        InputLayout::PerFeature
    } else {
        InputLayout::Matrix
    };
    assert_eq!(model.schema().layout(), layout);

    let x = f.inputs();
    let want = f.expected();
    let got = model.score_matrix(&x).unwrap();
    let diff = max_abs_diff(&got, &want);
    assert!(
        diff <= TOLERANCE,
        "{name}: max |tract - onnxruntime| = {diff}"
    );

    // The same plan serves batch 1: row-by-row scores equal the batch's (within rounding:
    // reductions may sum in another order at another batch size).
    let width = f.features.len();
    for (i, row) in x.chunks_exact(width).take(64).enumerate() {
        let one = model.score_matrix(row).unwrap();
        assert!(
            (one[0] - got[i]).abs() <= 1e-6 * got[i].abs().max(1.0),
            "{name}: row {i} alone {} vs in batch {}",
            one[0],
            got[i]
        );
    }
    (f, model)
}

/// Rows given by feature name score like the matrix (rows with NaN are refused by name, so
/// only complete rows are compared).
fn check_named_rows(f: &Fixture, model: &Model) {
    let width = f.features.len();
    let x = f.inputs();
    let want = f.expected();
    let rows: Vec<(usize, HashMap<String, f64>)> = x
        .chunks_exact(width)
        .enumerate()
        .filter(|(_, r)| r.iter().all(|v| v.is_finite()))
        .map(|(i, r)| {
            (
                i,
                f.features
                    .iter()
                    .cloned()
                    .zip(r.iter().map(|&v| v as f64))
                    .collect(),
            )
        })
        .collect();
    assert!(rows.len() >= 100, "{}: enough complete rows", f.name);
    let named: Vec<&HashMap<String, f64>> = rows.iter().map(|(_, r)| r).collect();
    let got = model.score_rows(&named).unwrap();
    for ((i, _), g) in rows.iter().zip(got) {
        assert!((g - want[*i]).abs() <= TOLERANCE, "{}: row {i}", f.name);
    }
}

/// Every fixture, scored in calls of different sizes one after another: each call's answers
/// are onnxruntime's for its own rows, whatever the model kept from the calls before.
#[test]
fn every_call_answers_for_its_own_rows() {
    let manifest = std::fs::read_to_string(common::dir().join("manifest.json")).unwrap();
    let all: Vec<Fixture> = serde_json::from_str(&manifest).unwrap();
    assert!(all.iter().any(|f| f.name == "knn"));
    for f in all.iter().filter(|f| f.targets == 1) {
        let model = Model::load(&f.model_bytes(), "fixture").unwrap();
        let (x, want) = (f.inputs(), f.expected());
        let width = f.features.len();
        let mut start = 0;
        for size in [1, 30, 7, 100, 1, 250, 2, 64].into_iter().cycle() {
            let end = (start + size).min(f.rows);
            let got = model.score_matrix(&x[start * width..end * width]).unwrap();
            let diff = max_abs_diff(&got, &want[start..end]);
            assert!(
                diff <= TOLERANCE,
                "{}: rows {start}..{end} scored after other calls: max diff {diff}",
                f.name
            );
            start = end;
            if start == f.rows {
                break;
            }
        }
    }
}

#[test]
fn k_nearest_neighbours_with_standard_operators() {
    let (f, m) = check_model("knn", &["TopK"]);
    check_named_rows(&f, &m);
}

#[test]
fn ridge_pipeline_with_scaler() {
    let (f, m) = check_model("ridge", &["Scaler", "LinearRegressor"]);
    check_named_rows(&f, &m);
}

#[test]
fn random_forest_average_of_100_trees() {
    let (f, m) = check_model("random_forest", &["TreeEnsembleRegressor"]);
    check_named_rows(&f, &m);
}

#[test]
fn gradient_boosting_sum_with_base_values() {
    let (f, m) = check_model("gradient_boosting", &["TreeEnsembleRegressor"]);
    check_named_rows(&f, &m);
}

#[test]
fn hist_gradient_boosting_routes_nan_by_missing_value_tracks_true() {
    let (f, _) = check_model("hist_gradient_boosting", &["TreeEnsembleRegressor"]);
    assert!(
        f.inputs().iter().any(|v| v.is_nan()),
        "the fixture must contain NaN inputs"
    );
}

#[test]
fn mlp_pipeline_with_scaler() {
    let (f, m) = check_model("mlp", &["Scaler"]);
    check_named_rows(&f, &m);
}

#[test]
fn per_feature_inputs_named_by_feature() {
    let (f, m) = check_model("per_feature", &[]);
    assert!(f.features.len() > 1);
    check_named_rows(&f, &m);
}

#[test]
fn every_branch_mode_opset1_with_nan() {
    check_model("trees_modes_opset1", &["TreeEnsembleRegressor"]);
}

#[test]
fn average_opset3_as_tensor_attributes() {
    check_model("trees_avg_opset3", &["TreeEnsembleRegressor"]);
}

#[test]
fn min_aggregate() {
    check_model("trees_min", &["TreeEnsembleRegressor"]);
}

#[test]
fn max_aggregate() {
    check_model("trees_max", &["TreeEnsembleRegressor"]);
}

/// Two targets per row is not a score per row, so `Model` refuses it; the operator itself
/// still has to compute both, checked through the bare tract front end.
#[test]
fn multi_target_operator() {
    let f = fixture("trees_multi_target");
    assert_eq!(f.targets, 2);
    let err = Model::load(&f.model_bytes(), "v").unwrap_err();
    assert!(
        matches!(err, scoring::LoadError::UnsupportedOutput(_)),
        "{err}"
    );

    let width = f.features.len();
    let mut model = scoring::ops::onnx()
        .model_for_read(&mut f.model_bytes().as_slice())
        .unwrap();
    model
        .set_input_fact(0, f32::fact([f.rows, width]).into())
        .unwrap();
    let plan = model.into_optimized().unwrap().into_runnable().unwrap();
    let x = Tensor::from_shape(&[f.rows, width], &f.inputs()).unwrap();
    let out = plan.run(tvec![x.into_tvalue()]).unwrap();
    assert_eq!(out[0].shape(), &[f.rows, 2]);
    let got = out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    let diff = max_abs_diff(&got, &f.expected());
    assert!(diff <= TOLERANCE, "max diff {diff}");
}

/// The demo model the project ships: loads, and its schema is the wine attributes.
#[test]
fn demo_model_loads_with_its_feature_names() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../model/wine_quality.onnx");
    let model = Model::load(&std::fs::read(path).unwrap(), "demo").unwrap();
    assert_eq!(model.features().len(), 11);
    assert_eq!(model.features()[0], "fixed_acidity");
    assert_eq!(model.features()[10], "alcohol");
    let row: HashMap<String, f64> = [
        ("fixed_acidity", 7.4),
        ("volatile_acidity", 0.7),
        ("citric_acid", 0.0),
        ("residual_sugar", 1.9),
        ("chlorides", 0.076),
        ("free_sulfur_dioxide", 11.0),
        ("total_sulfur_dioxide", 34.0),
        ("density", 0.9978),
        ("ph", 3.51),
        ("sulphates", 0.56),
        ("alcohol", 9.4),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let score = model.score_row(&row).unwrap();
    // The first wine of the data set is rated 5; a sane model lands near it.
    assert!((4.0..6.5).contains(&score), "score {score}");
}

/// onnxruntime refuses double `*_as_tensor` attributes on a float input, so the fixture
/// holds float tensors; the same ensemble with double tensors must score identically
/// (its thresholds are exact f32 values).
#[test]
fn opset3_double_tensors_score_like_float_tensors() {
    use prost::Message;
    use tract_onnx::pb::{tensor_proto::DataType, ModelProto};

    let f = fixture("trees_avg_opset3");
    let mut proto = ModelProto::decode(f.model_bytes().as_slice()).unwrap();
    let node = proto
        .graph
        .as_mut()
        .unwrap()
        .node
        .iter_mut()
        .find(|n| n.op_type == "TreeEnsembleRegressor")
        .unwrap();
    let mut converted = 0;
    for attr in node
        .attribute
        .iter_mut()
        .filter(|a| a.name.ends_with("_as_tensor"))
    {
        let t = attr.t.as_mut().unwrap();
        assert_eq!(t.data_type, DataType::Float as i32);
        let floats: Vec<f32> = if t.float_data.is_empty() {
            t.raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        } else {
            std::mem::take(&mut t.float_data)
        };
        t.raw_data.clear();
        t.double_data = floats.iter().map(|&v| v as f64).collect();
        t.data_type = DataType::Double as i32;
        converted += 1;
    }
    assert!(
        converted >= 2,
        "the fixture should use *_as_tensor attributes"
    );

    let float_model = Model::load(&f.model_bytes(), "float").unwrap();
    let double_model = Model::load(&proto.encode_to_vec(), "double").unwrap();
    let x = f.inputs();
    let (a, b) = (
        float_model.score_matrix(&x).unwrap(),
        double_model.score_matrix(&x).unwrap(),
    );
    assert!(max_abs_diff(&a, &b) <= 1e-6);
}
