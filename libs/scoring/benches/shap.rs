//! Path-dependent TreeSHAP (`ShapForest::contributions`) beside the evaluator
//! (`Forest::eval`) on the same synthetic ensembles: full trees of depth 6 over 12
//! features, random thresholds and covers, 1,000 rows. Criterion's throughput is in
//! (tree, row) pairs; a summary line prints ns per tree per row.
//! `cargo bench -p scoring --bench shap`.

use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scoring::forest::{Aggregate, Forest, LeafWeight, Mode, NodeSpec, ShapForest};

const FEATURES: usize = 12;
const DEPTH: u32 = 6;
const ROWS: usize = 1_000;

/// xorshift64: deterministic, and no dependency for it.
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
}

struct Ensemble {
    nodes: Vec<NodeSpec>,
    leaves: Vec<LeafWeight>,
    covers: Vec<f64>,
}

/// Node `id` (heap numbering) at `depth`; returns its cover.
fn grow(rng: &mut Rng, e: &mut Ensemble, tree: i64, id: i64, depth: u32) -> f64 {
    let at = e.nodes.len();
    let leaf = depth == DEPTH;
    e.nodes.push(NodeSpec {
        tree_id: tree,
        node_id: id,
        mode: (!leaf).then_some(Mode::Leq),
        feature: (rng.next() % FEATURES as u64) as usize,
        threshold: rng.unit(),
        true_id: 2 * id + 1,
        false_id: 2 * id + 2,
        missing_tracks_true: rng.unit() < 0.5,
        members: vec![],
    });
    e.covers.push(0.0);
    let cover = if leaf {
        e.leaves.push(LeafWeight {
            tree_id: tree,
            node_id: id,
            target: 0,
            weight: rng.unit() - 0.5,
        });
        1.0 + (rng.next() % 100) as f64
    } else {
        grow(rng, e, tree, 2 * id + 1, depth + 1) + grow(rng, e, tree, 2 * id + 2, depth + 1)
    };
    e.covers[at] = cover;
    cover
}

fn ensemble(trees: usize) -> (Forest, ShapForest) {
    let mut rng = Rng(0x2545f4914f6cdd1d);
    let mut e = Ensemble {
        nodes: vec![],
        leaves: vec![],
        covers: vec![],
    };
    for t in 0..trees as i64 {
        grow(&mut rng, &mut e, t, 0, 0);
    }
    let forest = Forest::new(&e.nodes, &e.leaves, 1, Aggregate::Sum, &[0.5]).unwrap();
    let shap = ShapForest::new(&e.nodes, &e.leaves, &e.covers, 1, Aggregate::Sum, &[0.5]).unwrap();
    (forest, shap)
}

fn explain_all(shap: &ShapForest, x: &[f32], out: &mut [f64]) {
    let mut scratch = shap.scratch();
    for row in x.chunks_exact(FEATURES) {
        out.fill(0.0);
        shap.contributions(row, out, &mut scratch);
    }
}

fn benches(c: &mut Criterion) {
    let mut rng = Rng(0xdeadbeefcafef00d);
    let x: Vec<f32> = (0..ROWS * FEATURES).map(|_| rng.unit() as f32).collect();
    let mut group = c.benchmark_group("shap");
    for trees in [100usize, 500] {
        let (forest, shap) = ensemble(trees);
        let mut phi = vec![0.0; FEATURES];
        let mut scores = vec![0.0f32; ROWS];
        // One untimed pass of each for the summary line (criterion's own numbers follow).
        let start = Instant::now();
        explain_all(&shap, &x, &mut phi);
        let explain_ns = start.elapsed().as_nanos() as f64 / (trees * ROWS) as f64;
        let start = Instant::now();
        forest.eval(&x, FEATURES, &mut scores).unwrap();
        let eval_ns = start.elapsed().as_nanos() as f64 / (trees * ROWS) as f64;
        eprintln!(
            "{trees} trees of depth {DEPTH}, {ROWS} rows, one pass: TreeSHAP {explain_ns:.1} ns \
             per tree per row, Forest::eval {eval_ns:.2} ns per tree per row"
        );
        group.throughput(Throughput::Elements((trees * ROWS) as u64));
        group.bench_with_input(BenchmarkId::new("treeshap", trees), &trees, |b, _| {
            b.iter(|| explain_all(&shap, &x, &mut phi))
        });
        group.bench_with_input(BenchmarkId::new("eval", trees), &trees, |b, _| {
            b.iter(|| forest.eval(&x, FEATURES, &mut scores).unwrap())
        });
        // Single rows, as an explained GET scores them.
        group.bench_with_input(BenchmarkId::new("eval_one_row", trees), &trees, |b, _| {
            b.iter(|| {
                for row in x.chunks_exact(FEATURES) {
                    forest.eval(row, FEATURES, &mut scores[..1]).unwrap()
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = shap;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(shap);
