//! `ai.onnx.ml.TreeEnsemble` (opset 5), which supersedes the regressor and classifier of
//! opsets 1-3: read by [`super::tree_spec`] (BRANCH_MEMBER sets included), walked by
//! [`crate::forest`], `[N, F]` in, `[N, n_targets]` out (a classifier's converter adds
//! the link and the label after it with standard ops).
//!
//! Float inputs only: the forest compares in float32, which is exact for a float input
//! and not for a double one (a value just above a double threshold can round onto it).
//! onnxruntime (1.31) refuses float16 tensors for this op, so there is nothing to check
//! a float16 answer against.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;
use super::preread::tree_spec;
use super::tree_ensemble_regressor::{ForestInner, ForestOp};

const OP: &str = "TreeEnsemble";

pub fn parse(ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let spec = tree_spec(ctx, node)?;
    let forest = spec
        .forest()
        .with_context(|| format!("{OP} {}", node.name))?;
    let op = ForestOp(Arc::new(ForestInner {
        forest,
        transform: spec.post_transform,
        name: OP,
    }));
    Ok((expand(V5Expansion(op, node.name.clone())), vec![]))
}

/// The inference-time op: the output has the input's type (the ONNX type constraint),
/// and only float is evaluated.
#[derive(Debug, Clone)]
struct V5Expansion(ForestOp, String);

impl Expansion for V5Expansion {
    fn name(&self) -> StaticName {
        OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 2)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(&outputs[0].shape[1], self.0 .0.forest.n_targets().to_dim())?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        ensure!(
            dt == f32::datum_type(),
            "{OP} {}: a {dt:?} input is not supported, only float: this evaluator compares \
             in float32, exact for float inputs only; export the trees with a float input",
            self.1
        );
        model.wire_node(prefix, self.0.clone(), inputs)
    }
}
