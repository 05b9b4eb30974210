//! `ai.onnx.ml.ArrayFeatureExtractor` with onnxruntime's shapes: the last axis of X is
//! replaced by the (flattened) indices, and a 1-D X gives `[1, k]`. tract's own maps it to
//! a Gather, whose output drops the axis for a scalar index (skl2onnx's SVC one-vs-rest
//! graph then fails to concatenate).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::array::Gather;
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;

pub fn parse(_ctx: &ParsingContext, _node: &NodeProto) -> Parsed {
    Ok((expand(ArrayFeatureExtractor), vec![]))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct ArrayFeatureExtractor;

impl Expansion for ArrayFeatureExtractor {
    fn name(&self) -> StaticName {
        "ArrayFeatureExtractor".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[1].datum_type, i64::datum_type())?;
        s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, idx| {
            let k: TDim = idx.iter().product();
            let mut shape: TVec<TDim> = x.iter().cloned().collect();
            match shape.len() {
                0 => bail!("ArrayFeatureExtractor: X has no axes"),
                1 => shape = tvec!(1.to_dim(), k),
                n => shape[n - 1] = k,
            }
            s.equals(&outputs[0].shape, shape)
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x_rank = model.outlet_fact(inputs[0])?.rank();
        ensure!(x_rank > 0, "ArrayFeatureExtractor: X has no axes");
        let idx_fact = model.outlet_fact(inputs[1])?.clone();
        let k: TDim = idx_fact.shape.iter().product();
        let idx = model.wire_node(
            format!("{prefix}.flat_indices"),
            AxisOp::Reshape(0, idx_fact.shape.to_tvec(), tvec!(k)),
            &[inputs[1]],
        )?[0];
        let gather = Gather {
            axis: x_rank - 1,
            output_type: None,
        };
        let mut z = model.wire_node(prefix, gather, &[inputs[0], idx])?;
        if x_rank == 1 {
            z = model.wire_node(format!("{prefix}.row"), AxisOp::Add(0), &z)?;
        }
        Ok(z)
    }
}
