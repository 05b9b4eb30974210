//! `--ladder DIR` / `--model FILE`: the cold start over models of growing size (the demo
//! model first), each served by the same bootstrap against the demo wines, the runs
//! interleaved model by model; beside each, onnxruntime's session creation on the same
//! file (`model/bench_ort_load.py`). One table, then one line of JSON.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use testkit::moto::{repository_root, Moto};
use testkit::resources;
use testkit::stack::{self, Clients};

use crate::measure;
use crate::report::ms;
use crate::workload::Workload;
use crate::Args;

/// Lambda's largest memory setting: the ladder measures loading, not a refusal of a
/// model too big for the function's memory.
const MEMORY_SIZE: &str = "10240";

pub struct Rung {
    pub name: String,
    pub path: PathBuf,
    pub bytes: u64,
}

/// The demo model, then the ladder's models (`ladder.json` order when DIR has one, else
/// by size), then each `--model` file.
pub fn rungs(dir: Option<&Path>, models: &[PathBuf]) -> Result<Vec<Rung>, String> {
    let mut paths = vec![repository_root().join("model/wine_quality.onnx")];
    if let Some(dir) = dir {
        let listing = dir.join("ladder.json");
        let mut found: Vec<PathBuf> = match std::fs::read_to_string(&listing) {
            Ok(text) => {
                let entries: Vec<Value> = serde_json::from_str(&text)
                    .map_err(|e| format!("{}: {e}", listing.display()))?;
                entries
                    .iter()
                    .filter_map(|e| e["file"].as_str())
                    .map(|f| dir.join(f))
                    .collect()
            }
            Err(_) => {
                let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
                    .collect();
                files.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
                files
            }
        };
        paths.append(&mut found);
    }
    paths.extend(models.iter().cloned());
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::metadata(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .len();
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(Rung { name, path, bytes })
        })
        .collect()
}

/// One rung's runs.
#[derive(Default)]
struct Runs {
    init: Vec<Duration>,
    init_cpu: Vec<Duration>,
    peak_init_kib: Vec<u64>,
    rss_after_kib: Vec<u64>,
    /// The function's own `InitModelFetch` and `InitModelBuild` (ms), from its log.
    fetch_ms: Vec<f64>,
    build_ms: Vec<f64>,
}

/// `name`'s value (ms) in the cold start's EMF document in `log`.
fn emf_ms(log: &Path, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    let document = text
        .lines()
        .filter(|l| l.contains(name))
        .find_map(|l| serde_json::from_str::<Value>(l).ok())?;
    match &document[name] {
        Value::Array(values) => values.first().and_then(Value::as_f64),
        v => v.as_f64(),
    }
}

fn median_f64(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub async fn run(args: &Args, rungs: &[Rung]) -> Result<(), String> {
    let wines = testkit::demo_data::repository_wines()?;
    // The first invoke only: a GET that the model answers (no warm invokes).
    let workload = Workload::new(&wines, 0)?;
    let logs = crate::target_dir().join("coldstart");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let ort = onnxruntime(args.runs, rungs);

    let moto = Moto::start().await?;
    let result = bench(&moto, args, rungs, &workload, &logs).await;
    moto.stop().await;
    let (runs, floor) = result?;
    let ort = ort.unwrap_or_else(|e| {
        eprintln!("coldstart: onnxruntime not measured: {e}");
        Value::Null
    });
    let tables: Vec<Value> = bootstraps(args)
        .iter()
        .zip(&runs)
        .map(|(b, runs)| json!({ "bootstrap": b.display().to_string(), "rows": report(b, rungs, runs, &ort) }))
        .collect();
    let floor = args
        .floor
        .as_ref()
        .map(|path| floor_report(path, &floor, &runs));
    println!("{}", json!({ "ladder": tables, "floor": floor }));
    Ok(())
}

/// The floor's init beside each bootstrap's with the demo model (the first rung).
fn floor_report(path: &Path, floor: &Runs, runs: &[Vec<Runs>]) -> Value {
    let init = median(&floor.init).map_or(f64::NAN, ms);
    let cpu = median(&floor.init_cpu).map_or(f64::NAN, ms);
    let peak = median(&floor.peak_init_kib).map_or(f64::NAN, |k| k as f64 / 1024.0);
    println!();
    println!(
        "floor ({}: the same start and SDK clients, no model): init {init:.1} ms, cpu {cpu:.0} \
         ms, peak {peak:.1} MiB",
        path.display()
    );
    let ratios: Vec<Value> = runs
        .iter()
        .map(|r| {
            let demo = median(&r[0].init).map_or(f64::NAN, ms);
            let demo_cpu = median(&r[0].init_cpu).map_or(f64::NAN, ms);
            // CPU time comes in 10 ms ticks: a floor below one has no ratio.
            let cpu_ratio = (cpu > 0.0).then(|| demo_cpu / cpu);
            println!(
                "  demo model's init / floor's: {:.2} (cpu {})",
                demo / init,
                cpu_ratio.map_or("below a tick".to_owned(), |r| format!("{r:.2}"))
            );
            json!({ "init_ratio": demo / init, "cpu_ratio": cpu_ratio })
        })
        .collect();
    json!({ "init_ms": init, "init_cpu_ms": cpu, "peak_mib": peak, "demo_over_floor": ratios })
}

fn bootstraps(args: &Args) -> Vec<&Path> {
    std::iter::once(args.bootstrap.as_path())
        .chain(args.others.iter().map(PathBuf::as_path))
        .collect()
}

async fn bench(
    moto: &Moto,
    args: &Args,
    rungs: &[Rung],
    workload: &Workload,
    logs: &Path,
) -> Result<(Vec<Vec<Runs>>, Runs), String> {
    let clients = Clients::for_endpoint(&moto.endpoint).await;
    stack::create_demo_stack(&clients, |_, _| {}).await?;
    let mut envs = Vec::new();
    for rung in rungs {
        let key = format!("ladder/{}.onnx", rung.name);
        let bytes =
            std::fs::read(&rung.path).map_err(|e| format!("{}: {e}", rung.path.display()))?;
        resources::put_object(&clients.s3, stack::MODEL_BUCKET, &key, bytes).await?;
        let mut env = measure::function_env(moto, &args.bootstrap);
        for (k, v) in &mut env {
            match k.as_str() {
                "MODEL_KEY" => *v = key.clone(),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => *v = MEMORY_SIZE.to_owned(),
                _ => {}
            }
        }
        envs.push(env);
    }
    let bootstraps = bootstraps(args);
    let mut runs: Vec<Vec<Runs>> = bootstraps
        .iter()
        .map(|_| rungs.iter().map(|_| Runs::default()).collect())
        .collect();
    let mut floor = Runs::default();
    for run in 1..=args.runs {
        if let Some(bootstrap) = &args.floor {
            let log = logs.join(format!("ladder-floor-{run}.log"));
            let cold = measure::cold_start(bootstrap, &envs[0], None, false, &log)
                .await
                .map_err(|e| format!("{} run {run}: {e}", bootstrap.display()))?;
            eprintln!(
                "coldstart: floor run {run}/{}: init {:.1} ms",
                args.runs,
                ms(cold.init)
            );
            floor.init.push(cold.init);
            floor.init_cpu.extend(cold.init_cpu);
            floor.peak_init_kib.extend(cold.peak_rss_init_kib);
            floor.rss_after_kib.extend(cold.rss_after_init_kib);
        }
        for (i, rung) in rungs.iter().enumerate() {
            for (j, bootstrap) in bootstraps.iter().enumerate() {
                let log = logs.join(format!("ladder-{}-{j}-{run}.log", rung.name));
                let cold = measure::cold_start(bootstrap, &envs[i], Some(workload), false, &log)
                    .await
                    .map_err(|e| format!("{} {} run {run}: {e}", bootstrap.display(), rung.name))?;
                eprintln!(
                    "coldstart: {} {} run {run}/{}: init {:.1} ms, peak RSS during init {} KiB",
                    bootstrap.display(),
                    rung.name,
                    args.runs,
                    ms(cold.init),
                    cold.peak_rss_init_kib.unwrap_or(0)
                );
                let r = &mut runs[j][i];
                r.init.push(cold.init);
                r.init_cpu.extend(cold.init_cpu);
                r.peak_init_kib.extend(cold.peak_rss_init_kib);
                r.rss_after_kib.extend(cold.rss_after_init_kib);
                r.fetch_ms.extend(emf_ms(&log, "InitModelFetch"));
                r.build_ms.extend(emf_ms(&log, "InitModelBuild"));
            }
        }
    }
    Ok((runs, floor))
}

/// onnxruntime's session creation on each file, or why it could not be measured.
fn onnxruntime(runs: usize, rungs: &[Rung]) -> Result<Value, String> {
    let root = repository_root();
    let python = root.join(".venv/bin/python");
    let output = std::process::Command::new(&python)
        .arg(root.join("model/bench_ort_load.py"))
        .args(["--runs", &runs.to_string()])
        .args(rungs.iter().map(|r| &r.path))
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())
}

fn median<T: Copy + Ord>(v: &[T]) -> Option<T> {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied()
}

/// One bootstrap's table; its rows as JSON.
fn report(bootstrap: &Path, rungs: &[Rung], runs: &[Runs], ort: &Value) -> Vec<Value> {
    let mib = |kib: Option<u64>| kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    println!();
    println!(
        "{}: cold start over the ladder (medians of {} interleaved runs; onnxruntime: \
         session creation, one thread)",
        bootstrap.display(),
        runs[0].init.len()
    );
    println!(
        "{:<28} {:>8} {:>9} {:>7} {:>8} {:>8} {:>10} {:>10} {:>9} {:>10} {:>10}",
        "model",
        "file MB",
        "init ms",
        "cpu ms",
        "fetch",
        "build",
        "peak MiB",
        "after MiB",
        "ort ms",
        "ort +MiB",
        "ort peak+"
    );
    let base = (
        rungs[0].bytes as f64 / 1e6,
        median(&runs[0].init).map_or(0.0, ms),
        mib(median(&runs[0].peak_init_kib)),
        median(&runs[0].init_cpu).map_or(0.0, ms),
    );
    let mut rows = Vec::new();
    for (rung, r) in rungs.iter().zip(runs) {
        let mb = rung.bytes as f64 / 1e6;
        let init = median(&r.init).map_or(f64::NAN, ms);
        let peak = mib(median(&r.peak_init_kib));
        let after = mib(median(&r.rss_after_kib));
        let o = &ort[rung.path.display().to_string()];
        let o_ms = o["session_ms"].as_f64().unwrap_or(f64::NAN);
        let o_rss = o["rss_growth_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0;
        let o_peak = o["peak_growth_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0;
        let (fetch, build) = (median_f64(&r.fetch_ms), median_f64(&r.build_ms));
        let cpu = median(&r.init_cpu).map_or(f64::NAN, ms);
        println!(
            "{:<28} {mb:>8.1} {init:>9.1} {cpu:>7.0} {fetch:>8.1} {build:>8.1} {peak:>10.1} {after:>10.1} {o_ms:>9.1} {o_rss:>10.1} {o_peak:>10.1}",
            rung.name
        );
        // Beyond the demo model: what each MB of file adds to init and to peak memory.
        let per_mb = (mb - base.0 > 0.5).then(|| {
            json!({
                "init_ms": (init - base.1) / (mb - base.0),
                "init_cpu_ms": (cpu - base.3) / (mb - base.0),
                "peak_mib": (peak - base.2) / (mb - base.0),
            })
        });
        rows.push(json!({
            "model": rung.name,
            "file": rung.path.display().to_string(),
            "bytes": rung.bytes,
            "init_ms": { "median": init, "all": r.init.iter().map(|d| ms(*d)).collect::<Vec<_>>() },
            "init_cpu_ms": { "median": cpu, "all": r.init_cpu.iter().map(|d| ms(*d)).collect::<Vec<_>>() },
            "peak_rss_init_kib": { "median": median(&r.peak_init_kib), "all": r.peak_init_kib },
            "rss_after_init_kib": { "median": median(&r.rss_after_kib), "all": r.rss_after_kib },
            "model_fetch_ms": { "median": fetch, "all": r.fetch_ms },
            "model_build_ms": { "median": build, "all": r.build_ms },
            "per_mb_over_demo": per_mb,
            "onnxruntime": o,
        }));
    }
    println!(
        "cpu ms: init's user + system CPU time (10 ms ticks; the wall clock on a busy machine \
         stretches); fetch, build: the function's InitModelFetch and InitModelBuild (ms); peak MiB: VmHWM \
         right after init, before any invoke; per MB of file beyond the demo model, in the \
         JSON (per_mb_over_demo)"
    );
    rows
}
