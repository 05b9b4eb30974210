//! `ai.onnx.ml.SVMClassifier` (skl2onnx: SVC, NuSVC), as onnxruntime's `svmclassifier.cc`
//! computes it: one-vs-one votes for the label; scores are the pairwise decision values
//! (binary: two columns), or with `prob_a`/`prob_b` Platt-scaled pairwise probabilities
//! coupled into one probability per class.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::labels::{Choice, ClassLabels};
use super::parsing::Parsed;
use super::row_op::{parse_scorer, Scorer};
use super::svm::{dot, floats, support_vectors, Kernel};
use super::transform::{logistic, PostTransform};

const OP: &str = "SVMClassifier";

#[derive(Debug)]
struct SvmClassifier {
    labels: ClassLabels,
    kernel: Kernel,
    transform: PostTransform,
    /// Row-major `[total, width]`; empty in linear mode.
    vectors: Vec<f32>,
    /// First support vector of each class, and how many it has.
    starts: Vec<usize>,
    counts: Vec<usize>,
    /// SVC mode: `[C - 1, total]`; linear mode: `[C, width]`.
    coefficients: Vec<f32>,
    rho: Vec<f32>,
    /// Platt parameters, one pair per class pair; empty without probabilities.
    prob_a: Vec<f32>,
    prob_b: Vec<f32>,
    width: usize,
    weights_all_positive: bool,
}

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    parse_scorer(node, OP, read)
}

fn read(node: &NodeProto) -> TractResult<SvmClassifier> {
    let labels = ClassLabels::read(node, OP, "classlabels_ints")?;
    let c = labels.len();
    let transform = PostTransform::read(node, OP)?;
    let coefficients = floats(node, OP, "coefficients")?;
    let rho = floats(node, OP, "rho")?;
    let prob_a: Vec<f32> = node.get_attr_opt_vec("prob_a")?.unwrap_or_default();
    let prob_b: Vec<f32> = node.get_attr_opt_vec("prob_b")?.unwrap_or_default();
    ensure!(
        prob_a.len() == prob_b.len(),
        "{OP}: prob_a and prob_b differ in length"
    );
    let per_class: Vec<i64> = node
        .get_attr_opt_vec("vectors_per_class")?
        .unwrap_or_default();
    ensure!(
        per_class.iter().all(|&k| k >= 0),
        "{OP}: negative vectors_per_class"
    );
    let counts: Vec<usize> = per_class.iter().map(|&k| k as usize).collect();
    let total: usize = counts.iter().sum();
    let weights_all_positive = coefficients.iter().all(|&w| w >= 0.0);
    let pairs = c * (c - 1) / 2;

    let (kernel, vectors, width) = if total > 0 {
        ensure!(c >= 2, "{OP}: support vectors need at least two classes");
        ensure!(
            counts.len() == c,
            "{OP}: vectors_per_class has {} values for {c} classes",
            counts.len()
        );
        ensure!(
            coefficients.len() >= (c - 1) * total,
            "{OP}: {} coefficients, {} needed",
            coefficients.len(),
            (c - 1) * total
        );
        ensure!(
            rho.len() >= pairs,
            "{OP}: {} rho values for {pairs} class pairs",
            rho.len()
        );
        ensure!(
            prob_a.is_empty() || prob_a.len() >= pairs,
            "{OP}: {} prob_a values for {pairs} class pairs",
            prob_a.len()
        );
        // onnxruntime writes only the first of two score columns: nothing to match.
        ensure!(
            !(c == 2 && prob_a.is_empty() && transform == PostTransform::Probit),
            "{OP}: post_transform PROBIT on a two-class decision value is not supported"
        );
        let (sv, width) = support_vectors(node, OP, total)?;
        (Kernel::read(node, OP)?, sv, width)
    } else {
        // Linear mode (liblinear): one coefficient row per class, rho[0] for all.
        ensure!(
            coefficients.len() % c == 0,
            "{OP}: {} coefficients for {c} classes",
            coefficients.len()
        );
        ensure!(
            !(c == 1 && transform != PostTransform::None),
            "{OP}: post_transform on a single-class linear SVM is not supported"
        );
        (Kernel::Linear, vec![], coefficients.len() / c)
    };
    ensure!(width > 0, "{OP}: no input columns");
    let starts = counts
        .iter()
        .scan(0, |s, &k| Some(std::mem::replace(s, *s + k)))
        .collect();
    Ok(SvmClassifier {
        labels,
        kernel,
        transform,
        vectors,
        starts,
        counts,
        coefficients,
        rho,
        prob_a,
        prob_b,
        width,
        weights_all_positive,
    })
}

impl SvmClassifier {
    fn classes(&self) -> usize {
        self.labels.len()
    }

    fn svc(&self) -> bool {
        !self.vectors.is_empty()
    }

    fn probabilities(&self) -> bool {
        !self.prob_a.is_empty()
    }

    /// Pairwise decision values (class i vs j, i < j, in order) and the votes.
    fn pairwise(&self, row: &[f32], kernels: &mut [f32], scores: &mut Vec<f32>, votes: &mut [u32]) {
        let total = kernels.len();
        for (k, sv) in kernels
            .iter_mut()
            .zip(self.vectors.chunks_exact(self.width))
        {
            *k = self.kernel.apply(row, sv);
        }
        let c = self.classes();
        scores.clear();
        votes.iter_mut().for_each(|v| *v = 0);
        for i in 0..c - 1 {
            for j in i + 1..c {
                // f32 products summed in f64, as onnxruntime does.
                let mut sum = 0f64;
                let (si, sj) = (self.starts[i], self.starts[j]);
                for m in 0..self.counts[i] {
                    sum += (self.coefficients[(j - 1) * total + si + m] * kernels[si + m]) as f64;
                }
                for m in 0..self.counts[j] {
                    sum += (self.coefficients[i * total + sj + m] * kernels[sj + m]) as f64;
                }
                sum += self.rho[scores.len()] as f64;
                votes[if sum > 0.0 { i } else { j }] += 1;
                scores.push(sum as f32);
            }
        }
    }

    fn row(
        &self,
        row: &[f32],
        kernels: &mut [f32],
        pair: &mut Vec<f32>,
        votes: &mut [u32],
        z: &mut [f32],
    ) -> Choice {
        let c = self.classes();
        if !self.svc() {
            for (k, out) in z.iter_mut().enumerate() {
                *out = dot(
                    row,
                    &self.coefficients[k * self.width..(k + 1) * self.width],
                ) + self.rho[0];
            }
            let (best, max) = first_max(z.iter().copied());
            let choice = if c == 2 && !self.probabilities() {
                let positive = if self.weights_all_positive {
                    max >= 0.5
                } else {
                    max > 0.0
                };
                Choice::Class(if positive { 1 } else { best })
            } else {
                Choice::Class(best)
            };
            if c > 1 {
                self.transform.apply(z);
            }
            return choice;
        }
        self.pairwise(row, kernels, pair, votes);
        let (winner, _) = first_max(votes.iter().map(|&v| v as f32));
        if self.probabilities() {
            let mut r = vec![0f32; c * c];
            let mut k = 0;
            for i in 0..c - 1 {
                for j in i + 1..c {
                    let p = 1.0 - logistic(pair[k] * self.prob_a[k] + self.prob_b[k]);
                    let p = p.clamp(1.0e-7, 1.0 - 1.0e-7);
                    r[i * c + j] = p;
                    r[j * c + i] = 1.0 - p;
                    k += 1;
                }
            }
            multiclass_probability(c, &r, z);
            self.transform.apply(z);
        } else if c == 2 {
            let s = pair[0];
            match self.transform {
                PostTransform::None => {
                    z[0] = -s;
                    z[1] = s;
                }
                // onnxruntime 1.31 applies LOGISTIC before completing, skips the others.
                PostTransform::Logistic => {
                    z[1] = logistic(s);
                    z[0] = 1.0 - z[1];
                }
                _ => {
                    z[0] = 1.0 - s;
                    z[1] = s;
                }
            }
        } else {
            z.copy_from_slice(pair);
            self.transform.apply(z);
        }
        Choice::Class(winner)
    }
}

/// Index and value of the first maximum (`std::max_element`).
fn first_max(values: impl Iterator<Item = f32>) -> (usize, f32) {
    let mut best = (0, f32::NAN);
    for (k, v) in values.enumerate() {
        if k == 0 || v > best.1 {
            best = (k, v);
        }
    }
    best
}

/// Pairwise coupling (Wu, Lin and Weng 2004, as in libsvm), step for step in f32 as
/// onnxruntime's `multiclass_probability`.
fn multiclass_probability(k: usize, r: &[f32], p: &mut [f32]) {
    let mut q = vec![0f32; k * k];
    let mut qp = vec![0f32; k];
    let eps = 0.005 / k as f32;
    for i in 0..k {
        p[i] = 1.0 / k as f32;
        for j in 0..i {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = q[j * k + i];
        }
        for j in i + 1..k {
            q[i * k + i] += r[j * k + i] * r[j * k + i];
            q[i * k + j] = -r[j * k + i] * r[i * k + j];
        }
    }
    for _ in 0..100 {
        let mut pqp = 0f32;
        for i in 0..k {
            qp[i] = 0.0;
            for j in 0..k {
                qp[i] += q[i * k + j] * p[j];
            }
            pqp += p[i] * qp[i];
        }
        let max_error = (0..k).map(|i| (qp[i] - pqp).abs()).fold(0f32, f32::max);
        if max_error < eps {
            break;
        }
        for i in 0..k {
            let diff = (-qp[i] + pqp) / q[i * k + i];
            p[i] += diff;
            pqp = (pqp + diff * (diff * q[i * k + i] + 2.0 * qp[i])) / (1.0 + diff) / (1.0 + diff);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[i * k + j]) / (1.0 + diff);
                p[j] /= 1.0 + diff;
            }
        }
    }
}

impl Scorer for SvmClassifier {
    fn name(&self) -> &'static str {
        OP
    }

    fn label_type(&self) -> Option<DatumType> {
        Some(self.labels.datum_type())
    }

    fn n_scores(&self) -> usize {
        let c = self.classes();
        match (self.svc(), self.probabilities()) {
            (true, false) if c == 2 => 2,
            (true, false) => c * (c - 1) / 2,
            _ => c,
        }
    }

    fn n_features(&self) -> usize {
        self.width
    }

    fn eval(&self, x: &[f32], rows: usize) -> TractResult<TVec<Tensor>> {
        let k = self.n_scores();
        let mut z = vec![0f32; rows * k];
        let mut kernels = vec![0f32; self.vectors.len() / self.width];
        let mut pair = Vec::new();
        let mut votes = vec![0u32; self.classes()];
        let choices: Vec<Choice> = x
            .chunks_exact(self.width)
            .zip(z.chunks_exact_mut(k))
            .map(|(row, z)| self.row(row, &mut kernels, &mut pair, &mut votes, z))
            .collect();
        Ok(tvec!(
            self.labels.tensor(&choices)?,
            Tensor::from_shape(&[rows, k], &z)?
        ))
    }
}
