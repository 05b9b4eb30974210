//! A model's tree ensembles read straight from the file's bytes, before tract sees the
//! model: their per-node and per-leaf attribute lists (most of a forest's file) are taken
//! out of the bytes tract decodes, and read from the original bytes one list at a time.
//!
//! Decoded as protobuf messages, those lists cost several times their size in the file
//! (a `Vec<u8>` per node for its mode, eight bytes per id), and tract would hold them,
//! and its copy of the file, until the model is built. Here each tree node of the top
//! graph keeps its small attributes (labels, base values, transforms) and gains a
//! [`PREREAD`] attribute: the index of its lists in [`Lean::trees`]. The op's `parse`
//! finds the ensemble read from them in [`super::preread`].

use std::borrow::Cow;

use tract_onnx::pb::{AttributeProto, NodeProto};
use tract_onnx::tract_hir::internal::*;

use super::wire::{fields, put_bytes, put_varint, Repeated, Value};

/// The attribute that points a lean tree node to its lists.
pub(crate) const PREREAD: &str = "scoring.preread";

const TREE_OPS: [&str; 3] = [
    "TreeEnsembleRegressor",
    "TreeEnsembleClassifier",
    "TreeEnsemble",
];

// Field numbers of onnx.proto.
const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const NODE_OP_TYPE: u32 = 4;
const NODE_ATTRIBUTE: u32 = 5;
const ATTRIBUTE_NAME: u32 = 1;
const ATTRIBUTE_INT: u32 = 3;
const ATTRIBUTE_INTS: u32 = 8;
const ATTRIBUTE_STRINGS: u32 = 9;
const ATTRIBUTE_TYPE: u32 = 20;
const TYPE_INT: u64 = 2;
const TYPE_INTS: u64 = 7;
const TYPE_STRINGS: u64 = 8;
/// The one list the schema reads (`crate::missing`): a stub of it stays in the node.
const MISSING_TRACKS_TRUE: &str = "nodes_missing_value_tracks_true";

/// A model with its tree ensembles' lists taken out.
pub(crate) struct Lean<'a> {
    /// What tract decodes: the file as it is when it has no tree ensemble.
    pub bytes: Cow<'a, [u8]>,
    /// The lists of each tree node, in graph order, as encoded attributes.
    pub trees: Vec<TreeLists<'a>>,
}

/// One tree node's list attributes, each an encoded `AttributeProto` borrowed from the
/// file, decoded when read.
#[derive(Default)]
pub(crate) struct TreeLists<'a> {
    attributes: Vec<(String, &'a [u8])>,
}

/// Whether an attribute of a tree node is one of its per-node or per-leaf lists.
/// `target_ids` stays when the node has no `n_targets`: explanations then count targets
/// from it.
fn is_list(name: &str, has_n_targets: bool) -> bool {
    (name.starts_with("nodes_")
        || name.starts_with("leaf_")
        || name.starts_with("class_")
        || name.starts_with("target_")
        || name == "membership_values")
        && (has_n_targets || name != "target_ids")
}

/// Splits `onnx`: the model without its tree lists, and the lists. Malformed bytes are
/// left for the protobuf decoder to refuse (the file is then returned as it is).
pub(crate) fn split(onnx: &[u8]) -> Lean<'_> {
    match try_split(onnx) {
        Ok(Some(lean)) => lean,
        Ok(None) | Err(_) => Lean {
            bytes: Cow::Borrowed(onnx),
            trees: vec![],
        },
    }
}

fn try_split(onnx: &[u8]) -> TractResult<Option<Lean<'_>>> {
    let mut trees = vec![];
    let mut out = Vec::new();
    for field in fields(onnx) {
        let field = field?;
        match (field.number, field.value) {
            (MODEL_GRAPH, Value::Bytes(graph)) => {
                let graph = lean_graph(graph, &mut trees)?;
                put_bytes(&mut out, MODEL_GRAPH, &graph);
            }
            _ => out.extend_from_slice(field.raw),
        }
    }
    Ok((!trees.is_empty()).then_some(Lean {
        bytes: Cow::Owned(out),
        trees,
    }))
}

fn lean_graph<'a>(graph: &'a [u8], trees: &mut Vec<TreeLists<'a>>) -> TractResult<Vec<u8>> {
    let mut out = Vec::new();
    for field in fields(graph) {
        let field = field?;
        match (field.number, field.value) {
            (GRAPH_NODE, Value::Bytes(node)) => match lean_node(node, trees.len())? {
                Some((node, lists)) => {
                    put_bytes(&mut out, GRAPH_NODE, &node);
                    trees.push(lists);
                }
                None => out.extend_from_slice(field.raw),
            },
            _ => out.extend_from_slice(field.raw),
        }
    }
    Ok(out)
}

fn string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A tree node without its lists, and the lists; `None` for any other node.
fn lean_node(node: &[u8], index: usize) -> TractResult<Option<(Vec<u8>, TreeLists<'_>)>> {
    let mut op_type = None;
    let mut attributes = vec![];
    for field in fields(node) {
        let field = field?;
        match (field.number, field.bytes()) {
            (NODE_OP_TYPE, Some(op)) => op_type = Some(op),
            (NODE_ATTRIBUTE, Some(a)) => attributes.push((attribute_name(a)?, a)),
            _ => {}
        }
    }
    if !op_type.is_some_and(|op| TREE_OPS.iter().any(|t| t.as_bytes() == op)) {
        return Ok(None);
    }
    let has_n_targets = attributes.iter().any(|(n, _)| n == "n_targets");
    let mut out = Vec::with_capacity(256);
    let mut lists = TreeLists { attributes: vec![] };
    let mut kept = attributes.into_iter();
    for field in fields(node) {
        let field = field?;
        if field.number == NODE_ATTRIBUTE {
            let (name, attribute) = kept.next().expect("counted above");
            if is_list(&name, has_n_targets) {
                if name == MISSING_TRACKS_TRUE && any_true(attribute)? {
                    // What the schema reads of it: whether this node absorbs a NaN.
                    let mut stub = Vec::new();
                    put_bytes(&mut stub, ATTRIBUTE_NAME, name.as_bytes());
                    put_varint(&mut stub, u64::from(ATTRIBUTE_INTS) << 3);
                    put_varint(&mut stub, 1);
                    put_varint(&mut stub, u64::from(ATTRIBUTE_TYPE) << 3);
                    put_varint(&mut stub, TYPE_INTS);
                    put_bytes(&mut out, NODE_ATTRIBUTE, &stub);
                }
                lists.attributes.push((name, attribute));
                continue;
            }
        }
        out.extend_from_slice(field.raw);
    }
    let mut marker = Vec::new();
    put_bytes(&mut marker, ATTRIBUTE_NAME, PREREAD.as_bytes());
    put_varint(&mut marker, u64::from(ATTRIBUTE_INT) << 3);
    put_varint(&mut marker, index as u64);
    put_varint(&mut marker, u64::from(ATTRIBUTE_TYPE) << 3);
    put_varint(&mut marker, TYPE_INT);
    put_bytes(&mut out, NODE_ATTRIBUTE, &marker);
    Ok(Some((out, lists)))
}

/// Whether a `nodes_missing_value_tracks_true` list sends some node's NaN to its true
/// branch.
fn any_true(attribute: &[u8]) -> TractResult<bool> {
    let lists = TreeLists {
        attributes: vec![(MISSING_TRACKS_TRUE.to_owned(), attribute)],
    };
    Ok(lists
        .numbers::<i64>(MISSING_TRACKS_TRUE)
        .unwrap_or_default()
        .is_some_and(|v| v.iter().any(|&b| b != 0)))
}

fn attribute_name(attribute: &[u8]) -> TractResult<String> {
    for field in fields(attribute) {
        let field = field?;
        if let (ATTRIBUTE_NAME, Some(name)) = (field.number, field.bytes()) {
            return Ok(string(name));
        }
    }
    Ok(String::new())
}

impl TreeLists<'_> {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes.iter().map(|(n, _)| n.as_str())
    }

    fn raw(&self, name: &str) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }

    /// The list `name` as a one-attribute node, to read with tract's attribute getters
    /// (and their checks and messages); `None` when the node has no such list.
    pub fn node(&self, of: &NodeProto, name: &str) -> TractResult<Option<NodeProto>> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        let attribute = <AttributeProto as prost::Message>::decode(raw)
            .with_context(|| format!("attribute {name}"))?;
        Ok(Some(NodeProto {
            name: of.name.clone(),
            op_type: of.op_type.clone(),
            attribute: vec![attribute],
            ..NodeProto::default()
        }))
    }

    /// The number list `name`, straight from the file; `None` when there is no such list.
    /// A list of another type is an error, as tract's getters make it.
    pub fn numbers<T: Repeated>(&self, name: &str) -> TractResult<Option<Vec<T>>> {
        let Some(raw) = self.raw(name) else {
            return Ok(None);
        };
        let mut out = Vec::new();
        let mut ty = None;
        for field in fields(raw) {
            let field = field?;
            match field.number {
                n if n == T::FIELD => T::push(field.value, &mut out)?,
                ATTRIBUTE_TYPE => ty = Some(field.value),
                _ => {}
            }
        }
        match ty {
            Some(Value::Varint(t)) if t == T::TYPE => Ok(Some(out)),
            _ => bail!(
                "Node attribute {name}: expected a list of {}",
                std::any::type_name::<T>()
            ),
        }
    }

    /// Calls `each` on every string of the STRINGS list `name`, straight from the file
    /// (a mode list holds one string per node). `Ok(false)` when there is no such list.
    pub fn each_string(
        &self,
        name: &str,
        mut each: impl FnMut(&[u8]) -> TractResult<()>,
    ) -> TractResult<bool> {
        let Some(raw) = self.raw(name) else {
            return Ok(false);
        };
        let mut ty = None;
        for field in fields(raw) {
            let field = field?;
            match (field.number, field.value) {
                (ATTRIBUTE_STRINGS, Value::Bytes(s)) => each(s)?,
                (ATTRIBUTE_TYPE, Value::Varint(t)) => ty = Some(t),
                _ => {}
            }
        }
        ensure!(
            ty.is_none_or(|t| t == TYPE_STRINGS),
            "attribute {name}: expected a list of strings"
        );
        Ok(true)
    }
}
