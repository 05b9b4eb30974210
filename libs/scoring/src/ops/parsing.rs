//! What every op's `parse` (an entry of tract's ONNX op registry) shares: its return
//! type, the refusal of attributes it does not read, the `ai.onnx.ml` opset.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

/// What an op's `parse` returns.
pub type Parsed = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// Refuses any attribute outside `known`: an attribute this code ignores would silently
/// change the results.
pub fn known_attributes(node: &NodeProto, known: &[&str]) -> TractResult<()> {
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
pub fn ml_opset(ctx: &ParsingContext) -> i64 {
    ctx.model
        .opset_import
        .iter()
        .find(|o| o.domain == "ai.onnx.ml")
        .map(|o| o.version)
        .unwrap_or(1)
}
