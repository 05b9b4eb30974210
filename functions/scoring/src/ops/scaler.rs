//! `ai.onnx.ml.Scaler`: `Y = (X - offset) * scale`, per column (skl2onnx emits it for
//! every StandardScaler). Expanded into tract's own Sub and Mul so the optimizer can fuse
//! it with whatever follows.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

#[derive(Debug, Clone, PartialEq)]
struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

pub fn parse(
    _ctx: &ParsingContext,
    node: &NodeProto,
) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
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
    fn name(&self) -> StaticName {
        "Scaler".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut x = inputs[0];
        let fact = model.outlet_fact(x)?.clone();
        ensure!(
            fact.rank() >= 1,
            "Scaler {prefix}: input must have at least one axis"
        );
        if let Some(columns) = fact.shape.last().and_then(|d| d.to_usize().ok()) {
            for (what, v) in [("offset", &self.offset), ("scale", &self.scale)] {
                ensure!(
                    v.len() == 1 || v.len() == columns,
                    "Scaler {prefix}: {what} has {} values for {columns} columns",
                    v.len()
                );
            }
        }
        if fact.datum_type != f32::datum_type() {
            x = model.wire_node(
                format!("{prefix}.to_f32"),
                tract_core::ops::cast::cast(f32::datum_type()),
                &[x],
            )?[0];
        }
        // Constants shaped [1, .., 1, C] broadcast along every leading axis.
        let per_column = |v: &[f32]| -> TractResult<Arc<Tensor>> {
            let mut shape = vec![1; fact.rank()];
            shape[fact.rank() - 1] = v.len();
            Ok(tensor1(v).into_shape(&shape)?.into_arc_tensor())
        };
        let offset = model.add_const(format!("{prefix}.offset"), per_column(&self.offset)?)?;
        let scale = model.add_const(format!("{prefix}.scale"), per_column(&self.scale)?)?;
        let centered = model.wire_node(
            format!("{prefix}.sub"),
            tract_core::ops::math::sub(),
            &[x, offset],
        )?;
        model.wire_node(
            format!("{prefix}.mul"),
            tract_core::ops::math::mul(),
            &[centered[0], scale],
        )
    }
}
