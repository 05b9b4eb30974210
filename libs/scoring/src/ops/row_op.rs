//! One tract op shape for the ONNX-ML scorers computed row by row in plain Rust
//! (SVMs, LinearClassifier): `[N, F]` in (cast to f32), an optional `[N]` label and an
//! `[N, K]` f32 score out.

use std::fmt::Debug;
use std::sync::Arc;

use tract_onnx::tract_hir::internal::*;

pub trait Scorer: Debug + Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// `Some` for classifiers: the label output comes first.
    fn label_type(&self) -> Option<DatumType>;
    /// Columns of the score output.
    fn n_scores(&self) -> usize;
    /// The exact input width, when the op fixes it.
    fn n_features(&self) -> usize;
    /// Scores `rows` rows of `x`: label tensor (if any) then scores, as `label_type` says.
    fn eval(&self, x: &[f32], rows: usize) -> TractResult<TVec<Tensor>>;
}

pub fn expand_scorer(s: impl Scorer) -> Box<dyn InferenceOp> {
    expand(RowExpansion(Arc::new(s)))
}

#[derive(Debug, Clone)]
struct RowExpansion(Arc<dyn Scorer>);

impl Expansion for RowExpansion {
    fn name(&self) -> StaticName {
        self.0.name().into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        s.equals(&inputs[0].rank, 2)?;
        let scores = match self.0.label_type() {
            Some(dt) => {
                check_output_arity(outputs, 2)?;
                s.equals(&outputs[0].datum_type, dt)?;
                s.equals(&outputs[0].rank, 1)?;
                s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
                &outputs[1]
            }
            None => {
                check_output_arity(outputs, 1)?;
                &outputs[0]
            }
        };
        s.equals(&scores.datum_type, DatumType::F32)?;
        s.equals(&scores.rank, 2)?;
        s.equals(&scores.shape[0], &inputs[0].shape[0])?;
        s.equals(&scores.shape[1], self.0.n_scores().to_dim())?;
        Ok(())
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(1 + self.0.label_type().is_some() as usize)
    }

    fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        inputs: &[OutletId],
    ) -> TractResult<TVec<OutletId>> {
        let x = super::as_f32(model, prefix, inputs[0])?;
        model.wire_node(prefix, RowOp(self.0.clone()), &[x])
    }
}

#[derive(Debug, Clone)]
struct RowOp(Arc<dyn Scorer>);

// Identity, not structure: the op is built once per node and only shared.
impl PartialEq for RowOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RowOp {}

impl Op for RowOp {
    fn name(&self) -> StaticName {
        self.0.name().into()
    }

    op_as_typed_op!();
}

impl EvalOp for RowOp {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        let name = self.0.name();
        ensure!(
            shape.len() == 2,
            "{name} expects a [N, F] input, got {shape:?}"
        );
        ensure!(
            shape[1] == self.0.n_features(),
            "{name} expects {} columns, got {}",
            self.0.n_features(),
            shape[1]
        );
        let x = input.try_as_plain_ram()?.as_slice::<f32>()?;
        Ok(self
            .0
            .eval(x, shape[0])?
            .into_iter()
            .map(|t| t.into_tvalue())
            .collect())
    }
}

impl TypedOp for RowOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let input = inputs[0];
        let name = self.0.name();
        ensure!(
            input.rank() == 2,
            "{name} expects a [N, F] input, got {input:?}"
        );
        if let Ok(width) = input.shape[1].to_usize() {
            ensure!(
                width == self.0.n_features(),
                "{name} expects {} columns, its input has {width}",
                self.0.n_features()
            );
        }
        let rows = input.shape[0].clone();
        let scores = f32::fact([rows.clone(), self.0.n_scores().to_dim()]);
        Ok(match self.0.label_type() {
            Some(dt) => tvec!(dt.fact([rows]), scores),
            None => tvec!(scores),
        })
    }

    as_op!();
}
