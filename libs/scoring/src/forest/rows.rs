//! Lanes of rows through a block of rows laid out once for the walk, when every branch
//! uses one ordered comparison (`<=`, `<`, `>=`, `>`) against a finite threshold: the
//! common case (scikit-learn, LightGBM, XGBoost exports).
//!
//! The block holds each feature of `LANES` rows side by side, twice: once with NaN replaced
//! by the infinity that every node's comparison sends to the false child, once by the one
//! it sends to the true child. A node reads the copy of its NaN direction (`Node::slot`),
//! so a step is a node load, a feature load at a fixed offset per lane, one comparison and
//! the child load: no NaN test, no per-lane row pointer, no row bounds to check.
//!
//! The sums run in the same order as the other walks (per row, the trees in order), so
//! scores are the same bits whichever walk produced them.

use super::aggregate::Aggregate;
use super::lanes::{Compare, CHECK, LANES};
use super::layout::Forest;

/// `$body` once per lane, `l` a constant in each: written out, so that the lanes' state
/// stays in registers (as a loop over `l`, LLVM kept it in memory).
macro_rules! lanes {
    (|$l:ident| $body:block) => {{
        const _: () = assert!(LANES == 8);
        lanes!(@ $l $body 0 1 2 3 4 5 6 7);
    }};
    (@ $l:ident $body:block $($k:literal)*) => {$({
        let $l = $k;
        $body
    })*};
}

/// `LANES` rows, feature-major: `cols[2 * f + nan_true][lane]`.
pub(super) struct Block {
    cols: Vec<[f32; LANES]>,
    n_features: usize,
}

impl Block {
    pub(super) fn new(n_features: usize) -> Block {
        // Leaves read slot 0 (their result is unused): it must exist.
        Block {
            cols: vec![[0.0; LANES]; 2 * n_features.max(1)],
            n_features,
        }
    }

    /// Lays out `rows` (`LANES` rows of `width` columns); `nan_as`: what a NaN becomes
    /// for a node that sends it to the false child, and to the true child.
    pub(super) fn fill(&mut self, rows: &[f32], width: usize, nan_as: [f32; 2]) {
        for (l, row) in rows.chunks_exact(width).enumerate() {
            let cols = self.cols.chunks_exact_mut(2);
            for (pair, &x) in cols.zip(&row[..self.n_features]) {
                let nan = x.is_nan();
                pair[0][l] = if nan { nan_as[0] } else { x };
                pair[1][l] = if nan { nan_as[1] } else { x };
            }
        }
    }
}

impl Forest {
    /// Whether `rows::Block` walks suit this forest with comparison `C`.
    pub(super) fn blocks_with<C: Compare>(&self) -> Option<[f32; 2]> {
        C::NAN_AS.filter(|_| self.finite_thresholds)
    }

    /// Every tree for the `LANES` rows of `block`, summed into `acc` (`LANES * n_targets`).
    pub(super) fn block_all<C: Compare>(
        &self,
        c: C,
        block: &Block,
        rows: &[f32],
        width: usize,
        acc: &mut [f32],
    ) {
        let nt = self.n_targets;
        let (nodes, cols) = (&self.nodes[..], &block.cols[..]);
        for tree in &self.trees[..self.n_fixed] {
            let mut at = [tree.root; LANES];
            for _ in 0..tree.depth {
                lanes!(|l| {
                    let n = &nodes[at[l] as usize];
                    at[l] = n.child(c.compare(n, cols[n.slot()][l]));
                });
            }
            for (l, &leaf) in at.iter().enumerate() {
                self.accumulate(&mut acc[l * nt..(l + 1) * nt], leaf);
            }
        }
        if self.n_fixed == self.trees.len() {
            return;
        }
        if nt == 1 {
            self.block_early(c, block, acc);
        } else {
            let mut leaf_of = Vec::new();
            for (row, acc) in rows.chunks_exact(width).zip(acc.chunks_exact_mut(nt)) {
                self.early_trees(c, row, acc, &mut leaf_of);
            }
        }
    }

    /// The early-exit chain (see `early`) for the block's rows, one target.
    fn block_early<C: Compare>(&self, c: C, block: &Block, acc: &mut [f32]) {
        // The aggregate chosen here, not per step: a branch in the step keeps LLVM from
        // keeping the lanes in registers.
        match self.aggregate {
            Aggregate::Sum | Aggregate::Average => self.block_chain(c, block, acc, |a, v| a + v),
            Aggregate::Min => self.block_chain(c, block, acc, f32::min),
            Aggregate::Max => self.block_chain(c, block, acc, f32::max),
        }
    }

    #[inline(always)]
    fn block_chain<C: Compare>(
        &self,
        c: C,
        block: &Block,
        acc: &mut [f32],
        combine: impl Fn(f32, f32) -> f32 + Copy,
    ) {
        let (nodes, values, cols) = (&self.nodes[..], &self.values[..], &block.cols[..]);
        let first = self.early_roots[0];
        let sentinel = *self.early_roots.last().unwrap();
        let mut at = [first; LANES];
        let mut sum: [f32; LANES] = std::array::from_fn(|l| acc[l]);
        while at != [sentinel; LANES] {
            for _ in 0..CHECK {
                lanes!(|l| {
                    let n = &nodes[at[l] as usize];
                    sum[l] = combine(sum[l], values[at[l] as usize]);
                    at[l] = n.child(c.compare(n, cols[n.slot()][l]));
                });
            }
        }
        acc.copy_from_slice(&sum);
    }
}
