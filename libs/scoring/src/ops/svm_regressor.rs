//! `ai.onnx.ml.SVMRegressor` (skl2onnx: SVR, NuSVR, OneClassSVM), as onnxruntime
//! computes it: `[N, 1]` f32.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;
use super::row_op::{parse_scorer, Scorer};
use super::svm::{dot, floats, support_vectors, Kernel};

const OP: &str = "SVMRegressor";

#[derive(Debug)]
struct SvmRegressor {
    kernel: Kernel,
    /// Row-major `[n, width]`; empty in linear mode.
    vectors: Vec<f32>,
    coefficients: Vec<f32>,
    rho: f32,
    width: usize,
    one_class: bool,
}

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    parse_scorer(node, OP, read)
}

fn read(node: &NodeProto) -> TractResult<SvmRegressor> {
    let coefficients = floats(node, OP, "coefficients")?;
    let rho = floats(node, OP, "rho")?[0];
    let one_class: i64 = node.get_attr_opt("one_class")?.unwrap_or(0);
    // onnxruntime ignores post_transform here; refuse rather than guess.
    let transform: &str = node.get_attr_opt("post_transform")?.unwrap_or("NONE");
    ensure!(
        transform == "NONE",
        "{OP}: post_transform {transform:?} is not supported (only NONE)"
    );
    let n: i64 = node.get_attr_opt("n_supports")?.unwrap_or(0);
    ensure!(n >= 0, "{OP}: n_supports is negative");
    let n = n as usize;
    let (kernel, vectors, width) = if n > 0 {
        let (sv, width) = support_vectors(node, OP, n)?;
        ensure!(
            coefficients.len() >= n,
            "{OP}: {} coefficients for {n} support vectors",
            coefficients.len()
        );
        (Kernel::read(node, OP)?, sv, width)
    } else {
        // Linear mode: the coefficients are the weights of the input columns.
        (Kernel::Linear, vec![], coefficients.len())
    };
    Ok(SvmRegressor {
        kernel,
        vectors,
        coefficients,
        rho,
        width,
        one_class: one_class != 0,
    })
}

impl Scorer for SvmRegressor {
    fn name(&self) -> &'static str {
        OP
    }

    fn label_type(&self) -> Option<DatumType> {
        None
    }

    fn n_scores(&self) -> usize {
        1
    }

    fn n_features(&self) -> usize {
        self.width
    }

    fn eval(&self, x: &[f32], rows: usize) -> TractResult<TVec<Tensor>> {
        let mut y = Vec::with_capacity(rows);
        for row in x.chunks_exact(self.width).take(rows) {
            let mut v = if self.vectors.is_empty() {
                dot(row, &self.coefficients) + self.rho
            } else {
                // Summed in f64: onnxruntime's f32 GEMM rounds differently anyway, and
                // hundreds of terms in f32 drift past the tolerance on their own.
                let s: f64 = self
                    .vectors
                    .chunks_exact(self.width)
                    .zip(&self.coefficients)
                    .map(|(sv, &c)| c as f64 * self.kernel.apply(row, sv) as f64)
                    .sum();
                (s + self.rho as f64) as f32
            };
            if self.one_class {
                v = if v > 0.0 { 1.0 } else { -1.0 };
            }
            y.push(v);
        }
        Ok(tvec!(Tensor::from_shape(&[rows, 1], &y)?))
    }
}
