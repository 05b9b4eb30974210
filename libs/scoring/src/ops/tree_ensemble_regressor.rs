//! `ai.onnx.ml.TreeEnsembleRegressor` (opsets 1 and 3), evaluated by [`crate::forest`].
//!
//! skl2onnx emits it for RandomForest, ExtraTrees, GradientBoosting and
//! HistGradientBoosting regressors. tract has no translation for it, and its own tree code
//! (used for the classifier) searches each tree's leaf table per row; this op flattens the
//! ensemble once at load and walks it branch-free. The forest op here also serves opset
//! 5's `TreeEnsemble` ([`super::tree_ensemble`]).

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;
use super::preread::tree_spec;
use super::row_op::{matrix, matrix_fact, MatrixExpansion, MatrixOp};
use super::transform::PostTransform;
use crate::forest::Forest;

const OP: &str = "TreeEnsembleRegressor";

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
    Ok((expand(MatrixExpansion(op)), vec![]))
}

#[derive(Debug)]
pub(super) struct ForestInner {
    pub(super) forest: Forest,
    /// Applied to each row's `n_targets` scores (opset 5; NONE for opsets 1 and 3).
    pub(super) transform: PostTransform,
    pub(super) name: &'static str,
}

/// The typed, runnable op: `[N, F]` f32 in, `[N, n_targets]` f32 out.
#[derive(Debug, Clone)]
pub(super) struct ForestOp(pub(super) Arc<ForestInner>);

identity_eq!(ForestOp);

impl MatrixOp for ForestOp {
    fn label_type(&self) -> Option<DatumType> {
        None
    }

    fn n_scores(&self) -> usize {
        self.0.forest.n_targets()
    }
}

impl Op for ForestOp {
    fn name(&self) -> StaticName {
        self.0.name.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} trees, {} targets",
            self.0.forest.n_trees(),
            self.0.forest.n_targets()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for ForestOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (rows, width, x) = matrix(self.0.name, &input)?;
        let nt = self.0.forest.n_targets();
        let mut out = vec![0f32; rows * nt];
        self.0.forest.eval(x, width, &mut out)?;
        if self.0.transform != PostTransform::None {
            out.chunks_exact_mut(nt)
                .for_each(|row| self.0.transform.apply(row));
        }
        Ok(tvec!(Tensor::from_shape(&[rows, nt], &out)?.into_tvalue()))
    }
}

impl TypedOp for ForestOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = forest_rows(self.0.name, inputs[0], &self.0.forest)?;
        Ok(tvec!(f32::fact([rows, self.0.forest.n_targets().to_dim()])))
    }

    as_op!();
}

/// The rows `N` of a forest's `[N, F]` input fact, checked to hold every feature the
/// forest reads (when `F` is known).
pub(super) fn forest_rows(op: &str, input: &TypedFact, forest: &Forest) -> TractResult<TDim> {
    let (rows, width) = matrix_fact(op, input)?;
    if let Some(width) = width {
        ensure!(
            width >= forest.n_features(),
            "{op} reads feature {} but its input has {width} columns",
            forest.n_features() - 1
        );
    }
    Ok(rows)
}
