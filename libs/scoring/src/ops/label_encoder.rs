//! `ai.onnx.ml.LabelEncoder`, opsets 1, 2 and 4: maps each element to the value at its
//! key's position, or to a default. skl2onnx emits it for string imputation
//! (`"" -> 1`, else 0) and for label mapping.
//!
//! - opset 1: `classes_strings`; string input gives the class index (int64), int64 input
//!   gives the class name; defaults `default_int64` (-1) and `default_string` ("_Unused").
//! - opset 2: one of `keys_{strings,int64s,floats}` and one of `values_*`, equal lengths;
//!   defaults `default_string`, `default_int64`, `default_float` (-0.0).
//! - opset 4: also `keys_tensor`/`values_tensor` (string, int64, float, double) and
//!   `default_tensor`; NaN keys match NaN inputs (onnxruntime does so from opset 4 only).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::tract_hir::internal::*;

use super::keys::Keys;
use super::parsing::{known_attributes, ml_opset, Parsed};

#[derive(Debug, Clone, PartialEq)]
enum LabelEncoder {
    /// Opset 1: direction set by the input type, known only when wiring.
    Classes {
        classes: Vec<String>,
        default_int: i64,
        default_string: String,
    },
    Map(Lookup),
}

/// The typed op: keys, the values they map to (rank 1) and the default (rank 0).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lookup {
    keys: Keys,
    /// The attribute the keys came from, for messages.
    keys_attr: String,
    values: Arc<Tensor>,
    default: Arc<Tensor>,
}

const ATTRS: &[&str] = &[
    "classes_strings",
    "keys_strings",
    "keys_int64s",
    "keys_floats",
    "keys_tensor",
    "values_strings",
    "values_int64s",
    "values_floats",
    "values_tensor",
    "default_string",
    "default_int64",
    "default_float",
    "default_tensor",
];

pub fn parse(ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let op = read(ctx, node).with_context(|| format!("LabelEncoder {}", node.name))?;
    Ok((expand(op), vec![]))
}

fn read(ctx: &ParsingContext, node: &NodeProto) -> TractResult<LabelEncoder> {
    known_attributes(node, ATTRS)?;
    let opset = ml_opset(ctx);
    let default_int: i64 = node.get_attr_opt("default_int64")?.unwrap_or(-1);
    let default_string: String = node
        .get_attr_opt("default_string")?
        .unwrap_or_else(|| "_Unused".to_string());
    if opset < 2 {
        let classes: Vec<String> = node
            .get_attr_opt_vec("classes_strings")?
            .unwrap_or_default();
        return Ok(LabelEncoder::Classes {
            classes,
            default_int,
            default_string,
        });
    }
    ensure!(
        node.get_attr_opt_vec::<String>("classes_strings")?
            .is_none(),
        "attribute classes_strings belongs to opset 1, this model imports ai.onnx.ml opset {opset}"
    );
    let nan_matches = opset >= 4;
    let (keys_attr, keys) = one_of(ctx, node, "keys")?;
    let (values_attr, values) = one_of(ctx, node, "values")?;
    ensure!(
        keys.len() == values.len(),
        "{keys_attr} has {} entries but {values_attr} has {}",
        keys.len(),
        values.len()
    );
    let default = match node.get_attr_opt::<&TensorProto>("default_tensor")? {
        Some(t) => {
            let t = ctx.load_tensor(t)?;
            ensure!(
                t.len() == 1 && t.datum_type() == values.datum_type(),
                "default_tensor must hold one {:?} like the values, has {} of {:?}",
                values.datum_type(),
                t.len(),
                t.datum_type()
            );
            t.into_shape(&[])?
        }
        None => match values.datum_type() {
            DatumType::String => tensor0(default_string),
            DatumType::I64 => tensor0(default_int),
            DatumType::F32 => tensor0(node.get_attr_opt::<f32>("default_float")?.unwrap_or(-0.0)),
            // onnxruntime ignores default_float for double values: -0.0 unless default_tensor.
            _ => tensor0(-0.0f64),
        },
    };
    Ok(LabelEncoder::Map(Lookup {
        keys: Keys::from_tensor(&keys, nan_matches)?,
        keys_attr,
        values: values.into_arc_tensor(),
        default: default.into_arc_tensor(),
    }))
}

/// Exactly one of `<what>_strings`, `<what>_int64s`, `<what>_floats`, `<what>_tensor`,
/// as a rank-1 tensor, with the attribute's name.
fn one_of(ctx: &ParsingContext, node: &NodeProto, what: &str) -> TractResult<(String, Tensor)> {
    let mut found = vec![];
    if let Some(v) = node.get_attr_opt_vec::<String>(&format!("{what}_strings"))? {
        found.push((format!("{what}_strings"), tensor1(&v)));
    }
    if let Some(v) = node.get_attr_opt_vec::<i64>(&format!("{what}_int64s"))? {
        found.push((format!("{what}_int64s"), tensor1(&v)));
    }
    if let Some(v) = node.get_attr_opt_vec::<f32>(&format!("{what}_floats"))? {
        found.push((format!("{what}_floats"), tensor1(&v)));
    }
    if let Some(t) = node.get_attr_opt::<&TensorProto>(&format!("{what}_tensor"))? {
        let t = ctx.load_tensor(t)?;
        ensure!(
            t.rank() <= 1,
            "{what}_tensor must be rank 1, is {:?}",
            t.shape()
        );
        let n = t.len();
        found.push((format!("{what}_tensor"), t.into_shape(&[n])?));
    }
    match found.len() {
        1 => {
            let (name, t) = found.pop().unwrap();
            ensure!(
                matches!(
                    t.datum_type(),
                    DatumType::String | DatumType::I64 | DatumType::F32 | DatumType::F64
                ),
                "attribute {name} holds {:?}: only string, int64, float and double are supported",
                t.datum_type()
            );
            Ok((name, t))
        }
        0 => {
            bail!("one of {what}_strings, {what}_int64s, {what}_floats, {what}_tensor is required")
        }
        _ => bail!(
            "only one of {} may be set",
            found
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl LabelEncoder {
    /// The lookup for an input of type `input`, or why that input type cannot be encoded.
    fn lookup_for(&self, input: DatumType) -> TractResult<Lookup> {
        match self {
            LabelEncoder::Map(l) => {
                ensure!(
                    input == l.keys.datum_type(),
                    "LabelEncoder: input of type {input:?} but keys of type {:?} ({})",
                    l.keys.datum_type(),
                    l.keys_attr
                );
                Ok(l.clone())
            }
            LabelEncoder::Classes { classes, default_int, default_string } => match input {
                DatumType::String => Ok(Lookup {
                    keys: Keys::strings(classes),
                    keys_attr: "classes_strings".into(),
                    values: rctensor1(&(0..classes.len() as i64).collect::<Vec<_>>()),
                    default: rctensor0(*default_int),
                }),
                DatumType::I64 => Ok(Lookup {
                    keys: Keys::ints(&(0..classes.len() as i64).collect::<Vec<_>>()),
                    keys_attr: "classes_strings".into(),
                    values: rctensor1(classes),
                    default: rctensor0(default_string.clone()),
                }),
                dt => bail!("LabelEncoder (opset 1, classes_strings): input must be string or int64, is {dt:?}"),
            },
        }
    }
}

impl Expansion for LabelEncoder {
    fn name(&self) -> StaticName {
        "LabelEncoder".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        match self {
            LabelEncoder::Map(l) => {
                // The input type is checked when wiring, for a message naming the keys.
                s.equals(&outputs[0].datum_type, l.values.datum_type())?;
            }
            LabelEncoder::Classes { .. } => {
                s.given(&inputs[0].datum_type, move |s, dt| {
                    let out = if dt == DatumType::String {
                        DatumType::I64
                    } else {
                        DatumType::String
                    };
                    s.equals(&outputs[0].datum_type, out)
                })?;
            }
        }
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        let op = self
            .lookup_for(dt)
            .with_context(|| format!("LabelEncoder {prefix}"))?;
        model.wire_node(prefix, op, inputs)
    }
}

typed_op!(Lookup, "LabelEncoder");

impl EvalOp for Lookup {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let found = self.keys.lookup(&x).context("LabelEncoder")?;
        let out = pick(&self.values, &self.default, &found)?.into_shape(x.shape())?;
        Ok(tvec!(out.into_tvalue()))
    }
}

/// `values[i]` for each found position, `default` elsewhere: a rank-1 tensor.
pub(super) fn pick(
    values: &Tensor,
    default: &Tensor,
    found: &[Option<usize>],
) -> TractResult<Tensor> {
    fn go<T: Datum>(
        values: &Tensor,
        default: &Tensor,
        found: &[Option<usize>],
    ) -> TractResult<Tensor> {
        let v = values.try_as_plain_ram()?;
        let v = v.as_slice::<T>()?;
        let d = default.try_as_plain_ram()?;
        let d = &d.as_slice::<T>()?[0];
        let out: Vec<T> = found
            .iter()
            .map(|i| i.map_or(d, |i| &v[i]).clone())
            .collect();
        Ok(tensor1(&out))
    }
    match values.datum_type() {
        DatumType::String => go::<String>(values, default, found),
        DatumType::I64 => go::<i64>(values, default, found),
        DatumType::F32 => go::<f32>(values, default, found),
        DatumType::F64 => go::<f64>(values, default, found),
        dt => bail!("LabelEncoder: values of type {dt:?}"),
    }
}

impl TypedOp for Lookup {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs[0].datum_type == self.keys.datum_type(),
            "LabelEncoder: input of type {:?} but keys of type {:?} ({})",
            inputs[0].datum_type,
            self.keys.datum_type(),
            self.keys_attr
        );
        Ok(tvec!(self
            .values
            .datum_type()
            .fact(inputs[0].shape.clone())))
    }

    as_op!();
}
