//! Tree-ensemble evaluation on flat arrays, independent of tract and ONNX.
//!
//! Layout: every tree is stored breadth-first in one `Vec<Node>` (the top levels, which
//! every row visits, share cache lines). A leaf points to itself on both branches, so a
//! walk is a fixed number of branch-free steps (the tree's depth) with no "is this a
//! leaf?" test and no search for leaves. Walks run in lock-step lanes of independent
//! (row, tree) pairs, which keeps several memory loads in flight at once: lanes of rows
//! for batches, lanes of trees for a single row.
//!
//! Uneven trees (LightGBM grows them leaf-wise: most rows stop a few steps down, a few go
//! ten more) would spend most of those fixed steps looping on leaves, so they are walked
//! by `early` instead: each lane moves on to its next tree as soon as it is on a leaf.
//!
//! A branch's two children are adjacent, so a step's next node is `next[0] + go`, no load
//! waiting on the comparison. Batches of a forest with one ordered comparison (`<=`, `<`,
//! `>=`, `>`: every common export) are walked by `rows`, over blocks of 8 rows laid out
//! feature-major once, NaN already resolved to the side each node sends it.
//!
//! `mode` and `aggregate` hold the ONNX-ML semantics, `layout` the flat types, `flatten`
//! validates and lays out an ensemble once at load, `eval` walks it per call. This module
//! only declares them and re-exports the public types: no child imports its parent.

// First: `invalid!` is used by the modules declared after it.
#[macro_use]
mod error;

mod aggregate;
mod early;
mod eval;
mod flatten;
mod index;
mod lanes;
mod layout;
mod mode;
mod rows;
mod shap;
#[cfg(test)]
mod tests;

pub use aggregate::Aggregate;
pub use error::ForestError;
pub use flatten::{LeafWeight, NodeSpec};
pub use layout::Forest;
pub use mode::Mode;
pub use shap::{ShapForest, ShapScratch};
