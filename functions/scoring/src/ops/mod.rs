//! The ONNX-ML operators that scikit-learn exports (through skl2onnx) for regression
//! pipelines and that tract does not translate, registered into tract's ONNX op registry.

mod feature_vectorizer;
mod scaler;
mod tree_ensemble_regressor;

use tract_onnx::Onnx;

/// tract's ONNX front end with this crate's operators added.
pub fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    register(&mut onnx);
    onnx
}

/// Adds `FeatureVectorizer`, `Scaler` and `TreeEnsembleRegressor` to an ONNX front end.
pub fn register(onnx: &mut Onnx) {
    onnx.op_register
        .insert("FeatureVectorizer", feature_vectorizer::parse);
    onnx.op_register.insert("Scaler", scaler::parse);
    onnx.op_register
        .insert("TreeEnsembleRegressor", tree_ensemble_regressor::parse);
}
