//! The tree ensembles of a model read before tract parses it (from the lists
//! [`super::lean`] took out of their nodes), handed to the ops' `parse` on the loading
//! thread: tract's op registry takes plain functions, which get only the node.

use std::cell::RefCell;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{ModelProto, NodeProto};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::Onnx;

use super::lean::{TreeLists, PREREAD};
use super::tree_attrs::Attrs;
use super::tree_spec::{read_tree_spec, read_tree_spec_from, TreeSpec};

thread_local! {
    static SPECS: RefCell<Vec<Option<TreeSpec>>> = const { RefCell::new(Vec::new()) };
}

/// The index of a lean tree node's lists, if its lists were taken out.
pub(crate) fn index(node: &NodeProto) -> Option<usize> {
    node.attribute
        .iter()
        .find(|a| a.name == PREREAD)
        .and_then(|a| usize::try_from(a.i).ok())
}

/// Reads each tree node's spec from its lists, in [`super::lean::Lean::trees`] order;
/// errors name the node as tract's parse does.
pub(crate) fn read_all(
    framework: &Onnx,
    proto: &ModelProto,
    trees: &[TreeLists],
) -> TractResult<Vec<TreeSpec>> {
    let ctx = context(framework, proto);
    let nodes = proto.graph.as_ref().map(|g| &g.node[..]).unwrap_or(&[]);
    let mut specs = Vec::with_capacity(trees.len());
    for (i, lists) in trees.iter().enumerate() {
        let node = nodes
            .iter()
            .find(|n| index(n) == Some(i))
            .context("a tree node's lists lost their node")?;
        let spec = read_tree_spec_from(&ctx, Attrs::with_lists(node, lists))
            .with_context(|| format!("Building node {} ({})", node.name, node.op_type))?;
        specs.push(spec);
    }
    Ok(specs)
}

/// Hands `specs` to the ops' `parse` on this thread until the guard is dropped.
pub(crate) fn install(specs: Vec<TreeSpec>) -> Installed {
    SPECS.with(|s| *s.borrow_mut() = specs.into_iter().map(Some).collect());
    Installed(())
}

pub(crate) struct Installed(());

impl Drop for Installed {
    fn drop(&mut self) {
        SPECS.with(|s| s.borrow_mut().clear());
    }
}

/// A tree op's spec: the one read before parsing (taken: each node is parsed once), or
/// read from the node when its lists are still in it.
pub(crate) fn tree_spec(ctx: &ParsingContext, node: &NodeProto) -> TractResult<TreeSpec> {
    match index(node) {
        Some(i) => SPECS
            .with(|s| s.borrow_mut().get_mut(i).and_then(Option::take))
            .with_context(|| format!("{} {}: its trees were not read", node.op_type, node.name)),
        None => read_tree_spec(ctx, node),
    }
}

/// A parsing context as tract's ONNX front end makes one for the top graph.
pub(crate) fn context<'a>(framework: &'a Onnx, proto: &'a ModelProto) -> ParsingContext<'a> {
    let onnx_operator_set_version = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    ParsingContext {
        onnx_operator_set_version,
        framework,
        model: proto,
        parent_graphs: vec![],
        model_dir: None,
        template: InferenceModel::default(),
    }
}
