//! The tree-ensemble evaluator alone, on synthetic forests built through `Forest::new`:
//! near-balanced trees (scikit-learn GradientBoosting / RandomForest) and leaf-wise trees
//! (LightGBM: deep on one side, shallow on the other). `cargo bench -p scoring --bench forest`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scoring::forest::{Aggregate, Forest, LeafWeight, Mode, NodeSpec};

const FEATURES: usize = 16;

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

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A leaf while a tree grows: the box of rows (uniform in [0, 1)^FEATURES) reaching it.
struct Open {
    id: i64,
    depth: u32,
    lo: [f64; FEATURES],
    hi: [f64; FEATURES],
    /// Fraction of uniform rows that reach it.
    mass: f64,
}

/// Grows trees by splitting open leaves; `pick` chooses which (None: stop).
struct Builder {
    rng: Rng,
    nodes: Vec<NodeSpec>,
    leaves: Vec<LeafWeight>,
    trees: i64,
    /// Sums over trees of (depth, expected steps of a uniform row).
    depth: f64,
    path: f64,
}

impl Builder {
    fn new(seed: u64) -> Builder {
        Builder {
            rng: Rng(seed),
            nodes: vec![],
            leaves: vec![],
            trees: 0,
            depth: 0.0,
            path: 0.0,
        }
    }

    /// `pick(rng, open)` returns the index of the open leaf to split next, and the
    /// fraction of its rows sent to the true (`<=`) side; the true side is pushed last.
    fn tree(&mut self, mut pick: impl FnMut(&mut Rng, &[Open]) -> Option<(usize, f64)>) {
        let tree = self.trees;
        self.trees += 1;
        let mut open = vec![Open {
            id: 0,
            depth: 0,
            lo: [0.0; FEATURES],
            hi: [1.0; FEATURES],
            mass: 1.0,
        }];
        let mut next_id = 1;
        while let Some((k, q)) = pick(&mut self.rng, &open) {
            let l = open.swap_remove(k);
            let f = self.rng.below(FEATURES);
            let t = l.lo[f] + q * (l.hi[f] - l.lo[f]);
            self.nodes.push(NodeSpec {
                tree_id: tree,
                node_id: l.id,
                mode: Some(Mode::Leq),
                feature: f,
                threshold: t,
                true_id: next_id + 1,
                false_id: next_id,
                missing_tracks_true: false,
                members: vec![],
            });
            let mut no = Open {
                id: next_id,
                depth: l.depth + 1,
                lo: l.lo,
                hi: l.hi,
                mass: l.mass * (1.0 - q),
            };
            no.lo[f] = t;
            let mut yes = Open {
                id: next_id + 1,
                mass: l.mass * q,
                ..no
            };
            yes.lo[f] = l.lo[f];
            yes.hi[f] = t;
            next_id += 2;
            open.push(no);
            open.push(yes);
        }
        self.depth += open.iter().map(|l| l.depth).max().unwrap() as f64;
        for l in open {
            self.path += l.mass * l.depth as f64;
            self.nodes.push(NodeSpec {
                tree_id: tree,
                node_id: l.id,
                mode: None,
                feature: 0,
                threshold: 0.0,
                true_id: 0,
                false_id: 0,
                missing_tracks_true: false,
                members: vec![],
            });
            let weight = self.rng.unit() - 0.5;
            self.leaves.push(LeafWeight {
                tree_id: tree,
                node_id: l.id,
                target: 0,
                weight,
            });
        }
    }

    fn build(self, name: &str, aggregate: Aggregate) -> Forest {
        let n = self.trees as f64;
        eprintln!(
            "{name}: {} trees, depth {:.1} on average, a row walks {:.2} steps per tree",
            self.trees,
            self.depth / n,
            self.path / n
        );
        Forest::new(&self.nodes, &self.leaves, 1, aggregate, &[0.5]).unwrap()
    }
}

/// Every leaf at `depth`, except that below `prune_from` a node stops splitting with
/// probability `prune`: GradientBoosting (prune 0) and RandomForest-like trees.
fn balanced(name: &str, trees: usize, depth: u32, prune_from: u32, prune: f64) -> Forest {
    let mut b = Builder::new(0x2545f4914f6cdd1d ^ depth as u64);
    let aggregate = if prune > 0.0 {
        Aggregate::Average
    } else {
        Aggregate::Sum
    };
    for _ in 0..trees {
        let mut finished = 0;
        b.tree(|rng, open| {
            // Split open leaves front to back; those that stop move past `finished`.
            loop {
                let l = open.get(finished)?;
                let stop = l.depth >= depth || (l.depth >= prune_from && rng.unit() < prune);
                if !stop {
                    return Some((finished, 0.3 + 0.4 * rng.unit()));
                }
                finished += 1;
            }
        });
    }
    b.build(name, aggregate)
}

/// LightGBM-like: `leaves` leaves, each split taken on the most recent (smaller) leaf with
/// probability 0.6, else on a random one, never below depth 15.
fn leaf_wise(name: &str, trees: usize, leaves: usize) -> Forest {
    let mut b = Builder::new(0x9e3779b97f4a7c15);
    for _ in 0..trees {
        b.tree(|rng, open| {
            if open.len() >= leaves {
                return None;
            }
            let mut k = if rng.unit() < 0.6 {
                open.len() - 1
            } else {
                rng.below(open.len())
            };
            while open[k].depth >= 15 {
                k = rng.below(open.len());
            }
            Some((k, 0.25 + 0.25 * rng.unit()))
        });
    }
    b.build(name, Aggregate::Sum)
}

fn forests(c: &mut Criterion) {
    let mut rng = Rng(0xdeadbeefcafef00d);
    let x: Vec<f32> = (0..10_000 * FEATURES).map(|_| rng.unit() as f32).collect();
    let all = [
        ("leaf_wise_100x31", leaf_wise("leaf_wise_100x31", 100, 31)),
        ("leaf_wise_500x63", leaf_wise("leaf_wise_500x63", 500, 63)),
        (
            "balanced_d6_200",
            balanced("balanced_d6_200", 200, 6, 99, 0.0),
        ),
        (
            "balanced_d8_100",
            balanced("balanced_d8_100", 100, 8, 5, 0.15),
        ),
    ];
    let mut group = c.benchmark_group("forest");
    for (name, forest) in &all {
        for batch in [1usize, 10_000] {
            let mut out = vec![0.0; batch];
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(*name, batch), &batch, |b, &batch| {
                b.iter(|| {
                    forest
                        .eval(&x[..batch * FEATURES], FEATURES, &mut out)
                        .unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(3));
    targets = forests
}
criterion_main!(benches);
