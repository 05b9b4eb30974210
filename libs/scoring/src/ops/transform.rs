//! ONNX-ML's `post_transform`, computed in f32 the way onnxruntime's `ml_common.h` does
//! (same formulas and constants, so scores agree to rounding).

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    /// The node's `post_transform` attribute (default NONE); `op` names the op in errors.
    pub fn read(node: &NodeProto, op: &str) -> TractResult<PostTransform> {
        let s: &str = node.get_attr_opt("post_transform")?.unwrap_or("NONE");
        Ok(match s {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            _ => bail!("{op}: unknown post_transform {s:?}"),
        })
    }

    /// Applies the transform to one row of two or more scores.
    pub fn apply(self, scores: &mut [f32]) {
        match self {
            PostTransform::None => {}
            PostTransform::Logistic => scores.iter_mut().for_each(|v| *v = logistic(*v)),
            PostTransform::Probit => scores.iter_mut().for_each(|v| *v = probit(*v)),
            PostTransform::Softmax => softmax(scores),
            PostTransform::SoftmaxZero => softmax_zero(scores),
        }
    }
}

pub fn logistic(v: f32) -> f32 {
    let e = 1.0 / (1.0 + (-v.abs()).exp());
    if v < 0.0 {
        1.0 - e
    } else {
        e
    }
}

/// onnxruntime's closed-form approximation of erf⁻¹ (Winitzki, a = 0.147), not the
/// exact inverse: matching it matters more than precision here.
fn erf_inv(x: f32) -> f32 {
    let sgn = if x < 0.0 { -1.0f32 } else { 1.0 };
    let x = (1.0 - x) * (1.0 + x);
    let log = x.ln();
    let v = 2.0 / (std::f32::consts::PI * 0.147) + 0.5 * log;
    let v2 = 1.0 / 0.147 * log;
    let v3 = -v + (v * v - v2).sqrt();
    sgn * v3.sqrt()
}

pub fn probit(v: f32) -> f32 {
    std::f32::consts::SQRT_2 * erf_inv(2.0 * v - 1.0)
}

fn max_of(scores: &[f32]) -> f32 {
    // Starts at -f32::MAX, not -inf, and skips NaN, as onnxruntime's loop does.
    scores
        .iter()
        .fold(-f32::MAX, |m, &v| if v > m { v } else { m })
}

pub fn softmax(scores: &mut [f32]) {
    let max = max_of(scores);
    let mut sum = 0.0f32;
    for v in scores.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    scores.iter_mut().for_each(|v| *v /= sum);
}

/// Softmax that leaves (near-)zero scores out of the exponentials: "no score" stays ~0.
pub fn softmax_zero(scores: &mut [f32]) {
    let max = max_of(scores);
    let exp_neg_max = (-max).exp();
    let mut sum = 0.0f32;
    for v in scores.iter_mut() {
        if *v > 0.0000001 || *v < -0.0000001 {
            *v = (*v - max).exp();
            sum += *v;
        } else {
            *v *= exp_neg_max;
        }
    }
    scores.iter_mut().for_each(|v| *v /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_symmetric() {
        assert_eq!(logistic(0.0), 0.5);
        assert!((logistic(2.0) + logistic(-2.0) - 1.0).abs() < 1e-7);
    }

    #[test]
    fn probit_inverts_the_normal_cdf_roughly() {
        assert!(probit(0.5).abs() < 1e-6);
        assert!((probit(0.975) - 1.959964).abs() < 5e-3);
    }

    #[test]
    fn softmax_zero_keeps_zeros_small() {
        let mut v = [0.0, 1.0, 2.0];
        softmax_zero(&mut v);
        assert_eq!(v[0], 0.0);
        assert!((v[1] + v[2] - 1.0).abs() < 1e-6);
    }
}
