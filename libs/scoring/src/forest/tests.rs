use super::mode::next_down;
use super::*;

#[allow(clippy::too_many_arguments)] // one per field of a tree node
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
        members: vec![],
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
        members: vec![],
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

/// An infinite threshold keeps the per-node NaN test: no infinity can stand in for a NaN
/// against it (NaN fails `x <= inf`, every infinity passes).
#[test]
fn infinite_thresholds_route_nan_by_the_node() {
    let nodes = [
        branch(0, 0, Mode::Leq, 0, f64::INFINITY, 1, 2, false),
        leaf(0, 1),
        leaf(0, 2),
    ];
    let leaves = [weight(0, 1, 0, 1.0), weight(0, 2, 0, 2.0)];
    let f = Forest::new(&nodes, &leaves, 1, Aggregate::Sum, &[]).unwrap();
    assert!(!f.finite_thresholds);
    let rows: Vec<[f32; 2]> = (0..19)
        .map(|i| [[f32::NAN, f32::INFINITY, -1.0][i % 3], 0.0])
        .collect();
    let want: Vec<f32> = (0..19).map(|i| [2.0, 1.0, 1.0][i % 3]).collect();
    assert_eq!(score(&f, &rows), want);
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
            // The set {t}: no f32 is in it when t is no f32.
            Mode::Member => (x as f64) == t,
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
    // (Both branches of one node on one leaf is a one-leaf tree: see below.)
    let shared = [
        branch(0, 0, Mode::Leq, 0, 0.0, 1, 2, false),
        branch(0, 1, Mode::Leq, 0, 0.0, 2, 3, false),
        leaf(0, 2),
        leaf(0, 3),
    ];
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

/// Random trees: `chain` is the chance of splitting the newest leaf again (high: deep on
/// one side, like LightGBM), else a random leaf splits. Mixed modes and NaN routing.
fn random_forest(
    seed: u64,
    trees: i64,
    leaves: usize,
    chain: f64,
    modes: &[Mode],
) -> Vec<NodeSpec> {
    let mut s = seed;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut nodes = vec![];
    for t in 0..trees {
        let mut open = vec![0i64];
        let mut next = 1;
        while open.len() < leaves {
            let k = if rnd() < chain {
                open.len() - 1
            } else {
                (rnd() * open.len() as f64) as usize
            };
            let id = open.swap_remove(k);
            let mode = modes[(rnd() * modes.len() as f64) as usize];
            let f = (rnd() * 3.0) as usize;
            let th = (rnd() * 4.0).floor() / 2.0; // repeated values: Eq/Neq do matter
            nodes.push(branch(t, id, mode, f, th, next, next + 1, rnd() < 0.5));
            open.extend([next, next + 1]);
            next += 2;
        }
        nodes.extend(open.into_iter().map(|id| leaf(t, id)));
    }
    nodes
}

/// The plain recursive walk of the ONNX-ML semantics.
fn reference_leaf(nodes: &[NodeSpec], tree: i64, row: &[f32]) -> i64 {
    let mut id = 0;
    loop {
        let n = nodes
            .iter()
            .find(|n| n.tree_id == tree && n.node_id == id)
            .unwrap();
        let Some(mode) = n.mode else { return id };
        let x = row[n.feature];
        let yes = if x.is_nan() {
            n.missing_tracks_true || mode == Mode::Neq
        } else {
            mode.compare(x, n.threshold as f32)
        };
        id = if yes { n.true_id } else { n.false_id };
    }
}

#[test]
fn early_exit_walks_agree_with_the_reference_and_with_each_other() {
    agree_with_the_reference(&Mode::ALL[..6], false);
}

/// One ordered comparison and finite thresholds: batches go through `rows::Block`.
#[test]
fn block_walks_agree_with_the_reference_for_each_ordered_mode() {
    for mode in [Mode::Leq, Mode::Lt, Mode::Gte, Mode::Gt] {
        agree_with_the_reference(&[mode], true);
    }
}

/// Random forests of `modes` against `reference_leaf`, batches against single rows.
fn agree_with_the_reference(modes: &[Mode], blocks: bool) {
    for (seed, chain, trees) in [(1, 0.9, 37), (2, 0.0, 20), (3, 0.6, 9), (4, 0.9, 3)] {
        let mut nodes = random_forest(seed, trees, 12, chain, modes);
        // Mixed forests too: a few balanced trees after the uneven ones.
        nodes.extend(
            random_forest(seed + 10, 4, 16, 0.0, modes)
                .into_iter()
                .map(|mut n| {
                    n.tree_id += 1000;
                    n
                }),
        );
        let ids: Vec<(i64, i64)> = nodes
            .iter()
            .filter(|n| n.mode.is_none())
            .map(|n| (n.tree_id, n.node_id))
            .collect();
        let leaves: Vec<LeafWeight> = ids
            .iter()
            .enumerate()
            .flat_map(|(k, &(t, id))| {
                [
                    weight(t, id, 0, k as f64 * 0.25),
                    weight(t, id, 1, -(k as f64)),
                ]
            })
            .collect();
        // One target (lanes of rows) and two (lanes of trees for every row).
        let combos = [Aggregate::Sum, Aggregate::Average, Aggregate::Max]
            .into_iter()
            .flat_map(|a| [(a, 1), (a, 2)]);
        for (aggregate, nt) in combos {
            let one_target: Vec<LeafWeight> =
                leaves.iter().filter(|w| w.target < nt).cloned().collect();
            let f = Forest::new(&nodes, &one_target, nt, aggregate, &[0.5, 1.0][..nt]).unwrap();
            if chain > 0.8 {
                assert!(f.n_fixed < f.n_trees(), "seed {seed}: no early-exit trees");
            }
            assert_eq!(
                f.finite_thresholds && f.uniform_mode == Some(modes[0]),
                blocks
            );
            let rows: Vec<[f32; 3]> = (0..53)
                .map(|i| {
                    let v = |k: usize| ((i * 7 + k * 3) % 9) as f32 * 0.5 - 0.5;
                    let nan = |k: usize| {
                        if matches!((i + k) % 11, 0) {
                            f32::NAN
                        } else {
                            v(k)
                        }
                    };
                    [nan(0), nan(1), v(2)]
                })
                .collect();
            let x: Vec<f32> = rows.iter().flatten().copied().collect();
            let mut batch = vec![0.0; rows.len() * nt];
            f.eval(&x, 3, &mut batch).unwrap();
            for (i, row) in rows.iter().enumerate() {
                let mut one = vec![0.0; nt];
                f.eval(row, 3, &mut one).unwrap();
                assert_eq!(one, batch[i * nt..(i + 1) * nt], "seed {seed} row {i}");
                let mut want = [aggregate.identity(); 2];
                let mut n_trees = 0.0;
                for t in (0..trees).chain(1000..1004) {
                    let id = reference_leaf(&nodes, t, row);
                    let k = ids.iter().position(|&p| p == (t, id)).unwrap();
                    want[0] = aggregate.combine(want[0], k as f32 * 0.25);
                    want[1] = aggregate.combine(want[1], -(k as f32));
                    n_trees += 1.0;
                }
                for (t, (w, base)) in want.iter_mut().zip([0.5, 1.0]).take(nt).enumerate() {
                    *w = match aggregate {
                        Aggregate::Average => *w / n_trees + base,
                        _ => *w + base,
                    };
                    let got = batch[i * nt + t];
                    assert!((got - *w).abs() <= 1e-4 * w.abs().max(1.0), "{got} != {w}");
                }
            }
        }
    }
}

fn member(
    tree: i64,
    id: i64,
    feature: usize,
    set: &[f64],
    yes: i64,
    no: i64,
    nan_true: bool,
) -> NodeSpec {
    NodeSpec {
        members: set.to_vec(),
        ..branch(tree, id, Mode::Member, feature, 0.0, yes, no, nan_true)
    }
}

/// Tree 0: x0 in {1, 2, 0} ? (x1 in {5} ? 1 : 2) : 3, NaN in x0 -> true. Tree 1: x1 <= 4.5 ?
/// 10 : 20. Sets and plain modes in one forest, walked by every lane layout.
#[test]
fn member_nodes_route_by_their_sets() {
    let nodes = [
        member(0, 0, 0, &[2.0, 1.0, -0.0, 0.1], 1, 2, true),
        member(0, 1, 1, &[5.0], 3, 4, false),
        leaf(0, 2),
        leaf(0, 3),
        leaf(0, 4),
        branch(1, 0, Mode::Leq, 1, 4.5, 1, 2, false),
        leaf(1, 1),
        leaf(1, 2),
    ];
    let leaves = [
        weight(0, 3, 0, 1.0),
        weight(0, 4, 0, 2.0),
        weight(0, 2, 0, 3.0),
        weight(1, 1, 0, 10.0),
        weight(1, 2, 0, 20.0),
    ];
    let f = Forest::new(&nodes, &leaves, 1, Aggregate::Sum, &[]).unwrap();
    let rows = [
        ([1.0, 5.0], 21.0),
        ([2.0, 4.0], 12.0),
        ([0.0, 5.0], 21.0),
        ([-0.0, 6.0], 22.0),
        ([3.0, 5.0], 23.0),
        ([f32::NAN, 5.0], 21.0),
        ([1.0, f32::NAN], 22.0),
        // 0.1 is no f32: the f32 nearest it is not a member.
        ([0.1, 5.0], 23.0),
        ([1.5, 1.0], 13.0),
    ];
    let x: Vec<[f32; 2]> = rows.iter().map(|r| r.0).collect();
    let want: Vec<f32> = rows.iter().map(|r| r.1).collect();
    assert_eq!(score(&f, &x), want);
    // Batches of 8 (lanes of rows) agree with single rows (lanes of trees).
    let many: Vec<[f32; 2]> = x.iter().cycle().take(8 * x.len()).copied().collect();
    let want_many: Vec<f32> = want.iter().cycle().take(many.len()).copied().collect();
    assert_eq!(score(&f, &many), want_many);
}

/// Opset 5 writes a one-leaf tree as a node whose two branches are its leaf.
#[test]
fn a_branch_with_both_children_on_one_leaf_is_that_leaf() {
    let nodes = [
        branch(0, 0, Mode::Leq, 3, 0.5, 1, 1, false),
        leaf(0, 1),
        branch(1, 0, Mode::Lt, 0, 0.5, 1, 2, false),
        leaf(1, 1),
        leaf(1, 2),
    ];
    let leaves = [
        weight(0, 1, 0, 1.5),
        weight(1, 1, 0, 2.0),
        weight(1, 2, 0, 4.0),
    ];
    let f = Forest::new(&nodes, &leaves, 1, Aggregate::Average, &[]).unwrap();
    // Feature 3 is never read: rows of two columns do.
    assert_eq!(f.n_features(), 1);
    assert_eq!(score(&f, &[[0.0, 0.0], [1.0, 0.0]]), vec![1.75, 2.75]);
    let nodes = [
        branch(0, 0, Mode::Leq, 0, 0.5, 1, 1, false),
        branch(0, 1, Mode::Leq, 0, 0.5, 2, 3, false),
        leaf(0, 2),
        leaf(0, 3),
    ];
    assert!(Forest::new(&nodes, &[], 1, Aggregate::Sum, &[])
        .unwrap_err()
        .0
        .contains("which is not a leaf"));
}
