//! Path-dependent TreeSHAP (Lundberg, Erion, Lee 2018, Algorithm 2) over a tree ensemble
//! with node covers: exact Shapley values of E[f(x) | x_S], the expectation taken down the
//! tree with each branch split in proportion to its children's covers.
//!
//! The unique path of Algorithm 2 is kept as a polynomial: along the path to a node, each
//! distinct feature j has a "zero fraction" z_j (the product of the cover ratios of the
//! branches taken on j) and a "one fraction" o_j (1 if the row goes that way at every split
//! on j, else 0), and P(t) = prod_j (z_j + o_j t). EXTEND multiplies P by (z + o t), UNWIND
//! divides it (top-down synthetic division: stable, since z <= 1), and at a leaf with m
//! features on its path, feature i's weight (UNWOUND_SUM) is sum_k Q_k k!(m-1-k)!/m! with
//! Q = P / (z_i + o_i t). Because o is 0 or 1 in the path-dependent algorithm:
//! - o_i = 0: Q = P / z_i, so the contribution w_i (o_i - z_i) v is -v sum_k P_k W_m(k),
//!   one sum shared by every such feature of the leaf;
//! - o_i = 1: the division costs deg P steps, and deg P is the number of o = 1 features;
//! - a branch whose zero and one fractions are both 0 contributes nothing: not walked.
//!
//! A branch whose own cover is 0 (no training row reached it) splits 1/2, 1/2: any split
//! keeps local accuracy, and this one keeps the expectation a mean of the leaves below.

use super::aggregate::Aggregate;
use super::error::ForestError;
use super::flatten::{LeafWeight, NodeSpec};
use super::layout::Forest;
use super::mode::Mode;

use std::collections::HashMap;

/// Deeper trees are refused: the walk recurses once per level.
const MAX_DEPTH: usize = 1000;

/// `feature` of a leaf.
const LEAF: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct ShapNode {
    /// The feature a branch reads; `LEAF` for a leaf.
    feature: u32,
    threshold: f32,
    mode: Mode,
    /// A NaN goes to the true child (as `flatten` decides it).
    nan_true: bool,
    /// Branch: `[false child, true child]`; leaf: `[offset of its values, _]`.
    next: [u32; 2],
    /// Branch: each child's share of its cover, same order as `next`.
    ratio: [f64; 2],
}

/// A tree ensemble laid out for TreeSHAP: trees depth-first, leaf values in f64.
#[derive(Clone, Debug)]
pub struct ShapForest {
    nodes: Vec<ShapNode>,
    roots: Vec<u32>,
    /// `n_targets` per leaf, divided by the number of trees for AVERAGE.
    values: Vec<f64>,
    /// Shapley weights k!(m-1-k)!/m!, for m = 1..=`width`, at `m(m-1)/2 + k`.
    weights: Vec<f64>,
    /// Levels of the walk: the deepest tree's depth + 1.
    levels: usize,
    /// Room per level: at most this many distinct features on a path (+1 for P's degree).
    width: usize,
    n_features: usize,
    n_targets: usize,
    expected: Vec<f64>,
}

/// The path state of a walk, one level per depth: reused from row to row.
#[derive(Clone, Debug, Default)]
pub struct ShapScratch {
    feature: Vec<u32>,
    zero: Vec<f64>,
    one: Vec<bool>,
    /// P's coefficients, `stride` per level.
    poly: Vec<f64>,
    stride: usize,
    levels: usize,
}

impl ShapScratch {
    fn new(levels: usize, width: usize) -> ShapScratch {
        let stride = width + 1;
        ShapScratch {
            feature: vec![0; levels * stride],
            zero: vec![0.0; levels * stride],
            one: vec![false; levels * stride],
            poly: vec![0.0; levels * stride],
            stride,
            levels,
        }
    }
}

impl ShapForest {
    /// `covers[i]` is `nodes[i]`'s cover. Min/Max aggregates are refused (not additive).
    pub fn new(
        nodes: &[NodeSpec],
        leaves: &[LeafWeight],
        covers: &[f64],
        n_targets: usize,
        aggregate: Aggregate,
        base_values: &[f64],
    ) -> Result<ShapForest, ForestError> {
        if matches!(aggregate, Aggregate::Min | Aggregate::Max) {
            invalid!(
                "TreeSHAP needs trees whose outputs add up; aggregate {} keeps one tree's \
                 value per row, which has no additive explanation",
                if aggregate == Aggregate::Min { "MIN" } else { "MAX" }
            );
        }
        // The evaluator's checks first: the same ensembles are accepted, laid out from the
        // same nodes.
        let forest = Forest::new(nodes, leaves, n_targets, aggregate, base_values)?;
        if covers.len() != nodes.len() {
            invalid!(
                "{} covers for {} tree nodes: one cover per node is needed",
                covers.len(),
                nodes.len()
            );
        }
        for (n, &c) in nodes.iter().zip(covers) {
            if !c.is_finite() || c < 0.0 {
                invalid!(
                    "node {} of tree {} has cover {c}: covers must be finite and >= 0",
                    n.node_id,
                    n.tree_id
                );
            }
        }

        let by_id: HashMap<(i64, i64), usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| ((n.tree_id, n.node_id), i))
            .collect();
        let children = |n: &NodeSpec| [by_id[&(n.tree_id, n.false_id)], by_id[&(n.tree_id, n.true_id)]];
        let mut is_child = vec![false; nodes.len()];
        for n in nodes.iter().filter(|n| n.mode.is_some()) {
            let [no, yes] = children(n);
            is_child[no] = true;
            is_child[yes] = true;
            let c = covers[by_id[&(n.tree_id, n.node_id)]];
            let sum = covers[no] + covers[yes];
            if (c - sum).abs() > 1e-9 + 1e-6 * c.max(sum) {
                invalid!(
                    "node {} of tree {} has cover {c}, but its children {} and {} have \
                     {} + {} = {sum}: a branch's cover must be the sum of its children's",
                    n.node_id,
                    n.tree_id,
                    n.true_id,
                    n.false_id,
                    covers[yes],
                    covers[no]
                );
            }
        }
        // Forest::new accepted the trees: each has exactly one root. Trees in order of
        // first appearance, as there.
        let mut roots_of: Vec<(i64, usize)> = Vec::new();
        let mut tree_ix: HashMap<i64, usize> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let t = *tree_ix.entry(n.tree_id).or_insert_with(|| {
                roots_of.push((n.tree_id, usize::MAX));
                roots_of.len() - 1
            });
            if !is_child[i] {
                roots_of[t].1 = i;
            }
        }
        for &(tree, root) in &roots_of {
            if covers[root] <= 0.0 {
                invalid!(
                    "the root (node {}) of tree {tree} has cover {}: a root's cover must be \
                     > 0 (the number of training rows)",
                    nodes[root].node_id,
                    covers[root]
                );
            }
        }

        let n_trees = roots_of.len();
        let scale = match aggregate {
            Aggregate::Average => 1.0 / n_trees as f64,
            _ => 1.0,
        };
        let mut leaf_values: HashMap<usize, Vec<f64>> = HashMap::new();
        for w in leaves {
            let i = by_id[&(w.tree_id, w.node_id)]; // Forest::new checked it exists
            leaf_values.entry(i).or_insert_with(|| vec![0.0; n_targets])[w.target] +=
                w.weight * scale;
        }

        // Depth-first from each root: a child's subtree follows it.
        let mut out = ShapForest {
            nodes: Vec::with_capacity(nodes.len()),
            roots: Vec::with_capacity(n_trees),
            values: Vec::new(),
            weights: Vec::new(),
            levels: 1,
            width: 0,
            n_features: forest.n_features(),
            n_targets,
            expected: match base_values.len() {
                0 => vec![0.0; n_targets],
                _ => base_values.to_vec(),
            },
        };
        let zeros = vec![0.0; n_targets];
        for &(tree, root) in &roots_of {
            out.roots.push(out.nodes.len() as u32);
            // (spec index, depth, where to write the parent's pointer)
            let mut stack = vec![(root, 0usize, None::<(usize, usize)>)];
            while let Some((i, depth, parent)) = stack.pop() {
                let at = out.nodes.len();
                if let Some((p, side)) = parent {
                    out.nodes[p].next[side] = at as u32;
                }
                let n = &nodes[i];
                match n.mode {
                    None => {
                        if depth > MAX_DEPTH {
                            invalid!(
                                "tree {tree} is {depth} levels deep; TreeSHAP explains trees \
                                 up to {MAX_DEPTH} levels"
                            );
                        }
                        out.levels = out.levels.max(depth + 1);
                        let offset = out.values.len() as u32;
                        out.values
                            .extend_from_slice(leaf_values.get(&i).unwrap_or(&zeros));
                        out.nodes.push(ShapNode {
                            feature: LEAF,
                            threshold: 0.0,
                            mode: Mode::Leq,
                            nan_true: false,
                            next: [offset, 0],
                            ratio: [0.0; 2],
                        });
                    }
                    Some(mode) => {
                        let [no, yes] = children(n);
                        let sum = covers[no] + covers[yes];
                        let ratio = if sum > 0.0 {
                            [covers[no] / sum, covers[yes] / sum]
                        } else {
                            [0.5, 0.5]
                        };
                        out.nodes.push(ShapNode {
                            feature: n.feature as u32,
                            threshold: mode.threshold_f32(n.threshold),
                            mode,
                            // NaN fails every ordered comparison and passes `!=`, as in
                            // `flatten`.
                            nan_true: n.missing_tracks_true || mode == Mode::Neq,
                            next: [0; 2],
                            ratio,
                        });
                        stack.push((no, depth + 1, Some((at, 0))));
                        stack.push((yes, depth + 1, Some((at, 1))));
                    }
                }
            }
        }

        // A path holds each feature once: no wider than the features or the depth.
        out.width = (out.levels - 1).min(out.n_features);
        for m in 1..=out.width {
            // k!(m-1-k)!/m! = 1 / (m * C(m-1, k))
            let mut binom = 1.0f64;
            for k in 0..m {
                out.weights.push(1.0 / (m as f64 * binom));
                binom = binom * (m - 1 - k) as f64 / (k + 1) as f64;
            }
        }

        for &root in &out.roots {
            let mut stack = vec![(root, 1.0f64)];
            while let Some((at, share)) = stack.pop() {
                let n = &out.nodes[at as usize];
                if n.feature == LEAF {
                    let v = &out.values[n.next[0] as usize..][..n_targets];
                    for (e, &v) in out.expected.iter_mut().zip(v) {
                        *e += share * v;
                    }
                } else {
                    stack.push((n.next[0], share * n.ratio[0]));
                    stack.push((n.next[1], share * n.ratio[1]));
                }
            }
        }
        Ok(out)
    }

    /// Columns a row must have: one more than the largest feature index used.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn n_targets(&self) -> usize {
        self.n_targets
    }

    /// Per target: base_values + the cover-weighted mean output of the trees (÷ n_trees
    /// for AVERAGE): what the contributions of a row start from.
    pub fn expected_values(&self) -> &[f64] {
        &self.expected
    }

    /// Room for any row's walk; pass it to every `contributions` call.
    pub fn scratch(&self) -> ShapScratch {
        ShapScratch::new(self.levels, self.width)
    }

    /// ADDS the row's contributions into `out`, target-major: `out[t * n_features + f]`.
    /// `x`: the row's values of the ensemble's input columns (NaN = missing).
    ///
    /// Panics if `x` has fewer than `n_features` values or `out` is not
    /// `n_targets * n_features` long. A scratch made by another forest is grown once.
    pub fn contributions(&self, x: &[f32], out: &mut [f64], scratch: &mut ShapScratch) {
        assert!(
            x.len() >= self.n_features,
            "the ensemble reads {} features, the row has {}",
            self.n_features,
            x.len()
        );
        assert_eq!(
            out.len(),
            self.n_targets * self.n_features,
            "contributions need n_targets * n_features values"
        );
        if scratch.levels < self.levels || scratch.stride < self.width + 1 {
            *scratch = ShapScratch::new(
                self.levels.max(scratch.levels),
                self.width.max(scratch.stride.saturating_sub(1)),
            );
        }
        scratch.poly[0] = 1.0;
        for &root in &self.roots {
            self.walk(root, 0, 0, 0, x, out, scratch);
        }
    }

    /// At node `at`, level `lvl` of `s` holds the path to it: `m` distinct features, P of
    /// degree `deg` (the number of them whose one fraction is 1).
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        at: u32,
        lvl: usize,
        m: usize,
        deg: usize,
        x: &[f32],
        out: &mut [f64],
        s: &mut ShapScratch,
    ) {
        let node = &self.nodes[at as usize];
        if node.feature == LEAF {
            self.leaf(node.next[0] as usize, lvl, m, deg, out, s);
            return;
        }
        let f = node.feature;
        let v = x[f as usize];
        // As `eval`: the comparison, or the missing direction for NaN.
        let go = node.mode.compare(v, node.threshold) | (v.is_nan() & node.nan_true);
        let st = s.stride;
        let (src, dst) = (lvl * st, (lvl + 1) * st);
        let found = s.feature[src..src + m].iter().position(|&g| g == f);
        for (side, hot) in [(go as usize, true), (!go as usize, false)] {
            let r = node.ratio[side];
            s.feature.copy_within(src..src + m, dst);
            s.zero.copy_within(src..src + m, dst);
            s.one.copy_within(src..src + m, dst);
            let (lo, hi) = s.poly.split_at_mut(dst);
            let (p, q) = (&lo[src..src + st], &mut hi[..st]);
            let (m2, deg2) = match found {
                // The feature is on the path already: UNWIND it, EXTEND with the product.
                Some(k) => {
                    let (z_old, o_old) = (s.zero[src + k], s.one[src + k]);
                    let (z, o) = (z_old * r, o_old & hot);
                    if z == 0.0 && !o {
                        continue;
                    }
                    s.zero[dst + k] = z;
                    s.one[dst + k] = o;
                    if !o_old {
                        // P / z_old * (z_old r)
                        for j in 0..=deg {
                            q[j] = p[j] * r;
                        }
                        (m, deg)
                    } else {
                        // Q = P / (t + z_old), top-down.
                        debug_assert!(deg >= 1, "a one fraction of 1 makes P's degree >= 1");
                        let mut c = p[deg];
                        for j in (1..deg).rev() {
                            q[j] = c;
                            c = p[j] - z_old * c;
                        }
                        q[0] = c;
                        if o {
                            extend_one(q, deg - 1, z);
                            (m, deg)
                        } else {
                            for c in &mut q[..deg] {
                                *c *= z;
                            }
                            (m, deg - 1)
                        }
                    }
                }
                None => {
                    if r == 0.0 && !hot {
                        continue;
                    }
                    s.feature[dst + m] = f;
                    s.zero[dst + m] = r;
                    s.one[dst + m] = hot;
                    q[..=deg].copy_from_slice(&p[..=deg]);
                    if hot {
                        extend_one(q, deg, r);
                        (m + 1, deg + 1)
                    } else {
                        for c in &mut q[..=deg] {
                            *c *= r;
                        }
                        (m + 1, deg)
                    }
                }
            };
            self.walk(node.next[side], lvl + 1, m2, deg2, x, out, s);
        }
    }

    /// UNWOUND_SUM for each feature of the path to a leaf, times its one minus zero
    /// fraction, times the leaf's values: its share of the leaf added to `out`.
    #[inline]
    fn leaf(&self, values: usize, lvl: usize, m: usize, deg: usize, out: &mut [f64], s: &ShapScratch) {
        if m == 0 {
            return;
        }
        let nt = self.n_targets;
        let nf = self.n_features;
        let values = &self.values[values..values + nt];
        let w = &self.weights[m * (m - 1) / 2..][..m];
        let base = lvl * s.stride;
        let p = &s.poly[base..base + deg + 1];
        // Every feature whose one fraction is 0 gets -v * sum_k P_k W_m(k).
        let shared = if deg < m {
            -p.iter().zip(w).map(|(p, w)| p * w).sum::<f64>()
        } else {
            0.0
        };
        for i in 0..m {
            let c = if s.one[base + i] {
                let z = s.zero[base + i];
                let mut q = p[deg];
                let mut acc = q * w[deg - 1];
                for k in (1..deg).rev() {
                    q = p[k] - z * q;
                    acc += q * w[k - 1];
                }
                acc * (1.0 - z)
            } else {
                shared
            };
            let f = s.feature[base + i] as usize;
            for (t, &v) in values.iter().enumerate() {
                out[t * nf + f] += c * v;
            }
        }
    }
}

/// P (degree `deg`, in `q`) times (z + t), in place.
#[inline(always)]
fn extend_one(q: &mut [f64], deg: usize, z: f64) {
    q[deg + 1] = q[deg];
    for j in (1..=deg).rev() {
        q[j] = z * q[j] + q[j - 1];
    }
    q[0] *= z;
}

#[cfg(test)]
mod tests;
