//! How the ops here enter a graph, shared by several: their inference rules when the
//! output has the input's shape, and their wiring on an f32 input.

use tract_onnx::tract_hir::internal::*;

/// `x` as f32: the ops compute in f32, whatever numeric type feeds them.
pub fn as_f32(model: &mut TypedModel, prefix: &str, x: OutletId) -> TractResult<OutletId> {
    if model.outlet_fact(x)?.datum_type == f32::datum_type() {
        return Ok(x);
    }
    let cast = tract_core::ops::cast::cast(f32::datum_type());
    Ok(model.wire_node(format!("{prefix}.to_f32"), cast, &[x])?[0])
}

/// `x` cast to f32 (see [`as_f32`]), then `op` wired on it.
pub fn wire_on_f32(
    model: &mut TypedModel,
    prefix: &str,
    x: OutletId,
    op: impl Into<Box<dyn TypedOp>>,
) -> TractResult<TVec<OutletId>> {
    let x = as_f32(model, prefix, x)?;
    model.wire_node(prefix, op, &[x])
}

/// The rules of a one-input, one-output op whose output has its input's shape and the
/// type `out` (`None`: the input's).
pub fn same_shape_rules<'r, 'p: 'r>(
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
    out: Option<DatumType>,
) -> InferenceResult {
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 1)?;
    match out {
        Some(dt) => s.equals(&outputs[0].datum_type, dt)?,
        None => s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?,
    }
    s.equals(&inputs[0].shape, &outputs[0].shape)
}
