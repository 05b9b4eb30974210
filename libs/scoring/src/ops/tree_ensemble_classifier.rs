//! `ai.onnx.ml.TreeEnsembleClassifier` (opsets 1 and 3), walked by [`crate::forest`] and
//! finished as onnxruntime does ([`super::tree_classes`]).
//!
//! tract has its own translation, but it searches each tree's leaf table per row and
//! knows neither the binary-case columns nor the label rules; this one replaces it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::labels::ClassLabels;
use super::parsing::Parsed;
use super::row_op::{matrix, MatrixExpansion, MatrixOp};
use super::transform::PostTransform;
use super::tree_classes::ClassFinish;
use super::tree_ensemble_regressor::{doubles, doubles_any, forest_rows, ints, read_nodes};
use crate::forest::{Aggregate, Forest, LeafWeight, NodeSpec};

const OP: &str = "TreeEnsembleClassifier";

pub fn parse(ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let op = read(ctx, node).with_context(|| format!("{OP} {}", node.name))?;
    Ok((expand(MatrixExpansion(ClassifierOp(Arc::new(op)))), vec![]))
}

/// Whether rows get a score for a class: the same for every row, or row-dependent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    Always,
    Never,
    Depends,
}

#[derive(Debug)]
struct Inner {
    scores: Forest,
    /// Walked only when some class is `Depends`: 1 where a reached leaf has a weight for
    /// the class, 0 elsewhere.
    presence: Option<Forest>,
    classes: Vec<Presence>,
    finish: ClassFinish,
    labels: ClassLabels,
}

fn read(ctx: &ParsingContext, node: &NodeProto) -> TractResult<Inner> {
    let labels = ClassLabels::read(node, OP, "classlabels_int64s")?;
    let n = labels.len();
    ensure!(n >= 2, "{OP}: needs at least two class labels, got {n}");
    let transform = PostTransform::read(node, OP)?;
    ensure!(
        !(n == 2 && transform == PostTransform::Probit),
        "{OP}: post_transform PROBIT with two classes is not supported \
         (onnxruntime writes only one of the two score columns)"
    );

    let nodes = read_nodes(ctx, node)?;
    let is_leaf: HashMap<(i64, i64), bool> = nodes
        .iter()
        .map(|s| ((s.tree_id, s.node_id), s.mode.is_none()))
        .collect();

    let trees: Vec<i64> = node.get_attr_opt_vec("class_treeids")?.unwrap_or_default();
    let m = trees.len();
    let node_ids = ints(node, "class_nodeids", m)?;
    let class_ids = ints(node, "class_ids", m)?;
    let weights = doubles(ctx, node, "class_weights", m)?.unwrap_or_else(|| vec![0.0; m]);
    let weights_all_positive = weights.iter().all(|&w| (w as f32) >= 0.0);
    let distinct: HashSet<i64> = class_ids.iter().copied().collect();
    let mut leaves = Vec::with_capacity(m);
    for i in 0..m {
        let id = class_ids[i];
        ensure!(
            (0..n as i64).contains(&id),
            "{OP}: class_ids names class {id}, but there are {n} class labels"
        );
        // onnxruntime ignores weights on branch nodes (old onnxmltools wrote some).
        if is_leaf.get(&(trees[i], node_ids[i])) == Some(&false) {
            continue;
        }
        leaves.push(LeafWeight {
            tree_id: trees[i],
            node_id: node_ids[i],
            target: id as usize,
            weight: weights[i],
        });
    }

    let base_values: Vec<f32> = doubles_any(ctx, node, "base_values")?
        .unwrap_or_default()
        .into_iter()
        .map(|v| v as f32)
        .collect();
    // onnxruntime's own limits: up to 2 values for two classes, else none or one each.
    let k = base_values.len();
    ensure!(
        (n == 2 && k <= 2) || k == 0 || k == n,
        "{OP}: base_values has {k} values for {n} classes"
    );
    let finish = ClassFinish {
        n_classes: n,
        base_values,
        binary_case: n == 2 && distinct.len() == 1,
        weights_all_positive,
        transform,
    };

    let classes = presence(&nodes, &leaves, n);
    ensure!(
        !(n == 2
            && !finish.binary_case
            && finish.base_values.len() == 1
            && classes[1] != Presence::Always),
        "{OP}: two classes, one base value and class-1 weights on only some leaves: \
         onnxruntime leaves the second score column unset for some rows"
    );
    let scores = Forest::new(&nodes, &leaves, n, Aggregate::Sum, &[])?;
    let presence = if classes.contains(&Presence::Depends) {
        let ones: Vec<LeafWeight> = leaves
            .iter()
            .map(|l| LeafWeight {
                weight: 1.0,
                ..l.clone()
            })
            .collect();
        Some(Forest::new(&nodes, &ones, n, Aggregate::Max, &[])?)
    } else {
        None
    };
    Ok(Inner {
        scores,
        presence,
        classes,
        finish,
        labels,
    })
}

/// A class always has a score if some tree carries a weight for it on every leaf.
fn presence(nodes: &[NodeSpec], leaves: &[LeafWeight], n: usize) -> Vec<Presence> {
    let mut tree_leaves: HashMap<i64, usize> = HashMap::new();
    for s in nodes.iter().filter(|s| s.mode.is_none()) {
        *tree_leaves.entry(s.tree_id).or_default() += 1;
    }
    let mut weighted: Vec<HashSet<(i64, i64)>> = vec![HashSet::new(); n];
    for l in leaves {
        weighted[l.target].insert((l.tree_id, l.node_id));
    }
    weighted
        .iter()
        .map(|set| {
            let mut per_tree: HashMap<i64, usize> = HashMap::new();
            for (tree, _) in set {
                *per_tree.entry(*tree).or_default() += 1;
            }
            if set.is_empty() {
                Presence::Never
            } else if per_tree
                .iter()
                .any(|(t, &k)| tree_leaves.get(t) == Some(&k))
            {
                Presence::Always
            } else {
                Presence::Depends
            }
        })
        .collect()
}

impl Inner {
    fn eval(&self, x: &[f32], width: usize, rows: usize) -> TractResult<(Tensor, Tensor)> {
        let n = self.finish.n_classes;
        let mut sums = vec![0f32; rows * n];
        self.scores.eval(x, width, &mut sums)?;
        let found = match &self.presence {
            Some(p) => {
                let mut v = vec![0f32; rows * n];
                p.eval(x, width, &mut v)?;
                Some(v)
            }
            None => None,
        };
        let mut z = vec![0f32; rows * n];
        let mut has = vec![false; n];
        let mut choices = Vec::with_capacity(rows);
        for r in 0..rows {
            for (k, h) in has.iter_mut().enumerate() {
                *h = match self.classes[k] {
                    Presence::Always => true,
                    Presence::Never => false,
                    Presence::Depends => found.as_ref().is_some_and(|f| f[r * n + k] > 0.5),
                };
            }
            let row = r * n..(r + 1) * n;
            choices.push(self.finish.row(&sums[row.clone()], &has, &mut z[row]));
        }
        Ok((
            self.labels.tensor(&choices)?,
            Tensor::from_shape(&[rows, n], &z)?,
        ))
    }
}

/// The typed, runnable op: `[N, F]` f32 in; `[N]` labels and `[N, C]` f32 scores out.
#[derive(Debug, Clone)]
struct ClassifierOp(Arc<Inner>);

identity_eq!(ClassifierOp);

impl MatrixOp for ClassifierOp {
    fn label_type(&self) -> Option<DatumType> {
        Some(self.0.labels.datum_type())
    }

    fn n_scores(&self) -> usize {
        self.0.finish.n_classes
    }
}

impl Op for ClassifierOp {
    fn name(&self) -> StaticName {
        OP.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "{} trees, {} classes",
            self.0.scores.n_trees(),
            self.0.finish.n_classes
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for ClassifierOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let (rows, width, x) = matrix(OP, &input)?;
        let (labels, scores) = self.0.eval(x, width, rows)?;
        Ok(tvec!(labels.into_tvalue(), scores.into_tvalue()))
    }
}

impl TypedOp for ClassifierOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rows = forest_rows(OP, inputs[0], &self.0.scores)?;
        Ok(tvec!(
            self.0.labels.datum_type().fact([rows.clone()]),
            f32::fact([rows, self.0.finish.n_classes.to_dim()])
        ))
    }

    as_op!();
}
