//! The ONNX-ML operators that scikit-learn exports (through skl2onnx) for regression
//! pipelines and that tract does not translate, registered into tract's ONNX op registry.

mod array_feature_extractor;
mod feature_vectorizer;
mod labels;
mod linear_classifier;
mod row_op;
mod scaler;
mod svm;
mod svm_classifier;
mod svm_regressor;
mod transform;
mod tree_classes;
mod tree_ensemble_classifier;
mod tree_ensemble_regressor;

use tract_onnx::tract_hir::internal::*;
use tract_onnx::Onnx;

/// tract's ONNX front end with this crate's operators added.
pub fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    register(&mut onnx);
    onnx
}

/// Adds `FeatureVectorizer`, `Scaler`, `TreeEnsembleRegressor`, `TreeEnsembleClassifier`
/// (replacing tract's), `SVMRegressor`, `SVMClassifier`, and `ArrayFeatureExtractor` and
/// `LinearClassifier` (both replacing tract's, which disagree with onnxruntime).
pub fn register(onnx: &mut Onnx) {
    onnx.op_register
        .insert("FeatureVectorizer", feature_vectorizer::parse);
    onnx.op_register.insert("Scaler", scaler::parse);
    onnx.op_register
        .insert("TreeEnsembleRegressor", tree_ensemble_regressor::parse);
    onnx.op_register
        .insert("TreeEnsembleClassifier", tree_ensemble_classifier::parse);
    onnx.op_register
        .insert("SVMRegressor", svm_regressor::parse);
    onnx.op_register
        .insert("SVMClassifier", svm_classifier::parse);
    onnx.op_register
        .insert("ArrayFeatureExtractor", array_feature_extractor::parse);
    onnx.op_register
        .insert("LinearClassifier", linear_classifier::parse);
}

/// `x` as f32: the ops compute in f32, whatever numeric type feeds them.
fn as_f32(model: &mut TypedModel, prefix: &str, x: OutletId) -> TractResult<OutletId> {
    if model.outlet_fact(x)?.datum_type == f32::datum_type() {
        return Ok(x);
    }
    let cast = tract_core::ops::cast::cast(f32::datum_type());
    Ok(model.wire_node(format!("{prefix}.to_f32"), cast, &[x])?[0])
}
