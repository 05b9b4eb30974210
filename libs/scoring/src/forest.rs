//! Tree-ensemble evaluation on flat arrays, independent of tract and ONNX.
//!
//! Layout: every tree is stored breadth-first in one `Vec<Node>` (the top levels, which
//! every row visits, share cache lines). A leaf points to itself on both branches, so a
//! walk is a fixed number of branch-free steps (the tree's depth) with no "is this a
//! leaf?" test and no search for leaves. Walks run in lock-step lanes of independent
//! (row, tree) pairs, which keeps several memory loads in flight at once: lanes of rows
//! for batches, lanes of trees for a single row.

use std::collections::HashMap;
use std::fmt;

/// How a branch node compares the feature value `x` with its threshold `t`.
/// `true` sends the row to the node's "true" child, as in ONNX-ML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Option<Mode>> {
        Some(match s {
            "BRANCH_LEQ" => Some(Mode::Leq),
            "BRANCH_LT" => Some(Mode::Lt),
            "BRANCH_GTE" => Some(Mode::Gte),
            "BRANCH_GT" => Some(Mode::Gt),
            "BRANCH_EQ" => Some(Mode::Eq),
            "BRANCH_NEQ" => Some(Mode::Neq),
            "LEAF" => None,
            _ => return None,
        })
    }

    const ALL: [Mode; 6] = [
        Mode::Leq,
        Mode::Lt,
        Mode::Gte,
        Mode::Gt,
        Mode::Eq,
        Mode::Neq,
    ];

    #[inline(always)]
    fn compare(self, x: f32, t: f32) -> bool {
        match self {
            Mode::Leq => x <= t,
            Mode::Lt => x < t,
            Mode::Gte => x >= t,
            Mode::Gt => x > t,
            Mode::Eq => x == t,
            Mode::Neq => x != t,
        }
    }

    /// The f32 threshold that makes `x <op> t32` agree with `x as f64 <op> t` for every
    /// f32 `x`, so double-precision thresholds (ONNX-ML opset 3 tensors) are honoured
    /// exactly while the hot loop stays in f32.
    fn threshold_f32(self, t: f64) -> f32 {
        let near = t as f32;
        if near as f64 == t || t.is_nan() {
            return near;
        }
        match self {
            // x <= t and x > t: the largest f32 below t splits the same way.
            Mode::Leq | Mode::Gt => {
                if near as f64 > t {
                    next_down(near)
                } else {
                    near
                }
            }
            // x < t and x >= t: the smallest f32 above t.
            Mode::Lt | Mode::Gte => {
                if (near as f64) < t {
                    next_up(near)
                } else {
                    near
                }
            }
            // No f32 equals an unrepresentable t: NaN never compares equal, and `!=` is
            // always true, exactly as in double precision.
            Mode::Eq | Mode::Neq => f32::NAN,
        }
    }
}

fn next_up(x: f32) -> f32 {
    if x == f32::INFINITY {
        return x;
    }
    let bits = x.to_bits();
    let next = if x == 0.0 {
        1
    } else if x > 0.0 {
        bits + 1
    } else {
        bits - 1
    };
    f32::from_bits(next)
}

fn next_down(x: f32) -> f32 {
    -next_up(-x)
}

/// How the trees' leaf values are combined into one score per target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

impl Aggregate {
    pub fn parse(s: &str) -> Option<Aggregate> {
        Some(match s {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            _ => return None,
        })
    }

    /// The neutral value: a leaf without a weight for a target contributes this.
    /// For MIN/MAX it is NaN, which `f32::min`/`f32::max` ignore, so "no value yet" needs
    /// no separate flag.
    fn identity(self) -> f32 {
        match self {
            Aggregate::Sum | Aggregate::Average => 0.0,
            Aggregate::Min | Aggregate::Max => f32::NAN,
        }
    }

    #[inline(always)]
    fn combine(self, acc: f32, v: f32) -> f32 {
        match self {
            Aggregate::Sum | Aggregate::Average => acc + v,
            Aggregate::Min => acc.min(v),
            Aggregate::Max => acc.max(v),
        }
    }
}

/// One tree node as given by an ONNX-ML tree ensemble, before flattening.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub tree_id: i64,
    pub node_id: i64,
    /// `None` for a leaf.
    pub mode: Option<Mode>,
    pub feature: usize,
    pub threshold: f64,
    pub true_id: i64,
    pub false_id: i64,
    pub missing_tracks_true: bool,
}

/// One leaf weight: `weight` is added to (or min/maxed into) `target` when a row reaches
/// node (`tree_id`, `node_id`).
#[derive(Clone, Debug)]
pub struct LeafWeight {
    pub tree_id: i64,
    pub node_id: i64,
    pub target: usize,
    pub weight: f64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForestError(pub String);

impl fmt::Display for ForestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ForestError {}

macro_rules! invalid {
    ($($arg:tt)*) => { return Err(ForestError(format!($($arg)*))) };
}

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
}

/// A validated, flattened tree ensemble.
#[derive(Clone, Debug, PartialEq)]
pub struct Forest {
    nodes: Vec<Node>,
    /// `n_targets` values per node (meaningful for leaves only).
    values: Vec<f32>,
    /// Sorted by depth, so a lane group of trees walks a similar number of steps.
    trees: Vec<Tree>,
    /// `Some` when every branch uses the same comparison, which then compiles to one
    /// instruction instead of a per-node match.
    uniform_mode: Option<Mode>,
    n_features: usize,
    n_targets: usize,
    aggregate: Aggregate,
    base_values: Vec<f32>,
}

/// Lanes walked in lock-step: enough independent loads to hide L1/L2 latency, few enough
/// to stay in registers.
const LANES: usize = 8;

impl Forest {
    pub fn new(
        nodes: &[NodeSpec],
        leaves: &[LeafWeight],
        n_targets: usize,
        aggregate: Aggregate,
        base_values: &[f64],
    ) -> Result<Forest, ForestError> {
        if nodes.is_empty() {
            invalid!("the ensemble has no nodes");
        }
        if n_targets == 0 {
            invalid!("n_targets must be at least 1");
        }
        let base_values: Vec<f32> = match base_values.len() {
            0 => vec![0.0; n_targets],
            n if n == n_targets => base_values.iter().map(|&v| v as f32).collect(),
            n => invalid!("base_values has {n} values for {n_targets} targets"),
        };

        // (tree, node) -> position in `nodes`; trees in order of first appearance.
        let mut by_id: HashMap<(i64, i64), usize> = HashMap::with_capacity(nodes.len());
        let mut tree_order: Vec<i64> = Vec::new();
        let mut tree_nodes: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, n) in nodes.iter().enumerate() {
            if by_id.insert((n.tree_id, n.node_id), i).is_some() {
                invalid!("node {} of tree {} is defined twice", n.node_id, n.tree_id);
            }
            if n.feature > FEATURE_MASK as usize {
                invalid!("feature index {} is out of range", n.feature);
            }
            tree_nodes
                .entry(n.tree_id)
                .or_insert_with(|| {
                    tree_order.push(n.tree_id);
                    Vec::new()
                })
                .push(i);
        }

        let child = |n: &NodeSpec, id: i64| -> Result<usize, ForestError> {
            by_id.get(&(n.tree_id, id)).copied().ok_or_else(|| {
                ForestError(format!(
                    "node {} of tree {} points to node {id}, which does not exist",
                    n.node_id, n.tree_id
                ))
            })
        };

        // Flatten each tree breadth-first from its root.
        let mut flat_of = vec![u32::MAX; nodes.len()];
        let mut order: Vec<usize> = Vec::with_capacity(nodes.len());
        let mut trees = Vec::with_capacity(tree_order.len());
        let mut depth_of = vec![0u32; nodes.len()];
        for tree_id in &tree_order {
            let members = &tree_nodes[tree_id];
            let mut is_child = vec![false; members.len()];
            let local: HashMap<usize, usize> =
                members.iter().enumerate().map(|(k, &i)| (i, k)).collect();
            for &i in members {
                let n = &nodes[i];
                if n.mode.is_some() {
                    for id in [n.true_id, n.false_id] {
                        is_child[local[&child(n, id)?]] = true;
                    }
                }
            }
            let mut roots = members.iter().zip(&is_child).filter(|(_, c)| !**c);
            let root = match (roots.next(), roots.next()) {
                (Some((&r, _)), None) => r,
                (None, _) => invalid!("tree {tree_id} has no root (its nodes form a cycle)"),
                (Some(_), Some(_)) => {
                    invalid!("tree {tree_id} has more than one root (disconnected nodes)")
                }
            };
            let start = order.len();
            flat_of[root] = start as u32;
            order.push(root);
            let mut depth = 0;
            let mut k = start;
            while k < order.len() {
                let i = order[k];
                let n = &nodes[i];
                depth = depth.max(depth_of[i]);
                if n.mode.is_some() {
                    for id in [n.false_id, n.true_id] {
                        let c = child(n, id)?;
                        if flat_of[c] != u32::MAX {
                            invalid!(
                                "node {} of tree {tree_id} is reached twice: the tree is not a tree",
                                n.node_id
                            );
                        }
                        flat_of[c] = order.len() as u32;
                        depth_of[c] = depth_of[i] + 1;
                        order.push(c);
                    }
                }
                k += 1;
            }
            trees.push(Tree {
                root: start as u32,
                depth,
            });
        }

        let flat: Vec<Node> = order
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let n = &nodes[i];
                match n.mode {
                    Some(mode) => {
                        let mode_ix = Mode::ALL.iter().position(|m| *m == mode).unwrap() as u32;
                        // NaN fails every ordered comparison and passes `!=`, as in onnxruntime.
                        let nan_true = n.missing_tracks_true || mode == Mode::Neq;
                        Node {
                            packed: n.feature as u32
                                | (mode_ix << MODE_SHIFT)
                                | if nan_true { NAN_TRUE_BIT } else { 0 },
                            threshold: mode.threshold_f32(n.threshold),
                            next: [
                                flat_of[by_id[&(n.tree_id, n.false_id)]],
                                flat_of[by_id[&(n.tree_id, n.true_id)]],
                            ],
                        }
                    }
                    // Feature 0 exists whenever a row does; the result is ignored anyway.
                    None => Node {
                        packed: 0,
                        threshold: 0.0,
                        next: [k as u32, k as u32],
                    },
                }
            })
            .collect();

        let mut values = vec![aggregate.identity(); flat.len() * n_targets];
        for w in leaves {
            let Some(&i) = by_id.get(&(w.tree_id, w.node_id)) else {
                invalid!(
                    "a target weight names node {} of tree {}, which does not exist",
                    w.node_id,
                    w.tree_id
                );
            };
            if nodes[i].mode.is_some() {
                invalid!(
                    "a target weight names node {} of tree {}, which is not a leaf",
                    w.node_id,
                    w.tree_id
                );
            }
            if w.target >= n_targets {
                invalid!(
                    "a target weight names target {}, but n_targets is {n_targets}",
                    w.target
                );
            }
            if flat_of[i] == u32::MAX {
                continue; // unreachable from its tree's root: never used
            }
            let slot = &mut values[flat_of[i] as usize * n_targets + w.target];
            *slot = aggregate.combine(*slot, w.weight as f32);
        }

        let modes: Vec<Mode> = nodes.iter().filter_map(|n| n.mode).collect();
        let uniform_mode = match modes.first() {
            Some(&m) if modes.iter().all(|&x| x == m) => Some(m),
            Some(_) => None,
            None => Some(Mode::Leq), // only leaves: any mode works
        };
        let n_features = nodes
            .iter()
            .filter(|n| n.mode.is_some())
            .map(|n| n.feature + 1)
            .max()
            .unwrap_or(0);
        trees.sort_by_key(|t| t.depth);
        Ok(Forest {
            nodes: flat,
            values,
            trees,
            uniform_mode,
            n_features,
            n_targets,
            aggregate,
            base_values,
        })
    }

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

    /// Scores `x`, a row-major matrix with `width` columns, into `out`
    /// (`rows * n_targets`, row-major).
    pub fn eval(&self, x: &[f32], width: usize, out: &mut [f32]) -> Result<(), ForestError> {
        if width < self.n_features.max(1) {
            invalid!(
                "the ensemble reads feature {} but rows have {width} columns",
                self.n_features.max(1) - 1
            );
        }
        if x.len() % width != 0 {
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
            Some(Mode::Leq) => self.eval_with::<Leq>(x, width, out),
            Some(Mode::Lt) => self.eval_with::<Lt>(x, width, out),
            Some(Mode::Gte) => self.eval_with::<Gte>(x, width, out),
            Some(Mode::Gt) => self.eval_with::<Gt>(x, width, out),
            Some(Mode::Eq) | Some(Mode::Neq) | None => self.eval_with::<PerNode>(x, width, out),
        }
        Ok(())
    }

    fn eval_with<C: Compare>(&self, x: &[f32], width: usize, out: &mut [f32]) {
        let nt = self.n_targets;
        out.fill(self.aggregate.identity());
        let mut blocks = x.chunks_exact(width * LANES);
        let mut row0 = 0;
        // Batches: lanes are rows, each tree is walked by LANES rows at once.
        for block in blocks.by_ref() {
            let rows: [&[f32]; LANES] = std::array::from_fn(|l| &block[l * width..(l + 1) * width]);
            for tree in &self.trees {
                let leaves = self.walk::<C, _>([tree.root; LANES], &rows, tree.depth);
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
            let mut groups = self.trees.chunks_exact(LANES);
            for group in groups.by_ref() {
                let depth = group[LANES - 1].depth; // sorted: the deepest is last
                let leaves =
                    self.walk::<C, _>(std::array::from_fn(|l| group[l].root), &rows, depth);
                for leaf in leaves {
                    self.accumulate(acc, leaf);
                }
            }
            for tree in groups.remainder() {
                let [leaf] = self.walk::<C, _>([tree.root], &[row], tree.depth);
                self.accumulate(acc, leaf);
            }
            row0 += 1;
        }
        self.finish(out);
    }

    /// Walks `L` lanes `depth` steps; lane `l` starts at node `start[l]` with row `rows[l]`.
    /// Leaves loop onto themselves, so every lane ends on its leaf.
    #[inline(always)]
    fn walk<C: Compare, const L: usize>(
        &self,
        start: [u32; L],
        rows: &[&[f32]; L],
        depth: u32,
    ) -> [u32; L] {
        let mut at = start;
        for _ in 0..depth {
            for l in 0..L {
                let n = &self.nodes[at[l] as usize];
                let x = rows[l][n.feature()];
                let go = C::compare(n, x) | (x.is_nan() & n.nan_goes_true());
                at[l] = n.next[go as usize];
            }
        }
        at
    }

    #[inline(always)]
    fn accumulate(&self, acc: &mut [f32], leaf: u32) {
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

/// The branch test, chosen once per ensemble so the common single-mode case has no match
/// in the inner loop.
trait Compare {
    fn compare(n: &Node, x: f32) -> bool;
}

macro_rules! uniform_compare {
    ($($name:ident: $op:tt),*) => {$(
        struct $name;
        impl Compare for $name {
            #[inline(always)]
            fn compare(n: &Node, x: f32) -> bool {
                x $op n.threshold
            }
        }
    )*};
}
uniform_compare!(Leq: <=, Lt: <, Gte: >=, Gt: >);

struct PerNode;
impl Compare for PerNode {
    #[inline(always)]
    fn compare(n: &Node, x: f32) -> bool {
        n.mode().compare(x, n.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(
        tree: i64,
        id: i64,
        mode: Mode,
        feature: usize,
        t: f64,
        yes: i64,
        no: i64,
        nan_true: bool,
    ) -> NodeSpec {
        NodeSpec {
            tree_id: tree,
            node_id: id,
            mode: Some(mode),
            feature,
            threshold: t,
            true_id: yes,
            false_id: no,
            missing_tracks_true: nan_true,
        }
    }

    fn leaf(tree: i64, id: i64) -> NodeSpec {
        NodeSpec {
            tree_id: tree,
            node_id: id,
            mode: None,
            feature: 0,
            threshold: 0.0,
            true_id: 0,
            false_id: 0,
            missing_tracks_true: false,
        }
    }

    fn weight(tree: i64, id: i64, target: usize, w: f64) -> LeafWeight {
        LeafWeight {
            tree_id: tree,
            node_id: id,
            target,
            weight: w,
        }
    }

    /// Tree 0: x0 <= 0.5 ? 1 : 2 (NaN -> true). Tree 1: x1 > 3 ? 10 : 20, listed out of order.
    fn two_trees(aggregate: Aggregate) -> Forest {
        let nodes = [
            branch(0, 0, Mode::Leq, 0, 0.5, 1, 2, true),
            leaf(0, 1),
            leaf(0, 2),
            leaf(1, 7),
            branch(1, 5, Mode::Gt, 1, 3.0, 7, 6, false),
            leaf(1, 6),
        ];
        let leaves = [
            weight(0, 1, 0, 1.0),
            weight(0, 2, 0, 2.0),
            weight(1, 7, 0, 10.0),
            weight(1, 6, 0, 20.0),
        ];
        Forest::new(&nodes, &leaves, 1, aggregate, &[0.5]).unwrap()
    }

    fn score(f: &Forest, rows: &[[f32; 2]]) -> Vec<f32> {
        let x: Vec<f32> = rows.iter().flatten().copied().collect();
        let mut out = vec![0.0; rows.len()];
        f.eval(&x, 2, &mut out).unwrap();
        out
    }

    #[test]
    fn aggregates_and_nan_routing() {
        let rows = [[0.0, 4.0], [1.0, 0.0], [f32::NAN, f32::NAN]];
        assert_eq!(
            score(&two_trees(Aggregate::Sum), &rows),
            vec![11.5, 22.5, 21.5]
        );
        assert_eq!(
            score(&two_trees(Aggregate::Average), &rows),
            vec![6.0, 11.5, 11.0]
        );
        assert_eq!(
            score(&two_trees(Aggregate::Min), &rows),
            vec![1.5, 2.5, 1.5]
        );
        assert_eq!(
            score(&two_trees(Aggregate::Max), &rows),
            vec![10.5, 20.5, 20.5]
        );
    }

    #[test]
    fn batch_lanes_agree_with_single_rows() {
        let f = two_trees(Aggregate::Sum);
        let rows: Vec<[f32; 2]> = (0..21).map(|i| [i as f32 * 0.07, (i % 7) as f32]).collect();
        let batch = score(&f, &rows);
        for (row, want) in rows.iter().zip(batch) {
            assert_eq!(score(&f, &[*row]), vec![want]);
        }
    }

    #[test]
    fn double_thresholds_round_the_way_each_comparison_needs() {
        let t = 0.1f64; // 0.1f32 is slightly above 0.1f64
        let x = 0.1f32;
        for mode in Mode::ALL {
            let t32 = mode.threshold_f32(t);
            let exact = match mode {
                Mode::Leq => (x as f64) <= t,
                Mode::Lt => (x as f64) < t,
                Mode::Gte => (x as f64) >= t,
                Mode::Gt => (x as f64) > t,
                Mode::Eq => (x as f64) == t,
                Mode::Neq => (x as f64) != t,
            };
            assert_eq!(mode.compare(x, t32), exact, "{mode:?}");
            assert_eq!(
                mode.compare(next_down(x), t32),
                mode.compare(next_down(x) as f64 as f32, t32)
            );
        }
        assert_eq!(Mode::Leq.threshold_f32(0.5), 0.5);
    }

    #[test]
    fn multi_target_leaves() {
        let nodes = [
            branch(0, 0, Mode::Lt, 0, 0.0, 1, 2, false),
            leaf(0, 1),
            leaf(0, 2),
        ];
        let leaves = [
            weight(0, 1, 0, 1.0),
            weight(0, 1, 1, 2.0),
            weight(0, 2, 1, 3.0),
            weight(0, 2, 1, 0.5),
        ];
        let f = Forest::new(&nodes, &leaves, 2, Aggregate::Sum, &[0.0, 100.0]).unwrap();
        let mut out = vec![0.0; 4];
        f.eval(&[-1.0, 1.0], 1, &mut out).unwrap();
        assert_eq!(out, vec![1.0, 102.0, 0.0, 103.5]);
    }

    fn refused(nodes: &[NodeSpec], leaves: &[LeafWeight]) -> String {
        Forest::new(nodes, leaves, 1, Aggregate::Sum, &[])
            .unwrap_err()
            .0
    }

    #[test]
    fn malformed_ensembles_are_refused() {
        let ok_leaf = [leaf(0, 1), leaf(0, 2)];
        let root = branch(0, 0, Mode::Leq, 0, 0.0, 1, 2, false);
        assert!(refused(&[root.clone(), leaf(0, 1)], &[]).contains("node 2, which does not exist"));
        assert!(
            refused(&[root.clone(), root.clone(), leaf(0, 1), leaf(0, 2)], &[])
                .contains("defined twice")
        );
        let cycle = [
            branch(0, 0, Mode::Leq, 0, 0.0, 1, 1, false),
            branch(0, 1, Mode::Leq, 0, 0.0, 0, 0, false),
        ];
        assert!(refused(&cycle, &[]).contains("no root"));
        let shared = [branch(0, 0, Mode::Leq, 0, 0.0, 1, 1, false), leaf(0, 1)];
        assert!(refused(&shared, &[]).contains("reached twice"));
        let two_roots = [
            root.clone(),
            ok_leaf[0].clone(),
            ok_leaf[1].clone(),
            leaf(0, 9),
        ];
        assert!(refused(&two_roots, &[]).contains("more than one root"));
        let all = [root.clone(), ok_leaf[0].clone(), ok_leaf[1].clone()];
        assert!(refused(&all, &[weight(0, 0, 0, 1.0)]).contains("not a leaf"));
        assert!(refused(&all, &[weight(0, 5, 0, 1.0)]).contains("does not exist"));
        assert!(refused(&all, &[weight(0, 1, 3, 1.0)]).contains("target 3"));
        assert!(refused(&[], &[]).contains("no nodes"));
        let err = Forest::new(&all, &[], 1, Aggregate::Sum, &[1.0, 2.0]).unwrap_err();
        assert!(err.0.contains("base_values"));
    }

    #[test]
    fn rows_too_narrow_for_the_features_used() {
        let f = two_trees(Aggregate::Sum);
        let mut out = vec![0.0; 2];
        assert!(f
            .eval(&[1.0, 2.0], 1, &mut out)
            .unwrap_err()
            .0
            .contains("reads feature 1"));
    }
}
