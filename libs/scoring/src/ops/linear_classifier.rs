//! `ai.onnx.ml.LinearClassifier` as onnxruntime 1.31 computes it (skl2onnx: logistic
//! regression, linear SVC, SGD, ...). Replaces tract's, which cannot emit string labels
//! and completes a one-model binary score differently for NONE and SOFTMAX.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::labels::{Choice, ClassLabels};
use super::parsing::Parsed;
use super::row_op::{parse_scorer, Scorer};
use super::svm::{dot, floats};
use super::transform::{logistic, PostTransform};

const OP: &str = "LinearClassifier";

#[derive(Debug)]
struct LinearClassifier {
    labels: ClassLabels,
    /// `[models, width]`.
    coefficients: Vec<f32>,
    intercepts: Vec<f32>,
    transform: PostTransform,
    width: usize,
}

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    parse_scorer(node, OP, read)
}

fn read(node: &NodeProto) -> TractResult<LinearClassifier> {
    let labels = ClassLabels::read(node, OP, "classlabels_ints")?;
    let coefficients = floats(node, OP, "coefficients")?;
    // onnxruntime counts models by intercepts; without them it has none.
    let intercepts = floats(node, OP, "intercepts")?;
    let models = intercepts.len();
    ensure!(
        coefficients.len() % models == 0,
        "{OP}: {} coefficients for {models} intercepts",
        coefficients.len()
    );
    let transform = PostTransform::read(node, OP)?;
    if models == 1 {
        ensure!(
            labels.len() == 2,
            "{OP}: one model needs exactly two class labels, got {}",
            labels.len()
        );
        ensure!(
            transform != PostTransform::Probit,
            "{OP}: post_transform PROBIT with one binary model is not supported \
             (onnxruntime scrambles the two columns)"
        );
    } else {
        ensure!(
            labels.len() == models,
            "{OP}: {} class labels for {models} models",
            labels.len()
        );
    }
    let width = coefficients.len() / models;
    Ok(LinearClassifier {
        labels,
        coefficients,
        intercepts,
        transform,
        width,
    })
}

impl LinearClassifier {
    fn row(&self, x: &[f32], z: &mut [f32]) -> Choice {
        let models = self.intercepts.len();
        if models == 1 {
            let s = dot(x, &self.coefficients) + self.intercepts[0];
            // LOGISTIC is applied before completing; the other transforms are skipped.
            let p = if self.transform == PostTransform::Logistic {
                logistic(s)
            } else {
                s
            };
            z[0] = 1.0 - p;
            z[1] = p;
            return Choice::Class((s > 0.0) as usize);
        }
        for (k, out) in z.iter_mut().enumerate() {
            *out = dot(x, &self.coefficients[k * self.width..(k + 1) * self.width])
                + self.intercepts[k];
        }
        let best = first_max(z);
        self.transform.apply(z);
        Choice::Class(best)
    }
}

/// The first strict maximum, starting from class 0 (NaN never wins).
fn first_max(z: &[f32]) -> usize {
    let mut best = 0;
    for k in 1..z.len() {
        if z[k] > z[best] {
            best = k;
        }
    }
    best
}

impl Scorer for LinearClassifier {
    fn name(&self) -> &'static str {
        OP
    }

    fn label_type(&self) -> Option<DatumType> {
        Some(self.labels.datum_type())
    }

    fn n_scores(&self) -> usize {
        self.intercepts.len().max(2)
    }

    fn n_features(&self) -> usize {
        self.width
    }

    fn eval(&self, x: &[f32], rows: usize) -> TractResult<TVec<Tensor>> {
        let k = self.n_scores();
        let mut z = vec![0f32; rows * k];
        let choices: Vec<Choice> = x
            .chunks_exact(self.width)
            .zip(z.chunks_exact_mut(k))
            .map(|(row, z)| self.row(row, z))
            .collect();
        Ok(tvec!(
            self.labels.tensor(&choices)?,
            Tensor::from_shape(&[rows, k], &z)?
        ))
    }
}
