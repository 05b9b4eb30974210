//! The explainer of a model, put together at load from its graph and its card; or why the
//! model cannot explain, in words that say what to do.

use std::collections::BTreeMap;
use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{GraphProto, ModelProto, NodeProto};
use tract_onnx::prelude::*;
use tract_onnx::Onnx;

use super::combination::combination;
use super::explainer::{Attribution, Explainer, Part};
use super::explanation::{ExplainedTargets, Space};
use super::lineage;
use super::linear::Linear;
use crate::card::ModelCard;
use crate::error::LoadError;
use crate::forest::{Aggregate, ShapForest};
use crate::ops::preread;
use crate::ops::tree_spec::{read_tree_spec, TreeKind, TreeSpec};
use crate::prediction::{Label, Task};
use crate::schema::FeatureSchema;

const TREE_OPS: [&str; 3] = [
    "TreeEnsembleRegressor",
    "TreeEnsembleClassifier",
    "TreeEnsemble",
];
const LINEAR_OPS: [&str; 2] = ["LinearRegressor", "LinearClassifier"];

/// How to write covers, for the messages.
const HOW_TO_COVER: &str = "write the model card from the training rows with the project's \
    tool (`python model/model_card.py model.onnx training.csv`, or model_card.write_model_card \
    from Python), which records every tree node's cover and every linear model's input means";

/// What a model's explainer is built from.
pub(crate) struct Source<'a> {
    pub framework: &'a Onnx,
    pub proto: &'a ModelProto,
    /// The graph as the model reads it (a final ZipMap unwrapped).
    pub graph: &'a GraphProto,
    pub card: Option<&'a ModelCard>,
    pub schema: &'a FeatureSchema,
    pub task: Task,
    /// The graph output that holds the answer: the score, or the class probabilities.
    pub answer_output: &'a str,
    pub input_columns: &'a [usize],
    /// The model's inference graph, when the card has anything to explain with.
    pub inference: Option<InferenceModel>,
    /// The tree ensembles read at load (by [`crate::ops::preread`] index), when the card
    /// has anything to explain with: their nodes no longer hold their lists.
    pub trees: &'a [TreeSpec],
}

/// Whether a card carries what explanations need, so that the inference graph is worth
/// keeping for them.
pub(crate) fn wanted(card: Option<&ModelCard>) -> bool {
    card.is_some_and(|c| !c.covers.is_empty() || !c.input_means.is_empty())
}

/// The explainer, `Err(why)` when the model cannot explain, or a load error when the card's
/// covers contradict the model (they are checked whether or not anyone asks).
pub(crate) fn build(source: Source) -> Result<Result<Arc<Explainer>, Arc<str>>, LoadError> {
    let parts = check_card(&source)?;
    Ok(explainer(source, parts).map(Arc::new).map_err(Arc::from))
}

/// One covered (or averaged) op: what explains its outputs, and how its output columns
/// (a classifier's class columns) are made of them.
struct Covered {
    attribution: Attribution,
    columns: Vec<ColumnOf>,
    /// Some class gets a score on some rows only: not one sum of the trees.
    row_dependent: bool,
}

/// An op output column as `offset + sign × output[output]` (`None`: the constant alone).
#[derive(Clone, Copy, Debug)]
struct ColumnOf {
    output: Option<usize>,
    sign: f64,
    offset: f64,
}

impl ColumnOf {
    fn each(n: usize) -> Vec<ColumnOf> {
        (0..n)
            .map(|k| ColumnOf {
                output: Some(k),
                sign: 1.0,
                offset: 0.0,
            })
            .collect()
    }
}

/// Each tree ensemble the card covers, as TreeSHAP walks it, and each linear model it has
/// means for: the covers checked against the trees (every node, consistent sums), every
/// node the card names found. A card that contradicts its model is a load error.
fn check_card(source: &Source) -> Result<BTreeMap<String, Result<Covered, String>>, LoadError> {
    let mut parts = BTreeMap::new();
    let Some(card) = source.card else {
        return Ok(parts);
    };
    let bad = |what: &str, node: &str, why: String| {
        LoadError::BadModelCard(format!("{what} of node `{node}`: {why}"))
    };
    for (name, covers) in &card.covers {
        let node = find_node(source.graph, name)
            .filter(|n| TREE_OPS.contains(&n.op_type.as_str()))
            .ok_or_else(|| {
                bad(
                    "covers",
                    name,
                    "the model has no tree ensemble of that name".into(),
                )
            })?;
        let read;
        let spec = match preread::index(node) {
            Some(i) => source
                .trees
                .get(i)
                .ok_or_else(|| bad("covers", name, "its trees were not read at load".into()))?,
            None => {
                let ctx = context(source);
                read = read_tree_spec(&ctx, node)
                    .map_err(|e| bad("covers", name, format!("{e:#}")))?;
                &read
            }
        };
        if matches!(spec.aggregate, Aggregate::Min | Aggregate::Max) {
            // Covered, but not additive: the model serves, and cannot explain.
            parts.insert(
                name.clone(),
                Err(format!(
                    "node `{name}` ({}) keeps one tree's value per row (aggregate MIN or \
                     MAX), which has no additive explanation",
                    node.op_type
                )),
            );
            continue;
        }
        let forest = ShapForest::new(
            &spec.nodes,
            &spec.leaves,
            covers,
            spec.n_targets,
            spec.aggregate,
            &spec.base_values,
        )
        .map_err(|e| bad("covers", name, e.to_string()))?;
        let (columns, row_dependent) = match &spec.kind {
            TreeKind::Regressor => (ColumnOf::each(spec.n_targets), false),
            TreeKind::Classifier(classifier) => (
                classifier
                    .columns
                    .iter()
                    .map(|c| ColumnOf {
                        output: c.target,
                        sign: c.sign,
                        offset: c.offset,
                    })
                    .collect(),
                classifier.row_dependent,
            ),
        };
        parts.insert(
            name.clone(),
            Ok(Covered {
                attribution: Attribution::Trees(forest),
                columns,
                row_dependent,
            }),
        );
    }
    for (name, means) in &card.input_means {
        let node = find_node(source.graph, name)
            .filter(|n| LINEAR_OPS.contains(&n.op_type.as_str()))
            .ok_or_else(|| {
                bad(
                    "input_means",
                    name,
                    "the model has no linear model of that name".into(),
                )
            })?;
        let linear = Linear::new(node, means).map_err(|e| bad("input_means", name, e))?;
        let outputs = linear.expected_values().len();
        // One model for two classes: class 1 is its score, class 0 the mirror (1 − p, or
        // the negated margin under LOGISTIC).
        let columns = if node.op_type == "LinearClassifier" && outputs == 1 {
            let logistic = linear.logistic();
            vec![
                ColumnOf {
                    output: Some(0),
                    sign: -1.0,
                    offset: if logistic { 0.0 } else { 1.0 },
                },
                ColumnOf {
                    output: Some(0),
                    sign: 1.0,
                    offset: 0.0,
                },
            ]
        } else {
            ColumnOf::each(outputs)
        };
        parts.insert(
            name.clone(),
            Ok(Covered {
                attribution: Attribution::Linear(linear),
                columns,
                row_dependent: false,
            }),
        );
    }
    Ok(parts)
}

fn explainer(
    source: Source,
    mut parts: BTreeMap<String, Result<Covered, String>>,
) -> Result<Explainer, String> {
    let graph = source.graph;
    if !graph
        .node
        .iter()
        .any(|n| TREE_OPS.contains(&n.op_type.as_str()) || LINEAR_OPS.contains(&n.op_type.as_str()))
    {
        let mut ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        ops.dedup();
        return Err(format!(
            "explanations are for tree ensembles and linear models, and this model has \
             neither (its operators: {})",
            ops.join(", ")
        ));
    }
    let combined = combination(graph, source.answer_output).map_err(|r| r.to_string())?;
    let space = match combined.space() {
        "score" => Space::Score,
        "probability" => Space::Probability,
        _ => Space::Margin,
    };
    // Every leaf the answer is made of must be covered (trees) or averaged (linear).
    let mut covered = Vec::with_capacity(combined.leaves.len());
    for leaf in &combined.leaves {
        let part = parts.remove(&leaf.name).ok_or_else(|| {
            let what = if TREE_OPS.contains(&leaf.op_type.as_str()) {
                "node covers"
            } else {
                "input means"
            };
            format!(
                "the model card has no {what} for node `{}` ({}): {HOW_TO_COVER}",
                leaf.name, leaf.op_type
            )
        })??;
        if part.row_dependent {
            return Err(format!(
                "node `{}` ({}) gives some classes a score on some rows only, so its \
                 answers are not one sum of its trees",
                leaf.name, leaf.op_type
            ));
        }
        covered.push(part);
    }
    // Each answer column as constant + Σ weight × (part, output).
    let mut resolved: Vec<ResolvedColumn> = Vec::with_capacity(combined.columns.len());
    for column in &combined.columns {
        let mut constant = column.constant;
        let mut terms = Vec::with_capacity(column.terms.len());
        for term in &column.terms {
            let map = covered[term.leaf].columns.get(term.column).ok_or_else(|| {
                format!(
                    "node `{}` has no output column {}",
                    combined.leaves[term.leaf].name, term.column
                )
            })?;
            constant += term.weight * map.offset;
            if let Some(k) = map.output {
                terms.push((term.leaf, k, term.weight * map.sign));
            }
        }
        resolved.push((constant, terms));
    }
    // The explained targets: a regressor's score; a classifier's classes, or its positive
    // class alone where the other is its mirror (a binary model with one margin).
    let explained: Vec<usize> = match &source.task {
        Task::Regression => vec![0],
        Task::Classification { .. } if is_mirrored(&resolved) => vec![1],
        Task::Classification { .. } => (0..resolved.len()).collect(),
    };
    let classes: Option<Arc<[Label]>> = match &source.task {
        Task::Regression => None,
        Task::Classification { classes } => {
            Some(explained.iter().map(|&c| classes[c].clone()).collect())
        }
    };
    let mut constants = vec![0.0; explained.len()];
    let mut routes: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); covered.len()];
    for (t, &c) in explained.iter().enumerate() {
        let (constant, terms) = resolved
            .get(c)
            .ok_or_else(|| format!("the answer has no column {c}"))?;
        constants[t] = *constant;
        for &(part, k, w) in terms {
            routes[part].push((k, t, w));
        }
    }
    let mut explainer_parts = Vec::with_capacity(covered.len());
    let mut outlets = Vec::with_capacity(covered.len());
    let mut model = source.inference.ok_or_else(|| {
        format!("the model card has no node covers or input means: {HOW_TO_COVER}")
    })?;
    for ((leaf, part), routes) in combined.leaves.iter().zip(covered).zip(routes) {
        let columns =
            lineage::columns(graph, source.schema, &leaf.input).map_err(|r| r.to_string())?;
        if let Attribution::Trees(forest) = &part.attribution {
            if forest.n_features() > columns.len() {
                return Err(format!(
                    "node `{}` reads column {} of an input of {} columns",
                    leaf.name,
                    forest.n_features() - 1,
                    columns.len()
                ));
            }
        }
        let outlet = model
            .find_outlet_label(&leaf.input)
            .or_else(|| {
                model
                    .node_by_name(&leaf.input)
                    .ok()
                    .map(|n| OutletId::new(n.id, 0))
            })
            .ok_or_else(|| format!("tensor `{}` is not in the model's graph", leaf.input))?;
        outlets.push(outlet);
        explainer_parts.push(Part {
            node: leaf.name.clone(),
            attribution: part.attribution,
            columns,
            routes,
        });
    }
    model
        .select_output_outlets(&outlets)
        .map_err(|e| format!("{e:#}"))?;
    let targets = ExplainedTargets {
        space,
        classes,
        base_values: Arc::from(vec![0.0; explained.len()]),
        features: source.schema.names().to_vec().into(),
    };
    Ok(Explainer::new(
        targets,
        explainer_parts,
        &constants,
        source.input_columns.to_vec(),
        model,
    ))
}

/// An answer column as its constant and its terms: (part, output, weight).
type ResolvedColumn = (f64, Vec<(usize, usize, f64)>);

/// Two answer columns where the first is the second's mirror (the same terms, negated): a
/// binary model with one score.
fn is_mirrored(columns: &[ResolvedColumn]) -> bool {
    match columns {
        [(_, zero), (_, one)] => {
            !one.is_empty()
                && zero.len() == one.len()
                && zero
                    .iter()
                    .zip(one)
                    .all(|(a, b)| a.0 == b.0 && a.1 == b.1 && a.2 == -b.2)
        }
        _ => false,
    }
}

fn find_node<'g>(graph: &'g GraphProto, name: &str) -> Option<&'g NodeProto> {
    graph.node.iter().find(|n| lineage::node_label(n) == name)
}

/// A parsing context as tract's ONNX front end makes one, to read a node's attributes
/// (tensors among them) the way the ops did at load.
fn context<'a>(source: &Source<'a>) -> ParsingContext<'a> {
    let onnx_operator_set_version = source
        .proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    ParsingContext {
        onnx_operator_set_version,
        framework: source.framework,
        model: source.proto,
        parent_graphs: vec![],
        model_dir: None,
        template: InferenceModel::default(),
    }
}
