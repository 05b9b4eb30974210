//! A tree node's attributes as [`super::tree_spec`] reads them: from the node itself, or,
//! for the lists [`super::lean`] took out of it, from the file's bytes, one list at a time.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::{NodeProto, TensorProto};
use tract_onnx::pb_helpers::AttrTVecType;
use tract_onnx::tract_hir::internal::*;

use super::lean::{TreeLists, PREREAD};
use super::wire::Repeated;

#[derive(Clone, Copy)]
pub(crate) struct Attrs<'n> {
    pub node: &'n NodeProto,
    lists: Option<&'n TreeLists<'n>>,
}

impl<'n> Attrs<'n> {
    pub fn of(node: &'n NodeProto) -> Attrs<'n> {
        Attrs { node, lists: None }
    }

    pub fn with_lists(node: &'n NodeProto, lists: &'n TreeLists<'n>) -> Attrs<'n> {
        Attrs {
            node,
            lists: Some(lists),
        }
    }

    /// Every attribute's name (the marker left out).
    pub fn names(&self) -> Vec<&str> {
        let own = self
            .node
            .attribute
            .iter()
            .map(|a| a.name.as_str())
            .filter(|&n| n != PREREAD);
        own.chain(self.lists.into_iter().flat_map(TreeLists::names))
            .collect()
    }

    /// A list of numbers, as tract's `get_attr_opt_vec` reads it.
    pub fn list<T>(&self, name: &str) -> TractResult<Option<Vec<T>>>
    where
        T: Repeated + for<'a> AttrTVecType<'a>,
    {
        match self.lists.map(|l| l.numbers(name)).transpose()? {
            Some(Some(list)) => Ok(Some(list)),
            _ => self.node.get_attr_opt_vec(name),
        }
    }

    /// A required list attribute.
    pub fn required<T>(&self, name: &str) -> TractResult<Vec<T>>
    where
        T: Repeated + for<'a> AttrTVecType<'a>,
    {
        self.list(name)?.with_context(|| {
            format!(
                "Node {} ({}): expected attribute '{name}'",
                self.node.name, self.node.op_type
            )
        })
    }

    /// A TENSOR attribute, loaded.
    pub fn tensor(&self, ctx: &ParsingContext, name: &str) -> TractResult<Option<Tensor>> {
        match self.lists.map(|l| l.node(self.node, name)).transpose()? {
            Some(Some(one)) => load(ctx, one.get_attr_opt::<&TensorProto>(name)?),
            _ => load(ctx, self.node.get_attr_opt::<&TensorProto>(name)?),
        }
    }

    /// Calls `each` on every string of the list `name` (without making a `String` of
    /// each when the list was taken out); `Ok(false)` when there is none.
    pub fn each_string(
        &self,
        name: &str,
        mut each: impl FnMut(&[u8]) -> TractResult<()>,
    ) -> TractResult<bool> {
        if let Some(lists) = self.lists {
            if lists.each_string(name, &mut each)? {
                return Ok(true);
            }
        }
        match self.node.get_attr_opt_vec::<String>(name)? {
            Some(strings) => {
                for s in &strings {
                    each(s.as_bytes())?;
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

fn load(ctx: &ParsingContext, t: Option<&TensorProto>) -> TractResult<Option<Tensor>> {
    t.map(|t| ctx.load_tensor(t)).transpose()
}
