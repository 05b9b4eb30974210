//! From ONNX-ML node and weight lists to the flat, validated layout.

use super::aggregate::Aggregate;
use super::error::ForestError;
use super::index::NodeIndex;
use super::layout::{Forest, Node, Tree, FEATURE_MASK, MODE_SHIFT, NAN_TRUE_BIT};
use super::mode::Mode;

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
    /// `Mode::Member`'s set: a value equal to one of these goes to the true child.
    /// Empty for every other mode.
    pub members: Vec<f64>,
}

impl NodeSpec {
    /// A branch whose two children are the same node: opset 5 writes a one-leaf tree as a
    /// node with both branches on its leaf. It is walked as that leaf.
    pub fn is_pass_through(&self) -> bool {
        self.mode.is_some() && self.true_id == self.false_id
    }
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
        let index = NodeIndex::new(nodes.len(), |i| (nodes[i].tree_id, nodes[i].node_id))?;
        if let Some(n) = nodes.iter().find(|n| n.feature > FEATURE_MASK as usize) {
            invalid!("feature index {} is out of range", n.feature);
        }
        // Node `id` of tree `t` (an index into `index.tree_ids`), a child of `n`.
        let child = |t: usize, n: &NodeSpec, id: i64| -> Result<usize, ForestError> {
            index.get(t, id).ok_or_else(|| {
                ForestError(format!(
                    "node {} of tree {} points to node {id}, which does not exist",
                    n.node_id, n.tree_id
                ))
            })
        };
        // Each node's tree, for the children's positions when laying the nodes out.
        let mut tree_of = vec![0u32; nodes.len()];

        // Flatten each tree breadth-first from its root.
        let mut flat_of = vec![u32::MAX; nodes.len()];
        let mut order: Vec<usize> = Vec::with_capacity(nodes.len());
        let mut trees = Vec::with_capacity(index.tree_ids.len());
        let mut depth_of = vec![0u32; nodes.len()];
        // Marks children, by position in `nodes`: a tree's root is its one unmarked node.
        let mut is_child = vec![false; nodes.len()];
        for (t, tree_id) in index.tree_ids.iter().enumerate() {
            let members = index.members(t);
            for &i in members {
                let n = &nodes[i as usize];
                tree_of[i as usize] = t as u32;
                if n.mode.is_some() {
                    for id in [n.true_id, n.false_id] {
                        is_child[child(t, n, id)?] = true;
                    }
                }
            }
            let mut roots = members.iter().filter(|&&i| !is_child[i as usize]);
            let root = match (roots.next(), roots.next()) {
                (Some(&r), None) => r as usize,
                (None, _) => invalid!("tree {tree_id} has no root (its nodes form a cycle)"),
                (Some(_), Some(_)) => {
                    invalid!("tree {tree_id} has more than one root (disconnected nodes)")
                }
            };
            let start = order.len();
            flat_of[root] = start as u32;
            order.push(root);
            let mut depth = 0;
            let mut halving = 0.0;
            let mut k = start;
            while k < order.len() {
                let i = order[k];
                let n = &nodes[i];
                depth = depth.max(depth_of[i]);
                if n.mode.is_none() || n.is_pass_through() {
                    halving += depth_of[i] as f64 * 0.5f64.powi(depth_of[i] as i32);
                }
                if n.is_pass_through() {
                    // The node becomes its leaf: the leaf's weights land on its slot.
                    let c = child(t, n, n.true_id)?;
                    if nodes[c].mode.is_some() {
                        invalid!(
                            "node {} of tree {tree_id} sends both branches to node {}, which is not a leaf",
                            n.node_id,
                            n.true_id
                        );
                    }
                    if flat_of[c] != u32::MAX {
                        invalid!(
                            "node {} of tree {tree_id} is reached twice: the tree is not a tree",
                            n.true_id
                        );
                    }
                    flat_of[c] = flat_of[i];
                } else if n.mode.is_some() {
                    for id in [n.false_id, n.true_id] {
                        let c = child(t, n, id)?;
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
                end: order.len() as u32,
                early: walks_early(depth, halving),
            });
        }

        let mut member_sets: Vec<(u32, u32)> = Vec::new();
        let mut member_values: Vec<f32> = Vec::new();
        // Every child of a reached node was found while walking its tree.
        let position = |i: usize, id: i64| {
            index
                .get(tree_of[i] as usize, id)
                .expect("a reached node's children exist")
        };
        let mut flat: Vec<Node> = order
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                let n = &nodes[i];
                match n.mode.filter(|_| !n.is_pass_through()) {
                    Some(Mode::Member) => {
                        // Values no f32 equals are dropped; -0.0 is stored as 0.0.
                        let mut set: Vec<f32> = n
                            .members
                            .iter()
                            .map(|&v| Mode::Member.threshold_f32(v) + 0.0)
                            .filter(|v| !v.is_nan())
                            .collect();
                        set.sort_by(f32::total_cmp);
                        set.dedup();
                        let start = member_values.len() as u32;
                        member_values.extend(set);
                        member_sets.push((start, member_values.len() as u32));
                        let mode_ix =
                            Mode::ALL.iter().position(|m| *m == Mode::Member).unwrap() as u32;
                        Node {
                            packed: n.feature as u32
                                | (mode_ix << MODE_SHIFT)
                                | if n.missing_tracks_true {
                                    NAN_TRUE_BIT
                                } else {
                                    0
                                },
                            threshold: f32::from_bits(member_sets.len() as u32 - 1),
                            next: [
                                flat_of[position(i, n.false_id)],
                                flat_of[position(i, n.true_id)],
                            ],
                        }
                    }
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
                                flat_of[position(i, n.false_id)],
                                flat_of[position(i, n.true_id)],
                            ],
                        }
                    }
                    // Feature 0 exists whenever a row does. NaN: every comparison is false,
                    // so a walk stays on `next[0]` (see `Node::child`).
                    None => Node {
                        packed: 0,
                        threshold: f32::NAN,
                        next: [k as u32, k as u32],
                    },
                }
            })
            .collect();
        let sentinel = flat.len() as u32;
        flat.push(Node {
            packed: 0,
            threshold: f32::NAN,
            next: [sentinel, sentinel],
        });

        let mut values = vec![aggregate.identity(); flat.len() * n_targets];
        let mut tree = 0;
        for w in leaves {
            let found = index.tree(w.tree_id, tree).and_then(|t| {
                tree = t;
                index.get(t, w.node_id)
            });
            let Some(i) = found else {
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

        let modes: Vec<Mode> = nodes
            .iter()
            .filter(|n| !n.is_pass_through())
            .filter_map(|n| n.mode)
            .collect();
        let uniform_mode = match modes.first() {
            Some(&m) if modes.iter().all(|&x| x == m) => Some(m),
            Some(_) => None,
            None => Some(Mode::Leq), // only leaves: any mode works
        };
        let finite_thresholds = flat
            .iter()
            .filter(|n| n.next[0] != n.next[1])
            .all(|n| n.threshold.is_finite());
        let n_features = nodes
            .iter()
            .filter(|n| n.mode.is_some() && !n.is_pass_through())
            .map(|n| n.feature + 1)
            .max()
            .unwrap_or(0);
        trees.sort_by_key(|t| (t.early, t.depth));
        let n_fixed = trees.iter().filter(|t| !t.early).count();
        let early_roots: Vec<u32> = trees[n_fixed..]
            .iter()
            .map(|t| t.root)
            .chain([sentinel])
            .collect();
        // An early-exit tree's leaves lead on to the next one's root (the last tree's to the
        // sentinel): a lane runs through its row's trees with no "which tree next?" select.
        for (t, &next) in trees[n_fixed..].iter().zip(&early_roots[1..]) {
            for node in &mut flat[t.root as usize..t.end as usize] {
                if node.next[0] == node.next[1] {
                    node.next = [next, next];
                }
            }
        }
        Ok(Forest {
            nodes: flat,
            values,
            trees,
            n_fixed,
            early_roots,
            uniform_mode,
            finite_thresholds,
            member_sets,
            member_values,
            n_features,
            n_targets,
            aggregate,
            base_values,
        })
    }
}

/// Whether a tree of `depth` is cheaper to walk with early exit. ONNX carries no training
/// counts, so a row's path is estimated as if every split halved the rows: the sum over
/// leaves of depth * 2^-depth (`halving`), the full depth for a balanced tree, about 4 for
/// LightGBM's 63-leaf trees of depth 15. An early-exit step costs about `EARLY_STEP_COST`
/// fixed steps (measured with `benches/forest.rs`).
fn walks_early(depth: u32, halving: f64) -> bool {
    const EARLY_STEP_COST: f64 = 2.0;
    depth as f64 > EARLY_STEP_COST * halving
}
