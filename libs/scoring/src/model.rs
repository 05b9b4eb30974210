//! A loaded model: one optimized tract plan, with a symbolic batch axis, that scores any
//! number of rows per call, plus the feature schema and version it was loaded with.

use std::sync::{Arc, Mutex};

use tract_onnx::prelude::*;

use crate::error::{LoadError, ScoreError};
use crate::ops;
use crate::row::FeatureRow;
use crate::schema::{FeatureSchema, InputLayout};

/// Rows per plan run: large batches are scored tile by tile, so intermediate tensors stay
/// in cache and memory stays bounded whatever the batch size.
const TILE_ROWS: usize = 512;

#[derive(Debug)]
pub struct Model {
    plan: Arc<TypedRunnableModel>,
    /// A run state kept between calls: building one per call costs more than scoring a
    /// row of a small model. Taken with `try_lock`; a concurrent caller spawns its own.
    /// Kept only when no op of the plan carries anything from one run to the next.
    state: Mutex<Option<TypedSimpleState>>,
    reuse_state: bool,
    schema: FeatureSchema,
    /// For each plan input, in plan order: the schema column it takes (per-feature layout).
    input_columns: Vec<usize>,
    version: String,
}

impl Clone for Model {
    fn clone(&self) -> Self {
        Model {
            plan: self.plan.clone(),
            state: Mutex::new(None),
            reuse_state: self.reuse_state,
            schema: self.schema.clone(),
            input_columns: self.input_columns.clone(),
            version: self.version.clone(),
        }
    }
}

impl Model {
    /// Builds a model from ONNX bytes. `version` is recorded, not interpreted (an S3
    /// VersionId or ETag, say). Slow-ish (milliseconds): do it once and keep the model.
    pub fn load(onnx: &[u8], version: impl Into<String>) -> Result<Model, LoadError> {
        let framework = ops::onnx();
        let proto = framework
            .proto_model_for_read(&mut &*onnx)
            .map_err(|e| LoadError::Corrupt(format!("{e:#}")))?;
        let schema = FeatureSchema::from_model(&proto)?;
        let unsupported = |e: TractError| LoadError::Unsupported(format!("{e:#}"));

        let mut model = framework
            .model_for_proto_model(&proto)
            .map_err(unsupported)?;
        let batch = model.symbols.sym("N").to_dim();
        let width = schema.len();
        let mut input_columns = Vec::new();
        for (i, outlet) in model
            .input_outlets()
            .map_err(unsupported)?
            .to_vec()
            .into_iter()
            .enumerate()
        {
            let name = &model.node(outlet.node).name;
            let fact = match schema.layout() {
                InputLayout::Matrix => f32::fact([batch.clone(), width.to_dim()]),
                InputLayout::PerFeature => {
                    let column =
                        schema
                            .names()
                            .iter()
                            .position(|n| n == name)
                            .ok_or_else(|| {
                                LoadError::Unsupported(format!(
                                    "graph input `{name}` is not among the features"
                                ))
                            })?;
                    input_columns.push(column);
                    f32::fact([batch.clone(), 1.to_dim()])
                }
            };
            model.set_input_fact(i, fact.into()).map_err(unsupported)?;
        }

        let typed = model.into_typed().map_err(unsupported)?;
        check_output(&typed)?;
        let plan = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(unsupported)?;
        Ok(Model {
            reuse_state: keeps_nothing_between_runs(&plan),
            plan,
            state: Mutex::new(None),
            schema,
            input_columns,
            version: version.into(),
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// Feature names in model order.
    pub fn features(&self) -> &[String] {
        self.schema.names()
    }

    /// Scores one row.
    pub fn score_row<R: FeatureRow + ?Sized>(&self, row: &R) -> Result<f32, ScoreError> {
        let mut x = Vec::with_capacity(self.schema.len());
        self.schema.read_row(row, &mut x)?;
        Ok(self.score_matrix(&x)?[0])
    }

    /// Scores a batch in one model call; the first bad row fails the call, naming its index.
    pub fn score_rows<R: FeatureRow>(&self, rows: &[R]) -> Result<Vec<f32>, ScoreError> {
        let mut x = Vec::with_capacity(rows.len() * self.schema.len());
        for (i, row) in rows.iter().enumerate() {
            self.schema.read_row(row, &mut x).map_err(|e| e.at_row(i))?;
        }
        self.score_matrix(&x)
    }

    /// Scores a row-major matrix of already-validated inputs, `features().len()` per row.
    /// NaN is passed through (tree models route it by their missing-value rules); rows
    /// read through [`Model::score_rows`] never contain one.
    pub fn score_matrix(&self, x: &[f32]) -> Result<Vec<f32>, ScoreError> {
        let width = self.schema.len();
        if x.len() % width != 0 {
            return Err(ScoreError::Shape {
                values: x.len(),
                width,
            });
        }
        let mut scores = Vec::with_capacity(x.len() / width);
        for tile in x.chunks(TILE_ROWS * width) {
            self.score_tile(tile, &mut scores)
                .map_err(|e| ScoreError::Inference(format!("{e:#}")))?;
        }
        Ok(scores)
    }

    fn score_tile(&self, x: &[f32], scores: &mut Vec<f32>) -> TractResult<()> {
        let width = self.schema.len();
        let rows = x.len() / width;
        let inputs: TVec<TValue> = match self.schema.layout() {
            InputLayout::Matrix => tvec![Tensor::from_shape(&[rows, width], x)?.into_tvalue()],
            InputLayout::PerFeature => self
                .input_columns
                .iter()
                .map(|&c| {
                    let column: Vec<f32> = x.iter().skip(c).step_by(width).copied().collect();
                    Ok(Tensor::from_shape(&[rows, 1], &column)?.into_tvalue())
                })
                .collect::<TractResult<_>>()?,
        };
        let kept = self
            .reuse_state
            .then(|| self.state.try_lock().ok())
            .flatten();
        let outputs = match kept {
            Some(mut state) => match state.as_mut() {
                Some(state) => state.run(inputs)?,
                None => state.insert(self.plan.spawn()?).run(inputs)?,
            },
            None => self.plan.run(inputs)?,
        };
        let tile = outputs[0].try_as_plain_ram()?;
        let tile = tile.as_slice::<f32>()?;
        tract_onnx::tract_hir::internal::ensure!(
            tile.len() == rows,
            "{} scores for {rows} rows",
            tile.len()
        );
        scores.extend_from_slice(tile);
        Ok(())
    }
}

/// Whether a run state may serve call after call. tract builds an op state for exactly the
/// ops that keep something from one run to the next (scans, loops, random generators):
/// reusing a state of such a plan would carry one call's rows into another call's answers.
fn keeps_nothing_between_runs(plan: &TypedRunnableModel) -> bool {
    let context = tract_onnx::tract_core::plan::EvalContext::out_of_plan();
    plan.model()
        .nodes
        .iter()
        .all(|node| matches!(node.op.state(&context), Ok(None)))
}

/// One f32 output of shape [N] or [N, 1]: anything else is not one score per row.
fn check_output(model: &TypedModel) -> Result<(), LoadError> {
    let outputs = model
        .output_outlets()
        .map_err(|e| LoadError::Unsupported(format!("{e:#}")))?;
    let [outlet] = outputs else {
        let names: Vec<&str> = outputs
            .iter()
            .map(|o| model.node(o.node).name.as_str())
            .collect();
        return Err(LoadError::UnsupportedOutput(format!(
            "it has {} outputs ({})",
            outputs.len(),
            names.join(", ")
        )));
    };
    let fact = model
        .outlet_fact(*outlet)
        .map_err(|e| LoadError::Unsupported(format!("{e:#}")))?;
    if fact.datum_type != f32::datum_type() {
        return Err(LoadError::UnsupportedOutput(format!(
            "its type is {:?}",
            fact.datum_type
        )));
    }
    let dims = fact.shape.dims();
    let one_per_row = match dims {
        [_] => true,
        [_, cols] => *cols == 1.to_dim(),
        _ => false,
    };
    if !one_per_row {
        return Err(LoadError::UnsupportedOutput(format!(
            "its shape is {:?}",
            fact.shape
        )));
    }
    Ok(())
}
