//! Early-exit walks for uneven (leaf-wise) trees: a lane that reaches its leaf moves on
//! to its next tree at once instead of looping on the leaf until the deepest leaf's step.
//!
//! The early-exit trees are chained: each leaf's two children are the next tree's root
//! (the last tree's, a sentinel leaf), so a lane steps from tree to tree exactly as it
//! steps from node to node, branch-free. (A select between "child" and "next root" is
//! what a lane would otherwise need; LLVM turns it into a branch, mispredicted at nearly
//! every leaf.) Values are added at every step: branch nodes hold the identity.
//!
//! Sums keep the per-row tree order: lanes of rows walk the whole chain; lanes of trees
//! record each tree's leaf, summed in order after.

use super::lanes::{Compare, CHECK, LANES};
use super::layout::Forest;

impl Forest {
    /// One step of a lane on node `at` with row `row`: (where it goes, whether `at` is a
    /// leaf). Only leaves have both children equal: flattening refuses shared children.
    #[inline(always)]
    fn step<C: Compare>(&self, c: C, at: u32, row: &[f32]) -> (u32, bool) {
        let n = &self.nodes[at as usize];
        let x = row[n.feature()];
        let go = c.compare(n, x) | (x.is_nan() & n.nan_goes_true());
        // A load of the chosen child, as before `child`'s arithmetic, which came out slower
        // for one row's walk of uneven trees in three of four noisy runs.
        (n.next[go as usize], n.next[0] == n.next[1])
    }

    /// The early-exit trees for every row of `x`, one target only. Lanes of rows: 8 rows
    /// start the chain together and end within a few dozen steps of one another, so they
    /// share the trees in cache; the last few rows go one at a time.
    pub(super) fn early_rows<C: Compare>(&self, c: C, x: &[f32], width: usize, out: &mut [f32]) {
        let first = self.early_roots[0];
        let sentinel = *self.early_roots.last().unwrap();
        let mut blocks = x.chunks_exact(width * LANES);
        let mut sums = out.chunks_exact_mut(LANES);
        for (block, acc) in blocks.by_ref().zip(sums.by_ref()) {
            let rows: [&[f32]; LANES] = std::array::from_fn(|l| &block[l * width..(l + 1) * width]);
            let mut at = [first; LANES];
            // A register sum per lane: a per-target loop here makes each step too many
            // instructions for the out-of-order window to keep 8 lanes' loads in flight.
            let mut sum: [f32; LANES] = std::array::from_fn(|l| acc[l]);
            while at != [sentinel; LANES] {
                for _ in 0..CHECK {
                    for l in 0..LANES {
                        let (next, _) = self.step(c, at[l], rows[l]);
                        sum[l] = self.aggregate.combine(sum[l], self.values[at[l] as usize]);
                        at[l] = next;
                    }
                }
            }
            acc.copy_from_slice(&sum);
        }
        let mut leaf_of = Vec::new();
        for (row, acc) in blocks
            .remainder()
            .chunks_exact(width)
            .zip(sums.into_remainder())
        {
            self.early_trees(c, row, std::slice::from_mut(acc), &mut leaf_of);
        }
    }

    /// The early-exit trees for one row. Lanes of trees: lane `l` walks the `l`th eighth of
    /// the chain, counting leaves to know which tree it is in, and records each tree's leaf
    /// so the sum runs in tree order.
    pub(super) fn early_trees<C: Compare>(
        &self,
        c: C,
        row: &[f32],
        acc: &mut [f32],
        leaf_of: &mut Vec<u32>,
    ) {
        let roots = &self.early_roots;
        let n = roots.len() - 1; // roots[n]: the sentinel
        leaf_of.clear();
        leaf_of.resize(n + 1, 0);
        let per_lane = n.div_ceil(LANES);
        let mut tree: [usize; LANES] = std::array::from_fn(|l| (l * per_lane).min(n));
        let end: [usize; LANES] = std::array::from_fn(|l| ((l + 1) * per_lane).min(n));
        let mut at: [u32; LANES] = std::array::from_fn(|l| roots[tree[l]]);
        while (0..LANES).any(|l| tree[l] < end[l]) {
            for _ in 0..CHECK {
                for l in 0..LANES {
                    let (next, leaf) = self.step(c, at[l], row);
                    // Leaves go to their tree's slot, other nodes to the spare slot `n`:
                    // index arithmetic, not a branch. A lane that runs past its part
                    // records the same leaves as the lane that owns those trees.
                    let slot = (tree[l] + (!leaf) as usize * n).min(n);
                    leaf_of[slot] = at[l];
                    tree[l] = (tree[l] + leaf as usize).min(n);
                    at[l] = next;
                }
            }
        }
        let nt = self.n_targets;
        for &leaf in &leaf_of[..n] {
            let values = &self.values[leaf as usize * nt..(leaf as usize + 1) * nt];
            for (a, &v) in acc.iter_mut().zip(values) {
                *a = self.aggregate.combine(*a, v);
            }
        }
    }
}
