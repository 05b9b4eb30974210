//! What a model's outputs mean: one score per row, or a label and class probabilities.
//! Read once at load; decoded per call.

use std::sync::Arc;

use tract_onnx::pb::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    GraphProto, TensorShapeProto, TypeProto,
};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{bail, ensure, format_err, DimLike};

use crate::error::LoadError;
use crate::prediction::{Label, Predictions, Task};

/// Which plan outputs carry the answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Score {
        output: usize,
    },
    Class {
        label: usize,
        probabilities: usize,
        classes: Arc<[Label]>,
    },
}

impl Answer {
    /// The output an explanation adds up to: the score, or the class probabilities.
    pub(crate) fn output(&self) -> usize {
        match self {
            Answer::Score { output } => *output,
            Answer::Class { probabilities, .. } => *probabilities,
        }
    }

    pub(crate) fn task(&self) -> Task {
        match self {
            Answer::Score { .. } => Task::Regression,
            Answer::Class { classes, .. } => Task::Classification {
                classes: classes.clone(),
            },
        }
    }
}

/// Replaces a `ZipMap` that ends the graph by the probability tensor it wraps, and
/// returns the classes it named. A ZipMap only turns each row of that tensor into a map
/// from class to probability; the answer keeps the tensor and the classes instead (tract
/// has no map or sequence values).
pub(crate) fn unwrap_zipmap(graph: &mut GraphProto) -> Result<Option<Vec<Label>>, LoadError> {
    let Some(at) = graph.node.iter().position(|n| {
        n.op_type == "ZipMap"
            && graph
                .output
                .iter()
                .any(|o| n.output.first() == Some(&o.name))
    }) else {
        return Ok(None);
    };
    let node = graph.node.remove(at);
    let classes = class_attribute(&node.attribute)
        .ok_or_else(|| LoadError::UnsupportedOutput("its ZipMap names no classes".into()))?;
    let (Some(tensor), Some(map)) = (node.input.first(), node.output.first()) else {
        return Err(LoadError::Corrupt(
            "a ZipMap without input or output".into(),
        ));
    };
    let unknown = tensor_shape_proto::Dimension::default();
    for output in graph.output.iter_mut().filter(|o| &o.name == map) {
        output.name = tensor.clone();
        output.r#type = Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: vec![unknown.clone(), unknown.clone()],
                }),
            })),
            ..Default::default()
        });
    }
    Ok(Some(classes))
}

/// Operators through which a classifier's answer keeps its classes: the label's values, or
/// the probability columns' order. Converters put these between the classifier and the
/// graph's outputs (skl2onnx: a `Normalizer` after a multiclass `LinearClassifier`, a
/// `Cast` or `Identity` on the label; onnxmltools: `Identity` chains).
const KEEPS_CLASSES: &[&str] = &[
    "Identity",
    "Cast",
    "CastLike",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Normalizer",
    "Softmax",
    "Sigmoid",
    "Clip",
    "Abs",
    "Exp",
    "Add",
    "Sub",
    "Mul",
    "Div",
];

/// The classes of the classifier operator (`classlabels_strings`, `classlabels_ints` or
/// `classlabels_int64s`: LinearClassifier, SVMClassifier, TreeEnsembleClassifier) that the
/// graph's label output comes from, followed back through [`KEEPS_CLASSES`] operators.
/// The label's values must be among the classes, so it alone decides when the graph
/// declares one (an integer or string output); else any output may lead to the
/// classifier. `None` when none does: an operator in between (a `LabelEncoder`, say) may
/// change what the classes are.
pub(crate) fn classifier_classes(graph: &GraphProto) -> Option<Vec<Label>> {
    let producer = |tensor: &str| {
        graph
            .node
            .iter()
            .find(|n| n.output.iter().any(|o| o == tensor))
    };
    let constant = |tensor: &str| {
        graph.initializer.iter().any(|t| t.name == tensor)
            || producer(tensor).is_some_and(|n| n.op_type == "Constant")
    };
    let is_label = |o: &&tract_onnx::pb::ValueInfoProto| match &o.r#type {
        Some(TypeProto {
            value: Some(type_proto::Value::TensorType(t)),
            ..
        }) => t.elem_type == DataType::Int64 as i32 || t.elem_type == DataType::String as i32,
        _ => false,
    };
    let labels: Vec<&str> = graph
        .output
        .iter()
        .filter(is_label)
        .map(|o| o.name.as_str())
        .collect();
    let outputs = if labels.is_empty() {
        graph.output.iter().map(|o| o.name.as_str()).collect()
    } else {
        labels
    };
    outputs.into_iter().find_map(|output| {
        // Depth-first up the producers; `seen` bounds the walk on any graph.
        let mut todo = vec![output];
        let mut seen = std::collections::HashSet::new();
        while let Some(tensor) = todo.pop() {
            if !seen.insert(tensor) {
                continue;
            }
            let Some(node) = producer(tensor) else {
                continue;
            };
            if let Some(classes) = class_attribute(&node.attribute) {
                return Some(classes);
            }
            if KEEPS_CLASSES.contains(&node.op_type.as_str()) {
                todo.extend(
                    node.input
                        .iter()
                        .map(String::as_str)
                        .filter(|i| !i.is_empty() && !constant(i)),
                );
            }
        }
        None
    })
}

fn class_attribute(attributes: &[tract_onnx::pb::AttributeProto]) -> Option<Vec<Label>> {
    attributes.iter().find_map(|a| match a.name.as_str() {
        "classlabels_strings" if a.r#type == AttributeType::Strings as i32 => Some(
            a.strings
                .iter()
                .map(|s| Label::Text(String::from_utf8_lossy(s).into()))
                .collect(),
        ),
        // TreeEnsembleClassifier and ZipMap say `int64s`, LinearClassifier and SVMClassifier `ints`.
        "classlabels_int64s" | "classlabels_ints" if a.r#type == AttributeType::Ints as i32 => {
            Some(a.ints.iter().map(|&v| Label::Int(v)).collect())
        }
        _ => None,
    })
}

/// Reads what the outputs of `model` mean, given the classes found in the graph.
pub(crate) fn answer(model: &TypedModel, classes: Option<Vec<Label>>) -> Result<Answer, LoadError> {
    let unsupported = |e: TractError| LoadError::Unsupported(format!("{e:#}"));
    let facts: Vec<TypedFact> = model
        .output_outlets()
        .map_err(unsupported)?
        .iter()
        .map(|o| model.outlet_fact(*o).cloned())
        .collect::<TractResult<_>>()
        .map_err(unsupported)?;
    let is_number = |f: &TypedFact| f.datum_type.is_float() || f.datum_type.is_integer();
    let per_row = |f: &TypedFact| match f.shape.dims() {
        [_] => true,
        [_, c] => *c == 1.to_dim(),
        _ => false,
    };
    let describe = || {
        let each: Vec<String> = facts
            .iter()
            .map(|f| format!("{:?} [{:?}]", f.datum_type, f.shape))
            .collect();
        format!("it has {} outputs: {}", facts.len(), each.join(", "))
    };
    match facts.as_slice() {
        [score] if is_number(score) && per_row(score) => Ok(Answer::Score { output: 0 }),
        [a, b] => {
            let is_label = |f: &TypedFact| {
                // tract types some integer label outputs as TDim.
                (f.datum_type.is_integer()
                    || f.datum_type == DatumType::TDim
                    || f.datum_type == DatumType::String)
                    && per_row(f)
            };
            let is_probabilities = |f: &TypedFact| f.datum_type.is_float() && f.rank() == 2;
            let (label, probabilities) = match (is_label(a), is_label(b)) {
                (true, false) if is_probabilities(b) => (0, 1),
                (false, true) if is_probabilities(a) => (1, 0),
                _ => return Err(LoadError::UnsupportedOutput(describe())),
            };
            let classes = classes.ok_or_else(|| {
                LoadError::UnsupportedOutput(
                    "it has a label and a probability output but names no classes: neither \
                     ends in a ZipMap, nor comes (through Identity, Cast, Normalizer and \
                     other operators that keep the classes) from a classifier operator \
                     with classlabels_strings, classlabels_ints or classlabels_int64s; \
                     export it with ZipMap (skl2onnx's default) so the classes are in the file"
                        .into(),
                )
            })?;
            let width = &facts[probabilities].shape[1];
            if let Ok(width) = width.to_usize() {
                if width != classes.len() {
                    return Err(LoadError::UnsupportedOutput(format!(
                        "it names {} classes but its probability output has {width} columns",
                        classes.len()
                    )));
                }
            }
            Ok(Answer::Class {
                label,
                probabilities,
                classes: classes.into(),
            })
        }
        _ => Err(LoadError::UnsupportedOutput(describe())),
    }
}

/// Appends a run's answers for `rows` rows to `into`.
pub(crate) fn decode(
    answer: &Answer,
    outputs: &[TValue],
    rows: usize,
    into: &mut Predictions,
) -> TractResult<()> {
    match (answer, into) {
        (Answer::Score { output }, Predictions::Scores(scores)) => {
            let t = outputs[*output].cast_to::<f32>()?;
            let t = t.try_as_plain_ram()?;
            let t = t.as_slice::<f32>()?;
            ensure!(t.len() == rows, "{} scores for {rows} rows", t.len());
            scores.extend_from_slice(t);
        }
        (
            Answer::Class {
                label,
                probabilities,
                classes,
            },
            Predictions::Classes {
                labels,
                probabilities: into,
                ..
            },
        ) => {
            let p = outputs[*probabilities].cast_to::<f32>()?;
            let p = p.try_as_plain_ram()?;
            let p = p.as_slice::<f32>()?;
            ensure!(
                p.len() == rows * classes.len(),
                "{} probabilities for {rows} rows of {} classes",
                p.len(),
                classes.len()
            );
            into.extend_from_slice(p);
            let raw = &outputs[*label];
            ensure!(
                outputs[*label].len() == rows,
                "{} labels for {rows} rows",
                outputs[*label].len()
            );
            let find = |want: &dyn Fn(&Label) -> bool, shown: &dyn std::fmt::Display| {
                classes.iter().position(want).ok_or_else(|| {
                    format_err!("the model answered label {shown}, not one of its classes")
                })
            };
            match raw.datum_type() {
                DatumType::String => {
                    let raw = raw.try_as_plain_ram()?;
                    for v in raw.as_slice::<String>()? {
                        labels.push(find(
                            &|c| matches!(c, Label::Text(t) if **t == *v.as_str()),
                            v,
                        )?);
                    }
                }
                _ => {
                    let ints = raw.cast_to::<i64>()?;
                    let ints = ints.try_as_plain_ram()?;
                    for v in ints.as_slice::<i64>()? {
                        labels.push(find(&|c| *c == Label::Int(*v), v)?);
                    }
                }
            }
        }
        _ => bail!("the answers do not match the model's task"),
    }
    Ok(())
}
