//! TreeSHAP against exact Shapley values by enumeration of feature subsets, and against
//! the evaluator (local accuracy).

use std::collections::HashMap;

use super::super::{Aggregate, Forest, ForestError, LeafWeight, Mode, NodeSpec};
use super::{ShapForest, ShapScratch};

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone)]
struct Ensemble {
    nodes: Vec<NodeSpec>,
    leaves: Vec<LeafWeight>,
    covers: Vec<f64>,
    n_targets: usize,
    aggregate: Aggregate,
    base: Vec<f64>,
}

impl Ensemble {
    fn shap(&self) -> ShapForest {
        ShapForest::new(
            &self.nodes,
            &self.leaves,
            &self.covers,
            self.n_targets,
            self.aggregate,
            &self.base,
        )
        .unwrap()
    }

    fn forest(&self) -> Forest {
        Forest::new(
            &self.nodes,
            &self.leaves,
            self.n_targets,
            self.aggregate,
            &self.base,
        )
        .unwrap()
    }

    fn refusal(&self) -> String {
        ShapForest::new(
            &self.nodes,
            &self.leaves,
            &self.covers,
            self.n_targets,
            self.aggregate,
            &self.base,
        )
        .unwrap_err()
        .0
    }
}

/// Options of the random ensembles.
struct Shape {
    trees: usize,
    depth: usize,
    features: usize,
    n_targets: usize,
    /// `None`: a random mode per branch.
    mode: Option<Mode>,
    aggregate: Aggregate,
}

/// Thresholds repeat (Eq/Neq matter) and some are not f32 values (threshold_f32 matters).
const THRESHOLDS: [f64; 5] = [0.0, 0.5, 1.0, 0.1, 1.5];

fn random_ensemble(seed: u64, shape: &Shape) -> Ensemble {
    let mut rng = Rng(seed.wrapping_mul(0x9e3779b97f4a7c15) | 1);
    let mut e = Ensemble {
        nodes: vec![],
        leaves: vec![],
        covers: vec![],
        n_targets: shape.n_targets,
        aggregate: shape.aggregate,
        base: (0..shape.n_targets)
            .map(|t| t as f64 * 0.25 - 0.1)
            .collect(),
    };
    // Fractional covers (hessian sums) in half the ensembles, row counts in the others.
    let fractional = rng.below(2) == 0;
    for tree in 0..shape.trees as i64 {
        let start = e.nodes.len();
        let mut next_id = 1;
        grow(
            &mut rng,
            &mut e,
            shape,
            tree,
            0,
            0,
            &mut next_id,
            fractional,
        );
        // Node lists come in any order.
        for i in (start + 1..e.nodes.len()).rev() {
            let j = start + rng.below(i - start + 1);
            e.nodes.swap(i, j);
            e.covers.swap(i, j);
        }
        // The root needs a cover > 0.
        if e.covers[start..].iter().all(|&c| c == 0.0) {
            let ids: Vec<i64> = e.nodes[start..]
                .iter()
                .filter(|n| n.mode.is_none())
                .map(|n| n.node_id)
                .collect();
            let keep = ids[0];
            // Give one leaf a cover of 1, and every node above it one more.
            let mut id = keep;
            loop {
                let k = (start..e.nodes.len())
                    .find(|&k| e.nodes[k].node_id == id)
                    .unwrap();
                e.covers[k] += 1.0;
                match (start..e.nodes.len()).find(|&p| {
                    e.nodes[p].mode.is_some()
                        && (e.nodes[p].true_id == id || e.nodes[p].false_id == id)
                }) {
                    Some(p) => id = e.nodes[p].node_id,
                    None => break,
                }
            }
        }
    }
    e
}

/// Grows node `id` at `depth`; returns its cover.
#[allow(clippy::too_many_arguments)]
fn grow(
    rng: &mut Rng,
    e: &mut Ensemble,
    shape: &Shape,
    tree: i64,
    id: i64,
    depth: usize,
    next_id: &mut i64,
    fractional: bool,
) -> f64 {
    let at = e.nodes.len();
    if depth < shape.depth && (depth < 2 || rng.unit() < 0.75) {
        let (yes, no) = (*next_id, *next_id + 1);
        *next_id += 2;
        let mode = shape.mode.unwrap_or(Mode::ALL[rng.below(Mode::ALL.len())]);
        // A member node's set: some of the thresholds (0.1 is no f32: in no set), -0.0.
        let members = match mode {
            Mode::Member => (0..1 + rng.below(3))
                .map(|_| [0.0, 0.5, 1.0, 0.1, 1.5, -0.0, 2.0][rng.below(7)])
                .collect(),
            _ => vec![],
        };
        e.nodes.push(NodeSpec {
            tree_id: tree,
            node_id: id,
            mode: Some(mode),
            feature: rng.below(shape.features),
            threshold: THRESHOLDS[rng.below(THRESHOLDS.len())],
            true_id: yes,
            false_id: no,
            missing_tracks_true: rng.below(2) == 0,
            members,
        });
        e.covers.push(0.0);
        let c = grow(rng, e, shape, tree, yes, depth + 1, next_id, fractional)
            + grow(rng, e, shape, tree, no, depth + 1, next_id, fractional);
        e.covers[at] = c;
        c
    } else {
        e.nodes.push(NodeSpec {
            tree_id: tree,
            node_id: id,
            mode: None,
            feature: 0,
            threshold: 0.0,
            true_id: 0,
            false_id: 0,
            missing_tracks_true: false,
            members: vec![],
        });
        // Zero covers happen: whole subtrees no training row reached.
        let mut c = rng.below(4) as f64;
        if fractional {
            c *= 0.1 + rng.unit();
        }
        e.covers.push(c);
        for t in 0..shape.n_targets {
            // Some targets get nothing from a leaf, some get two weights (summed).
            for _ in 0..rng.below(3) {
                e.leaves.push(LeafWeight {
                    tree_id: tree,
                    node_id: id,
                    target: t,
                    weight: (rng.unit() - 0.5) * 4.0,
                });
            }
        }
        c
    }
}

fn random_row(rng: &mut Rng, features: usize) -> Vec<f32> {
    (0..features)
        .map(|_| match rng.below(8) {
            0 => f32::NAN,
            1 => 0.1, // just above 0.1f64
            k => [0.0, 0.5, 1.0, 1.5, -1.0, 2.0][k - 2] as f32,
        })
        .collect()
}

/// The ONNX-ML routing in double precision, written independently of `Mode::compare` and
/// `threshold_f32`.
fn goes_true(n: &NodeSpec, x: f32) -> bool {
    if x.is_nan() {
        return n.missing_tracks_true || n.mode == Some(Mode::Neq);
    }
    let (x, t) = (x as f64, n.threshold);
    match n.mode.unwrap() {
        Mode::Leq => x <= t,
        Mode::Lt => x < t,
        Mode::Gte => x >= t,
        Mode::Gt => x > t,
        Mode::Eq => x == t,
        Mode::Neq => x != t,
        Mode::Member => n.members.contains(&x),
    }
}

/// E[f(x) | x_S] the path-dependent way: features in S follow the row, the others split
/// by their children's covers (evenly under a branch of cover 0).
struct Brute<'a> {
    e: &'a Ensemble,
    by_id: HashMap<(i64, i64), usize>,
    roots: Vec<usize>,
    /// Per leaf, its (target, weight)s.
    weights: HashMap<usize, Vec<(usize, f64)>>,
}

impl<'a> Brute<'a> {
    fn new(e: &'a Ensemble) -> Brute<'a> {
        let by_id: HashMap<(i64, i64), usize> = e
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| ((n.tree_id, n.node_id), i))
            .collect();
        let mut trees: Vec<i64> = e.nodes.iter().map(|n| n.tree_id).collect();
        trees.sort();
        trees.dedup();
        let roots = trees
            .iter()
            .map(|&t| {
                e.nodes
                    .iter()
                    .position(|n| n.tree_id == t && n.node_id == 0)
                    .unwrap()
            })
            .collect();
        let mut weights: HashMap<usize, Vec<(usize, f64)>> = HashMap::new();
        for w in &e.leaves {
            let i = by_id[&(w.tree_id, w.node_id)];
            weights.entry(i).or_default().push((w.target, w.weight));
        }
        Brute {
            e,
            by_id,
            roots,
            weights,
        }
    }

    fn cond(&self, i: usize, x: &[f32], set: u32, out: &mut [f64], share: f64) {
        let n = &self.e.nodes[i];
        if n.mode.is_none() {
            for &(t, w) in self.weights.get(&i).into_iter().flatten() {
                out[t] += share * w;
            }
            return;
        }
        let yes = self.by_id[&(n.tree_id, n.true_id)];
        let no = self.by_id[&(n.tree_id, n.false_id)];
        if set & (1 << n.feature) != 0 {
            let next = if goes_true(n, x[n.feature]) { yes } else { no };
            self.cond(next, x, set, out, share);
        } else {
            let (cy, cn) = (self.e.covers[yes], self.e.covers[no]);
            let (ry, rn) = if cy + cn > 0.0 {
                (cy / (cy + cn), cn / (cy + cn))
            } else {
                (0.5, 0.5)
            };
            self.cond(yes, x, set, out, share * ry);
            self.cond(no, x, set, out, share * rn);
        }
    }

    fn value(&self, x: &[f32], set: u32) -> Vec<f64> {
        let mut out = vec![0.0; self.e.n_targets];
        let scale = match self.e.aggregate {
            Aggregate::Average => 1.0 / self.roots.len() as f64,
            _ => 1.0,
        };
        for &r in &self.roots {
            self.cond(r, x, set, &mut out, scale);
        }
        for (o, b) in out.iter_mut().zip(&self.e.base) {
            *o += b;
        }
        out
    }

    /// Exact Shapley values over `features` players, target-major.
    fn shapley(&self, x: &[f32], features: usize) -> Vec<f64> {
        let nt = self.e.n_targets;
        let values: Vec<Vec<f64>> = (0..1u32 << features).map(|s| self.value(x, s)).collect();
        let fact = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
        let mut phi = vec![0.0; nt * features];
        for i in 0..features {
            for s in 0..1u32 << features {
                if s & (1 << i) != 0 {
                    continue;
                }
                let k = s.count_ones() as usize;
                let w = fact(k) * fact(features - 1 - k) / fact(features);
                for t in 0..nt {
                    phi[t * features + i] +=
                        w * (values[(s | 1 << i) as usize][t] - values[s as usize][t]);
                }
            }
        }
        phi
    }
}

fn contributions(f: &ShapForest, x: &[f32], scratch: &mut ShapScratch) -> Vec<f64> {
    let mut out = vec![0.0; f.n_targets() * f.n_features()];
    f.contributions(x, &mut out, scratch);
    out
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn matches_exact_shapley_values_on_random_trees() {
    let mut checked = 0;
    for seed in 1..=40u64 {
        let shape = Shape {
            trees: 1 + (seed % 4) as usize,
            depth: 1 + (seed % 5) as usize,
            // Few features: the same feature often splits twice on a path.
            features: 1 + (seed % 6) as usize,
            n_targets: 1 + (seed % 3) as usize,
            mode: None,
            aggregate: if seed % 3 == 0 {
                Aggregate::Average
            } else {
                Aggregate::Sum
            },
        };
        let e = random_ensemble(seed, &shape);
        let f = e.shap();
        let brute = Brute::new(&e);
        let nf = f.n_features();
        let expected = brute.value(&[f32::NAN; 8], 0);
        for (a, b) in f.expected_values().iter().zip(&expected) {
            assert!(
                close(*a, *b, 1e-12),
                "seed {seed}: expected value {a} vs {b}"
            );
        }
        let mut scratch = f.scratch();
        let mut rng = Rng(seed + 1000);
        for _ in 0..6 {
            let x = random_row(&mut rng, nf.max(1));
            let got = contributions(&f, &x, &mut scratch);
            let want = brute.shapley(&x, nf);
            for (k, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    close(*a, *b, 1e-10),
                    "seed {seed}, row {x:?}, target {} feature {}: {a} vs {b}",
                    k / nf,
                    k % nf
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 240);
}

#[test]
fn deep_paths_on_two_features_repeat_them_often() {
    for seed in 100..110u64 {
        let shape = Shape {
            trees: 2,
            depth: 5,
            features: 2,
            n_targets: 2,
            mode: None,
            aggregate: Aggregate::Sum,
        };
        let e = random_ensemble(seed, &shape);
        let f = e.shap();
        let brute = Brute::new(&e);
        let mut scratch = f.scratch();
        let mut rng = Rng(seed);
        for _ in 0..8 {
            let x = random_row(&mut rng, 2);
            let got = contributions(&f, &x, &mut scratch);
            let want = brute.shapley(&x, f.n_features());
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    close(*a, *b, 1e-10),
                    "seed {seed}, row {x:?}: {got:?} vs {want:?}"
                );
            }
        }
    }
}

/// expected_values + the contributions = the evaluator's output, for every mode (each
/// uniform, which `eval` compiles separately, and mixed), NaN rows, both aggregates.
#[test]
fn local_accuracy_against_the_evaluator() {
    let modes = Mode::ALL.map(Some).into_iter().chain([None]);
    for (m, mode) in modes.enumerate() {
        for aggregate in [Aggregate::Sum, Aggregate::Average] {
            let shape = Shape {
                trees: 25,
                depth: 7,
                features: 5,
                n_targets: 3,
                mode,
                aggregate,
            };
            let e = random_ensemble(m as u64 * 7 + 3, &shape);
            let (f, forest) = (e.shap(), e.forest());
            assert_eq!(f.n_features(), forest.n_features());
            let nf = f.n_features();
            let mut scratch = f.scratch();
            let mut rng = Rng(m as u64 + 77);
            for _ in 0..50 {
                let x = random_row(&mut rng, nf);
                let phi = contributions(&f, &x, &mut scratch);
                let mut score = vec![0.0f32; 3];
                forest.eval(&x, nf, &mut score).unwrap();
                for t in 0..3 {
                    let sum =
                        f.expected_values()[t] + phi[t * nf..(t + 1) * nf].iter().sum::<f64>();
                    assert!(
                        close(sum, score[t] as f64, 1e-5),
                        "{mode:?} {aggregate:?} row {x:?} target {t}: {sum} vs {}",
                        score[t]
                    );
                }
            }
        }
    }
}

fn branch(id: i64, feature: usize, t: f64, yes: i64, no: i64, nan_true: bool) -> NodeSpec {
    NodeSpec {
        tree_id: 0,
        node_id: id,
        mode: Some(Mode::Leq),
        feature,
        threshold: t,
        true_id: yes,
        false_id: no,
        missing_tracks_true: nan_true,
        members: vec![],
    }
}

fn leaf(id: i64) -> NodeSpec {
    NodeSpec {
        tree_id: 0,
        node_id: id,
        mode: None,
        feature: 0,
        threshold: 0.0,
        true_id: 0,
        false_id: 0,
        missing_tracks_true: false,
        members: vec![],
    }
}

fn weight(id: i64, w: f64) -> LeafWeight {
    LeafWeight {
        tree_id: 0,
        node_id: id,
        target: 0,
        weight: w,
    }
}

/// x0 <= 0.5 ? (x1 <= 0.5 ? 1 : 2) : 3, covers 10 = (6 = 2 + 4) + 4; NaN x0 goes false.
fn small() -> Ensemble {
    Ensemble {
        nodes: vec![
            branch(0, 0, 0.5, 1, 2, false),
            branch(1, 1, 0.5, 3, 4, true),
            leaf(2),
            leaf(3),
            leaf(4),
        ],
        leaves: vec![weight(2, 3.0), weight(3, 1.0), weight(4, 2.0)],
        covers: vec![10.0, 6.0, 4.0, 2.0, 4.0],
        n_targets: 1,
        aggregate: Aggregate::Sum,
        base: vec![0.5],
    }
}

#[test]
fn a_small_tree_by_hand() {
    let f = small().shap();
    // 0.5 + (2 * 1 + 4 * 2 + 4 * 3) / 10
    assert!(close(f.expected_values()[0], 2.7, 1e-15));
    let mut s = f.scratch();
    // x = (0, 0) reaches leaf 3 (value 1). v({}) = 2.2, v({0}) = (2 + 8) / 6 = 5/3,
    // v({1}) = 0.6 * 1 + 0.4 * 3 = 1.8, v({0, 1}) = 1.
    // phi0 = ((5/3 - 2.2) + (1 - 1.8)) / 2, phi1 = ((1.8 - 2.2) + (1 - 5/3)) / 2.
    let phi = contributions(&f, &[0.0, 0.0], &mut s);
    let want = [
        ((5.0 / 3.0 - 2.2) + (1.0 - 1.8)) / 2.0,
        ((1.8 - 2.2) + (1.0 - 5.0 / 3.0)) / 2.0,
    ];
    assert!(
        close(phi[0], want[0], 1e-14) && close(phi[1], want[1], 1e-14),
        "{phi:?}"
    );
    // NaN x0 goes false (leaf 2, value 3): v({0}) = v({0, 1}) = 3, so
    // phi0 = ((3 - 2.2) + (3 - 1.8)) / 2 and phi1 = (1.8 - 2.2) / 2.
    let phi = contributions(&f, &[f32::NAN, 0.0], &mut s);
    assert!(
        close(phi[0], 1.0, 1e-14) && close(phi[1], -0.2, 1e-14),
        "{phi:?}"
    );
    // NaN x1 goes true (leaf 3).
    let phi = contributions(&f, &[0.0, f32::NAN], &mut s);
    assert!(close(phi[1], want[1], 1e-14), "{phi:?}");
}

#[test]
fn contributions_add_to_out_and_a_scratch_grows_once() {
    let f = small().shap();
    let mut out = vec![1.0, 2.0];
    // A scratch from a one-leaf forest is too small for this one.
    let tiny = Ensemble {
        nodes: vec![leaf(0)],
        leaves: vec![weight(0, 4.0)],
        covers: vec![3.0],
        n_targets: 1,
        aggregate: Aggregate::Sum,
        base: vec![],
    }
    .shap();
    let mut s = tiny.scratch();
    f.contributions(&[1.0, 1.0], &mut out, &mut s);
    let phi = contributions(&f, &[1.0, 1.0], &mut f.scratch());
    assert_eq!(out, vec![1.0 + phi[0], 2.0 + phi[1]]);
    // x0 > 0.5: leaf 2, value 3, plus the base.
    assert!(close(2.7 + phi[0] + phi[1], 3.5, 1e-14));
}

#[test]
fn a_tree_of_one_leaf_only_moves_the_expected_value() {
    let f = Ensemble {
        nodes: vec![leaf(0)],
        leaves: vec![weight(0, 4.0), weight(0, 1.0)],
        covers: vec![3.0],
        n_targets: 1,
        aggregate: Aggregate::Sum,
        base: vec![1.0],
    }
    .shap();
    assert_eq!((f.n_features(), f.expected_values()), (0, &[6.0][..]));
    let mut out = vec![];
    f.contributions(&[], &mut out, &mut f.scratch());
}

#[test]
fn branches_no_training_row_reached_split_evenly() {
    let mut e = small();
    // Node 1 and its leaves saw no rows: the expectation is leaf 2's value.
    e.covers = vec![4.0, 0.0, 4.0, 0.0, 0.0];
    let f = e.shap();
    assert!(close(f.expected_values()[0], 3.5, 1e-15));
    let brute = Brute::new(&e);
    let mut s = f.scratch();
    for x in [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [f32::NAN, 1.0]] {
        let phi = contributions(&f, &x, &mut s);
        let want = brute.shapley(&x, 2);
        assert!(close(phi[0], want[0], 1e-14) && close(phi[1], want[1], 1e-14));
        assert!(close(
            f.expected_values()[0] + phi[0] + phi[1],
            brute.value(&x, 3)[0],
            1e-14
        ));
    }
}

#[test]
fn bad_covers_and_aggregates_are_refused_by_name() {
    let with = |covers: &[f64]| Ensemble {
        covers: covers.to_vec(),
        ..small()
    };
    let err = with(&[10.0, 6.0, 4.0, 2.0]).refusal();
    assert!(err.contains("4 covers for 5 tree nodes"), "{err}");
    let err = with(&[10.0, 6.0, 4.0, f64::NAN, 4.0]).refusal();
    assert!(err.contains("node 3 of tree 0 has cover NaN"), "{err}");
    let err = with(&[10.0, 6.0, 4.0, -2.0, 8.0]).refusal();
    assert!(err.contains("node 3 of tree 0 has cover -2"), "{err}");
    let err = with(&[10.0, 6.0, 4.0, 2.0, 3.0]).refusal();
    assert!(
        err.contains("node 1 of tree 0 has cover 6, but its children 3 and 4 have 2 + 3 = 5"),
        "{err}"
    );
    // Within the tolerance: accepted.
    with(&[10.0, 6.0 * (1.0 + 1e-7), 4.0, 2.0, 4.0]).shap();
    let err = with(&[0.0; 5]).refusal();
    assert!(
        err.contains("the root (node 0) of tree 0 has cover 0"),
        "{err}"
    );
    for (aggregate, name) in [(Aggregate::Min, "MIN"), (Aggregate::Max, "MAX")] {
        let err = Ensemble {
            aggregate,
            ..small()
        }
        .refusal();
        assert!(err.contains(&format!("aggregate {name}")), "{err}");
    }
    // The evaluator's own checks come first.
    let mut e = small();
    e.nodes[1].true_id = 9;
    let ForestError(err) =
        ShapForest::new(&e.nodes, &e.leaves, &e.covers, 1, Aggregate::Sum, &[]).unwrap_err();
    assert!(err.contains("points to node 9"), "{err}");
}

/// opset 5 writes a one-leaf tree as a branch with both sides on its leaf: walked as the
/// leaf, its cover the leaf's.
#[test]
fn pass_through_nodes_are_their_leaf() {
    let pass = NodeSpec {
        tree_id: 1,
        node_id: 0,
        mode: Some(Mode::Leq),
        feature: 0,
        threshold: 0.5,
        true_id: 1,
        false_id: 1,
        missing_tracks_true: false,
        members: vec![],
    };
    let mut e = small();
    e.nodes.extend([
        pass,
        NodeSpec {
            tree_id: 1,
            ..leaf(1)
        },
    ]);
    e.leaves.push(LeafWeight {
        tree_id: 1,
        ..weight(1, 7.0)
    });
    e.covers.extend([10.0, 10.0]);
    let (f, forest) = (e.shap(), e.forest());
    assert!(close(f.expected_values()[0], 2.7 + 7.0, 1e-15));
    let mut s = f.scratch();
    for x in [[0.0, 0.0], [1.0, f32::NAN]] {
        let phi = contributions(&f, &x, &mut s);
        assert_eq!(phi, contributions(&small().shap(), &x, &mut s));
        let mut score = [0.0f32];
        forest.eval(&x, 2, &mut score).unwrap();
        assert!(close(
            f.expected_values()[0] + phi[0] + phi[1],
            score[0] as f64,
            1e-6
        ));
    }
    e.covers[6] = 9.0;
    let err = e.refusal();
    assert!(
        err.contains("node 0 of tree 1 has cover 10, but the leaf 1 both its branches go to has 9"),
        "{err}"
    );
}

#[test]
fn the_quadrature_integrates_polynomials_below_twice_its_points() {
    for n in super::POINTS {
        let (points, weights) = super::gauss_legendre(n);
        for k in 0..2 * n as i32 {
            let integral: f64 = points
                .iter()
                .zip(&weights)
                .map(|(s, w)| w * s.powi(k))
                .sum();
            assert!(
                close(integral, 1.0 / (k + 1) as f64, 1e-13),
                "{n} points, s^{k}: {integral}"
            );
        }
    }
}

/// Paths of more than 8 distinct features take 8, then 16 points: still exact.
#[test]
fn wide_paths_stay_exact() {
    // 8 points: deep random trees over 12 features.
    let shape = Shape {
        trees: 1,
        depth: 12,
        features: 12,
        n_targets: 1,
        mode: None,
        aggregate: Aggregate::Sum,
    };
    let e = (1..40u64)
        .map(|seed| random_ensemble(seed, &shape))
        .find(|e| e.shap().points.len() == 8)
        .expect("a path of 9 to 16 distinct features");
    let mut wide = vec![e];
    // 16 points: a chain splitting on 18 features in turn, each with a leaf aside.
    let mut chain = Ensemble {
        nodes: vec![],
        leaves: vec![],
        covers: vec![],
        n_targets: 1,
        aggregate: Aggregate::Sum,
        base: vec![],
    };
    let mut below = 3.0;
    for i in (0..18).rev() {
        chain
            .nodes
            .push(branch(i, i as usize, 0.5, 100 + i, i + 1, i % 2 == 0));
        chain.nodes.push(leaf(100 + i));
        chain.leaves.push(weight(100 + i, i as f64 - 8.5));
        let aside = 1.0 + (i % 3) as f64;
        below += aside;
        chain.covers.extend([below, aside]);
    }
    chain.nodes.push(leaf(18));
    chain.leaves.push(weight(18, 5.0));
    chain.covers.push(3.0);
    assert_eq!(chain.shap().points.len(), 16);
    wide.push(chain);
    for e in &wide {
        let f = e.shap();
        let brute = Brute::new(e);
        let mut s = f.scratch();
        let mut rng = Rng(7);
        for _ in 0..2 {
            let x: Vec<f32> = (0..f.n_features())
                .map(|_| [0.0, 1.0, f32::NAN][rng.below(3)])
                .collect();
            let got = contributions(&f, &x, &mut s);
            let want = brute.shapley(&x, f.n_features());
            for (a, b) in got.iter().zip(&want) {
                assert!(close(*a, *b, 1e-9), "{got:?} vs {want:?}");
            }
        }
    }
}
