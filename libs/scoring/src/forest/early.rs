//! Early-exit walks for uneven (leaf-wise) trees: a lane that reaches its leaf moves on
//! to its next tree at once instead of looping on the leaf until the deepest leaf's step,
//! so lanes never idle. Still branch-free per step: the leaf test is `next[0] ==
//! next[1]`, and "move on" is a select between the child and the next tree's root.
//!
//! Sums keep the per-row tree order of the fixed-depth walk: lanes of rows take their
//! row's trees in order; lanes of trees record each tree's leaf, summed in order after.

use super::eval::{Compare, LANES};
use super::Forest;

/// Steps between looks for lanes that finished: a finished lane idles on the sentinel
/// for fewer than this many steps, which is noise next to a row's hundreds of steps.
pub(super) const CHECK: usize = 4;

/// Nodes per chunk of trees for batches: 128 KiB of nodes, well inside L2.
const CHUNK_NODES: usize = 8192;

impl Forest {
    /// One step of lane `at` with row `row`: (the child it goes to, whether `at` is a leaf).
    #[inline(always)]
    fn step<C: Compare>(&self, at: u32, row: &[f32]) -> (u32, bool) {
        let n = &self.nodes[at as usize];
        let x = row[n.feature()];
        let go = C::compare(n, x) | (x.is_nan() & n.nan_goes_true());
        // Only leaves point twice to the same node: flattening refuses shared children.
        (n.next[go as usize], n.next[0] == n.next[1])
    }

    /// Adds leaf `at`'s values to `acc`.
    #[inline(always)]
    fn add_node(&self, acc: &mut [f32], at: u32) {
        let nt = self.n_targets;
        let values = &self.values[at as usize * nt..(at as usize + 1) * nt];
        for (a, &v) in acc.iter_mut().zip(values) {
            *a = self.aggregate.combine(*a, v);
        }
    }

    /// The early-exit trees for every row of `x` (one target only), a chunk of trees at a
    /// time: lanes drift apart, each on a different tree, so a chunk must stay in cache
    /// while all rows walk it (the whole forest, streamed per row, would not).
    pub(super) fn early_rows<C: Compare>(&self, x: &[f32], width: usize, out: &mut [f32]) {
        let n = self.early_roots.len() - CHECK - 1;
        let sentinel = self.early_roots[n];
        let per_chunk = (CHUNK_NODES * self.trees.len() / self.nodes.len()).max(LANES);
        let mut roots = Vec::with_capacity(per_chunk + CHECK + 1);
        for chunk in self.early_roots[..n].chunks(per_chunk) {
            roots.clear();
            roots.extend(chunk.iter().copied().chain([sentinel; CHECK + 1]));
            self.early_rows_chunk::<C>(&roots, x, width, out);
        }
    }

    /// Lanes of rows: each lane walks its row's trees in order, then takes the next row not
    /// yet started. `roots`: the trees, then `CHECK + 1` sentinels.
    fn early_rows_chunk<C: Compare>(
        &self,
        roots: &[u32],
        x: &[f32],
        width: usize,
        out: &mut [f32],
    ) {
        let n = roots.len() - CHECK - 1;
        let sentinel = roots[n];
        let rows = x.len() / width;
        // Lane state: row (`rows` when idle), tree cursor, node, and the row's sum. One
        // target only: a per-target loop here would make each step too many instructions
        // for the out-of-order window to keep 8 lanes' loads in flight.
        let mut row = [rows; LANES];
        let mut tree = [n; LANES];
        let mut at = [sentinel; LANES];
        let mut xs: [&[f32]; LANES] = [&x[..width]; LANES];
        let mut acc = [0.0f32; LANES];
        let mut next_row = 0;
        let mut busy = 0;
        loop {
            // Hand finished and idle lanes the next row, after storing the finished sums.
            for l in 0..LANES {
                if tree[l] < n {
                    continue;
                }
                if row[l] < rows {
                    out[row[l]] = acc[l];
                    busy -= 1;
                }
                tree[l] = n;
                if next_row < rows {
                    row[l] = next_row;
                    xs[l] = &x[next_row * width..(next_row + 1) * width];
                    acc[l] = out[next_row];
                    tree[l] = 0;
                    at[l] = roots[0];
                    next_row += 1;
                    busy += 1;
                } else {
                    row[l] = rows;
                    at[l] = sentinel;
                }
            }
            if busy == 0 {
                break;
            }
            for _ in 0..CHECK {
                for l in 0..LANES {
                    let (child, leaf) = self.step::<C>(at[l], xs[l]);
                    // Branch nodes and the sentinel hold the identity: exact, no test.
                    acc[l] = self.aggregate.combine(acc[l], self.values[at[l] as usize]);
                    tree[l] += leaf as usize;
                    at[l] = pick(leaf, roots[tree[l]], child);
                }
            }
        }
    }

    /// The early-exit trees for one row, lanes of trees: lane `l` walks trees `l`,
    /// `l + LANES`, ..., moving on at each leaf (a shared queue of trees would chain every
    /// lane's next root to all other lanes' loads). `leaf_of` records each tree's leaf so
    /// the sum runs in tree order, as in every other walk.
    pub(super) fn early_trees<C: Compare>(
        &self,
        row: &[f32],
        acc: &mut [f32],
        leaf_of: &mut Vec<u32>,
    ) {
        let roots = &self.early_roots;
        let n = roots.len() - CHECK - 1; // roots[n] is a sentinel: lanes out of work go there
        leaf_of.clear();
        leaf_of.resize(n + 1, 0);
        let mut tree: [usize; LANES] = std::array::from_fn(|l| l.min(n));
        let mut at: [u32; LANES] = std::array::from_fn(|l| roots[tree[l]]);
        while tree.iter().any(|&t| t < n) {
            for _ in 0..CHECK {
                for l in 0..LANES {
                    let (child, leaf) = self.step::<C>(at[l], row);
                    // Written every step, last at the leaf: no test needed.
                    leaf_of[tree[l]] = at[l];
                    tree[l] = (tree[l] + LANES * leaf as usize).min(n);
                    at[l] = pick(leaf, roots[tree[l]], child);
                }
            }
        }
        for &leaf in &leaf_of[..n] {
            self.add_node(acc, leaf);
        }
    }
}

/// `if leaf { a } else { b }` as a mask: written as a branch, the compiler may branch, and
/// a lane reaching its leaf every few steps would be mispredicted every few steps.
#[inline(always)]
fn pick(leaf: bool, a: u32, b: u32) -> u32 {
    let mask = (leaf as u32).wrapping_neg();
    (a & mask) | (b & !mask)
}
