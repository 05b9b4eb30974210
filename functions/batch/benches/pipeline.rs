//! Batch scoring with no I/O: throughput (rows/s on one core) and peak memory of
//! `Job::invoke` over a generating attribute scan and a counting prediction sink.
//!
//! ```sh
//! cargo bench -p batch --bench pipeline                  # throughput + RSS tables
//! cargo bench -p batch --bench pipeline -- --rows 200000 --page 1000 --runs 1
//! cargo bench -p batch --bench pipeline -- --rows 100000 --runs 1 --explain-top-k 5 --no-rss
//! cargo bench -p batch --bench pipeline -- --rows 200000 --explain-top-k 0 --challenger wine_grade_classifier
//! ```
//!
//! - The scan synthesizes each page when asked: DynamoDB items (`product_id` `p-0000001`,
//!   ... and the eleven wine features as `N` strings, the rows of the wine CSV cycled),
//!   split over segments by index. The input takes no memory beyond the pages being worked
//!   on. Building the items (what the SDK's deserializer does on Lambda) is timed apart, so
//!   the pipeline's own rate can be told from its input's.
//! - Page sizes: as many items as fit in 1 MB of DynamoDB item size (names + values), what
//!   a Scan without `Limit` returns, and `SCAN_PAGE_ITEMS` (1,000), the `Limit` the
//!   function sets; `--page N` runs only N.
//! - The sink builds the BatchWriteItem requests (`aws_adapter::dynamodb::write_requests`,
//!   what the DynamoDB sink sends), counts the rows, sums the scores (checked against the
//!   model's scores of the wines) and drops them.
//! - Both yield to the runtime once per call, as a call waiting on DynamoDB would, so the
//!   segments interleave and their pages are alive at the same time, as on Lambda.
//! - The job runs on a current-thread tokio runtime (one core), `--segments` (default 4,
//!   as `SCAN_SEGMENTS`) interleaved on it, with the default `Settings`.
//! - Explanations: each page size runs without (`EXPLAIN_TOP_K` 0) and with
//!   `--explain-top-k K` (default 5) contributions per row, side by side, and the ratio of
//!   their rates is checked against the goal (with K, at least half the rate without);
//!   `--explain-top-k 0` runs only without. With K the sink also checks that every row
//!   carries K contributions.
//! - A challenger: each page size also runs with `--challenger NAME` (a model of
//!   `model/challengers/`, default `wine_quality_refit`, the same size as the demo model)
//!   scored beside the model, side by side with the run without, the ratio checked against
//!   the goal (at least 70% of the rate without); `--challenger none` skips it. The sink
//!   checks that every row carries the challenger's answer.
//!
//! Throughput: `--runs` (3) runs of `--rows` (1,000,000) rows in this process per page
//! size and configuration, interleaved, after the model (and the challenger) alone for
//! reference. Memory: this binary again, as a child process per page size, configuration
//! and row count (10k, 100k, 1M), reports VmHWM from /proc/self/status after the model
//! load and after the run, so one run's peak cannot hide another's (`--no-rss` skips them).

// The function's allocator (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::dynamodb::{scanned_row, write_requests, Item};
use batch::pipeline::{Settings, SCAN_PAGE_ITEMS};
use batch::{BatchEvent, Job};
use scoring::Model;
use store::predictions::{Prediction, PredictionSink};
use store::scan::{AttributeScan, Page};
use store::{StoreError, PRODUCT_ID};
use testkit::memory::{InMemoryRunLog, RecordedStarts};

/// DynamoDB's cap on the data one Scan page returns.
const PAGE_BYTES: usize = 1 << 20;
const RSS_ROWS: [u64; 3] = [10_000, 100_000, 1_000_000];
/// The throughput and memory goals, for the verdict column.
const TARGET_ROWS_PER_S: f64 = 500_000.0;
const TARGET_PEAK_MIB: f64 = 64.0;
/// With explanations, at least this share of the rate without (issue 23).
const TARGET_EXPLAINED_SHARE: f64 = 0.5;
/// With a challenger of the same size, at least this share of the rate without (issue 24).
const TARGET_CHALLENGED_SHARE: f64 = 0.7;

/// Products `p-0000001` ... `p-{rows}`: product i (0-based) is wine `i % wines`, in
/// segment `i % segments`.
struct GeneratedScan {
    rows: u64,
    /// Each wine's eleven (name, N value) attributes.
    wines: Vec<Vec<(String, String)>>,
    page_items: usize,
    pages: AtomicU64,
    /// Time spent building items.
    generating_nanos: AtomicU64,
}

impl GeneratedScan {
    fn new(rows: u64, page_items: Option<usize>) -> Self {
        let wines: Vec<Vec<(String, String)>> = testkit::demo_data::repository_wines()
            .unwrap()
            .into_iter()
            .map(|item| {
                let mut attributes: Vec<(String, String)> = item
                    .into_iter()
                    .filter(|(name, _)| name != PRODUCT_ID)
                    .map(|(name, value)| (name, value.as_n().unwrap().clone()))
                    .collect();
                attributes.sort();
                attributes
            })
            .collect();
        // DynamoDB's item size: attribute names plus values (numbers ~ 1 byte per two
        // digits + 1); the mean over the wines.
        let mean_size = wines
            .iter()
            .map(|w| {
                PRODUCT_ID.len()
                    + 9
                    + w.iter()
                        .map(|(n, v)| n.len() + v.len().div_ceil(2) + 1)
                        .sum::<usize>()
            })
            .sum::<usize>()
            / wines.len();
        GeneratedScan {
            rows,
            wines,
            page_items: page_items.unwrap_or(PAGE_BYTES / mean_size).max(1),
            pages: AtomicU64::new(0),
            generating_nanos: AtomicU64::new(0),
        }
    }

    fn id(i: u64) -> String {
        format!("p-{:07}", i + 1)
    }

    /// What the SDK hands back for one item: a map of owned names and values.
    fn item(&self, i: u64) -> Item {
        let wine = &self.wines[(i % self.wines.len() as u64) as usize];
        let mut map = HashMap::with_capacity(wine.len() + 1);
        map.insert(PRODUCT_ID.to_owned(), AttributeValue::S(Self::id(i)));
        for (name, value) in wine {
            map.insert(name.clone(), AttributeValue::N(value.clone()));
        }
        map
    }
}

impl AttributeScan for GeneratedScan {
    async fn page(
        &self,
        segment: u32,
        segments: u32,
        after: Option<&str>,
    ) -> Result<Page, StoreError> {
        // Give way like a real Scan waiting on the network does, so the segments interleave
        // (and their pages and writes overlap in memory) as they do on Lambda.
        tokio::task::yield_now().await;
        self.pages.fetch_add(1, Ordering::Relaxed);
        let step = segments as u64;
        let mut i = match after {
            None => segment as u64,
            Some(id) => {
                let n: u64 = id
                    .strip_prefix("p-")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| StoreError::refused(format!("not a generated id: {id}")))?;
                n - 1 + step
            }
        };
        let start = Instant::now();
        let mut items = Vec::with_capacity(self.page_items);
        while i < self.rows && items.len() < self.page_items {
            items.push(self.item(i));
            i += step;
        }
        self.generating_nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let next = (i < self.rows).then(|| Self::id(i - step));
        // What the DynamoDB adapter does with each item it is handed (part of the pipeline).
        let rows = items.into_iter().filter_map(scanned_row).collect();
        Ok(Page { rows, next })
    }
}

/// Builds the BatchWriteItem requests the DynamoDB sink would send, counts and sums what
/// it is given, keeps nothing.
#[derive(Default)]
struct CountingSink {
    rows: AtomicU64,
    calls: AtomicU64,
    score_sum: Mutex<f64>,
    /// Contributions carried by the rows.
    contributions: AtomicU64,
    /// Rows carrying a challenger's answer.
    challenged: AtomicU64,
}

impl PredictionSink for CountingSink {
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, StoreError> {
        std::hint::black_box(write_requests(batch));
        tokio::task::yield_now().await;
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(batch.len() as u64, Ordering::Relaxed);
        let contributions: usize = batch
            .iter()
            .filter_map(|p| p.explanation.as_ref())
            .map(|e| e.contributions.len())
            .sum();
        self.contributions
            .fetch_add(contributions as u64, Ordering::Relaxed);
        let challenged = batch.iter().filter(|p| p.challenger.is_some()).count();
        self.challenged
            .fetch_add(challenged as u64, Ordering::Relaxed);
        let sum: f64 = batch
            .iter()
            .map(|p| p.answer.score().unwrap_or_default() as f64)
            .sum();
        *self.score_sum.lock().unwrap() += sum;
        Ok(Vec::new())
    }
}

struct Args {
    rows: u64,
    runs: usize,
    segments: u32,
    page: Option<usize>,
    /// Contributions per row in the explained runs (0: only unexplained runs).
    explain_top_k: usize,
    /// The challenger's file stem in `model/challengers/`; `None`: no runs with one.
    challenger: Option<String>,
    /// Child mode: one run of this many rows, then VmHWM.
    rss: Option<u64>,
    /// Child mode: the run with the challenger.
    challenged: bool,
    no_rss: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        rows: 1_000_000,
        runs: 3,
        segments: 4,
        page: None,
        explain_top_k: 5,
        challenger: Some("wine_quality_refit".into()),
        rss: None,
        challenged: false,
        no_rss: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--challenger" {
            let name = it.next().expect("--challenger needs a name (or none)");
            args.challenger = (name != "none").then_some(name);
            continue;
        }
        let mut value = || -> u64 {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--rows" => args.rows = value(),
            "--runs" => args.runs = value() as usize,
            "--segments" => args.segments = value() as u32,
            "--page" => args.page = Some(value() as usize),
            "--rss" => args.rss = Some(value()),
            "--explain-top-k" => args.explain_top_k = value() as usize,
            "--no-rss" => args.no_rss = true,
            "--challenged" => args.challenged = true,
            // cargo bench passes --bench; criterion-style filters are not used here.
            _ => {}
        }
    }
    args
}

fn demo_model() -> Model {
    let path = testkit::moto::repository_root().join("model/wine_quality.onnx");
    Model::load(&std::fs::read(path).unwrap(), "bench").unwrap()
}

fn challenger_model(args: &Args) -> Option<Model> {
    let name = args.challenger.as_deref()?;
    let path = testkit::moto::repository_root().join(format!("model/challengers/{name}.onnx"));
    Some(Model::load(&std::fs::read(&path).unwrap(), "bench-challenger").unwrap())
}

fn scheduled_event() -> BatchEvent {
    let path = testkit::moto::repository_root().join("events/batch-scheduled.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

type BenchJob = Job<GeneratedScan, CountingSink, InMemoryRunLog>;

fn job(
    model: Model,
    challenger: Option<Model>,
    rows: u64,
    page: Option<usize>,
    k: usize,
    args: &Args,
) -> BenchJob {
    Job {
        model,
        scan: GeneratedScan::new(rows, page),
        sink: CountingSink::default(),
        run_log: InMemoryRunLog::default(),
        segments: args.segments,
        workers: 1,
        settings: Settings {
            explain_top_k: k,
            ..Settings::default()
        },
        store_retries: Box::new(()),
        accuracy: None,
        challenger: challenger.map(Ok),
    }
}

/// The contribution counts to run: without, and with `--explain-top-k` unless it is 0.
fn top_ks(args: &Args) -> Vec<usize> {
    if args.explain_top_k == 0 {
        vec![0]
    } else {
        vec![0, args.explain_top_k]
    }
}

/// The sum of the model's scores of products 0..rows (the wines cycled).
fn expected_sum(model: &Model, scan: &GeneratedScan, rows: u64) -> f64 {
    let n = scan.wines.len() as u64;
    let scores: Vec<f64> = (0..n)
        .map(|i| {
            model
                .score_row(&aws_adapter::dynamodb::row(scan.item(i)))
                .unwrap() as f64
        })
        .collect();
    let full: f64 = scores.iter().sum();
    full * (rows / n) as f64 + scores[..(rows % n) as usize].iter().sum::<f64>()
}

/// One run to completion: (seconds, of which building items). Panics on any discrepancy.
fn run_once(rt: &tokio::runtime::Runtime, job: &BenchJob, expected: f64) -> (f64, f64) {
    let (rows0, sum0, contributions0, challenged0) = (
        job.sink.rows.load(Ordering::Relaxed),
        *job.sink.score_sum.lock().unwrap(),
        job.sink.contributions.load(Ordering::Relaxed),
        job.sink.challenged.load(Ordering::Relaxed),
    );
    let generating0 = job.scan.generating_nanos.load(Ordering::Relaxed);
    let start = Instant::now();
    let summary = match rt
        .block_on(job.invoke(
            scheduled_event(),
            None,
            chrono::Utc::now(),
            None::<&RecordedStarts>,
        ))
        .unwrap()
    {
        batch::Answer::Summary(summary) => summary,
        other => panic!("expected a run summary, got {other:?}"),
    };
    let seconds = start.elapsed().as_secs_f64();
    let rows = job.scan.rows;
    assert_eq!(summary.status, "complete");
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_written,
            summary.rows_rejected
        ),
        (rows, rows, 0)
    );
    assert_eq!(job.sink.rows.load(Ordering::Relaxed) - rows0, rows);
    assert_eq!(summary.rows_unexplained, 0);
    assert_eq!(
        job.sink.contributions.load(Ordering::Relaxed) - contributions0,
        rows * job.settings.explain_top_k as u64,
        "every row carries its contributions"
    );
    let challenged = job.challenger.as_ref().map_or(0, |_| rows);
    assert_eq!(
        job.sink.challenged.load(Ordering::Relaxed) - challenged0,
        challenged,
        "every row carries the challenger's answer, or none without one"
    );
    if challenged > 0 {
        let c = summary
            .challenger
            .as_ref()
            .unwrap()
            .comparison
            .as_ref()
            .unwrap();
        assert_eq!((c.rows_compared, c.challenger_errors), (rows, 0));
    }
    let sum = *job.sink.score_sum.lock().unwrap() - sum0;
    assert!(
        (sum - expected).abs() <= 1e-6 * expected.abs(),
        "score sum {sum}, expected {expected}"
    );
    let generating = job.scan.generating_nanos.load(Ordering::Relaxed) - generating0;
    (seconds, generating as f64 / 1e9)
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Child mode: prints `rss ROWS LOADED_KIB PEAK_KIB SECONDS`.
fn rss_child(args: &Args, rows: u64) {
    let rt = runtime();
    let model = demo_model();
    let challenger = args.challenged.then(|| challenger_model(args)).flatten();
    let job = job(model, challenger, rows, args.page, args.explain_top_k, args);
    let expected = expected_sum(&job.model, &job.scan, rows);
    let loaded = vm_hwm_kib();
    let (seconds, _) = run_once(&rt, &job, expected);
    println!("rss {rows} {loaded} {} {seconds}", vm_hwm_kib());
}

fn main() {
    let args = parse_args();
    if let Some(rows) = args.rss {
        return rss_child(&args, rows);
    }
    let rt = runtime();
    let model = demo_model();
    // None: DynamoDB's 1 MB pages.
    let pages = match args.page {
        Some(page) => vec![Some(page)],
        None => vec![None, Some(SCAN_PAGE_ITEMS)],
    };
    if args.explain_top_k > 0 {
        model
            .explainability()
            .expect("the demo model explains (its card has node covers)");
    }
    let challenger = challenger_model(&args);
    // Per page size: without, with the challenger, with explanations.
    let runs: Vec<(Option<usize>, usize, bool)> = pages
        .iter()
        .flat_map(|&page| {
            let explained = top_ks(&args).into_iter().map(move |k| (page, k, false));
            let challenged = challenger.as_ref().map(|_| (page, 0, true));
            explained.take(1).chain(challenged).chain(
                top_ks(&args)
                    .into_iter()
                    .skip(1)
                    .map(move |k| (page, k, false)),
            )
        })
        .collect();
    let jobs: Vec<BenchJob> = runs
        .iter()
        .map(|&(page, k, challenged)| {
            let c = challenged.then(|| challenger.clone()).flatten();
            job(model.clone(), c, args.rows, page, k, &args)
        })
        .collect();
    if let Some(c) = &challenger {
        println!(
            "challenger: {} ({} features; {})",
            args.challenger.as_deref().unwrap_or_default(),
            c.features().len(),
            if c.schema() == model.schema() {
                "the champion's schema: scores the champion's batch"
            } else {
                "another schema: the rows read again into its own batch"
            }
        );
    }
    let expected = expected_sum(&model, &jobs[0].scan, args.rows);
    let settings = &jobs[0].settings;
    println!(
        "batch pipeline, no I/O: {} rows, {} segments, score_batch {}, {} writes in flight \
         per segment, current-thread runtime",
        args.rows, args.segments, settings.score_batch, settings.writes_in_flight
    );

    // The model alone, for reference: the same rows, already a typed batch.
    let batch = settings.score_batch;
    let mut x = model.schema().batch(batch);
    for i in 0..batch as u64 {
        model
            .schema()
            .read_row(&aws_adapter::dynamodb::row(jobs[0].scan.item(i)), &mut x)
            .unwrap();
    }
    let model_rows = args.rows.div_ceil(batch as u64) * batch as u64;
    let start = Instant::now();
    for _ in 0..model_rows / batch as u64 {
        std::hint::black_box(model.score(&x, &mut ()).unwrap());
    }
    let model_s = start.elapsed().as_secs_f64();
    // And explaining them, with every row's top K picked as the pipeline does.
    // And the challenger alone on the same batch.
    let challenger_s = challenger.as_ref().map(|c| {
        let mut x = c.schema().batch(batch);
        for i in 0..batch as u64 {
            c.schema()
                .read_row(&aws_adapter::dynamodb::row(jobs[0].scan.item(i)), &mut x)
                .unwrap();
        }
        let start = Instant::now();
        for _ in 0..model_rows / batch as u64 {
            std::hint::black_box(c.score(&x, &mut ()).unwrap());
        }
        start.elapsed().as_secs_f64()
    });
    let explain_s = (args.explain_top_k > 0).then(|| {
        let scored = model.score(&x, &mut ()).unwrap();
        let start = Instant::now();
        for _ in 0..model_rows / batch as u64 {
            let explained = model.explain(&x, &scored).unwrap();
            for row in 0..batch {
                std::hint::black_box(explained.row(row).unwrap().top(0, args.explain_top_k));
            }
        }
        start.elapsed().as_secs_f64()
    });

    println!();
    println!(
        "| what | rows | seconds | rows/s | ns/row | of which building items | rows/s net of building items |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| model alone (score, {batch} rows a call) | {model_rows} | {model_s:.3} | {:.0} | {:.0} | | |",
        model_rows as f64 / model_s,
        model_s * 1e9 / model_rows as f64
    );
    if let Some(s) = challenger_s {
        println!(
            "| challenger alone (score, {batch} rows a call) | {model_rows} | {s:.3} | {:.0} | {:.0} | | |",
            model_rows as f64 / s,
            s * 1e9 / model_rows as f64
        );
    }
    if let Some(s) = explain_s {
        println!(
            "| model alone (explain the scored rows, top {}) | {model_rows} | {s:.3} | {:.0} | {:.0} | | |",
            args.explain_top_k,
            model_rows as f64 / s,
            s * 1e9 / model_rows as f64
        );
    }
    // Runs interleaved (each configuration once, then again): on a shared host, a load
    // that comes and goes falls on every configuration alike, not on one.
    let mut rates = vec![Vec::new(); jobs.len()];
    for run in 1..=args.runs {
        for (job, rates) in jobs.iter().zip(&mut rates) {
            let (s, generating) = run_once(&rt, job, expected);
            rates.push((args.rows as f64 / s, args.rows as f64 / (s - generating)));
            println!(
                "| Job::invoke, {} items a page, EXPLAIN_TOP_K {}{}, run {run} | {} | {s:.3} | {:.0} | {:.0} | {generating:.3} s | {:.0} |",
                job.scan.page_items,
                job.settings.explain_top_k,
                if job.challenger.is_some() { ", with the challenger" } else { "" },
                args.rows,
                args.rows as f64 / s,
                s * 1e9 / args.rows as f64,
                args.rows as f64 / (s - generating)
            );
        }
    }
    let mut medians = Vec::new();
    for (job, mut rates) in jobs.iter().zip(rates) {
        rates.sort_by(|a, b| a.0.total_cmp(&b.0));
        medians.push((
            job.scan.page_items,
            job.settings.explain_top_k,
            job.challenger.is_some(),
            rates[rates.len() / 2],
        ));
    }
    println!();
    for &(page, k, challenged, (rate, net)) in &medians {
        // Against the same page size without explanations or challenger.
        let without = medians
            .iter()
            .find(|m| m.0 == page && m.1 == 0 && !m.2)
            .map(|m| m.3 .0)
            .unwrap();
        let verdict = if challenged {
            let share = rate / without;
            format!(
                "{:.2} of the rate without a challenger ({}, target >= {TARGET_CHALLENGED_SHARE})",
                share,
                if share >= TARGET_CHALLENGED_SHARE {
                    "ok"
                } else {
                    "BELOW TARGET"
                }
            )
        } else if k > 0 {
            let share = rate / without;
            format!(
                "{:.2} of the rate without ({}, target >= {TARGET_EXPLAINED_SHARE})",
                share,
                if share >= TARGET_EXPLAINED_SHARE {
                    "ok"
                } else {
                    "BELOW TARGET"
                }
            )
        } else {
            format!(
                "{}, target >= {TARGET_ROWS_PER_S:.0}",
                if rate >= TARGET_ROWS_PER_S {
                    "ok"
                } else {
                    "BELOW TARGET"
                }
            )
        };
        println!(
            "{page} items a page, EXPLAIN_TOP_K {k}{}: median {rate:.0} rows/s ({verdict}), \
             {net:.0} rows/s net of building items",
            if challenged {
                ", with the challenger"
            } else {
                ""
            }
        );
    }
    if args.no_rss {
        return;
    }

    // Peak memory, one child process per page size and row count.
    println!();
    println!(
        "| items a page | EXPLAIN_TOP_K | challenger | rows | VmHWM after model load | VmHWM after run | growth | run rows/s | peak <= {TARGET_PEAK_MIB} MiB |"
    );
    println!("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |");
    let exe = std::env::current_exe().unwrap();
    for job in &jobs {
        for rows in RSS_ROWS {
            let page = job.scan.page_items;
            let k = job.settings.explain_top_k;
            let challenged = job.challenger.is_some();
            let mut command = Command::new(&exe);
            if challenged {
                command.args([
                    "--challenged",
                    "--challenger",
                    args.challenger.as_deref().unwrap(),
                ]);
            }
            let out = command
                .args(["--rss", &rows.to_string()])
                .args(["--explain-top-k", &k.to_string()])
                .args(["--segments", &args.segments.to_string()])
                .args(["--page", &page.to_string()])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "child for {rows} rows failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8(out.stdout).unwrap();
            let fields: Vec<&str> = stdout
                .lines()
                .find(|l| l.starts_with("rss "))
                .unwrap()
                .split_whitespace()
                .collect();
            let loaded: u64 = fields[2].parse().unwrap();
            let peak: u64 = fields[3].parse().unwrap();
            let seconds: f64 = fields[4].parse().unwrap();
            println!(
                "| {page} | {k} | {} | {rows} | {:.1} MiB | {:.1} MiB | {:+.1} MiB | {:.0} | {} |",
                if challenged { "yes" } else { "no" },
                mib(loaded),
                mib(peak),
                mib(peak) - mib(loaded),
                rows as f64 / seconds,
                if mib(peak) <= TARGET_PEAK_MIB {
                    "ok"
                } else {
                    "OVER"
                }
            );
        }
    }
}
