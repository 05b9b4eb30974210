//! `ai.onnx.ml.Normalizer` (MAX, L1, L2) row by row over the last axis, as onnxruntime
//! computes it. Replaces tract's own, which disagrees with onnxruntime: its MAX divides
//! by the largest absolute value (onnxruntime and the spec: the largest value, so an
//! all-negative row flips sign), and its L2 clamps the squared norm at 1e-12 (tiny rows
//! come out wrong). Here, as in onnxruntime: a zero divisor leaves the row unchanged.
//! Inputs of float, double, int64, int32 and rank 1 or 2; the output is float.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::{known_attributes, Parsed};
use super::wiring::wire_on_f32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Norm {
    Max,
    L1,
    L2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Normalizer(Norm);

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    known_attributes(node, &["norm"]).with_context(|| format!("Normalizer {}", node.name))?;
    let norm: &str = node.get_attr_opt("norm")?.unwrap_or("MAX");
    let norm = match norm {
        "MAX" => Norm::Max,
        "L1" => Norm::L1,
        "L2" => Norm::L2,
        other => bail!(
            "Normalizer {}: attribute norm is {other:?}, must be MAX, L1 or L2",
            node.name
        ),
    };
    Ok((expand(Normalizer(norm)), vec![]))
}

impl Expansion for Normalizer {
    elementwise_expansion!("Normalizer", DatumType::F32);

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?.clone();
        ensure!(
            matches!(fact.rank(), 1 | 2),
            "Normalizer {prefix}: input must be [C] or [N, C], is {:?}",
            fact.shape
        );
        ensure!(
            matches!(
                fact.datum_type,
                DatumType::F32 | DatumType::F64 | DatumType::I64 | DatumType::I32
            ),
            "Normalizer {prefix}: input of type {:?}, only float, double, int64 and int32 are supported",
            fact.datum_type
        );
        wire_on_f32(model, prefix, inputs[0], self.clone())
    }
}

typed_op!(Normalizer, "Normalizer");

fn normalize(norm: Norm, row: &mut [f32]) {
    match norm {
        Norm::Max => {
            // std::max(max, x) from the lowest float: a NaN never becomes the max.
            let max = row.iter().fold(f32::MIN, |m, &v| if m < v { v } else { m });
            if max != 0.0 {
                row.iter_mut().for_each(|v| *v /= max);
            }
        }
        Norm::L1 => {
            let sum: f32 = row.iter().map(|v| v.abs()).sum();
            if sum != 0.0 {
                row.iter_mut().for_each(|v| *v /= sum);
            }
        }
        Norm::L2 => {
            let sum: f32 = row.iter().map(|v| v * v).sum();
            if sum != 0.0 {
                // sqrt(x² / sum) with x's sign, the order onnxruntime computes it in.
                row.iter_mut().for_each(|v| {
                    let r = (*v * *v / sum).sqrt();
                    *v = if *v < 0.0 { -r } else { r };
                });
            }
        }
    }
}

impl EvalOp for Normalizer {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        let columns = *x.shape().last().context("Normalizer input has no axes")?;
        if columns > 0 {
            let mut view = x.try_as_plain_ram_mut()?;
            for row in view.as_slice_mut::<f32>()?.chunks_exact_mut(columns) {
                normalize(self.0, row);
            }
        }
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for Normalizer {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs[0].datum_type == DatumType::F32,
            "Normalizer computes in f32"
        );
        Ok(tvec!(f32::fact(inputs[0].shape.clone())))
    }

    as_op!();
}
