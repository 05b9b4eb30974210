//! The encoder ops (OneHotEncoder, LabelEncoder, Imputer, Binarizer, Normalizer) and the
//! string plumbing around them, each checked against onnxruntime's outputs
//! (fixtures from `model/fixtures_encoders.py`).

use crate::common;

use std::collections::BTreeMap;

use common::tensors::{assert_tensor, check, load, plan, run_plan};
use tract_onnx::prelude::*;

macro_rules! fixture_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

fixture_tests!(
    ohe_strings_unknown_zeros,
    ohe_strings_known_zeros0,
    ohe_int64,
    ohe_float32,
    ohe_duplicate_cats,
    ohe_float64,
    le1_string_int64,
    le1_int64_string,
    le2_string_string,
    le2_string_int64,
    le2_string_float32,
    le2_int64_string,
    le2_int64_int64,
    le2_int64_float32,
    le2_float32_string,
    le2_float32_int64,
    le2_float32_float32,
    le2_string_string_no_default,
    le2_string_int64_no_default,
    le2_string_float32_no_default,
    le2_is_empty,
    le2_duplicate_keys,
    le4_floats_attr_nan,
    le4_int64_float32_default_float,
    le4_int64_float64_default_float,
    le4_float64_int64,
    le4_int64_float64,
    le4_string_string,
    le4_int64_string_default_attr,
    imputer_nan_per_column,
    imputer_zero_one_value,
    imputer_default_replaced,
    imputer_int64,
    imputer_int64_one_value,
    imputer_float64,
    imputer_rank1,
    binarizer_float32,
    binarizer_float64,
    binarizer_int64,
    binarizer_default_threshold,
    normalizer_max_float32,
    normalizer_l1_float32,
    normalizer_l2_float32,
    normalizer_max_float64,
    normalizer_l1_float64,
    normalizer_l2_float64,
    normalizer_max_int64,
    normalizer_l1_int64,
    normalizer_l2_int64,
    normalizer_max_rank1,
    normalizer_l1_rank1,
    normalizer_l2_rank1,
    strings_where,
    strings_concat,
    strings_concat_single,
    strings_gather_scalar_index,
    strings_gather_rows,
    strings_array_feature_extractor,
    strings_reshape,
    strings_identity_flatten,
    strings_unsqueeze_squeeze,
    pipeline_ridge_strings,
    pipeline_logreg_strings,
);

/// The rows `start..end` of every tensor.
fn rows(tensors: &BTreeMap<String, Tensor>, start: usize, end: usize) -> BTreeMap<String, Tensor> {
    tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.slice(0, start, end).unwrap()))
        .collect()
}

/// One optimized plan (symbolic N) serves one row, then all of them, for the exported
/// ColumnTransformer pipelines with a string column.
#[test]
fn pipelines_one_plan_serves_every_batch_size() {
    for name in ["pipeline_ridge_strings", "pipeline_logreg_strings"] {
        let f = load(name);
        let plan = plan(&f).unwrap();
        let n = f.inputs.values().next().unwrap().shape()[0];
        for (start, end) in [(0, 1), (1, 2), (0, n), (2, n)] {
            let got = run_plan(&plan, &f, rows(&f.inputs, start, end)).unwrap();
            for (k, want) in rows(&f.outputs, start, end) {
                assert_tensor(&format!("{name}[{start}..{end}].{k}"), &got[&k], &want);
            }
        }
    }
}

#[test]
fn one_hot_unknown_category_with_zeros_0_is_an_error_at_run_time() {
    let f = load("ohe_strings_known_zeros0");
    let plan = plan(&f).unwrap();
    let mut inputs = f.inputs.clone();
    inputs.insert(
        "X".into(),
        tensor2(&[["a".to_string(), "nope".to_string()]]),
    );
    let err = run_plan(&plan, &f, inputs).unwrap_err();
    assert!(format!("{err:?}").contains("zeros = 0"), "{err:?}");
}

#[test]
fn binarizer_nan_is_an_error_at_run_time_as_in_onnxruntime() {
    let f = load("binarizer_float32");
    let plan = plan(&f).unwrap();
    let mut inputs = f.inputs.clone();
    inputs.insert("X".into(), tensor2(&[[1f32, f32::NAN]]));
    let err = run_plan(&plan, &f, inputs).unwrap_err();
    assert!(format!("{err:?}").contains("NaN"), "{err:?}");
}

/// A float-keyed LabelEncoder fed int64: refused when the plan is built, and a plan built
/// for floats given int64 at run time answers with an error, not a panic.
#[test]
fn label_encoder_key_type_mismatch_is_an_error() {
    let mut f = load("le2_float32_int64");
    let good = plan(&f).unwrap();
    let ints = tensor2(&[[1i64], [2]]);
    let err = run_plan(&good, &f, [("X".to_string(), ints.clone())].into()).unwrap_err();
    assert!(!format!("{err:?}").is_empty());
    f.inputs.insert("X".into(), ints);
    let err = plan(&f).unwrap_err();
    let msg = format!("{err:?}");
    assert!(
        msg.contains("LabelEncoder") && msg.contains("keys_floats"),
        "{msg}"
    );
}
