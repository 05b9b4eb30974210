//! Load+optimize time, single-row latency and batch throughput, for the demo model and the
//! tree/linear/MLP fixtures. `cargo bench -p scoring` prints them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scoring::Model;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn floats(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// (name, ONNX bytes, rows to score: at least 10,000, tiled from the fixture's inputs)
fn models() -> Vec<(&'static str, Vec<u8>, Vec<f32>)> {
    let fixtures = root().join("tests/fixtures");
    let mut all = vec![];
    let demo = std::fs::read(root().join("../../model/wine_quality.onnx")).unwrap();
    all.push(("demo_wine_quality", demo, wine_rows()));
    for name in [
        "ridge",
        "random_forest",
        "gradient_boosting",
        "hist_gradient_boosting",
        "mlp",
    ] {
        let onnx = std::fs::read(fixtures.join(format!("{name}.onnx"))).unwrap();
        all.push((name, onnx, floats(&fixtures.join(format!("{name}.x.f32")))));
    }
    for (_, _, x) in &mut all {
        let original = x.clone();
        while x.len() < original.len() * 10 {
            x.extend_from_slice(&original);
        }
    }
    all
}

/// The wine attributes from the committed CSV (quality dropped).
fn wine_rows() -> Vec<f32> {
    let csv = std::fs::read_to_string(root().join("../../model/data/winequality-red.csv")).unwrap();
    csv.lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',')
                .take(11)
                .map(|v| v.parse::<f32>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_and_optimize");
    for (name, onnx, _) in models() {
        group.bench_function(name, |b| b.iter(|| Model::load(&onnx, "bench").unwrap()));
    }
    // The demo classifier (categorical and imputed features, ZipMap): the part of its
    // cold start that differs from the regressor's, beside it in one run.
    let classifier = std::fs::read(root().join("../../model/wine_good_classifier.onnx")).unwrap();
    group.bench_function("demo_wine_good_classifier", |b| {
        b.iter(|| Model::load(&classifier, "bench").unwrap())
    });
    group.finish();
}

fn single_row(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_row");
    for (name, onnx, x) in models() {
        let model = Model::load(&onnx, "bench").unwrap();
        let width = model.features().len();
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % 1000;
                model.score_matrix(&x[i * width..(i + 1) * width]).unwrap()
            })
        });
    }
    // The whole per-request domain path: a row by feature name, validated, then scored.
    let (_, onnx, x) = models().swap_remove(0);
    let model = Model::load(&onnx, "bench").unwrap();
    let row: HashMap<String, f64> = model
        .features()
        .iter()
        .cloned()
        .zip(x.iter().map(|&v| v as f64))
        .collect();
    group.bench_function("demo_wine_quality_named_row", |b| {
        b.iter(|| model.score_row(&row).unwrap())
    });
    group.finish();
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput");
    for (name, onnx, x) in models() {
        let model = Model::load(&onnx, "bench").unwrap();
        let width = model.features().len();
        for batch in [1usize, 100, 10_000] {
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(name, batch), &batch, |b, &batch| {
                b.iter(|| model.score_matrix(&x[..batch * width]).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = load, single_row, throughput
}
criterion_main!(benches);
