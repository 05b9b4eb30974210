//! Scores rows from a file at several batch sizes and prints one JSON line per size, for
//! `model/bench_vs_onnxruntime.py`, which runs onnxruntime on the same model and rows with
//! the same timing loop.
//!
//! Usage: timing <model.onnx> <rows.f32> [batch ...]
//! `rows.f32`: little-endian f32, row-major, as many columns as the model has features.

use std::time::{Duration, Instant};

use scoring::Model;

/// Per-row time for `batch`: best of `ROUNDS` rounds of at least `ROUND` each, cycling
/// through the rows so every call sees different data.
const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_millis(300);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model_path, rows_path, batches @ ..] = args.as_slice() else {
        return Err("usage: timing <model.onnx> <rows.f32> [batch ...]".into());
    };
    let batches: Vec<usize> = if batches.is_empty() {
        vec![1, 100, 10_000]
    } else {
        batches
            .iter()
            .map(|b| b.parse())
            .collect::<Result<_, _>>()?
    };

    let started = Instant::now();
    let model = Model::load(&std::fs::read(model_path)?, "bench")?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let width = model.features().len();
    let x: Vec<f32> = std::fs::read(rows_path)?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let rows = x.len() / width;

    for batch in batches {
        if batch > rows {
            return Err(format!("batch {batch} is larger than the {rows} rows given").into());
        }
        let mut best = f64::INFINITY;
        for _ in 0..ROUNDS {
            let (mut calls, mut offset) = (0u64, 0usize);
            let start = Instant::now();
            while start.elapsed() < ROUND {
                if offset + batch > rows {
                    offset = 0;
                }
                let scores = model.score_matrix(&x[offset * width..(offset + batch) * width])?;
                std::hint::black_box(scores);
                offset += batch;
                calls += 1;
            }
            best = best.min(start.elapsed().as_secs_f64() * 1e9 / (calls as f64 * batch as f64));
        }
        println!("{{\"batch\": {batch}, \"ns_per_row\": {best:.1}, \"load_ms\": {load_ms:.3}}}");
    }
    Ok(())
}
