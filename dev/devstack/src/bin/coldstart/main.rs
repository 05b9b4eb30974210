//! Cold start, warm latency, memory and package size of the predict Lambda's release
//! bootstrap, measured on this machine with no AWS account: moto stands in for S3 and
//! DynamoDB, and [`testkit::runtime_api`] for the Lambda Runtime API.
//!
//! How to run it (from the repository root; it builds nothing itself):
//!
//! ```sh
//! cargo build --release -p predict                     # the bootstrap under test
//! cargo run --release -p devstack --bin coldstart      # [-- --runs 5 --invokes 1000 PATH]
//! ```
//!
//! It needs `.venv/bin/moto_server` (or `$MOTO_SERVER`): `make venv`, or
//! `python3 -m venv .venv && .venv/bin/pip install "moto[server]==5.2.5"`.
//! `PATH` defaults to `$CARGO_TARGET_DIR/release/predict` (`target/release/predict`).
//!
//! What it does: starts moto, creates the model bucket and the attribute table, uploads
//! `model/wine_quality.onnx` and the demo wines; then `--runs` times starts a Runtime API
//! on a free loopback port and the bootstrap with a Lambda-like environment (cleared, then
//! the moto endpoint and credentials, the function's settings as the stack sets them, the
//! `AWS_LAMBDA_*` variables; logs at `warn`, as JSON, to `target/coldstart/run-N.log`),
//! and measures:
//!
//! - **init**: from just before the process is spawned to its first `/next` poll: process
//!   start, aws-config, the S3 download of the model and its build;
//! - **first invoke**: a `GET /predict/{id}`, from the event written on `/next` to the
//!   response read back (includes the first DynamoDB connection);
//! - on the last run, **warm** latency over `--invokes` invocations, a seeded random mix of
//!   `GET /predict/{id}` and one-instance `POST /predict` (events shaped like
//!   `events/predict-get.json` and `events/predict-post.json`); every answer is checked
//!   (status 200, the right shape) and GET and POST scores of the same wine must agree;
//! - **RSS** after init and at the end (`VmHWM`, the peak), from `/proc/PID/status`;
//! - the **package**: the binary as built, stripped (`strip`, if present) and zipped alone
//!   as `bootstrap` (`zip`, if present: what a `provided.al2023` function uploads).
//!
//! With `--challenger`, the demo model is also stored as a challenger of the same size,
//! and the runs alternate without and with `CHALLENGER_MODEL_KEY` (each kind `--runs`
//! times, warm invokes on the last of each): the table then shows the cold start and the
//! warm requests side by side, and the champion's own model load (its `InitModelFetch` +
//! `InitModelBuild`), which a challenger of the same size should add at most.
//!
//! With `--ladder DIR` (and/or `--model FILE`, repeatable), it measures the cold start
//! over models of growing size instead: the demo model, then DIR's models (those of
//! `model/make_ladder.py`, `make bench-coldstart-ladder`), each uploaded under its own key
//! and served by the same bootstrap (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE` at Lambda's
//! largest), `--runs` runs interleaved model by model, each up to its first GET (no warm
//! invokes). Per model: median init, peak RSS during init (`VmHWM` at the first `/next`,
//! before any invoke) and RSS after init, beside onnxruntime's session creation time and
//! RSS growth on the same file (`model/bench_ort_load.py`, one fresh process per load).
//! With `--floor FLOOR` (`cargo build --release -p predict --example floor`), a bootstrap
//! that starts as predict does (logging, metrics, the same SDK clients) but has no model is
//! started beside the demo model's runs: its init is the floor the demo model's is
//! compared with.
//!
//! It prints a table, then one line of JSON with every number. It exits non-zero on any
//! failure (an init error, a crash, a wrong answer), after stopping the bootstrap, the
//! Runtime API and moto. Latencies through moto (Python, loopback) are not DynamoDB's.
//!
//! The modules: [`measure`] starts and drives one bootstrap, [`workload`] builds and checks
//! the events, [`package`] looks at the binary, [`report`] prints the results, [`ladder`]
//! runs and reports the ladder mode.

mod ladder;
mod measure;
mod package;
mod report;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use testkit::demo_data;
use testkit::moto::{repository_root, Moto};
use testkit::resources;
use testkit::stack::{self, Clients};

use measure::ColdStart;
use report::{ms, Report};
use workload::Workload;

const USAGE: &str =
    "usage: coldstart [--runs N] [--invokes N] [--challenger] [PATH-TO-RELEASE-PREDICT]\n\
     \x20      coldstart --ladder DIR [--model FILE]... [--floor FLOOR] [--runs N] [PREDICT]...\n\
                     (build it first: cargo build --release -p predict)";

struct Args {
    bootstrap: PathBuf,
    runs: usize,
    invokes: usize,
    /// Runs with a challenger too, alternating with runs without.
    challenger: bool,
    /// The ladder mode: a directory of models (`model/make_ladder.py`'s) and more files.
    ladder: Option<PathBuf>,
    models: Vec<PathBuf>,
    bootstrap_set: bool,
    /// More bootstraps (ladder mode only).
    others: Vec<PathBuf>,
    /// The floor bootstrap (ladder mode): `functions/predict/examples/floor.rs`, the same
    /// start and SDK clients without a model, started beside the demo model's runs.
    floor: Option<PathBuf>,
}

/// Where `--challenger` stores its challenger (the demo model again: the same size).
const CHALLENGER_KEY: &str = "wine-quality/challenger.onnx";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("coldstart: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.ladder.is_some() || !args.models.is_empty() {
        let result = match ladder::rungs(args.ladder.as_deref(), &args.models) {
            Ok(rungs) => ladder::run(&args, &rungs).await,
            Err(e) => Err(e),
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("coldstart: FAILED: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(&args).await {
        Ok(report) => {
            report.print(&args);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("coldstart: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let root = repository_root();
            std::fs::canonicalize(&root).unwrap_or(root).join("target")
        })
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        bootstrap: target_dir().join("release/predict"),
        runs: 5,
        invokes: 1000,
        challenger: false,
        ladder: None,
        models: Vec::new(),
        bootstrap_set: false,
        others: Vec::new(),
        floor: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .ok_or(format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--runs" => args.runs = number("--runs")?,
            "--invokes" => args.invokes = number("--invokes")?,
            "--challenger" => args.challenger = true,
            "--ladder" => args.ladder = Some(it.next().ok_or("--ladder needs a directory")?.into()),
            "--floor" => args.floor = Some(it.next().ok_or("--floor needs a bootstrap")?.into()),
            "--model" => args
                .models
                .push(it.next().ok_or("--model needs a file")?.into()),
            "-h" | "--help" => return Err("help".into()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            // The ladder mode takes several bootstraps (before and after a change, say),
            // interleaved run by run.
            path if args.bootstrap_set => args.others.push(PathBuf::from(path)),
            path => {
                args.bootstrap = PathBuf::from(path);
                args.bootstrap_set = true;
            }
        }
    }
    if !args.others.is_empty() && args.ladder.is_none() && args.models.is_empty() {
        return Err("several bootstraps are for the ladder mode only".into());
    }
    if let Some(missing) = args.others.iter().chain(&args.floor).find(|p| !p.is_file()) {
        return Err(format!("{} not found", missing.display()));
    }
    if !args.bootstrap.is_file() {
        return Err(format!(
            "{} not found: build it first with `cargo build --release -p predict`",
            args.bootstrap.display()
        ));
    }
    if let Ok(path) = std::fs::canonicalize(&args.bootstrap) {
        args.bootstrap = path;
    }
    Ok(args)
}

async fn run(args: &Args) -> Result<Report, String> {
    package::warn_if_stale(&args.bootstrap);
    let package = package::sizes(&args.bootstrap)?;
    let wines = demo_data::repository_wines()?;
    let workload = Workload::new(&wines, args.invokes)?;
    let logs = target_dir().join("coldstart");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    let moto = Moto::start().await?;
    let result = bench(&moto, args, &workload, &logs).await;
    moto.stop().await;
    let runs = result?;
    Ok(Report {
        package,
        runs,
        logs,
    })
}

/// Seeds moto with the demo stack (the same wines as the workload's), then starts the
/// bootstrap `--runs` times, the warm invokes on the last.
async fn bench(
    moto: &Moto,
    args: &Args,
    workload: &Workload,
    logs: &Path,
) -> Result<Vec<ColdStart>, String> {
    let seeding = Instant::now();
    let clients = Clients::for_endpoint(&moto.endpoint).await;
    let mut wines = 0;
    stack::create_demo_stack(&clients, |_, total| wines = total).await?;
    eprintln!(
        "coldstart: moto on {} seeded with the model and {wines} wines in {:.1} s",
        moto.endpoint,
        seeding.elapsed().as_secs_f64()
    );

    let env = measure::function_env(moto, &args.bootstrap);
    let mut with_challenger = env.clone();
    if args.challenger {
        let bytes = stack::demo_model_bytes()?;
        resources::put_object(&clients.s3, stack::MODEL_BUCKET, CHALLENGER_KEY, bytes).await?;
        with_challenger.push(("CHALLENGER_MODEL_KEY".to_owned(), CHALLENGER_KEY.to_owned()));
    }
    // Without and with a challenger, alternately, so that both see the same noise.
    let kinds = if args.challenger { 2 } else { 1 };
    let total = args.runs * kinds;
    let mut runs = Vec::new();
    for run in 1..=total {
        let challenger = kinds == 2 && run % 2 == 0;
        let warm = run + kinds > total;
        let log = logs.join(format!("run-{run}.log"));
        let env = if challenger { &with_challenger } else { &env };
        let mut cold = measure::cold_start(&args.bootstrap, env, Some(workload), warm, &log)
            .await
            .map_err(|e| format!("run {run}: {e}"))?;
        cold.challenger = challenger;
        eprintln!(
            "coldstart: run {run}/{total}{}: init {:.2} ms, first invoke {:.2} ms{}",
            if challenger { " (challenger)" } else { "" },
            ms(cold.init),
            ms(cold.first_invoke),
            if warm {
                format!(", {} warm invokes", cold.warm.len())
            } else {
                String::new()
            }
        );
        runs.push(cold);
    }
    Ok(runs)
}
