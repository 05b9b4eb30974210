//! `ai.onnx.ml.OneHotEncoder`: each element becomes a row of `len(cats)` floats with a 1
//! at its category. The output shape is the input's plus `[len(cats)]` (skl2onnx
//! reshapes it afterwards). String inputs look up `cats_strings`; int64, int32, float and
//! double inputs are truncated to int64 (a C cast, as onnxruntime does) and look up
//! `cats_int64s`. An unknown category gives an all-zero row when `zeros` is 1 (the
//! default) and an error when it is 0.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::keys::Keys;
use super::parsing::{known_attributes, Parsed};

#[derive(Debug, Clone, PartialEq, Eq)]
struct OneHotEncoder {
    keys: Keys,
    categories: usize,
    zeros: bool,
}

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let op = read(node).with_context(|| format!("OneHotEncoder {}", node.name))?;
    Ok((expand(op), vec![]))
}

fn read(node: &NodeProto) -> TractResult<OneHotEncoder> {
    known_attributes(node, &["cats_strings", "cats_int64s", "zeros"])?;
    let strings: Vec<String> = node.get_attr_opt_vec("cats_strings")?.unwrap_or_default();
    let ints: Vec<i64> = node.get_attr_opt_vec("cats_int64s")?.unwrap_or_default();
    let zeros: i64 = node.get_attr_opt("zeros")?.unwrap_or(1);
    ensure!(
        zeros == 0 || zeros == 1,
        "attribute zeros must be 0 or 1, is {zeros}"
    );
    let (keys, categories) = match (strings.is_empty(), ints.is_empty()) {
        (false, true) => (Keys::Str(Keys::last_wins(&strings)), strings.len()),
        (true, false) => (Keys::I64(Keys::last_wins(&ints)), ints.len()),
        (true, true) => bail!("one of cats_strings and cats_int64s must be non-empty"),
        (false, false) => bail!("only one of cats_strings and cats_int64s may be set"),
    };
    Ok(OneHotEncoder {
        keys,
        categories,
        zeros: zeros == 1,
    })
}

impl OneHotEncoder {
    /// Refuses, at load, an input type the categories cannot match.
    fn check_input(&self, dt: DatumType) -> TractResult<()> {
        let ok = match self.keys {
            Keys::Str(_) => dt == DatumType::String,
            _ => matches!(
                dt,
                DatumType::I64 | DatumType::I32 | DatumType::F32 | DatumType::F64
            ),
        };
        ensure!(
            ok,
            "OneHotEncoder: input of type {dt:?} cannot match {}",
            if dt == DatumType::String {
                "cats_int64s"
            } else {
                "cats_strings"
            }
        );
        Ok(())
    }
}

impl Expansion for OneHotEncoder {
    fn name(&self) -> StaticName {
        "OneHotEncoder".into()
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
        s.equals(&outputs[0].rank, inputs[0].rank.bex() + 1)?;
        s.given(&inputs[0].rank, move |s, rank| {
            let rank = rank as usize;
            for axis in 0..rank {
                s.equals(&outputs[0].shape[axis], &inputs[0].shape[axis])?;
            }
            s.equals(&outputs[0].shape[rank], self.categories.to_dim())
        })
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        self.check_input(dt)
            .with_context(|| format!("OneHotEncoder {prefix}"))?;
        model.wire_node(prefix, self.clone(), inputs)
    }
}

typed_op!(OneHotEncoder, "OneHotEncoder");

/// Truncation toward zero of a float, `None` for NaN and values outside int64 (where the
/// C cast onnxruntime uses is undefined): those match no category.
fn truncate(x: f64) -> Option<i64> {
    (x.is_finite() && x > -9.3e18 && x < 9.3e18).then_some(x as i64)
}

impl EvalOp for OneHotEncoder {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        self.check_input(x.datum_type())?;
        let found = match (x.datum_type(), &self.keys) {
            (DatumType::String | DatumType::I64, keys) => keys.lookup(&x)?,
            (DatumType::I32, keys) => keys.lookup(&*x.cast_to::<i64>()?)?,
            (_, Keys::I64(map)) => {
                let x = x.cast_to::<f64>()?;
                let view = x.try_as_plain_ram()?;
                view.as_slice::<f64>()?
                    .iter()
                    .map(|&v| truncate(v).and_then(|k| map.get(&k).copied()))
                    .collect()
            }
            (dt, _) => bail!("OneHotEncoder: input of type {dt:?}"),
        };
        let c = self.categories;
        let mut out = vec![0f32; found.len() * c];
        for (row, f) in found.iter().enumerate() {
            match f {
                Some(i) => out[row * c + i] = 1.0,
                None if self.zeros => {}
                // Typed, so the model can answer the caller's row, not blame itself.
                None => {
                    return Err(
                        TractError::from(crate::error::UnknownCategory { element: row })
                            .context("OneHotEncoder with zeros = 0 refuses unknown categories"),
                    )
                }
            }
        }
        let mut shape: TVec<usize> = x.shape().into();
        shape.push(c);
        Ok(tvec!(Tensor::from_shape(&shape, &out)?.into_tvalue()))
    }
}

impl TypedOp for OneHotEncoder {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.check_input(inputs[0].datum_type)?;
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        shape.push(self.categories.to_dim());
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}
