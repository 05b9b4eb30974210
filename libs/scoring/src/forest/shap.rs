//! Path-dependent TreeSHAP (Lundberg, Erion, Lee 2018, Algorithm 2) over a tree ensemble
//! with node covers: exact Shapley values of E[f(x) | x_S], the expectation taken down the
//! tree with each branch split in proportion to its children's covers.
//!
//! Algorithm 2 walks every node keeping the "unique path": each distinct feature j on the
//! path to a node has a zero fraction z_j (the product of the cover ratios of the branches
//! taken on j) and a one fraction o_j (1 if the row goes that way at every split on j, else
//! 0). At a leaf with m features on its path, feature i gets
//!   (o_i - z_i) v sum_{S not holding i} |S|! (m-1-|S|)! / m! prod_{j in S} o_j prod_{j not in S, j != i} z_j,
//! which UNWOUND_SUM computes from the path weights that EXTEND and UNWIND maintain. Here
//! the same sum is computed through the Beta integral k!(m-1-k)!/m! = int_0^1 s^k
//! (1-s)^(m-1-k) ds, which turns it into
//!   (o_i - z_i) v int_0^1 prod_{j != i} f_j(s) ds,   f_j(s) = z_j (1-s) + o_j s,
//! the integral of a polynomial of degree m-1, exact by Gauss-Legendre quadrature with
//! ceil(m/2) points. The path is then kept as G_q = prod_j f_j(s_q) at those points: EXTEND
//! multiplies each by f(s_q), UNWIND (a feature met again) divides by its old factor, and
//! UNWOUND_SUM is sum_q w_q G_q / f_i(s_q), a few multiply-adds with u_i,q = w_q (o_i -
//! z_i) / f_i(s_q) computed when i joins the path (for o_i = 0 it is -w_q / (1 - s_q)).
//! A branch whose zero and one fractions are both 0 contributes nothing: it is not walked.
//! A branch's leaf children are done at the branch, both at once, without a walk of their
//! own.
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

/// Quadrature points in these numbers (fixed-size arrays: unrolled, vectorized loops);
/// q points are exact for paths of up to 2q distinct features.
const POINTS: [usize; 5] = [4, 8, 16, 32, 64];

/// `feature` of a leaf.
const LEAF: u32 = u32::MAX;

/// 32 bytes: two nodes per cache line.
#[derive(Clone, Copy, Debug)]
struct ShapNode {
    /// The feature a branch reads; `LEAF` for a leaf.
    feature: u32,
    threshold: f32,
    mode: Mode,
    /// A NaN goes to the true child (as `flatten` decides it).
    nan_true: bool,
    /// Branch: `[false child, true child]`, where `leaf_child` says so the offset of that
    /// leaf's values instead; leaf: `[offset of its values, _]`.
    next: [u32; 2],
    /// Branch: which children are leaves (walked at the branch, without a load of their
    /// node).
    leaf_child: [bool; 2],
    /// Branch: the true child's share of its cover (the false child has the rest).
    share: f64,
}

impl ShapNode {
    /// Child `side`'s share of the node's cover (1: the true child).
    #[inline(always)]
    fn ratio(&self, side: usize) -> f64 {
        if side == 1 {
            self.share
        } else {
            1.0 - self.share
        }
    }
}

/// A tree ensemble laid out for TreeSHAP: trees depth-first, leaf values in f64.
#[derive(Clone, Debug)]
pub struct ShapForest {
    nodes: Vec<ShapNode>,
    roots: Vec<u32>,
    /// `n_targets` per leaf, divided by the number of trees for AVERAGE.
    values: Vec<f64>,
    /// The quadrature on [0, 1]: points s_q and weights w_q.
    points: Vec<f64>,
    weights: Vec<f64>,
    /// The sets of `Mode::Member` nodes, as in `Forest`: a member node's `threshold`
    /// holds the index of its `(start, end)` in `member_values` (as bits).
    member_sets: Vec<(u32, u32)>,
    member_values: Vec<f32>,
    /// Levels of the walk: the deepest tree's depth + 1.
    levels: usize,
    /// The most distinct features on a path.
    width: usize,
    n_features: usize,
    n_targets: usize,
    expected: Vec<f64>,
}

/// The path state of a walk: reused from row to row.
#[derive(Clone, Debug, Default)]
pub struct ShapScratch {
    /// The features on the path, their zero and one fractions: `width` each.
    feature: Vec<u32>,
    zero: Vec<f64>,
    one: Vec<bool>,
    /// Per feature on the path, its `Walk::unwinding` (`points` each).
    unwound: Vec<f64>,
    /// G per level (`points` each).
    path: Vec<f64>,
    /// Per feature, 1 + where it is on the path, 0 if not on it.
    slot: Vec<u32>,
}

impl ShapScratch {
    fn new(levels: usize, width: usize, points: usize, n_features: usize) -> ShapScratch {
        ShapScratch {
            feature: vec![0; width],
            zero: vec![0.0; width],
            one: vec![false; width],
            unwound: vec![0.0; width * points],
            path: vec![0.0; levels * points],
            slot: vec![0; n_features],
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
                if aggregate == Aggregate::Min {
                    "MIN"
                } else {
                    "MAX"
                }
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
        let children = |n: &NodeSpec| {
            [
                by_id[&(n.tree_id, n.false_id)],
                by_id[&(n.tree_id, n.true_id)],
            ]
        };
        let mut is_child = vec![false; nodes.len()];
        for n in nodes.iter().filter(|n| n.mode.is_some()) {
            let [no, yes] = children(n);
            is_child[no] = true;
            is_child[yes] = true;
            let c = covers[by_id[&(n.tree_id, n.node_id)]];
            // A pass-through node (both branches on one leaf) sends every row to it.
            let sum = if n.is_pass_through() {
                covers[yes]
            } else {
                covers[no] + covers[yes]
            };
            if n.is_pass_through() && (c - sum).abs() > 1e-9 + 1e-6 * c.max(sum) {
                invalid!(
                    "node {} of tree {} has cover {c}, but the leaf {} both its branches \
                     go to has {sum}: they must be equal",
                    n.node_id,
                    n.tree_id,
                    n.true_id
                );
            }
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
            points: Vec::new(),
            weights: Vec::new(),
            levels: 1,
            width: 0,
            member_sets: Vec::new(),
            member_values: Vec::new(),
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
                // A pass-through node is walked as its leaf (as in `flatten`).
                let (i, mode) = match n.mode {
                    Some(_) if n.is_pass_through() => (by_id[&(n.tree_id, n.true_id)], None),
                    mode => (i, mode),
                };
                match mode {
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
                            leaf_child: [false; 2],
                            share: 0.0,
                        });
                    }
                    Some(mode) => {
                        let [no, yes] = children(n);
                        let sum = covers[no] + covers[yes];
                        let share = if sum > 0.0 { covers[yes] / sum } else { 0.5 };
                        let threshold = if mode == Mode::Member {
                            // The set as `flatten` keeps it: f32 values only (those no f32
                            // equals dropped), -0.0 as 0.0, sorted; its index as the bits.
                            let mut set: Vec<f32> = n
                                .members
                                .iter()
                                .map(|&v| Mode::Member.threshold_f32(v) + 0.0)
                                .filter(|v| !v.is_nan())
                                .collect();
                            set.sort_by(f32::total_cmp);
                            set.dedup();
                            let start = out.member_values.len() as u32;
                            out.member_values.extend(set);
                            out.member_sets
                                .push((start, out.member_values.len() as u32));
                            f32::from_bits(out.member_sets.len() as u32 - 1)
                        } else {
                            mode.threshold_f32(n.threshold)
                        };
                        out.nodes.push(ShapNode {
                            feature: n.feature as u32,
                            threshold,
                            mode,
                            // NaN fails every ordered comparison and passes `!=`, as in
                            // `flatten`; no set holds NaN.
                            nan_true: n.missing_tracks_true || mode == Mode::Neq,
                            next: [0; 2],
                            leaf_child: [false; 2],
                            share,
                        });
                        stack.push((no, depth + 1, Some((at, 0))));
                        stack.push((yes, depth + 1, Some((at, 1))));
                    }
                }
            }
        }

        let mut counts = vec![0u32; out.n_features];
        out.width = out
            .roots
            .iter()
            .map(|&r| widest(&out.nodes, r, &mut counts, 0))
            .max()
            .unwrap_or(0);
        let points = match POINTS.iter().find(|&&q| 2 * q >= out.width) {
            Some(&q) => q,
            None => invalid!(
                "a path of the ensemble splits on {} distinct features; TreeSHAP explains \
                 paths of up to {}",
                out.width,
                2 * POINTS[POINTS.len() - 1]
            ),
        };
        (out.points, out.weights) = gauss_legendre(points);

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
                    stack.push((n.next[0], share * n.ratio(0)));
                    stack.push((n.next[1], share * n.ratio(1)));
                }
            }
        }
        // Last (the passes above follow `next` to leaves): a leaf child's `next` becomes
        // its values' offset.
        for i in 0..out.nodes.len() {
            if out.nodes[i].feature == LEAF {
                continue;
            }
            for side in 0..2 {
                let child = out.nodes[out.nodes[i].next[side] as usize];
                if child.feature == LEAF {
                    out.nodes[i].leaf_child[side] = true;
                    out.nodes[i].next[side] = child.next[0];
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
        ShapScratch::new(self.levels, self.width, self.points.len(), self.n_features)
    }

    /// ADDS the row's contributions into `out`, target-major: `out[t * n_features + f]`.
    /// `x`: the row's values of the ensemble's input columns (NaN = missing).
    ///
    /// Panics if `x` has fewer than `n_features` values or `out` is not
    /// `n_targets * n_features` long. A scratch too small (made by another forest) is
    /// replaced once.
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
        let q = self.points.len();
        if scratch.feature.len() < self.width
            || scratch.unwound.len() < self.width * q
            || scratch.path.len() < self.levels * q
            || scratch.slot.len() < self.n_features
        {
            *scratch = self.scratch();
        }
        match q {
            4 => self.run::<4>(x, out, scratch),
            8 => self.run::<8>(x, out, scratch),
            16 => self.run::<16>(x, out, scratch),
            32 => self.run::<32>(x, out, scratch),
            _ => self.run::<64>(x, out, scratch),
        }
    }

    fn run<const Q: usize>(&self, x: &[f32], out: &mut [f64], s: &mut ShapScratch) {
        if self.n_targets == 1 {
            self.walk::<Q, true>(x, out, s)
        } else {
            self.walk::<Q, false>(x, out, s)
        }
    }

    fn walk<const Q: usize, const ONE: bool>(
        &self,
        x: &[f32],
        out: &mut [f64],
        s: &mut ShapScratch,
    ) {
        let mut walk = Walk::<Q, ONE> {
            forest: self,
            x,
            out,
            points: self.points[..].try_into().unwrap(),
            weights: self.weights[..].try_into().unwrap(),
            cold: std::array::from_fn(|q| -self.weights[q] / (1.0 - self.points[q])),
            feature: &mut s.feature[..self.width],
            zero: &mut s.zero[..self.width],
            one: &mut s.one[..self.width],
            unwound: &mut s.unwound.as_chunks_mut().0[..self.width],
            path: &mut s.path.as_chunks_mut().0[..self.levels],
            slot: &mut s.slot[..self.n_features],
        };
        walk.path[0] = [1.0; Q];
        for &root in &self.roots {
            walk.node(root, 0, 0);
        }
    }

    /// As `eval`: the comparison (a member node looks `x` up in its set), or the missing
    /// direction for NaN.
    #[inline(always)]
    fn goes_true(&self, node: &ShapNode, x: f32) -> bool {
        let hit = match node.mode {
            Mode::Member => {
                let (start, end) = self.member_sets[node.threshold.to_bits() as usize];
                let x = x + 0.0; // -0.0 is stored as 0.0
                self.member_values[start as usize..end as usize]
                    .binary_search_by(|v| v.total_cmp(&x))
                    .is_ok()
            }
            mode => mode.compare(x, node.threshold),
        };
        hit | (x.is_nan() & node.nan_true)
    }
}

/// One row's walk through the trees, with `ShapScratch`'s arrays, `Q` quadrature points.
struct Walk<'a, const Q: usize, const ONE: bool> {
    forest: &'a ShapForest,
    x: &'a [f32],
    out: &'a mut [f64],
    points: &'a [f64; Q],
    weights: &'a [f64; Q],
    /// The unwinding of a feature whose one fraction is 0: -w_q / (1 - s_q).
    cold: [f64; Q],
    /// The path's distinct features, their fractions and `unwinding`s: changed on the way
    /// down, restored on the way back.
    feature: &'a mut [u32],
    zero: &'a mut [f64],
    one: &'a mut [bool],
    unwound: &'a mut [[f64; Q]],
    /// G at each level: a child's is made from its parent's.
    path: &'a mut [[f64; Q]],
    slot: &'a mut [u32],
}

impl<const Q: usize, const ONE: bool> Walk<'_, Q, ONE> {
    #[inline(always)]
    fn nt(&self) -> usize {
        if ONE {
            1
        } else {
            self.forest.n_targets
        }
    }

    /// f(s_q) = z (1 - s_q) + o s_q
    #[inline(always)]
    fn factor(&self, z: f64, o: bool) -> [f64; Q] {
        let o = o as u8 as f64;
        std::array::from_fn(|q| z + (o - z) * self.points[q])
    }

    /// u_q = w_q (o - z) / f(s_q): a feature's share of a leaf is sum_q u_q G_q v. For
    /// o = 0 it is -w_q / (1 - s_q), whatever z.
    #[inline(always)]
    fn unwinding(&self, z: f64, o: bool) -> [f64; Q] {
        if o {
            std::array::from_fn(|q| self.weights[q] * (1.0 - z) / (z + (1.0 - z) * self.points[q]))
        } else {
            self.cold
        }
    }

    /// At node `at`, level `lvl`: the path to it has `m` distinct features, G in
    /// `path[lvl]`.
    fn node(&mut self, at: u32, lvl: usize, m: usize) {
        let forest = self.forest;
        let node = &forest.nodes[at as usize];
        if node.feature == LEAF {
            self.leaf(node.next[0] as usize, lvl, m);
            return;
        }
        let f = node.feature as usize;
        let go = forest.goes_true(node, self.x[f]);
        let slot = self.slot[f] as usize;
        // Leaf children are done here, without a walk of their own.
        if node.leaf_child[0] | node.leaf_child[1] {
            self.leaf_children(node, go, slot, lvl, m);
        }
        // The others are walked, the row's way first.
        let side = go as usize;
        if !node.leaf_child[side] {
            self.child::<true>(at, side, slot, lvl, m);
        }
        if !node.leaf_child[1 - side] {
            self.child::<false>(at, 1 - side, slot, lvl, m);
        }
    }

    /// Walks child `side` of `node`, the one the row takes if `HOT`.
    #[inline(always)]
    fn child<const HOT: bool>(&mut self, at: u32, side: usize, slot: usize, lvl: usize, m: usize) {
        let node = &self.forest.nodes[at as usize];
        let r = node.ratio(side);
        let next = node.next[side];
        let g = self.path[lvl];
        if slot != 0 {
            // On the path already: UNWIND it, EXTEND with the product of fractions.
            let k = slot - 1;
            let (z_old, o_old) = (self.zero[k], self.one[k]);
            let (z, o) = (z_old * r, o_old & HOT);
            if z == 0.0 && !o {
                return; // contributes nothing
            }
            let (old, new) = (self.factor(z_old, o_old), self.factor(z, o));
            self.path[lvl + 1] = std::array::from_fn(|q| g[q] / old[q] * new[q]);
            let unwound = self.unwound[k];
            self.unwound[k] = self.unwinding(z, o);
            self.zero[k] = z;
            self.one[k] = o;
            self.node(next, lvl + 1, m);
            self.zero[k] = z_old;
            self.one[k] = o_old;
            self.unwound[k] = unwound;
        } else {
            if !HOT && r == 0.0 {
                return; // contributes nothing
            }
            let s = self.points;
            if HOT {
                let w = self.weights;
                self.path[lvl + 1] = std::array::from_fn(|q| g[q] * (r + (1.0 - r) * s[q]));
                self.unwound[m] =
                    std::array::from_fn(|q| w[q] * (1.0 - r) / (r + (1.0 - r) * s[q]));
            } else {
                self.path[lvl + 1] = std::array::from_fn(|q| g[q] * (r - r * s[q]));
                self.unwound[m] = self.cold;
            }
            // A new feature goes last; the next child overwrites it.
            let f = node.feature as usize;
            self.feature[m] = f as u32;
            self.zero[m] = r;
            self.one[m] = HOT;
            self.slot[f] = m as u32 + 1;
            self.node(next, lvl + 1, m + 1);
            self.slot[f] = 0;
        }
    }

    /// The leaf children of `node`, a branch on feature `f`, at once. Leaf c (fractions
    /// z_c, o_c for `f`, values v_c) has the path B f_c, B being G without `f`'s factor
    /// (G itself when `f` is new on the path): each other feature i gets
    /// sum_q u_i,q B_q f_c(s_q) v_c, and `f` itself (o_c - z_c) v_c sum_q w_q B_q. As
    /// f_c(s) = z_c + (o_c - z_c) s, both leaves together are B_q (a + d s_q) with
    /// a = sum_c z_c v_c and d = sum_c (o_c - z_c) v_c: one product per feature and target.
    fn leaf_children(&mut self, node: &ShapNode, go: bool, slot: usize, lvl: usize, m: usize) {
        let forest = self.forest;
        let (nt, nf) = (self.nt(), forest.n_features);
        let g = self.path[lvl];
        let (k, base, z_old, o_old) = match slot.checked_sub(1) {
            Some(k) => {
                let (z, o) = (self.zero[k], self.one[k]);
                let old = self.factor(z, o);
                (k, std::array::from_fn(|q| g[q] / old[q]), z, o)
            }
            None => (usize::MAX, g, 1.0, true),
        };
        let own = (0..Q).map(|q| self.weights[q] * base[q]).sum::<f64>();
        let f = node.feature as usize;
        // `f`'s share comes from `own`: its unwinding is 0 meanwhile (k is f's place).
        let saved = self.unwound.get(k).copied();
        if let Some(u) = self.unwound.get_mut(k) {
            *u = [0.0; Q];
        }
        for t in 0..nt {
            let (mut a, mut d) = (0.0, 0.0);
            for side in 0..2 {
                if node.leaf_child[side] {
                    let hot = (side == 1) == go;
                    let v = forest.values[node.next[side] as usize + t];
                    let z = z_old * node.ratio(side);
                    a += z * v;
                    d += ((o_old & hot) as u8 as f64 - z) * v;
                }
            }
            let sum: [f64; Q] = std::array::from_fn(|q| base[q] * (a + d * self.points[q]));
            let out = &mut self.out[t * nf..(t + 1) * nf];
            out[f] += own * d;
            for (u, &fi) in self.unwound[..m].iter().zip(&self.feature[..m]) {
                out[fi as usize] += (0..Q).map(|q| u[q] * sum[q]).sum::<f64>();
            }
        }
        if let Some(u) = saved {
            self.unwound[k] = u;
        }
    }

    /// UNWOUND_SUM for each feature of the path to a leaf, times its one minus zero
    /// fraction, times the leaf's values: its share of the leaf added to `out`.
    fn leaf(&mut self, values: usize, lvl: usize, m: usize) {
        let forest = self.forest;
        let (nt, nf) = (self.nt(), forest.n_features);
        let g = self.path[lvl];
        for t in 0..nt {
            let v = forest.values[values + t];
            let out = &mut self.out[t * nf..(t + 1) * nf];
            for (u, &fi) in self.unwound[..m].iter().zip(&self.feature[..m]) {
                out[fi as usize] += v * (0..Q).map(|q| u[q] * g[q]).sum::<f64>();
            }
        }
    }
}

/// The most distinct features on a path from `at` down, `distinct` above it.
fn widest(nodes: &[ShapNode], at: u32, counts: &mut [u32], distinct: usize) -> usize {
    let n = &nodes[at as usize];
    if n.feature == LEAF {
        return distinct;
    }
    let f = n.feature as usize;
    counts[f] += 1;
    let d = distinct + (counts[f] == 1) as usize;
    let w = widest(nodes, n.next[0], counts, d).max(widest(nodes, n.next[1], counts, d));
    counts[f] -= 1;
    w
}

/// Gauss-Legendre quadrature with `n` points on [0, 1]: (points, weights), exact for
/// polynomials of degree < 2n. Newton's method on the Legendre polynomial P_n.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut points, mut weights) = (vec![0.0; n], vec![0.0; n]);
    for i in 0..n {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut derivative = 1.0;
        for _ in 0..100 {
            // P_n(x) and P_n'(x) by the three-term recurrence.
            let (mut p0, mut p1) = (1.0, x);
            for k in 2..=n {
                let k = k as f64;
                (p0, p1) = (p1, ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k);
            }
            let pn = if n == 0 { p0 } else { p1 };
            let pn_1 = if n == 1 { 1.0 } else { p0 };
            derivative = n as f64 * (x * pn - pn_1) / (x * x - 1.0);
            let dx = pn / derivative;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        // From [-1, 1] to [0, 1].
        points[i] = (1.0 - x) / 2.0;
        weights[i] = 1.0 / ((1.0 - x * x) * derivative * derivative);
    }
    (points, weights)
}

#[cfg(test)]
mod tests;
