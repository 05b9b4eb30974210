//! The ONNX-ML operators that scikit-learn exports (through skl2onnx) for regression
//! pipelines and that tract does not translate (or, for `Normalizer`, translates
//! differently from onnxruntime), registered into tract's ONNX op registry.
//!
//! This module only declares and registers the ops: what they share lives in leaf
//! modules beside them (`parsing`, `wiring`, `row_op`, ...), never here, so that no op
//! imports its parent.

#[macro_use]
mod op_macros;

mod array_feature_extractor;
mod binarizer;
mod feature_vectorizer;
mod imputer;
mod keys;
mod label_encoder;
mod labels;
pub(crate) mod lean;
mod linear_classifier;
mod normalizer;
mod one_hot_encoder;
mod parsing;
mod positions;
pub(crate) mod preread;
mod row_op;
mod scaler;
mod svm;
mod svm_classifier;
mod svm_regressor;
mod transform;
mod tree_attrs;
mod tree_classes;
mod tree_ensemble;
mod tree_ensemble_classifier;
mod tree_ensemble_regressor;
pub(crate) mod tree_spec;
mod wire;
mod wiring;

use tract_onnx::Onnx;

/// tract's ONNX front end with this crate's operators added.
pub fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    register(&mut onnx);
    onnx
}

/// Adds this crate's operators to an ONNX front end: `FeatureVectorizer`, `Scaler`,
/// `TreeEnsembleRegressor`, `TreeEnsembleClassifier`, `TreeEnsemble` (ai.onnx.ml opset
/// 5), `SVMRegressor`, `SVMClassifier`, the encoders (`OneHotEncoder`, `LabelEncoder`,
/// `Imputer`, `Binarizer`), and `Normalizer`,
/// `ArrayFeatureExtractor` and `LinearClassifier`, which replace tract's where they
/// disagree with onnxruntime.
pub fn register(onnx: &mut Onnx) {
    onnx.op_register.insert("Binarizer", binarizer::parse);
    onnx.op_register.insert("Imputer", imputer::parse);
    onnx.op_register
        .insert("LabelEncoder", label_encoder::parse);
    // Replaces tract's: see normalizer.rs for where the two disagree.
    onnx.op_register.insert("Normalizer", normalizer::parse);
    onnx.op_register
        .insert("OneHotEncoder", one_hot_encoder::parse);
    onnx.op_register
        .insert("FeatureVectorizer", feature_vectorizer::parse);
    onnx.op_register.insert("Scaler", scaler::parse);
    onnx.op_register
        .insert("TreeEnsembleRegressor", tree_ensemble_regressor::parse);
    onnx.op_register
        .insert("TreeEnsembleClassifier", tree_ensemble_classifier::parse);
    onnx.op_register
        .insert("TreeEnsemble", tree_ensemble::parse);
    onnx.op_register
        .insert("SVMRegressor", svm_regressor::parse);
    onnx.op_register
        .insert("SVMClassifier", svm_classifier::parse);
    onnx.op_register
        .insert("ArrayFeatureExtractor", array_feature_extractor::parse);
    onnx.op_register
        .insert("LinearClassifier", linear_classifier::parse);
}
