//! Scoring rows by walking the flat layout in lock-step lanes.

use super::aggregate::Aggregate;
use super::error::ForestError;
use super::lanes::{Compare, LANES};
use super::layout::{Forest, Node};
use super::mode::Mode;
use super::rows::Block;

impl Forest {
    /// Scores `x`, a row-major matrix with `width` columns, into `out`
    /// (`rows * n_targets`, row-major).
    pub fn eval(&self, x: &[f32], width: usize, out: &mut [f32]) -> Result<(), ForestError> {
        if width < self.n_features.max(1) {
            invalid!(
                "the ensemble reads feature {} but rows have {width} columns",
                self.n_features.max(1) - 1
            );
        }
        if !x.len().is_multiple_of(width) {
            invalid!("{} values do not make rows of {width}", x.len());
        }
        let rows = x.len() / width;
        if out.len() != rows * self.n_targets {
            invalid!(
                "output has room for {} values, {} needed",
                out.len(),
                rows * self.n_targets
            );
        }
        match self.uniform_mode {
            Some(Mode::Leq) => self.eval_with(Leq, x, width, out),
            Some(Mode::Lt) => self.eval_with(Lt, x, width, out),
            Some(Mode::Gte) => self.eval_with(Gte, x, width, out),
            Some(Mode::Gt) => self.eval_with(Gt, x, width, out),
            // Member nodes need their sets: a forest without any keeps the plain match.
            Some(Mode::Eq) | Some(Mode::Neq) | None if self.member_sets.is_empty() => {
                self.eval_with(PerNode, x, width, out)
            }
            Some(Mode::Eq) | Some(Mode::Neq) | Some(Mode::Member) | None => {
                let c = WithMembers {
                    sets: &self.member_sets,
                    values: &self.member_values,
                };
                self.eval_with(c, x, width, out)
            }
        }
        Ok(())
    }

    fn eval_with<C: Compare>(&self, c: C, x: &[f32], width: usize, out: &mut [f32]) {
        out.fill(self.aggregate.identity());
        let nt = self.n_targets;
        let mut done = 0; // rows
        if let Some(nan_as) = self.blocks_with::<C>().filter(|_| x.len() >= width * LANES) {
            // Whole blocks of rows through `rows`; the rest (fewer than LANES) below.
            let mut block = Block::new(self.n_features);
            let blocks = x.chunks_exact(width * LANES);
            done = (x.len() - blocks.remainder().len()) / width;
            for (rows, acc) in blocks.zip(out.chunks_exact_mut(nt * LANES)) {
                block.fill(rows, width, nan_as);
                self.block_all(c, &block, rows, width, acc);
            }
            self.finish(&mut out[..done * nt]);
        }
        let (x, out) = (&x[done * width..], &mut out[done * nt..]);
        // Per row, the fixed-depth trees are summed first, then the early-exit ones.
        self.fixed_depth(c, x, width, out);
        if self.n_fixed < self.trees.len() && !x.is_empty() {
            if x.len() >= width * LANES && self.n_targets == 1 {
                self.early_rows(c, x, width, out);
            } else {
                let nt = self.n_targets;
                let mut leaf_of = Vec::new();
                for (row, acc) in x.chunks_exact(width).zip(out.chunks_exact_mut(nt)) {
                    self.early_trees(c, row, acc, &mut leaf_of);
                }
            }
        }
        self.finish(out);
    }

    /// The trees walked a fixed number of steps: all lanes of a walk end together.
    fn fixed_depth<C: Compare>(&self, c: C, x: &[f32], width: usize, out: &mut [f32]) {
        let nt = self.n_targets;
        let trees = &self.trees[..self.n_fixed];
        let mut blocks = x.chunks_exact(width * LANES);
        let mut row0 = 0;
        // Batches: lanes are rows, each tree is walked by LANES rows at once.
        for block in blocks.by_ref() {
            let rows: [&[f32]; LANES] = std::array::from_fn(|l| &block[l * width..(l + 1) * width]);
            for tree in trees {
                let leaves = self.walk(c, [tree.root; LANES], &rows, tree.depth);
                for (l, leaf) in leaves.into_iter().enumerate() {
                    self.accumulate(&mut out[(row0 + l) * nt..(row0 + l + 1) * nt], leaf);
                }
            }
            row0 += LANES;
        }
        // Few rows: lanes are trees of one row.
        for row in blocks.remainder().chunks_exact(width) {
            let acc = &mut out[row0 * nt..(row0 + 1) * nt];
            let rows = [row; LANES];
            let mut groups = trees.chunks_exact(LANES);
            for group in groups.by_ref() {
                let depth = group[LANES - 1].depth; // sorted: the deepest is last
                let leaves = self.walk(c, std::array::from_fn(|l| group[l].root), &rows, depth);
                for leaf in leaves {
                    self.accumulate(acc, leaf);
                }
            }
            for tree in groups.remainder() {
                let [leaf] = self.walk(c, [tree.root], &[row], tree.depth);
                self.accumulate(acc, leaf);
            }
            row0 += 1;
        }
    }

    /// Walks `L` lanes `depth` steps; lane `l` starts at node `start[l]` with row `rows[l]`.
    /// Leaves loop onto themselves, so every lane ends on its leaf.
    #[inline(always)]
    fn walk<C: Compare, const L: usize>(
        &self,
        c: C,
        start: [u32; L],
        rows: &[&[f32]; L],
        depth: u32,
    ) -> [u32; L] {
        let mut at = start;
        for _ in 0..depth {
            for l in 0..L {
                let n = &self.nodes[at[l] as usize];
                let x = rows[l][n.feature()];
                let go = c.compare(n, x) | (x.is_nan() & n.nan_goes_true());
                at[l] = n.child(go);
            }
        }
        at
    }

    #[inline(always)]
    pub(super) fn accumulate(&self, acc: &mut [f32], leaf: u32) {
        let nt = self.n_targets;
        let values = &self.values[leaf as usize * nt..(leaf as usize + 1) * nt];
        for (a, &v) in acc.iter_mut().zip(values) {
            *a = self.aggregate.combine(*a, v);
        }
    }

    /// Turns accumulators into scores, as onnxruntime does: AVERAGE divides by the number
    /// of trees, a target no leaf wrote is its base value, and the base value is added last.
    fn finish(&self, out: &mut [f32]) {
        let n_trees = self.trees.len() as f32;
        for row in out.chunks_exact_mut(self.n_targets) {
            for (v, &base) in row.iter_mut().zip(&self.base_values) {
                *v = match self.aggregate {
                    Aggregate::Sum => *v + base,
                    Aggregate::Average => *v / n_trees + base,
                    Aggregate::Min | Aggregate::Max => {
                        if v.is_nan() {
                            base
                        } else {
                            *v + base
                        }
                    }
                };
            }
        }
    }
}

macro_rules! uniform_compare {
    ($($name:ident: $op:tt, $nan_as:expr),*) => {$(
        #[derive(Clone, Copy)]
        struct $name;
        impl Compare for $name {
            const NAN_AS: Option<[f32; 2]> = Some($nan_as);
            #[inline(always)]
            fn compare(&self, n: &Node, x: f32) -> bool {
                x $op n.threshold
            }
        }
    )*};
}
const INF: f32 = f32::INFINITY;
uniform_compare!(
    Leq: <=, [INF, -INF],
    Lt: <, [INF, -INF],
    Gte: >=, [-INF, INF],
    Gt: >, [-INF, INF]
);

#[derive(Clone, Copy)]
struct PerNode;
impl Compare for PerNode {
    #[inline(always)]
    fn compare(&self, n: &Node, x: f32) -> bool {
        n.mode().compare(x, n.threshold)
    }
}

/// Per node, member nodes included: `x` is looked up in the node's set.
#[derive(Clone, Copy)]
struct WithMembers<'f> {
    sets: &'f [(u32, u32)],
    values: &'f [f32],
}

impl WithMembers<'_> {
    #[inline(always)]
    fn contains(&self, set: u32, x: f32) -> bool {
        let (start, end) = self.sets[set as usize];
        let set = &self.values[start as usize..end as usize];
        // + 0.0: -0.0 becomes 0.0, as stored. NaN is in no set.
        let x = x + 0.0;
        set.binary_search_by(|v| v.total_cmp(&x)).is_ok()
    }
}

impl Compare for WithMembers<'_> {
    #[inline(always)]
    fn compare(&self, n: &Node, x: f32) -> bool {
        match n.mode() {
            Mode::Member => self.contains(n.threshold.to_bits(), x),
            mode => mode.compare(x, n.threshold),
        }
    }
}
