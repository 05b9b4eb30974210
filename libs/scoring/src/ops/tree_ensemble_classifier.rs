//! `ai.onnx.ml.TreeEnsembleClassifier` (opsets 1 and 3), walked by [`crate::forest`] and
//! finished as onnxruntime does ([`super::tree_classes`]).
//!
//! tract has its own translation, but it searches each tree's leaf table per row and
//! knows neither the binary-case columns nor the label rules; this one replaces it.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;
use super::preread::tree_spec;
use super::row_op::{matrix, MatrixExpansion, MatrixOp};
use super::tree_ensemble_regressor::forest_rows;
use super::tree_spec::{ClassFinish, ClassLabels, Presence, TreeKind, TreeSpec};
use crate::forest::{Aggregate, Forest, LeafWeight};

const OP: &str = "TreeEnsembleClassifier";

pub fn parse(ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let spec = tree_spec(ctx, node)?;
    let op = build(spec).with_context(|| format!("{OP} {}", node.name))?;
    Ok((expand(MatrixExpansion(ClassifierOp(Arc::new(op)))), vec![]))
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

fn build(spec: TreeSpec) -> TractResult<Inner> {
    let scores = spec.forest()?;
    let TreeKind::Classifier(class) = spec.kind else {
        bail!("not a classifier");
    };
    let presence = if class.presence.contains(&Presence::Depends) {
        let ones: Vec<LeafWeight> = spec
            .leaves
            .iter()
            .map(|l| LeafWeight {
                weight: 1.0,
                ..l.clone()
            })
            .collect();
        Some(Forest::new(
            &spec.nodes,
            &ones,
            spec.n_targets,
            Aggregate::Max,
            &[],
        )?)
    } else {
        None
    };
    Ok(Inner {
        scores,
        presence,
        classes: class.presence,
        finish: class.finish,
        labels: class.labels,
    })
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
