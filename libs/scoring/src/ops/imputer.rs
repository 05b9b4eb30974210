//! `ai.onnx.ml.Imputer`: replaces every element equal to the replaced value (NaN when
//! `replaced_value_float` is NaN) with its column's imputed value, along the last axis.
//! skl2onnx emits it for every numeric SimpleImputer.
//!
//! Float and double inputs use `imputed_value_floats` / `replaced_value_float`; int64
//! and int32 inputs use `imputed_value_int64s` / `replaced_value_int64`. Either one
//! value for every column or one per column. The output has the input's type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::{known_attributes, Parsed};

#[derive(Debug, Clone, PartialEq)]
struct Imputer {
    floats: Vec<f32>,
    replaced_float: f32,
    ints: Vec<i64>,
    replaced_int: i64,
}

const ATTRS: &[&str] = &[
    "imputed_value_floats",
    "imputed_value_int64s",
    "replaced_value_float",
    "replaced_value_int64",
];

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let op = read(node).with_context(|| format!("Imputer {}", node.name))?;
    Ok((expand(op), vec![]))
}

fn read(node: &NodeProto) -> TractResult<Imputer> {
    known_attributes(node, ATTRS)?;
    let op = Imputer {
        floats: node
            .get_attr_opt_vec("imputed_value_floats")?
            .unwrap_or_default(),
        replaced_float: node.get_attr_opt("replaced_value_float")?.unwrap_or(0.0),
        ints: node
            .get_attr_opt_vec("imputed_value_int64s")?
            .unwrap_or_default(),
        replaced_int: node.get_attr_opt("replaced_value_int64")?.unwrap_or(0),
    };
    // The spec asks for exactly one of the two lists.
    ensure!(
        op.floats.is_empty() != op.ints.is_empty(),
        "exactly one of imputed_value_floats and imputed_value_int64s must be non-empty"
    );
    Ok(op)
}

/// The typed op, its values already in the input's type and one per column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Impute {
    /// `[columns]` (or `[1]` when the column count is only known at run time).
    values: Arc<Tensor>,
    /// Rank 0; NaN means "replace NaN".
    replaced: Arc<Tensor>,
}

impl Expansion for Imputer {
    elementwise_expansion!("Imputer", same_type);

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let fact = model.outlet_fact(inputs[0])?.clone();
        let op = self
            .typed(&fact)
            .with_context(|| format!("Imputer {prefix}"))?;
        model.wire_node(prefix, op, inputs)
    }
}

impl Imputer {
    fn typed(&self, fact: &TypedFact) -> TractResult<Impute> {
        let dt = fact.datum_type;
        let (attr, values, replaced) = match dt {
            DatumType::F32 | DatumType::F64 => {
                ensure!(
                    !self.floats.is_empty(),
                    "a {dt:?} input needs imputed_value_floats (only imputed_value_int64s is set)"
                );
                (
                    "imputed_value_floats",
                    tensor1(&self.floats),
                    tensor0(self.replaced_float),
                )
            }
            DatumType::I64 | DatumType::I32 => {
                ensure!(
                    !self.ints.is_empty(),
                    "a {dt:?} input needs imputed_value_int64s (only imputed_value_floats is set)"
                );
                (
                    "imputed_value_int64s",
                    tensor1(&self.ints),
                    tensor0(self.replaced_int),
                )
            }
            _ => bail!("input of type {dt:?}: only float, double, int64 and int32 are supported"),
        };
        // onnxruntime takes columns from axis 1 whatever the rank; [C] and [N, C] are the
        // shapes where that and the last axis agree.
        ensure!(
            matches!(fact.rank(), 1 | 2),
            "input must be [C] or [N, C], is {:?}",
            fact.shape
        );
        if let Ok(columns) = fact.shape.last().unwrap().to_usize() {
            ensure!(
                values.len() == 1 || values.len() == columns,
                "{attr} has {} values for {columns} columns (give one, or one per column)",
                values.len()
            );
        }
        Ok(Impute {
            values: values.cast_to_dt(dt)?.into_owned().into_arc_tensor(),
            replaced: replaced.cast_to_dt(dt)?.into_owned().into_arc_tensor(),
        })
    }
}

typed_op!(Impute, "Imputer");

fn impute<T: Datum + Copy + PartialEq>(
    x: &mut Tensor,
    values: &Tensor,
    replaced: &Tensor,
    is_nan: fn(T) -> bool,
) -> TractResult<()> {
    let columns = *x.shape().last().context("Imputer input has no axes")?;
    let values = values.try_as_plain_ram()?;
    let values = values.as_slice::<T>()?;
    ensure!(
        values.len() == 1 || values.len() == columns,
        "Imputer: {} imputed values for {columns} columns",
        values.len()
    );
    let replaced = replaced.try_as_plain_ram()?.as_slice::<T>()?[0];
    let replace_nan = is_nan(replaced);
    if columns == 0 {
        return Ok(());
    }
    let mut view = x.try_as_plain_ram_mut()?;
    for row in view.as_slice_mut::<T>()?.chunks_exact_mut(columns) {
        for (c, v) in row.iter_mut().enumerate() {
            if (replace_nan && is_nan(*v)) || *v == replaced {
                *v = values[if values.len() == 1 { 0 } else { c }];
            }
        }
    }
    Ok(())
}

impl EvalOp for Impute {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        ensure!(
            x.datum_type() == self.values.datum_type(),
            "Imputer: input of type {:?}, built for {:?}",
            x.datum_type(),
            self.values.datum_type()
        );
        let (v, r) = (&*self.values, &*self.replaced);
        match x.datum_type() {
            DatumType::F32 => impute::<f32>(&mut x, v, r, f32::is_nan)?,
            DatumType::F64 => impute::<f64>(&mut x, v, r, f64::is_nan)?,
            DatumType::I64 => impute::<i64>(&mut x, v, r, |_| false)?,
            DatumType::I32 => impute::<i32>(&mut x, v, r, |_| false)?,
            dt => bail!("Imputer: input of type {dt:?}"),
        }
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for Impute {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    as_op!();
}
