//! One tract op shape for the ONNX-ML scorers computed row by row in plain Rust
//! (SVMs, LinearClassifier): `[N, F]` in (cast to f32), an optional `[N]` label and an
//! `[N, K]` f32 score out.

use std::fmt::Debug;
use std::sync::Arc;

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::parsing::Parsed;
use super::wiring::wire_on_f32;

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

/// A scorer's `parse`: `read` it from the node (errors naming the node), as a [`RowOp`].
pub fn parse_scorer<S: Scorer>(
    node: &NodeProto,
    op: &str,
    read: fn(&NodeProto) -> TractResult<S>,
) -> Parsed {
    let scorer = read(node).with_context(|| format!("{op} {}", node.name))?;
    Ok((expand(MatrixExpansion(RowOp(Arc::new(scorer)))), vec![]))
}

/// A typed op taking one `[N, F]` f32 input and returning an `[N]` label where
/// `label_type` says so, then `[N, n_scores]` f32 scores: the tree ensembles and the
/// [`Scorer`]s.
pub(super) trait MatrixOp: TypedOp + Clone {
    fn label_type(&self) -> Option<DatumType>;
    fn n_scores(&self) -> usize;
}

/// The inference-time op of a [`MatrixOp`]: checks shapes, then wires the op on the
/// input cast to f32.
#[derive(Debug, Clone)]
pub(super) struct MatrixExpansion<O>(pub O);

impl<O: MatrixOp> Expansion for MatrixExpansion<O> {
    fn name(&self) -> StaticName {
        Op::name(&self.0)
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Op::info(&self.0)
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
        wire_on_f32(model, prefix, inputs[0], self.0.clone())
    }
}

#[derive(Debug, Clone)]
struct RowOp(Arc<dyn Scorer>);

identity_eq!(RowOp);

impl MatrixOp for RowOp {
    fn label_type(&self) -> Option<DatumType> {
        self.0.label_type()
    }

    fn n_scores(&self) -> usize {
        self.0.n_scores()
    }
}

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
        let (rows, width, x) = matrix(self.0.name(), &input)?;
        ensure!(
            width == self.0.n_features(),
            "{} expects {} columns, got {width}",
            self.0.name(),
            self.0.n_features(),
        );
        Ok(self
            .0
            .eval(x, rows)?
            .into_iter()
            .map(|t| t.into_tvalue())
            .collect())
    }
}

impl TypedOp for RowOp {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let (rows, width) = matrix_fact(self.0.name(), inputs[0])?;
        if let Some(width) = width {
            ensure!(
                width == self.0.n_features(),
                "{} expects {} columns, its input has {width}",
                self.0.name(),
                self.0.n_features()
            );
        }
        let scores = f32::fact([rows.clone(), self.0.n_scores().to_dim()]);
        Ok(match self.0.label_type() {
            Some(dt) => tvec!(dt.fact([rows]), scores),
            None => tvec!(scores),
        })
    }

    as_op!();
}

/// An `[N, F]` f32 input of `op` at run time: `(N, F, values)`.
pub(super) fn matrix<'t>(op: &str, input: &'t TValue) -> TractResult<(usize, usize, &'t [f32])> {
    let shape = input.shape();
    ensure!(
        shape.len() == 2,
        "{op} expects a [N, F] input, got {shape:?}"
    );
    let x = input.try_as_plain_ram()?.as_slice::<f32>()?;
    Ok((shape[0], shape[1], x))
}

/// An `[N, F]` input fact of `op`: `N`, and `F` where it is known.
pub(super) fn matrix_fact(op: &str, input: &TypedFact) -> TractResult<(TDim, Option<usize>)> {
    ensure!(
        input.rank() == 2,
        "{op} expects a [N, F] input, got {input:?}"
    );
    Ok((input.shape[0].clone(), input.shape[1].to_usize().ok()))
}
