//! A loaded model: one optimized tract plan, with a symbolic batch axis, that answers any
//! number of rows per call, plus the feature schema, what its answers mean (a score, or a
//! label and class probabilities) and the version it was loaded with.

use std::sync::{Arc, Mutex};

use tract_onnx::prelude::*;

use tract_onnx::pb::{GraphProto, ModelProto};
use tract_onnx::Onnx;

use crate::batch::Batch;
use crate::card::{ModelCard, MODEL_CARD_KEY};
use crate::error::{ExplainError, LoadError, ScoreError, UnknownCategory};
use crate::explain;
use crate::explain::{ExplainedTargets, Explainer, Explanations};
use crate::feature::{FeatureType, InputLayout};
use crate::ops;
use crate::outcome::{Observer, RowFailure, Scored};
use crate::outputs::{self, Answer};
use crate::prediction::{Predictions, Task};
use crate::schema::FeatureSchema;
use crate::watch::Watch;

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
    /// For each plan input, in plan order: the batch column it takes.
    input_columns: Vec<usize>,
    /// Which outputs hold the answer, and what it means.
    answer: Answer,
    version: String,
    /// What the model was trained on, when its file says (the model card).
    watch: Option<Arc<Watch>>,
    /// How its answers are explained, or why they cannot be.
    explainer: Result<Arc<Explainer>, Arc<str>>,
}

impl Clone for Model {
    fn clone(&self) -> Self {
        Model {
            plan: self.plan.clone(),
            state: Mutex::new(None),
            reuse_state: self.reuse_state,
            schema: self.schema.clone(),
            input_columns: self.input_columns.clone(),
            answer: self.answer.clone(),
            version: self.version.clone(),
            watch: self.watch.clone(),
            explainer: self.explainer.clone(),
        }
    }
}

impl Model {
    /// Builds a model from ONNX bytes. `version` is recorded, not interpreted (an S3
    /// VersionId or ETag, say). Slow-ish (milliseconds): do it once and keep the model.
    pub fn load(onnx: &[u8], version: impl Into<String>) -> Result<Model, LoadError> {
        let framework = ops::onnx();
        // Tree ensembles' lists (most of a forest's file) are read from `onnx` itself,
        // list by list: neither decoded into the model's protobuf nor copied for tract.
        let lean = ops::lean::split(onnx);
        let mut proto = <ModelProto as prost::Message>::decode(&*lean.bytes)
            .map_err(|e| LoadError::Corrupt(format!("{e:#}")))?;
        let schema = FeatureSchema::from_model(&proto)?;
        let watch = proto
            .metadata_props
            .iter()
            .find(|p| p.key == MODEL_CARD_KEY)
            .map(|p| ModelCard::parse(&p.value, &schema).map(|c| Arc::new(Watch::new(c, &schema))))
            .transpose()?;
        let graph = proto
            .graph
            .as_mut()
            .ok_or_else(|| LoadError::Corrupt("the model has no graph".into()))?;
        let classes = match outputs::unwrap_zipmap(graph)? {
            Some(classes) => Some(classes),
            None => outputs::classifier_classes(graph),
        };
        refuse_unknown_ops(&framework, graph)?;
        let unsupported = |e: TractError| LoadError::Unsupported(format!("{e:#}"));

        let trees = ops::preread::read_all(&framework, &proto, &lean.trees).map_err(unsupported)?;
        drop(lean);
        let card = watch.as_deref().map(Watch::card);
        // Explanations read the trees again (with the card's covers), only when asked for.
        let explained_trees = if explain::wanted(card) {
            trees.clone()
        } else {
            vec![]
        };
        let parsed = {
            let _trees = ops::preread::install(trees);
            framework.model_for_proto_model(&proto)
        };
        let mut model = parsed.map_err(unsupported)?;
        let batch = model.symbols.sym("N").to_dim();
        let mut input_columns = Vec::new();
        for (i, outlet) in model
            .input_outlets()
            .map_err(unsupported)?
            .to_vec()
            .into_iter()
            .enumerate()
        {
            let name = &model.node(outlet.node).name;
            let (ty, width, column) = match schema.layout() {
                InputLayout::Matrix => (schema.features()[0].ty, schema.len(), 0),
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
                    (schema.features()[column].ty, 1, column)
                }
            };
            input_columns.push(column);
            let shape = [batch.clone(), width.to_dim()];
            let fact = match ty {
                FeatureType::Float => f32::fact(shape),
                FeatureType::Double => f64::fact(shape),
                FeatureType::Int64 => i64::fact(shape),
                FeatureType::String => String::fact(shape),
            };
            model.set_input_fact(i, fact.into()).map_err(unsupported)?;
        }

        // Kept only for a model whose card can explain: the explain plan is built from it
        // at the first explanation.
        let inference = explain::wanted(card).then(|| model.clone());
        let typed = model.into_typed().map_err(unsupported)?;
        let answer = outputs::answer(&typed, classes)?;
        let graph = proto.graph.as_ref().expect("checked above");
        let answer_output = &graph.output[answer.output()].name;
        let explainer = explain::build(explain::Source {
            framework: &framework,
            proto: &proto,
            graph,
            card,
            schema: &schema,
            task: answer.task(),
            answer_output,
            input_columns: &input_columns,
            inference,
            trees: &explained_trees,
        })?;
        drop(explained_trees);
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
            answer,
            version: version.into(),
            watch,
            explainer,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// The model card, if the model file has one.
    pub fn card(&self) -> Option<&ModelCard> {
        self.watch.as_deref().map(Watch::card)
    }

    /// The model card resolved for watching inputs and answers, if the file has one.
    pub fn watch(&self) -> Option<&Watch> {
        self.watch.as_deref()
    }

    pub fn schema(&self) -> &FeatureSchema {
        &self.schema
    }

    /// Regression, or classification with its classes.
    pub fn task(&self) -> Task {
        self.answer.task()
    }

    /// Feature names in model order.
    pub fn features(&self) -> &[String] {
        self.schema.names()
    }

    /// What an explanation of this model's answers holds (its space, targets, base values),
    /// or why it cannot explain them, in words a caller can act on.
    pub fn explainability(&self) -> Result<&ExplainedTargets, &str> {
        match &self.explainer {
            Ok(explainer) => Ok(explainer.targets()),
            Err(why) => Err(why),
        }
    }

    /// Explains each row of `batch` that `scored` (its answers, from [`Model::score`])
    /// answered: every input feature's contribution, which with the base value adds up to
    /// the answer in the explanation's space.
    pub fn explain(&self, batch: &Batch, scored: &Scored) -> Result<Explanations, ExplainError> {
        match &self.explainer {
            Ok(explainer) => explainer.explain(batch, scored),
            Err(why) => Err(ExplainError::Unexplainable(why.clone())),
        }
    }

    /// Scores every row of `batch` in one call, tile by tile, and shows the outcome to
    /// `observer`. A row the model cannot answer (a category its encoder refuses, a
    /// non-finite answer) fails alone, in its outcome; `Err` is the model's own failure.
    pub fn score(&self, batch: &Batch, observer: &mut impl Observer) -> Result<Scored, ScoreError> {
        let mut answers = Predictions::with_capacity(&self.answer.task(), batch.rows());
        let mut failures = Vec::new();
        let mut start = 0;
        while start < batch.rows() {
            let end = (start + TILE_ROWS).min(batch.rows());
            match self.predict_tile(batch, start..end, &mut answers) {
                Ok(()) => {}
                // One row's category the model refuses fails the tile's run: answer its
                // rows one by one so that only that row fails.
                Err(e) if is_unknown_category(&e) => {
                    for row in start..end {
                        match self.predict_tile(batch, row..row + 1, &mut answers) {
                            Ok(()) => {}
                            Err(e) if is_unknown_category(&e) => {
                                answers.push_none();
                                failures.push((row, RowFailure::UnknownCategory));
                            }
                            Err(e) => return Err(inference_error(e)),
                        }
                    }
                }
                Err(e) => return Err(inference_error(e)),
            }
            start = end;
        }
        let mut unknown = failures.iter().map(|&(row, _)| row).peekable();
        let mut not_finite = Vec::new();
        for row in 0..answers.len() {
            if unknown.next_if_eq(&row).is_none() && !answers.is_finite_at(row) {
                not_finite.push((row, RowFailure::NotFinite));
            }
        }
        failures.extend(not_finite);
        let scored = Scored::new(answers, failures);
        observer.scored(batch, &scored);
        Ok(scored)
    }

    fn predict_tile(
        &self,
        batch: &Batch,
        rows: std::ops::Range<usize>,
        answers: &mut Predictions,
    ) -> TractResult<()> {
        let n = rows.len();
        let inputs: TVec<TValue> = self
            .input_columns
            .iter()
            .map(|&c| batch.tensor(c, rows.clone()).map(Tensor::into_tvalue))
            .collect::<TractResult<_>>()?;
        let kept = self
            .reuse_state
            .then(|| self.state.try_lock().ok())
            .flatten();
        let outputs = match kept {
            Some(mut kept) => {
                let state = match kept.as_mut() {
                    Some(state) => state,
                    None => kept.insert(self.plan.spawn()?),
                };
                let outputs = state.run(inputs);
                // A run that failed midway leaves the state mid-turn (its batch size still
                // bound): start the next call from a fresh one.
                if outputs.is_err() {
                    *kept = None;
                }
                outputs?
            }
            None => self.plan.run(inputs)?,
        };
        outputs::decode(&self.answer, &outputs, n, answers)
    }
}

/// Whether a failed run is the caller's: a category an encoder refuses.
fn is_unknown_category(e: &TractError) -> bool {
    e.chain()
        .any(|cause| cause.downcast_ref::<UnknownCategory>().is_some())
}

/// A failed run that is the model's, not one row's.
fn inference_error(e: TractError) -> ScoreError {
    ScoreError::Inference(format!("{e:#}"))
}

/// Refuses, by name, an operator that no front end knows, with the export option that
/// avoids it where there is one.
fn refuse_unknown_ops(framework: &Onnx, graph: &GraphProto) -> Result<(), LoadError> {
    let Some(node) = graph
        .node
        .iter()
        .find(|n| !framework.op_register.0.contains_key(&n.op_type))
    else {
        return Ok(());
    };
    let hint = match node.op_type.as_str() {
        "ZipMap" => Some("export with ZipMap only at the end of the graph, or without it (skl2onnx: options={'zipmap': False})"),
        "DictVectorizer" | "CastMap" => Some("feed the model a DataFrame-style export instead: one [N, 1] input per column"),
        _ => None,
    };
    Err(LoadError::UnsupportedOperator {
        op: format!("{}{}", domain_prefix(&node.domain), node.op_type),
        hint: hint.map(str::to_owned),
    })
}

fn domain_prefix(domain: &str) -> String {
    if domain.is_empty() || domain == "ai.onnx" {
        String::new()
    } else {
        format!("{domain}.")
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
