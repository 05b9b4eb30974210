//! The explainer a model builds at load: its additive parts (tree ensembles explained by
//! TreeSHAP, linear models by coefficient × (value − mean)), where each part's input
//! columns come from, how the parts add up to the answer, and a second plan, built at
//! the first explanation, that computes the parts' inputs from the model's.

use std::sync::{Arc, Mutex, OnceLock};

use tract_onnx::prelude::*;

use super::explanation::{ExplainedTargets, Explanations};
use super::lineage::Source;
use super::linear::Linear;
use crate::batch::Batch;
use crate::error::ExplainError;
use crate::forest::{ShapForest, ShapScratch};
use crate::outcome::Scored;

/// Rows per run of the explain plan, as the model's own plan.
const TILE_ROWS: usize = 512;

/// What explains one part's output columns.
pub(crate) enum Attribution {
    Trees(ShapForest),
    Linear(Linear),
}

impl Attribution {
    /// Per output column of the part: its mean answer over the training rows.
    fn expected_values(&self) -> &[f64] {
        match self {
            Attribution::Trees(forest) => forest.expected_values(),
            Attribution::Linear(linear) => linear.expected_values(),
        }
    }

    pub(crate) fn n_outputs(&self) -> usize {
        self.expected_values().len()
    }

    /// Input columns per output column in its contributions (a forest reports up to the
    /// last column its trees read).
    fn stride(&self, columns: usize) -> usize {
        match self {
            Attribution::Trees(forest) => forest.n_features(),
            Attribution::Linear(_) => columns,
        }
    }
}

/// One additive part of the model: a tree ensemble or a linear model.
pub(crate) struct Part {
    /// Its ONNX node name, for messages.
    pub(crate) node: String,
    pub(crate) attribution: Attribution,
    /// Which model feature each of its input columns comes from.
    pub(crate) columns: Vec<Source>,
    /// (its output column, the explained target, the weight it enters the target with).
    pub(crate) routes: Vec<(usize, usize, f64)>,
}

pub(crate) struct Explainer {
    targets: ExplainedTargets,
    parts: Vec<Part>,
    /// For each plan input, in plan order: the batch column it takes (as the model's).
    input_columns: Vec<usize>,
    /// The model with the parts' inputs as its outputs, optimized at the first explanation
    /// so that a model that is never asked pays nothing at start-up.
    unbuilt: Mutex<Option<InferenceModel>>,
    plan: OnceLock<Result<Arc<TypedRunnableModel>, String>>,
}

impl std::fmt::Debug for Explainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Explainer")
            .field("targets", &self.targets)
            .field(
                "parts",
                &self.parts.iter().map(|p| &p.node).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Explainer {
    /// `constants[t]` is what target `t` adds beyond its parts. `model` is the model's
    /// inference graph with its outputs set to the parts' inputs, in part order.
    pub(crate) fn new(
        targets: ExplainedTargets,
        parts: Vec<Part>,
        constants: &[f64],
        input_columns: Vec<usize>,
        model: InferenceModel,
    ) -> Explainer {
        let mut base = constants.to_vec();
        for part in &parts {
            let expected = part.attribution.expected_values();
            for &(k, t, w) in &part.routes {
                base[t] += w * expected[k];
            }
        }
        let targets = ExplainedTargets {
            base_values: base.into(),
            ..targets
        };
        Explainer {
            targets,
            parts,
            input_columns,
            unbuilt: Mutex::new(Some(model)),
            plan: OnceLock::new(),
        }
    }

    pub(crate) fn targets(&self) -> &ExplainedTargets {
        &self.targets
    }

    fn plan(&self) -> Result<&Arc<TypedRunnableModel>, ExplainError> {
        self.plan
            .get_or_init(|| {
                let model = self
                    .unbuilt
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .ok_or("the explain plan failed to build before")?;
                model
                    .into_typed()
                    .and_then(|m| m.into_optimized())
                    .and_then(|m| m.into_runnable())
                    .map_err(|e| format!("the explain plan cannot be built: {e:#}"))
            })
            .as_ref()
            .map_err(|e| ExplainError::Inference(e.clone()))
    }

    /// Explains every row of `batch` that `scored` answered.
    pub(crate) fn explain(
        &self,
        batch: &Batch,
        scored: &Scored,
    ) -> Result<Explanations, ExplainError> {
        let plan = self.plan()?;
        let n_targets = self.targets.n_targets();
        let n_features = self.targets.features.len();
        let width = n_targets * n_features;
        let rows = batch.rows();
        let mut values = vec![0.0; rows * width];
        if scored.rows() != rows {
            return Err(ExplainError::Inference(format!(
                "{} answers for a batch of {rows} rows: explain a batch with its own answers",
                scored.rows()
            )));
        }
        let mut explained = vec![true; rows];
        for &(row, _) in scored.failures() {
            explained[row] = false;
        }
        let mut work = Work::new(&self.parts);
        let mut start = 0;
        while start < rows {
            let end = (start + TILE_ROWS).min(rows);
            if explained[start..end].iter().all(|&e| e) {
                let inputs = self.run(plan, batch, start..end)?;
                self.attribute(&inputs, start, &explained, &mut values, &mut work)?;
            } else {
                // A row that failed scoring (an unknown category) would fail the tile's
                // run: run the answered rows one by one.
                for row in (start..end).filter(|&r| explained[r]) {
                    let inputs = self.run(plan, batch, row..row + 1)?;
                    self.attribute(&inputs, row, &explained, &mut values, &mut work)?;
                }
            }
            start = end;
        }
        Ok(Explanations::new(self.targets.clone(), values, explained))
    }

    /// The parts' inputs for rows `rows`.
    fn run(
        &self,
        plan: &Arc<TypedRunnableModel>,
        batch: &Batch,
        rows: std::ops::Range<usize>,
    ) -> Result<TVec<TValue>, ExplainError> {
        let inputs: TVec<TValue> = self
            .input_columns
            .iter()
            .map(|&c| batch.tensor(c, rows.clone()).map(Tensor::into_tvalue))
            .collect::<TractResult<_>>()
            .map_err(inference)?;
        plan.run(inputs).map_err(inference)
    }

    /// Adds the contributions of the rows whose parts' inputs are `inputs` (the first is
    /// batch row `first`) into `values`.
    fn attribute(
        &self,
        inputs: &[TValue],
        first: usize,
        explained: &[bool],
        values: &mut [f64],
        work: &mut Work,
    ) -> Result<(), ExplainError> {
        let n_features = self.targets.features.len();
        let width = self.targets.n_targets() * n_features;
        for (p, (part, input)) in self.parts.iter().zip(inputs).enumerate() {
            let cols = part.columns.len();
            let x = input.cast_to::<f32>().map_err(inference)?;
            let x = x
                .try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>().map(<[f32]>::to_vec));
            let x = x.map_err(inference)?;
            if cols == 0 || x.len() % cols != 0 {
                return Err(ExplainError::Inference(format!(
                    "node `{}` reads {} values, not rows of its {cols} columns",
                    part.node,
                    x.len()
                )));
            }
            let stride = part.attribution.stride(cols);
            let phi = &mut work.phi[p];
            for (i, row) in x.chunks_exact(cols).enumerate() {
                let r = first + i;
                if !explained[r] {
                    continue;
                }
                phi.fill(0.0);
                match &part.attribution {
                    Attribution::Trees(forest) => {
                        forest.contributions(row, phi, work.scratch[p].as_mut().expect("trees"))
                    }
                    Attribution::Linear(linear) => linear.contributions(row, phi),
                }
                let out = &mut values[r * width..(r + 1) * width];
                for &(k, t, w) in &part.routes {
                    let phi_k = &phi[k * stride..(k + 1) * stride];
                    let out_t = &mut out[t * n_features..(t + 1) * n_features];
                    for (source, &v) in part.columns.iter().zip(phi_k) {
                        if let Source::Feature(f) = *source {
                            out_t[f] += w * v;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Buffers sized once per call, reused for every row.
struct Work {
    /// Per part: output columns × its stride.
    phi: Vec<Vec<f64>>,
    scratch: Vec<Option<ShapScratch>>,
}

impl Work {
    fn new(parts: &[Part]) -> Work {
        Work {
            phi: parts
                .iter()
                .map(|p| {
                    vec![0.0; p.attribution.n_outputs() * p.attribution.stride(p.columns.len())]
                })
                .collect(),
            scratch: parts
                .iter()
                .map(|p| match &p.attribution {
                    Attribution::Trees(forest) => Some(forest.scratch()),
                    Attribution::Linear(_) => None,
                })
                .collect(),
        }
    }
}

fn inference(e: TractError) -> ExplainError {
    ExplainError::Inference(format!("{e:#}"))
}
