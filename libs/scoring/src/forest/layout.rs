//! The flat layout (see the parent module): nodes packed in 16 bytes, trees as ranges of
//! them, and the [`Forest`] that holds them. `flatten` builds it, `eval` and `early` walk
//! it; they read its fields directly, hence `pub(super)`.

use super::aggregate::Aggregate;
use super::mode::Mode;

pub(super) const FEATURE_BITS: u32 = 28;
pub(super) const FEATURE_MASK: u32 = (1 << FEATURE_BITS) - 1;
pub(super) const NAN_TRUE_BIT: u32 = 1 << 31;
pub(super) const MODE_SHIFT: u32 = FEATURE_BITS;
pub(super) const MODE_MASK: u32 = 0b111;
/// `Node::slot`'s bits: the feature index and the NaN bit.
const SLOT_MASK: u32 = (FEATURE_MASK << 1) | 1;

/// 16 bytes: four nodes per cache line. A `Mode::Member` node's `threshold` holds the
/// index of its set in `Forest::member_sets` (as bits), not a number.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(super) struct Node {
    /// Bits 0..28: feature index; 28..31: `Mode` index; 31: a NaN goes to the true child.
    pub(super) packed: u32,
    pub(super) threshold: f32,
    /// `[false child, true child]`, as absolute indices into `Forest::nodes`. A branch's
    /// children are adjacent (`next[1] == next[0] + 1`); a leaf's two are equal.
    pub(super) next: [u32; 2],
}

impl Node {
    #[inline(always)]
    pub(super) fn feature(&self) -> usize {
        (self.packed & FEATURE_MASK) as usize
    }

    /// `2 * feature + nan_goes_true`: where a `rows::Block` holds this node's feature, its
    /// NaN already replaced by a value that goes the node's way. Two instructions.
    #[inline(always)]
    pub(super) fn slot(&self) -> usize {
        (self.packed.rotate_left(1) & SLOT_MASK) as usize
    }

    /// The child a comparison's result `go` leads to: `next[0] + go`, arithmetic instead
    /// of a load that would wait for `go`. A leaf's threshold is NaN, so no comparison
    /// sends a row to its `next[0] + 1`.
    #[inline(always)]
    pub(super) fn child(&self, go: bool) -> u32 {
        self.next[0] + go as u32
    }

    #[inline(always)]
    pub(super) fn nan_goes_true(&self) -> bool {
        self.packed & NAN_TRUE_BIT != 0
    }

    #[inline(always)]
    pub(super) fn mode(&self) -> Mode {
        Mode::ALL[((self.packed >> MODE_SHIFT) & MODE_MASK) as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Tree {
    pub(super) root: u32,
    /// Steps from the root to its deepest leaf.
    pub(super) depth: u32,
    /// One past its last node: a tree's nodes are contiguous.
    pub(super) end: u32,
    /// Walked with early exit (see `flatten::walks_early`).
    pub(super) early: bool,
}

/// A validated, flattened tree ensemble. No `PartialEq`: leaves hold NaN thresholds.
#[derive(Clone, Debug)]
pub struct Forest {
    pub(super) nodes: Vec<Node>,
    /// `n_targets` values per node (meaningful for leaves only).
    pub(super) values: Vec<f32>,
    /// The fixed-depth trees, then the early-exit ones (summed in this order), each part
    /// sorted by depth so a lane group of trees walks a similar number of steps.
    pub(super) trees: Vec<Tree>,
    /// `trees[..n_fixed]` are walked their full depth, the rest with early exit.
    pub(super) n_fixed: usize,
    /// Roots of `trees[n_fixed..]`, then the sentinel: the last node, a leaf looping onto
    /// itself whose values are the identity, where finished lanes spin harmlessly. The
    /// leaves of an early-exit tree lead to the next root here, not to themselves.
    pub(super) early_roots: Vec<u32>,
    /// `Some` when every branch uses the same comparison, which then compiles to one
    /// instruction instead of a per-node match.
    pub(super) uniform_mode: Option<Mode>,
    /// Every branch threshold is finite (as f32): with one ordered comparison, a NaN can
    /// then be replaced by an infinity that goes its node's way (`rows::Block`).
    pub(super) finite_thresholds: bool,
    /// The sets of `Mode::Member` nodes (empty when there are none, which keeps the walk
    /// of every other forest as it was): `member_values[start..end]`, sorted, f32, no NaN
    /// and no -0.0 (a row's -0.0 is looked up as 0.0, which it equals).
    pub(super) member_sets: Vec<(u32, u32)>,
    pub(super) member_values: Vec<f32>,
    pub(super) n_features: usize,
    pub(super) n_targets: usize,
    pub(super) aggregate: Aggregate,
    pub(super) base_values: Vec<f32>,
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
