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
//! `mode` and `aggregate` hold the ONNX-ML semantics, `flatten` validates and lays out an
//! ensemble once at load, `eval` walks it per call.

use std::fmt;

pub use aggregate::Aggregate;
pub use flatten::{LeafWeight, NodeSpec};
pub use mode::Mode;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForestError(pub String);

impl fmt::Display for ForestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ForestError {}

// Defined before the submodules so they can use it.
macro_rules! invalid {
    ($($arg:tt)*) => { return Err(ForestError(format!($($arg)*))) };
}

mod aggregate;
mod early;
mod eval;
mod flatten;
mod mode;
#[cfg(test)]
mod tests;

const FEATURE_BITS: u32 = 28;
const FEATURE_MASK: u32 = (1 << FEATURE_BITS) - 1;
const NAN_TRUE_BIT: u32 = 1 << 31;
const MODE_SHIFT: u32 = FEATURE_BITS;
const MODE_MASK: u32 = 0b111;

/// 16 bytes: four nodes per cache line.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Node {
    /// Bits 0..28: feature index; 28..31: `Mode` index; 31: a NaN goes to the true child.
    packed: u32,
    threshold: f32,
    /// `[false child, true child]`, as absolute indices into `Forest::nodes`.
    next: [u32; 2],
}

impl Node {
    #[inline(always)]
    fn feature(&self) -> usize {
        (self.packed & FEATURE_MASK) as usize
    }

    #[inline(always)]
    fn nan_goes_true(&self) -> bool {
        self.packed & NAN_TRUE_BIT != 0
    }

    #[inline(always)]
    fn mode(&self) -> Mode {
        Mode::ALL[((self.packed >> MODE_SHIFT) & MODE_MASK) as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Tree {
    root: u32,
    /// Steps from the root to its deepest leaf.
    depth: u32,
    /// One past its last node: a tree's nodes are contiguous.
    end: u32,
    /// Walked with early exit (see `flatten::walks_early`).
    early: bool,
}

/// A validated, flattened tree ensemble.
#[derive(Clone, Debug, PartialEq)]
pub struct Forest {
    nodes: Vec<Node>,
    /// `n_targets` values per node (meaningful for leaves only).
    values: Vec<f32>,
    /// The fixed-depth trees, then the early-exit ones (summed in this order), each part
    /// sorted by depth so a lane group of trees walks a similar number of steps.
    trees: Vec<Tree>,
    /// `trees[..n_fixed]` are walked their full depth, the rest with early exit.
    n_fixed: usize,
    /// Roots of `trees[n_fixed..]`, then the sentinel: the last node, a leaf looping onto
    /// itself whose values are the identity, where finished lanes spin harmlessly. The
    /// leaves of an early-exit tree lead to the next root here, not to themselves.
    early_roots: Vec<u32>,
    /// `Some` when every branch uses the same comparison, which then compiles to one
    /// instruction instead of a per-node match.
    uniform_mode: Option<Mode>,
    n_features: usize,
    n_targets: usize,
    aggregate: Aggregate,
    base_values: Vec<f32>,
}

impl Forest {
    /// Columns a row must have: one more than the largest feature index used.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn n_targets(&self) -> usize {
        self.n_targets
    }

    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }
}
