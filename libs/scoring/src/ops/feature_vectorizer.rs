//! `ai.onnx.ml.FeatureVectorizer`: concatenates its inputs column-wise into one `[N, C]`
//! matrix. skl2onnx emits it whenever a model is exported with one input per feature.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::array::TypedConcat;
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;
use super::wiring::as_f32;

#[derive(Debug, Clone, PartialEq)]
struct FeatureVectorizer {
    /// Columns taken from each input, in order.
    widths: Vec<usize>,
}

pub fn parse(_ctx: &ParsingContext, node: &NodeProto) -> Parsed {
    let widths: Vec<i64> = node
        .get_attr_opt_vec("inputdimensions")?
        .unwrap_or_default();
    ensure!(
        widths.len() == node.input.len() && widths.iter().all(|&w| w > 0),
        "FeatureVectorizer {}: inputdimensions must give a positive width for each of its {} inputs",
        node.name,
        node.input.len()
    );
    Ok((
        expand(FeatureVectorizer {
            widths: widths.into_iter().map(|w| w as usize).collect(),
        }),
        vec![],
    ))
}

impl Expansion for FeatureVectorizer {
    fn name(&self) -> StaticName {
        "FeatureVectorizer".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, self.widths.len())?;
        check_output_arity(outputs, 1)?;
        s.equals(&outputs[0].datum_type, DatumType::F32)?;
        s.equals(&outputs[0].rank, 2)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        s.equals(
            &outputs[0].shape[1],
            self.widths.iter().sum::<usize>().to_dim(),
        )?;
        Ok(())
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let mut columns = tvec![];
        for (i, (&input, &width)) in inputs.iter().zip(&self.widths).enumerate() {
            let mut x = input;
            let fact = model.outlet_fact(x)?.clone();
            if fact.rank() == 1 {
                x = model.wire_node(format!("{prefix}.{i}.as_column"), AxisOp::Add(1), &[x])?[0];
            }
            let fact = model.outlet_fact(x)?.clone();
            ensure!(
                fact.rank() == 2 && fact.shape[1] == width.to_dim(),
                "FeatureVectorizer {prefix}: input {i} should be [N, {width}], is {:?}",
                fact.shape
            );
            columns.push(as_f32(model, &format!("{prefix}.{i}"), x)?);
        }
        model.wire_node(prefix, TypedConcat { axis: 1 }, &columns)
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(1)
    }
}
