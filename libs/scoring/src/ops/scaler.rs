//! `ai.onnx.ml.Scaler`: `Y = (X - offset) * scale`, per column (skl2onnx emits it for
//! every StandardScaler).

use std::borrow::Cow;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;
use super::wiring::wire_on_f32;

#[derive(Debug, Clone, PartialEq)]
struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let offset: Vec<f32> = node
        .get_attr_opt_vec("offset")?
        .unwrap_or_else(|| vec![0.0]);
    let scale: Vec<f32> = node.get_attr_opt_vec("scale")?.unwrap_or_else(|| vec![1.0]);
    ensure!(
        !offset.is_empty() && !scale.is_empty(),
        "Scaler {}: offset and scale must not be empty",
        node.name
    );
    Ok((expand(Scaler { offset, scale }), vec![]))
}

impl Expansion for Scaler {
    elementwise_expansion!("Scaler", DatumType::F32);

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?.clone();
        ensure!(
            fact.rank() >= 1,
            "Scaler {prefix}: input must have at least one axis"
        );
        let op = ScaleColumns {
            offset: self.offset.clone(),
            scale: self.scale.clone(),
        };
        // Broadcast single values once here, so the per-call path borrows them as they are.
        let op = match fact.shape.last().and_then(|d| d.to_usize().ok()) {
            Some(columns) => {
                let (offset, scale) = op
                    .per_column(columns)
                    .with_context(|| format!("Scaler {prefix}"))?;
                ScaleColumns {
                    offset: offset.into_owned(),
                    scale: scale.into_owned(),
                }
            }
            None => op,
        };
        wire_on_f32(model, prefix, inputs[0], op)
    }
}

/// The typed op: one pass over the rows, in place when tract hands over the only copy.
/// Not tract's broadcasting Sub and Mul: their generic ndarray zip costs more than the
/// model it feeds.
#[derive(Debug, Clone, PartialEq)]
struct ScaleColumns {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

impl Eq for ScaleColumns {}

typed_op!(ScaleColumns, "Scaler");

impl EvalOp for ScaleColumns {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        let columns = *x.shape().last().context("Scaler input has no axes")?;
        let (offset, scale) = self.per_column(columns)?;
        if columns > 0 {
            let mut view = x.try_as_plain_ram_mut()?;
            for row in view.as_slice_mut::<f32>()?.chunks_exact_mut(columns) {
                for ((v, o), s) in row.iter_mut().zip(offset.iter()).zip(scale.iter()) {
                    *v = (*v - o) * s;
                }
            }
        }
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for ScaleColumns {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// Offsets and scales, one per column.
type PerColumn<'a> = (Cow<'a, [f32]>, Cow<'a, [f32]>);

impl ScaleColumns {
    /// Offsets and scales for `columns` columns: as given, or one value repeated.
    fn per_column(&self, columns: usize) -> TractResult<PerColumn<'_>> {
        Ok((
            broadcast("offset", &self.offset, columns)?,
            broadcast("scale", &self.scale, columns)?,
        ))
    }
}

fn broadcast<'a>(what: &str, values: &'a [f32], columns: usize) -> TractResult<Cow<'a, [f32]>> {
    match values.len() {
        n if n == columns => Ok(Cow::Borrowed(values)),
        1 => Ok(Cow::Owned(vec![values[0]; columns])),
        n => bail!("{what} has {n} values for {columns} columns"),
    }
}
