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
//! `model/wine_quality.onnx` and the 1,599 wines; then `--runs` times starts a Runtime API
//! on a free loopback port and the bootstrap with a Lambda-like environment (cleared, then
//! the moto endpoint and credentials, the function's three settings, the
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
//! It prints a table, then one line of JSON with every number. It exits non-zero on any
//! failure (an init error, a crash, a wrong answer), after stopping the bootstrap, the
//! Runtime API and moto. Latencies through moto (Python, loopback) are not DynamoDB's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

use testkit::moto::{self, repository_root, Moto};
use testkit::runtime_api::{Invocation, RuntimeApi};
use testkit::{demo_data, resources};
use serde_json::{json, Value};
use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::item::Item;
use aws_adapter::{aws_sdk_dynamodb as dynamodb, aws_sdk_s3 as s3};
use tokio::process::{Child, Command};

const MODEL_BUCKET: &str = "models";
const MODEL_KEY: &str = "wine-quality/wine_quality.onnx";
const ATTRIBUTES_TABLE: &str = "product-attributes";

const INIT_TIMEOUT: Duration = Duration::from_secs(60);
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The targets, for the verdict column only.
const TARGET_INIT_MS: f64 = 25.0;
const TARGET_PEAK_RSS_MIB: f64 = 48.0;
const TARGET_ZIP_MIB: f64 = 8.0;

const USAGE: &str = "usage: coldstart [--runs N] [--invokes N] [PATH-TO-RELEASE-PREDICT]\n\
                     (build it first: cargo build --release -p predict)";

struct Args {
    bootstrap: PathBuf,
    runs: usize,
    invokes: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("coldstart: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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
            "-h" | "--help" => return Err("help".into()),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            path => args.bootstrap = PathBuf::from(path),
        }
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
    warn_if_stale(&args.bootstrap);
    let package = package_sizes(&args.bootstrap)?;
    let wines = demo_data::repository_wines()?;
    let workload = Workload::new(&wines, args.invokes)?;
    let logs = target_dir().join("coldstart");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    let moto = Moto::start().await?;
    let result = bench(&moto, args, &wines, &workload, &logs).await;
    moto.stop().await;
    let runs = result?;
    Ok(Report {
        package,
        runs,
        logs,
    })
}

async fn bench(
    moto: &Moto,
    args: &Args,
    wines: &[Item],
    workload: &Workload,
    logs: &Path,
) -> Result<Vec<ColdStart>, String> {
    let seeding = Instant::now();
    let config = moto::sdk_config(&moto.endpoint).await;
    let (s3, dynamodb) = (s3::Client::new(&config), dynamodb::Client::new(&config));
    let model_path = repository_root().join("model/wine_quality.onnx");
    let model = std::fs::read(&model_path).map_err(|e| format!("{}: {e}", model_path.display()))?;
    resources::create_bucket(&s3, MODEL_BUCKET).await?;
    resources::put_object(&s3, MODEL_BUCKET, MODEL_KEY, model).await?;
    resources::create_table(&dynamodb, ATTRIBUTES_TABLE).await?;
    resources::put_items(&dynamodb, ATTRIBUTES_TABLE, wines, |_| {}).await?;
    eprintln!(
        "coldstart: moto on {} seeded with the model and {} wines in {:.1} s",
        moto.endpoint,
        wines.len(),
        seeding.elapsed().as_secs_f64()
    );

    let env = function_env(moto, &args.bootstrap);
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let warm = run == args.runs;
        let log = logs.join(format!("run-{run}.log"));
        let cold = cold_start(&args.bootstrap, &env, workload, warm, &log)
            .await
            .map_err(|e| format!("run {run}: {e}"))?;
        eprintln!(
            "coldstart: run {run}/{}: init {:.2} ms, first invoke {:.2} ms{}",
            args.runs,
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

/// What Lambda gives a `provided.al2023` function, pointed at moto: the process starts
/// from an empty environment, so nothing of the caller's shell (AWS_PROFILE, HOME, ...)
/// changes what aws-config does.
fn function_env(moto: &Moto, bootstrap: &Path) -> Vec<(String, String)> {
    let task_root = bootstrap.parent().unwrap_or(Path::new("/"));
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (k, v) in [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "en_US.UTF-8"),
        ("TZ", ":UTC"),
        ("LAMBDA_TASK_ROOT", &task_root.display().to_string()),
        ("AWS_DEFAULT_REGION", moto::REGION),
        ("AWS_LAMBDA_FUNCTION_NAME", "predict"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/predict"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "warn"),
        ("MODEL_BUCKET", MODEL_BUCKET),
        ("MODEL_KEY", MODEL_KEY),
        ("ATTRIBUTES_TABLE", ATTRIBUTES_TABLE),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

struct ColdStart {
    init: Duration,
    first_invoke: Duration,
    rss_after_init_kib: Option<u64>,
    peak_rss_kib: Option<u64>,
    /// (route, latency) of each warm invocation; empty but on the last run.
    warm: Vec<(Route, Duration)>,
    log_lines: usize,
}

/// One start of the bootstrap: spawn, init, first invoke, maybe the warm invokes, stop.
async fn cold_start(
    bootstrap: &Path,
    env: &[(String, String)],
    workload: &Workload,
    warm: bool,
    log: &Path,
) -> Result<ColdStart, String> {
    let api = RuntimeApi::start()
        .await
        .map_err(|e| format!("cannot start the Runtime API: {e}"))?;
    let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let log_file2 = log_file.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(bootstrap);
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_file2)
        .kill_on_drop(true);
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bootstrap.display()))?;
    let pid = child.id();

    let result = drive(&api, &mut child, spawned, pid, workload, warm).await;

    // Read before the kill: a dead process has no memory to report.
    let peak_rss_kib = pid.and_then(|pid| proc_status_kib(pid, "VmHWM"));
    let protocol_errors = api.protocol_errors();
    let _ = child.start_kill();
    let _ = child.wait().await;
    api.shutdown().await;

    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    let log_lines = log_text.lines().count();
    let mut cold = result.map_err(|e| {
        let tail: Vec<&str> = log_text.lines().rev().take(10).collect();
        if tail.is_empty() {
            format!("{e} (the function logged nothing)")
        } else {
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("{e}\nlast lines of {}:\n{}", log.display(), tail.join("\n"))
        }
    })?;
    if !protocol_errors.is_empty() {
        return Err(format!(
            "the Runtime API saw unexpected requests: {protocol_errors:?}"
        ));
    }
    cold.peak_rss_kib = peak_rss_kib;
    cold.log_lines = log_lines;
    Ok(cold)
}

async fn drive(
    api: &RuntimeApi,
    child: &mut Child,
    spawned: Instant,
    pid: Option<u32>,
    workload: &Workload,
    warm: bool,
) -> Result<ColdStart, String> {
    let first_poll = tokio::select! {
        polled = api.wait_for_poll(1) => {
            polled.map_err(|e| format!("the function reported an init error: {e}"))?
        }
        status = child.wait() => {
            return Err(format!(
                "the bootstrap exited during init ({}) without reporting an init error",
                status.map_or_else(|e| e.to_string(), |s| s.to_string())
            ));
        }
        _ = tokio::time::sleep(INIT_TIMEOUT) => {
            return Err(format!("no /next poll within {} s of the start", INIT_TIMEOUT.as_secs()));
        }
    };
    let init = first_poll.saturating_duration_since(spawned);
    let rss_after_init_kib = pid.and_then(|pid| proc_status_kib(pid, "VmRSS"));

    let mut scores = ScoreCheck::default();
    let (route, event) = &workload.first;
    let first = invoke(api, child, event).await?;
    scores.check(route, &first)?;

    let mut latencies = Vec::new();
    if warm {
        latencies.reserve(workload.warm.len());
        for (route, event) in &workload.warm {
            let done = invoke(api, child, event).await?;
            scores.check(route, &done)?;
            latencies.push((route.clone(), done.latency()));
        }
    }
    Ok(ColdStart {
        init,
        first_invoke: first.latency(),
        rss_after_init_kib,
        peak_rss_kib: None,
        warm: latencies,
        log_lines: 0,
    })
}

async fn invoke(api: &RuntimeApi, child: &mut Child, event: &[u8]) -> Result<Invocation, String> {
    let pending = api.push(event.to_vec());
    let request_id = pending.request_id.clone();
    tokio::select! {
        done = pending.wait() => done.map_err(|e| e.to_string()),
        status = child.wait() => Err(format!(
            "the bootstrap exited during invocation {request_id} ({})",
            status.map_or_else(|e| e.to_string(), |s| s.to_string())
        )),
        _ = tokio::time::sleep(INVOKE_TIMEOUT) => Err(format!(
            "no answer to invocation {request_id} within {} s", INVOKE_TIMEOUT.as_secs()
        )),
    }
}

/// `VmRSS`, `VmHWM`, ... of a live process, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    /// `GET /predict/{id}` of the wine at this index.
    Get(usize),
    /// `POST /predict` with the attributes of the wine at this index.
    Post(usize),
}

impl Route {
    fn name(&self) -> &'static str {
        match self {
            Route::Get(_) => "GET /predict/{id}",
            Route::Post(_) => "POST /predict",
        }
    }
}

/// The events, serialized before anything is timed.
struct Workload {
    first: (Route, Vec<u8>),
    warm: Vec<(Route, Vec<u8>)>,
}

impl Workload {
    fn new(wines: &[Item], invokes: usize) -> Result<Workload, String> {
        let read = |name: &str| -> Result<Value, String> {
            let path = repository_root().join("events").join(name);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        };
        let (get, post) = (read("predict-get.json")?, read("predict-post.json")?);
        let mut n = 0;
        let mut event = |route: Route| -> Result<(Route, Vec<u8>), String> {
            n += 1;
            let value = match route {
                Route::Get(i) => get_event(&get, &product_id(&wines[i])?, n),
                Route::Post(i) => post_event(&post, &wines[i], n)?,
            };
            Ok((
                route,
                serde_json::to_vec(&value).map_err(|e| e.to_string())?,
            ))
        };
        let mut rng = SplitMix64(0x5eed_c01d_5747);
        let first = event(Route::Get(rng.below(wines.len())))?;
        let warm = (0..invokes)
            .map(|_| {
                let wine = rng.below(wines.len());
                event(if rng.below(2) == 0 {
                    Route::Get(wine)
                } else {
                    Route::Post(wine)
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Workload { first, warm })
    }
}

fn product_id(wine: &Item) -> Result<String, String> {
    wine.string(aws_adapter::attributes::PRODUCT_ID)
        .map(str::to_owned)
        .ok_or_else(|| "a wine without product_id".to_owned())
}

/// `events/predict-get.json` for another product.
fn get_event(template: &Value, product_id: &str, n: usize) -> Value {
    let mut event = template.clone();
    let path = format!("/predict/{product_id}");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["requestId"] = json!(format!("coldstart-{n}"));
    event["pathParameters"]["product_id"] = json!(product_id);
    event
}

/// `events/predict-post.json` with one instance: the wine's attributes.
fn post_event(template: &Value, wine: &Item, n: usize) -> Result<Value, String> {
    let mut instance = serde_json::Map::new();
    for (name, value) in &wine.0 {
        if let AttributeValue::N(number) = value {
            let number: f64 = number
                .parse()
                .map_err(|_| format!("{name} is {number:?}"))?;
            instance.insert(name.clone(), json!(number));
        }
    }
    let mut event = template.clone();
    event["body"] = json!(json!({ "instances": [instance] }).to_string());
    event["requestContext"]["requestId"] = json!(format!("coldstart-{n}"));
    Ok(event)
}

/// Checks each answer, and that a wine scores the same by id (attributes from DynamoDB)
/// and by value (attributes in the body).
#[derive(Default)]
struct ScoreCheck {
    by_id: HashMap<usize, f64>,
    by_value: HashMap<usize, f64>,
}

impl ScoreCheck {
    fn check(&mut self, route: &Route, done: &Invocation) -> Result<(), String> {
        let fail = |problem: String| {
            let body = done
                .response()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|e| e.to_string());
            format!(
                "{} ({}): {problem}; the answer was {body}",
                route.name(),
                done.request_id
            )
        };
        let status = done.http_status();
        if status != Some(200) {
            return Err(fail(format!("status {status:?}, expected 200")));
        }
        let body: Value = done
            .http_body()
            .and_then(|b| serde_json::from_str(&b).ok())
            .ok_or_else(|| fail("the body is not JSON".into()))?;
        let (wine, score, seen, other) = match *route {
            Route::Get(wine) => (
                wine,
                body["score"].as_f64(),
                &mut self.by_id,
                &self.by_value,
            ),
            Route::Post(wine) => {
                let predictions = body["predictions"].as_array().map(Vec::len);
                if predictions != Some(1) {
                    return Err(fail(format!("{predictions:?} predictions, expected 1")));
                }
                (
                    wine,
                    body["predictions"][0].as_f64(),
                    &mut self.by_value,
                    &self.by_id,
                )
            }
        };
        let score = score
            .filter(|s| s.is_finite())
            .ok_or_else(|| fail("no finite score".into()))?;
        if let Some(&other) = other.get(&wine) {
            if (score - other).abs() > 1e-4 * other.abs().max(1.0) {
                return Err(fail(format!(
                    "wine {} scores {score} here but {other} the other way",
                    wine + 1
                )));
            }
        }
        seen.insert(wine, score);
        Ok(())
    }
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

struct PackageSizes {
    binary: u64,
    stripped: Option<u64>,
    zipped: Option<u64>,
}

/// The binary's size as built, stripped and zipped alone as `bootstrap`, in a scratch
/// directory removed afterwards. No `strip` or `zip` on PATH: that size is unknown.
fn package_sizes(bootstrap: &Path) -> Result<PackageSizes, String> {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len());
    let binary = size(bootstrap).map_err(|e| format!("{}: {e}", bootstrap.display()))?;
    let dir = std::env::temp_dir().join(format!("coldstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join("bootstrap");
    let sizes = (|| {
        std::fs::copy(bootstrap, &copy).map_err(|e| format!("copying the bootstrap: {e}"))?;
        let quiet = |program: &str, args: &[&str]| {
            std::process::Command::new(program)
                .args(args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let stripped = quiet("strip", &["bootstrap"])
            .then(|| size(&copy).ok())
            .flatten();
        let zipped = quiet("zip", &["-q", "-X", "bootstrap.zip", "bootstrap"])
            .then(|| size(&dir.join("bootstrap.zip")).ok())
            .flatten();
        Ok(PackageSizes {
            binary,
            stripped,
            zipped,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    sizes
}

/// A warning when the bootstrap is older than the sources it is built from.
fn warn_if_stale(bootstrap: &Path) {
    let Ok(built) = std::fs::metadata(bootstrap).and_then(|m| m.modified()) else {
        return;
    };
    let root = repository_root();
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    let mut stack: Vec<PathBuf> = ["predict", "storage", "scoring"]
        .iter()
        .flat_map(|c| {
            let dir = root.join("functions").join(c);
            [dir.join("src"), dir.join("Cargo.toml")]
        })
        .collect();
    while let Some(path) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&path) {
            stack.extend(entries.flatten().map(|e| e.path()));
        } else if let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) {
            if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
                newest = Some((modified, path));
            }
        }
    }
    if let Some((modified, path)) = newest {
        if modified > built {
            eprintln!(
                "coldstart: warning: {} is older than {}: rebuild with `cargo build --release -p predict`",
                bootstrap.display(),
                path.display()
            );
        }
    }
}

struct Report {
    package: PackageSizes,
    runs: Vec<ColdStart>,
    logs: PathBuf,
}

struct Stats {
    n: usize,
    mean: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        samples.sort();
        let n = samples.len();
        // Nearest rank.
        let rank = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        Some(Stats {
            n,
            mean: samples.iter().sum::<Duration>() / n as u32,
            p50: rank(0.50),
            p99: rank(0.99),
            max: samples[n - 1],
        })
    }

    fn json(&self) -> Value {
        json!({
            "n": self.n,
            "mean_ms": round3(ms(self.mean)),
            "p50_ms": round3(ms(self.p50)),
            "p99_ms": round3(ms(self.p99)),
            "max_ms": round3(ms(self.max)),
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// min, median, max of a few samples.
fn spread(samples: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    };
    (sorted[0], median, sorted[n - 1])
}

fn verdict(value: Option<f64>, target: f64) -> &'static str {
    match value {
        Some(v) if v <= target => "ok",
        Some(_) => "OVER",
        None => "?",
    }
}

impl Report {
    fn print(&self, args: &Args) {
        let inits: Vec<Duration> = self.runs.iter().map(|r| r.init).collect();
        let firsts: Vec<Duration> = self.runs.iter().map(|r| r.first_invoke).collect();
        let (init_min, init_median, init_max) = spread(&inits);
        let (first_min, first_median, first_max) = spread(&firsts);
        let last = self.runs.last().expect("at least one run");
        let warm = Stats::of(last.warm.iter().map(|(_, d)| *d).collect());
        let by_route = |name: &str| {
            Stats::of(
                last.warm
                    .iter()
                    .filter(|(r, _)| r.name() == name)
                    .map(|(_, d)| *d)
                    .collect(),
            )
        };
        let (get, post) = (by_route("GET /predict/{id}"), by_route("POST /predict"));
        let peak_rss = last.peak_rss_kib.map(|k| k as f64 / 1024.0);
        let rss_init = last.rss_after_init_kib.map(|k| k as f64 / 1024.0);
        let zipped = self.package.zipped.map(mib);
        let log_lines: usize = self.runs.iter().map(|r| r.log_lines).sum();
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("n/a".to_owned(), |v| format!("{v:.2} {unit}"));

        println!();
        println!(
            "predict cold start: {} ({} runs; warm invokes on the last)",
            args.bootstrap.display(),
            self.runs.len()
        );
        println!("{:<34} {:>9} {:>9} {:>9}", "", "min", "median", "max");
        println!(
            "{:<34} {:>9.2} {:>9.2} {:>9.2}  ms  [{} <= {TARGET_INIT_MS} ms]",
            "init (spawn -> first /next)",
            ms(init_min),
            ms(init_median),
            ms(init_max),
            verdict(Some(ms(init_median)), TARGET_INIT_MS)
        );
        println!(
            "{:<34} {:>9.2} {:>9.2} {:>9.2}  ms",
            "first invoke (GET, new DB conn)",
            ms(first_min),
            ms(first_median),
            ms(first_max)
        );
        println!(
            "{:<34} {:>9} {:>9} {:>9} {:>9}",
            "", "p50", "p99", "max", "mean"
        );
        for (label, stats) in [
            ("warm invokes, all".to_owned(), &warm),
            ("  GET /predict/{id}".to_owned(), &get),
            ("  POST /predict, 1 instance".to_owned(), &post),
        ] {
            if let Some(s) = stats {
                println!(
                    "{:<34} {:>9.3} {:>9.3} {:>9.3} {:>9.3}  ms  (n={})",
                    label,
                    ms(s.p50),
                    ms(s.p99),
                    ms(s.max),
                    ms(s.mean),
                    s.n
                );
            }
        }
        println!("{:<34} {}", "RSS after init", opt(rss_init, "MiB"));
        println!(
            "{:<34} {}  [{} <= {TARGET_PEAK_RSS_MIB} MiB]",
            "peak RSS (VmHWM)",
            opt(peak_rss, "MiB"),
            verdict(peak_rss, TARGET_PEAK_RSS_MIB)
        );
        println!(
            "{:<34} {:.2} MiB as built, {} stripped",
            "bootstrap binary",
            mib(self.package.binary),
            opt(self.package.stripped.map(mib), "MiB")
        );
        println!(
            "{:<34} {}  [{} <= {TARGET_ZIP_MIB} MiB]",
            "zipped bootstrap",
            opt(zipped, "MiB"),
            verdict(zipped, TARGET_ZIP_MIB)
        );
        if log_lines > 0 {
            println!(
                "the function logged {log_lines} lines at warn level or above: see {}",
                self.logs.display()
            );
        }

        let report = json!({
            "bootstrap": args.bootstrap.display().to_string(),
            "runs": self.runs.len(),
            "init_ms": {
                "min": round3(ms(init_min)),
                "median": round3(ms(init_median)),
                "max": round3(ms(init_max)),
                "all": inits.iter().map(|d| round3(ms(*d))).collect::<Vec<_>>(),
            },
            "first_invoke_ms": {
                "min": round3(ms(first_min)),
                "median": round3(ms(first_median)),
                "max": round3(ms(first_max)),
                "all": firsts.iter().map(|d| round3(ms(*d))).collect::<Vec<_>>(),
            },
            "warm": warm.as_ref().map(Stats::json),
            "warm_get": get.as_ref().map(Stats::json),
            "warm_post": post.as_ref().map(Stats::json),
            "rss_after_init_kib": last.rss_after_init_kib,
            "peak_rss_kib": last.peak_rss_kib,
            "peak_rss_kib_per_run": self.runs.iter().map(|r| r.peak_rss_kib).collect::<Vec<_>>(),
            "binary_bytes": self.package.binary,
            "stripped_bytes": self.package.stripped,
            "zipped_bytes": self.package.zipped,
            "function_log_lines": log_lines,
        });
        println!("{report}");
    }
}
