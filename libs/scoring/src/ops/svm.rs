//! What `SVMRegressor` and `SVMClassifier` share, as onnxruntime computes it
//! (`svmclassifier.h` `SVMCommon`): the kernel, in f32.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kernel {
    Linear,
    Poly { gamma: f32, coef0: f32, degree: f32 },
    Rbf { gamma: f32 },
    Sigmoid { gamma: f32, coef0: f32 },
}

impl Kernel {
    /// `kernel_type` and `kernel_params` ([gamma, coef0, degree], zeros if absent).
    pub fn read(node: &NodeProto, op: &str) -> TractResult<Kernel> {
        let name: &str = node.get_attr_opt("kernel_type")?.unwrap_or("LINEAR");
        let p: Vec<f32> = node.get_attr_opt_vec("kernel_params")?.unwrap_or_default();
        ensure!(
            p.is_empty() || p.len() >= 3,
            "{op}: kernel_params needs [gamma, coef0, degree], got {} values",
            p.len()
        );
        let (gamma, coef0, degree) = if p.is_empty() {
            (0.0, 0.0, 0.0)
        } else {
            (p[0], p[1], p[2])
        };
        Ok(match name {
            "LINEAR" => Kernel::Linear,
            "POLY" => Kernel::Poly {
                gamma,
                coef0,
                degree,
            },
            "RBF" => Kernel::Rbf { gamma },
            "SIGMOID" => Kernel::Sigmoid { gamma, coef0 },
            _ => bail!("{op}: unknown kernel_type {name:?}"),
        })
    }

    pub fn apply(self, x: &[f32], v: &[f32]) -> f32 {
        match self {
            Kernel::Linear => dot(x, v),
            Kernel::Poly {
                gamma,
                coef0,
                degree,
            } => {
                let b = gamma * dot(x, v) + coef0;
                if degree == 2.0 {
                    b * b
                } else if degree == 3.0 {
                    b * b * b
                } else {
                    b.powf(degree)
                }
            }
            Kernel::Rbf { gamma } => {
                let mut sum = 0f32;
                for (a, b) in x.iter().zip(v) {
                    let d = a - b;
                    sum += d * d;
                }
                (-gamma * sum).exp()
            }
            Kernel::Sigmoid { gamma, coef0 } => (gamma * dot(x, v) + coef0).tanh(),
        }
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A float list attribute that must be present and non-empty.
pub fn floats(node: &NodeProto, op: &str, name: &str) -> TractResult<Vec<f32>> {
    let v: Vec<f32> = node.get_attr_opt_vec(name)?.unwrap_or_default();
    ensure!(!v.is_empty(), "{op}: attribute {name} is missing or empty");
    Ok(v)
}

/// `support_vectors` as rows of `width`, with `n` rows (`n_supports` or the sum of
/// `vectors_per_class`); `width` is derived as onnxruntime does.
pub fn support_vectors(node: &NodeProto, op: &str, n: usize) -> TractResult<(Vec<f32>, usize)> {
    let sv: Vec<f32> = node
        .get_attr_opt_vec("support_vectors")?
        .unwrap_or_default();
    ensure!(
        !sv.is_empty() && sv.len().is_multiple_of(n),
        "{op}: support_vectors has {} values, not a multiple of {n} vectors",
        sv.len()
    );
    let width = sv.len() / n;
    Ok((sv, width))
}
