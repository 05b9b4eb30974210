//! Explanations per fixture (libs/scoring/tests/fixtures/explain): the same 1,000 rows
//! scored, and scored then explained, side by side, so the explanation's own cost is the
//! difference. `cargo bench -p scoring --bench explain [-- <fixture>]`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scoring::{Batch, Model};
use serde_json::{Map, Value};

const ROWS: usize = 1000;

fn fixtures() -> Vec<(String, Model, Batch)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/explain");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let spec: Value =
                serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap())
                    .unwrap();
            let rows = spec.get("rows")?.as_array()?.clone();
            let model = Model::load(
                &std::fs::read(dir.join(format!("{name}.onnx"))).unwrap(),
                "bench",
            )
            .unwrap();
            model.explainability().ok()?;
            let schema = model.schema();
            let mut batch = schema.batch(ROWS);
            for i in 0..ROWS {
                let row: &Map<String, Value> = rows[i % rows.len()].as_object().unwrap();
                schema.read_row(row, &mut batch).unwrap();
            }
            Some((name, model, batch))
        })
        .collect()
}

fn explain(c: &mut Criterion) {
    let mut group = c.benchmark_group("explain");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, model, batch) in fixtures() {
        group.bench_function(BenchmarkId::new("score", &name), |b| {
            b.iter(|| model.score(&batch, &mut ()).unwrap())
        });
        // The explain plan is built at the first explanation: before timing.
        let scored = model.score(&batch, &mut ()).unwrap();
        model.explain(&batch, &scored).unwrap();
        group.bench_function(BenchmarkId::new("score+explain", &name), |b| {
            b.iter(|| {
                let scored = model.score(&batch, &mut ()).unwrap();
                model.explain(&batch, &scored).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = explain
}
criterion_main!(benches);
