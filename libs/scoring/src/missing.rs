//! Which inputs a model can take a missing value on, read off its graph: a null is scored
//! only where the model itself says what a missing value means, never guessed at.

use std::collections::HashSet;

use tract_onnx::pb::{attribute_proto::AttributeType, GraphProto, NodeProto};

use crate::feature::MISSING_TEXT;

/// Whether a NaN fed into numeric `input` is always absorbed before any graph output:
/// by an imputer that replaces NaN, or by trees that route missing values explicitly.
/// Anything else (a scaler, a linear model) would turn it into a NaN answer.
pub(crate) fn handled(graph: &GraphProto, input: &str) -> bool {
    // ONNX graphs list nodes in topological order, so one pass follows the value.
    let mut carries_nan: HashSet<&str> = HashSet::from([input]);
    for node in &graph.node {
        if !node.input.iter().any(|i| carries_nan.contains(i.as_str())) || absorbs_nan(node) {
            continue;
        }
        carries_nan.extend(node.output.iter().map(String::as_str));
    }
    !graph
        .output
        .iter()
        .any(|o| carries_nan.contains(o.name.as_str()))
}

/// Whether string `input` flows into a node that knows the empty string as a value: the
/// signature of skl2onnx's string `SimpleImputer(missing_values="")`, or an encoder
/// trained with "" as a category.
pub(crate) fn knows_missing_text(graph: &GraphProto, input: &str) -> bool {
    let mut reached: HashSet<&str> = HashSet::from([input]);
    for node in &graph.node {
        if !node.input.iter().any(|i| reached.contains(i.as_str())) {
            continue;
        }
        let knows = node.attribute.iter().any(|a| {
            a.r#type == AttributeType::Strings as i32
                && matches!(a.name.as_str(), "keys_strings" | "cats_strings")
                && a.strings.iter().any(|s| s == MISSING_TEXT.as_bytes())
        });
        if knows {
            return true;
        }
        reached.extend(node.output.iter().map(String::as_str));
    }
    false
}

fn absorbs_nan(node: &NodeProto) -> bool {
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    match (node.domain.as_str(), node.op_type.as_str()) {
        ("ai.onnx.ml", "Imputer") => attr("replaced_value_float").is_some_and(|a| a.f.is_nan()),
        ("ai.onnx.ml", "TreeEnsembleRegressor" | "TreeEnsembleClassifier" | "TreeEnsemble") => {
            attr("nodes_missing_value_tracks_true").is_some_and(|a| a.ints.iter().any(|&b| b != 0))
        }
        _ => false,
    }
}
