//! The encoder ops (OneHotEncoder, LabelEncoder, Imputer, Binarizer, Normalizer) and the
//! string plumbing around them, each checked against onnxruntime's outputs
//! (fixtures from `model/fixtures_encoders.py`).

mod common {
    pub mod tensors;
}

use common::tensors::check;

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
    le4_float64_int64,
    le4_int64_float64,
    le4_string_string,
    le4_int64_string_default_attr,
    imputer_nan_per_column,
    imputer_zero_one_value,
    imputer_default_replaced,
    imputer_int64,
    imputer_int64_one_value,
    binarizer_float32,
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
    pipeline_ridge_strings,
    pipeline_logreg_strings,
);
