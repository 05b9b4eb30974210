//! The ONNX-ML operators that scikit-learn exports (through skl2onnx) for regression
//! pipelines and that tract does not translate (or, for `Normalizer`, translates
//! differently from onnxruntime), registered into tract's ONNX op registry.

#[macro_use]
mod op_macros;

mod array_feature_extractor;
mod binarizer;
mod feature_vectorizer;
mod imputer;
mod keys;
mod label_encoder;
mod labels;
mod linear_classifier;
mod normalizer;
mod one_hot_encoder;
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

/// What an op's `parse` (an entry of tract's ONNX op registry) returns.
type Parsed = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// tract's ONNX front end with this crate's operators added.
pub fn onnx() -> Onnx {
    let mut onnx = tract_onnx::onnx();
    register(&mut onnx);
    onnx
}

/// Adds this crate's operators to an ONNX front end: `FeatureVectorizer`, `Scaler`,
/// `TreeEnsembleRegressor`, `TreeEnsembleClassifier`, `SVMRegressor`, `SVMClassifier`, the
/// encoders (`OneHotEncoder`, `LabelEncoder`, `Imputer`, `Binarizer`), and `Normalizer`,
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

/// Refuses any attribute outside `known`: an attribute this code ignores would silently
/// change the results.
fn known_attributes(node: &tract_onnx::pb::NodeProto, known: &[&str]) -> TractResult<()> {
    for attr in &node.attribute {
        ensure!(
            known.contains(&attr.name.as_str()),
            "{} {}: attribute {} is not supported",
            node.op_type,
            node.name,
            attr.name
        );
    }
    Ok(())
}

/// The `ai.onnx.ml` opset the model imports (1 when it imports none).
fn ml_opset(ctx: &tract_onnx::model::ParsingContext) -> i64 {
    ctx.model
        .opset_import
        .iter()
        .find(|o| o.domain == "ai.onnx.ml")
        .map(|o| o.version)
        .unwrap_or(1)
}

/// The rules of a one-input, one-output op whose output has its input's shape and the
/// type `out` (`None`: the input's).
fn same_shape_rules<'r, 'p: 'r>(
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
    out: Option<DatumType>,
) -> InferenceResult {
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    match out {
        Some(dt) => s.equals(&outputs[0].datum_type, dt)?,
        None => s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?,
    }
    s.equals(&inputs[0].shape, &outputs[0].shape)
}

/// `x` cast to f32 (see [`as_f32`]), then `op` wired on it.
fn wire_on_f32(
    model: &mut TypedModel,
    prefix: &str,
    x: OutletId,
    op: impl Into<Box<dyn TypedOp>>,
) -> TractResult<TVec<OutletId>> {
    let x = as_f32(model, prefix, x)?;
    model.wire_node(prefix, op, &[x])
}
