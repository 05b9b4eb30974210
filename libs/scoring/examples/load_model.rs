//! Loads one model file with `scoring::Model::load` and prints one JSON line: its size,
//! the load's time, and the process's memory before and after it (VmRSS) and at its peak
//! (VmHWM), for the cold-start ladder (`coldstart --ladder`) and for profiling a load
//! without the predict function around it.
//!
//! Usage: `load_model <model.onnx>` (one load per process, so that VmHWM is this load's).

use std::time::Instant;

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: load_model <model.onnx>")?;
    let bytes = std::fs::read(&path)?;
    let before = status_kib("VmRSS");
    let started = Instant::now();
    let model = scoring::Model::load(&bytes, "ladder")?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let after = status_kib("VmRSS");
    let peak = status_kib("VmHWM");
    println!(
        "{}",
        serde_json::json!({
            "file": path,
            "bytes": bytes.len(),
            "load_ms": load_ms,
            "rss_before_kib": before,
            "rss_after_kib": after,
            "peak_rss_kib": peak,
            "features": model.features().len(),
        })
    );
    Ok(())
}
