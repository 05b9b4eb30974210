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

    /// Adds node `at`'s values to `acc`. Branch nodes hold the aggregate's identity
    /// (0 for sums, NaN that min/max ignore), so adding one is exact and needs no test.
    #[inline(always)]
    fn add_node(&self, acc: &mut [f32], at: u32) {
        let nt = self.n_targets;
        let values = &self.values[at as usize * nt..(at as usize + 1) * nt];
        for (a, &v) in acc.iter_mut().zip(values) {
            *a = self.aggregate.combine(*a, v);
        }
    }

    /// The early-exit trees for every row of `x` (at least one row), lanes of rows: each
    /// lane walks its row's trees in order, then takes the next row not yet started.
    pub(super) fn early_rows<C: Compare>(&self, x: &[f32], width: usize, out: &mut [f32]) {
        let nt = self.n_targets;
        let roots = &self.early_roots;
        let n = roots.len() - CHECK - 1; // then CHECK + 1 sentinels
        let sentinel = roots[n];
        let rows = x.len() / width;
        // Lane state: row (`rows` when idle), tree cursor, node, and the row's sums.
        let mut row = [rows; LANES];
        let mut tree = [n; LANES];
        let mut at = [sentinel; LANES];
        let mut xs: [&[f32]; LANES] = [&x[..width]; LANES];
        let mut acc = vec![0.0; LANES * nt];
        let mut next_row = 0;
        let mut busy = 0;
        loop {
            // Hand finished and idle lanes the next row, after storing the finished sums.
            for l in 0..LANES {
                if tree[l] < n {
                    continue;
                }
                let sums = &mut acc[l * nt..(l + 1) * nt];
                if row[l] < rows {
                    out[row[l] * nt..(row[l] + 1) * nt].copy_from_slice(sums);
                    busy -= 1;
                }
                tree[l] = n;
                if next_row < rows {
                    row[l] = next_row;
                    xs[l] = &x[next_row * width..(next_row + 1) * width];
                    sums.copy_from_slice(&out[next_row * nt..(next_row + 1) * nt]);
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
                    self.add_node(&mut acc[l * nt..(l + 1) * nt], at[l]);
                    tree[l] += leaf as usize;
                    at[l] = if leaf { roots[tree[l]] } else { child };
                }
            }
        }
    }

    /// The early-exit trees for one row, lanes of trees: a lane that reaches its leaf takes
    /// the next tree nobody walks yet. `leaf_of` records each tree's leaf so the sum runs
    /// in tree order, as in every other walk.
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
        let mut next = LANES.min(n);
        while tree.iter().any(|&t| t < n) {
            for _ in 0..CHECK {
                for l in 0..LANES {
                    let (child, leaf) = self.step::<C>(at[l], row);
                    // Written every step, last at the leaf: no test needed.
                    leaf_of[tree[l]] = at[l];
                    if leaf {
                        tree[l] = next;
                    }
                    next = (next + leaf as usize).min(n);
                    at[l] = if leaf { roots[tree[l]] } else { child };
                }
            }
        }
        for &leaf in &leaf_of[..n] {
            self.add_node(acc, leaf);
        }
    }
}
