//! `ai.onnx.ml.TreeEnsembleRegressor` (opsets 1 and 3), evaluated by [`crate::forest`].
//!
//! skl2onnx emits it for RandomForest, ExtraTrees, GradientBoosting and
//! HistGradientBoosting regressors. tract has no translation for it, and its own tree code
//! (used for the classifier) searches each tree's leaf table per row; this op flattens the
//! ensemble once at load and walks it branch-free.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;
use super::row_op::{matrix, matrix_fact, MatrixExpansion, MatrixOp};
use crate::forest::{Aggregate, Forest, LeafWeight, Mode, NodeSpec};

const OP: &str = "TreeEnsembleRegressor";

pub fn parse(ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let forest = read_forest(ctx, node).with_context(|| format!("{OP} {}", node.name))?;
    Ok((expand(MatrixExpansion(ForestOp(Arc::new(forest)))), vec![]))
}

fn read_forest(ctx: &ParsingContext, node: &NodeProto) -> TractResult<Forest> {
    let n_targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(1);
    ensure!(
        n_targets >= 1,
        "n_targets must be at least 1, got {n_targets}"
    );
    let aggregate_name: &str = node.get_attr_opt("aggregate_function")?.unwrap_or("SUM");
    let aggregate = Aggregate::parse(aggregate_name)
        .with_context(|| format!("unknown aggregate_function {aggregate_name:?}"))?;
    let post_transform: &str = node.get_attr_opt("post_transform")?.unwrap_or("NONE");
    ensure!(
        post_transform == "NONE",
        "post_transform {post_transform:?} is not supported for a regression score (only NONE)"
    );

    let nodes = read_nodes(ctx, node)?;

    let leaf_trees: Vec<i64> = node.get_attr_opt_vec("target_treeids")?.unwrap_or_default();
    let m = leaf_trees.len();
    let leaf_nodes = ints(node, "target_nodeids", m)?;
    let targets = ints(node, "target_ids", m)?;
    let weights = doubles(ctx, node, "target_weights", m)?.unwrap_or_else(|| vec![0.0; m]);
    let mut leaves = Vec::with_capacity(m);
    for i in 0..m {
        ensure!(targets[i] >= 0, "negative target id {}", targets[i]);
        leaves.push(LeafWeight {
            tree_id: leaf_trees[i],
            node_id: leaf_nodes[i],
            target: targets[i] as usize,
            weight: weights[i],
        });
    }

    let base_values = doubles(ctx, node, "base_values", n_targets as usize)
        .or_else(|_| doubles(ctx, node, "base_values", 1).map(|v| v.map(|b| vec![b[0]; 1])))?
        .unwrap_or_default();
    Ok(Forest::new(
        &nodes,
        &leaves,
        n_targets as usize,
        aggregate,
        &base_values,
    )?)
}

/// The `nodes_*` attributes, shared by the regressor and the classifier.
pub(super) fn read_nodes(ctx: &ParsingContext, node: &NodeProto) -> TractResult<Vec<NodeSpec>> {
    let tree_ids: Vec<i64> = node.get_attr_vec("nodes_treeids")?;
    let n = tree_ids.len();
    let node_ids = ints(node, "nodes_nodeids", n)?;
    let features = ints(node, "nodes_featureids", n)?;
    let true_ids = ints(node, "nodes_truenodeids", n)?;
    let false_ids = ints(node, "nodes_falsenodeids", n)?;
    let modes: Vec<String> = node.get_attr_vec("nodes_modes")?;
    ensure!(
        modes.len() == n,
        "nodes_modes has {} values for {n} nodes",
        modes.len()
    );
    let thresholds = doubles(ctx, node, "nodes_values", n)?.unwrap_or_else(|| vec![0.0; n]);
    let missing_true = match node.get_attr_opt_vec::<i64>("nodes_missing_value_tracks_true")? {
        Some(v) => {
            ensure!(
                v.len() == n,
                "nodes_missing_value_tracks_true has {} values for {n} nodes",
                v.len()
            );
            v.into_iter().map(|b| b != 0).collect()
        }
        None => vec![false; n],
    };
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let mode =
            Mode::parse(&modes[i]).with_context(|| format!("unknown node mode {:?}", modes[i]))?;
        ensure!(features[i] >= 0, "negative feature id {}", features[i]);
        nodes.push(NodeSpec {
            tree_id: tree_ids[i],
            node_id: node_ids[i],
            mode,
            feature: features[i] as usize,
            threshold: thresholds[i],
            true_id: true_ids[i],
            false_id: false_ids[i],
            missing_tracks_true: missing_true[i],
        });
    }
    Ok(nodes)
}

pub(super) fn ints(node: &NodeProto, name: &str, n: usize) -> TractResult<Vec<i64>> {
    let v: Vec<i64> = node.get_attr_opt_vec(name)?.unwrap_or_default();
    ensure!(v.len() == n, "{name} has {} values, expected {n}", v.len());
    Ok(v)
}

/// A float list attribute `name`, or its opset-3 twin `name_as_tensor` (often double),
/// with `n` values.
pub(super) fn doubles(
    ctx: &ParsingContext,
    node: &NodeProto,
    name: &str,
    n: usize,
) -> TractResult<Option<Vec<f64>>> {
    let values = doubles_any(ctx, node, name)?;
    if let Some(v) = &values {
        ensure!(v.len() == n, "{name} has {} values, expected {n}", v.len());
    }
    Ok(values)
}

/// As [`doubles`], of any length.
pub(super) fn doubles_any(
    ctx: &ParsingContext,
    node: &NodeProto,
    name: &str,
) -> TractResult<Option<Vec<f64>>> {
    let floats: Option<Vec<f32>> = node.get_attr_opt_vec(name)?;
    let tensor: Option<&TensorProto> = node.get_attr_opt(&format!("{name}_as_tensor"))?;
    let values: Vec<f64> = match (floats, tensor) {
        (Some(_), Some(_)) => bail!("both {name} and {name}_as_tensor are set"),
        (Some(f), None) => f.into_iter().map(f64::from).collect(),
        (None, Some(t)) => {
            let t = ctx.load_tensor(t)?;
            let t = t.cast_to::<f64>()?;
            t.try_as_plain_ram()?.as_slice::<f64>()?.to_vec()
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(values))
}

/// The typed, runnable op: `[N, F]` f32 in, `[N, n_targets]` f32 out.
#[derive(Debug, Clone)]
struct ForestOp(Arc<Forest>);

identity_eq!(ForestOp);

impl MatrixOp for ForestOp {
    fn label_type(&self) -> Option<DatumType> {
        None
    }

    fn n_scores(&self) -> usize {
        self.0.n_targets()
    }
}

impl Op for ForestOp {
    fn name(&self) -> StaticName {
        OP.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} trees, {} targets",
            self.0.n_trees(),
            self.0.n_targets()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for ForestOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (rows, width, x) = matrix(OP, &input)?;
        let mut out = vec![0f32; rows * self.0.n_targets()];
        self.0.eval(x, width, &mut out)?;
        Ok(tvec!(Tensor::from_shape(
            &[rows, self.0.n_targets()],
            &out
        )?
        .into_tvalue()))
    }
}

impl TypedOp for ForestOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = forest_rows(OP, inputs[0], &self.0)?;
        Ok(tvec!(f32::fact([rows, self.0.n_targets().to_dim()])))
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
