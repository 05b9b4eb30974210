//! `ai.onnx.ml.Binarizer`: 1 where `x > threshold`, else 0, in the input's type (float,
//! double, int64, int32). skl2onnx emits it for sklearn's Binarizer.
//!
//! A NaN input is an error, as in onnxruntime (which refuses it rather than guess).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::{known_attributes, Parsed};

#[derive(Debug, Clone, PartialEq)]
struct Binarizer {
    threshold: f32,
}

impl Eq for Binarizer {}

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    known_attributes(node, &["threshold"]).with_context(|| format!("Binarizer {}", node.name))?;
    let threshold: f32 = node.get_attr_opt("threshold")?.unwrap_or(0.0);
    Ok((expand(Binarizer { threshold }), vec![]))
}

impl Binarizer {
    fn check_input(dt: DatumType) -> TractResult<()> {
        ensure!(
            matches!(
                dt,
                DatumType::F32 | DatumType::F64 | DatumType::I64 | DatumType::I32
            ),
            "Binarizer: input of type {dt:?}, only float, double, int64 and int32 are supported"
        );
        Ok(())
    }
}

impl Expansion for Binarizer {
    elementwise_expansion!("Binarizer", same_type);

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        Self::check_input(model.outlet_fact(inputs[0])?.datum_type)
            .with_context(|| format!("Binarizer {prefix}"))?;
        model.wire_node(prefix, self.clone(), inputs)
    }
}

typed_op!(Binarizer, "Binarizer");

fn binarize<T: Datum + Copy + Into<f64>>(
    x: &mut Tensor,
    threshold: f64,
    one: T,
    zero: T,
) -> TractResult<()> {
    let mut view = x.try_as_plain_ram_mut()?;
    for (i, v) in view.as_slice_mut::<T>()?.iter_mut().enumerate() {
        let f: f64 = (*v).into();
        ensure!(!f.is_nan(), "Binarizer: input element {i} is NaN");
        *v = if f > threshold { one } else { zero };
    }
    Ok(())
}

impl EvalOp for Binarizer {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        let t = self.threshold as f64;
        match x.datum_type() {
            DatumType::F32 => binarize(&mut x, t, 1f32, 0f32)?,
            DatumType::F64 => binarize(&mut x, t, 1f64, 0f64)?,
            DatumType::I32 => binarize(&mut x, t, 1i32, 0i32)?,
            DatumType::I64 => {
                // i64 has no lossless Into<f64>; compare as f64 like a C comparison would.
                let mut view = x.try_as_plain_ram_mut()?;
                for v in view.as_slice_mut::<i64>()? {
                    *v = ((*v as f64) > t) as i64;
                }
            }
            dt => Self::check_input(dt)?,
        }
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for Binarizer {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Self::check_input(inputs[0].datum_type)?;
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    as_op!();
}
