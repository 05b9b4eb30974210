//! Scores rows from a file at several batch sizes and prints one JSON line per size, for
//! `model/bench_vs_onnxruntime.py`, which runs onnxruntime on the same model and rows with
//! the same timing loop.
//!
//! Usage:
//!   timing <model.onnx> <rows.f32> [batch ...]
//!   timing <model.onnx> --rows <rows.json> [batch ...]
//!
//! `rows.f32`: little-endian f32, row-major, as many columns as the model has features;
//! each call is `Model::score_matrix` on a slice (regressors with numeric inputs only).
//!
//! `rows.json`: a typed fixture (`{"rows": [{feature: value|null}, ...], ...}`, as in
//! `libs/scoring/tests/fixtures/typed/`) or a bare array of such row objects. The rows are
//! repeated until there are at least `MIN_ROWS` (whole copies, as `numpy.tile` does), read
//! once into one `scoring::Batch` per batch slice, and only `Model::predict` is timed.

use std::time::{Duration, Instant};

use scoring::{Batch, Model};
use serde_json::{Map, Value};

/// Per-row time for `batch`: best of `ROUNDS` rounds of at least `ROUND` each, cycling
/// through the rows so every call sees different data.
const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_millis(300);
/// JSON rows are repeated up to this many (the Python side does the same).
const MIN_ROWS: usize = 10_000;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: timing <model.onnx> (<rows.f32> | --rows <rows.json>) [batch ...]";
    let (model_path, rows, batches) = match args.as_slice() {
        [model, flag, json, batches @ ..] if flag == "--rows" => {
            (model, Rows::Json(json.clone()), batches)
        }
        [model, f32s, batches @ ..] if !f32s.starts_with("--") => {
            (model, Rows::F32(f32s.clone()), batches)
        }
        _ => return Err(usage.into()),
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

    match rows {
        Rows::F32(path) => time_matrix(&model, &path, &batches, load_ms),
        Rows::Json(path) => time_json(&model, &path, &batches, load_ms),
    }
}

enum Rows {
    F32(String),
    Json(String),
}

/// Best per-row time in ns over `ROUNDS` rounds; `call(i)` makes the i-th call (cycling is
/// the caller's business) and returns how many rows it scored.
fn best_ns_per_row(mut call: impl FnMut(usize) -> Result<usize, Error>) -> Result<f64, Error> {
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let (mut calls, mut rows) = (0usize, 0usize);
        let start = Instant::now();
        while start.elapsed() < ROUND {
            rows += call(calls)?;
            calls += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e9 / rows as f64);
    }
    Ok(best)
}

fn time_matrix(model: &Model, path: &str, batches: &[usize], load_ms: f64) -> Result<(), Error> {
    let width = model.features().len();
    let x: Vec<f32> = std::fs::read(path)?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let rows = x.len() / width;

    for &batch in batches {
        if batch > rows {
            return Err(format!("batch {batch} is larger than the {rows} rows given").into());
        }
        // Same walk as the Python loop: consecutive slices, back to 0 when one does not fit.
        let slices = rows / batch;
        let best = best_ns_per_row(|i| {
            let offset = (i % slices) * batch;
            let scores = model.score_matrix(&x[offset * width..(offset + batch) * width])?;
            std::hint::black_box(scores);
            Ok(batch)
        })?;
        println!("{{\"batch\": {batch}, \"ns_per_row\": {best:.1}, \"load_ms\": {load_ms:.3}}}");
    }
    Ok(())
}

fn time_json(model: &Model, path: &str, batches: &[usize], load_ms: f64) -> Result<(), Error> {
    let rows: Vec<Map<String, Value>> = match serde_json::from_slice(&std::fs::read(path)?)? {
        Value::Object(mut fixture) => match fixture.remove("rows") {
            Some(rows) => serde_json::from_value(rows)?,
            None => return Err(format!("{path}: an object without \"rows\"").into()),
        },
        rows @ Value::Array(_) => serde_json::from_value(rows)?,
        _ => return Err(format!("{path}: neither a fixture object nor an array of rows").into()),
    };
    if rows.is_empty() {
        return Err(format!("{path}: no rows").into());
    }
    let copies = MIN_ROWS.div_ceil(rows.len()).max(1);
    let rows: Vec<&Map<String, Value>> = rows.iter().cycle().take(copies * rows.len()).collect();

    let schema = model.schema();
    for &batch in batches {
        if batch > rows.len() {
            return Err(format!("batch {batch} is larger than the {} rows", rows.len()).into());
        }
        // One Batch per consecutive slice, read once (the same walk as the Python loop).
        let read_start = Instant::now();
        let inputs: Vec<Batch> = rows
            .chunks_exact(batch)
            .enumerate()
            .map(|(s, chunk)| {
                let mut b = schema.batch(batch);
                for (r, row) in chunk.iter().enumerate() {
                    schema
                        .read_row(*row, &mut b)
                        .map_err(|e| format!("row {}: {e}", s * batch + r))?;
                }
                Ok(b)
            })
            .collect::<Result<_, Error>>()?;
        let read_ns = read_start.elapsed().as_secs_f64() * 1e9 / (inputs.len() * batch) as f64;

        let best = best_ns_per_row(|i| {
            let answers = model.score(&inputs[i % inputs.len()], &mut ())?;
            std::hint::black_box(answers);
            Ok(batch)
        })?;
        println!(
            "{{\"batch\": {batch}, \"ns_per_row\": {best:.1}, \"load_ms\": {load_ms:.3}, \"read_ns_per_row\": {read_ns:.1}}}"
        );
    }
    Ok(())
}
