//! The batch job end to end against moto server: the real DynamoDB adapters, a scheduled
//! event, 10,000 products; rows/s, wall time, and where the time goes.
//!
//! ```sh
//! cargo run --release -p batch --example moto_bench   # [-- --rows N --segments N --explain-top-k K]
//! cargo run -p batch --example moto_bench -- --rows 20000 --outcomes-percent 10 --rounds 3
//! ```
//!
//! Needs `.venv/bin/moto_server` (or `$MOTO_SERVER`): `make venv`. It starts moto on a free
//! loopback port, creates the attribute and predictions tables, loads the products (the
//! wines of `model/data/winequality-red.csv` cycled, ids `p-0000001` ...), then runs
//! `Job::invoke` with `events/batch-scheduled.json` over `DynamoDbScan` and
//! `DynamoDbPredictions` (default `Settings`, an in-memory run log) on a current-thread
//! runtime, as the Lambda does. It checks the summary and that the predictions table holds
//! exactly one item per product (a counting Scan) with the model's score, prints the
//! numbers, and stops moto, also on failure. `--explain-top-k K` (default 0) sets
//! `EXPLAIN_TOP_K`: each item also carries its K largest contributions.
//!
//! `--outcomes-percent P` (default 0: none) then times the nightly join's share of a run:
//! outcomes on P% of the products and their captures are seeded (moto_bench/join.rs), and
//! the run is timed `--rounds` times (default 3) each way, in rotating order: without an
//! outcomes table, with one that holds no outcome, and with the outcomes.
//!
//! To show what bounds the run it times every Scan page and BatchWriteItem call, and
//! reads the CPU time of this process and of the moto process (/proc/PID/stat) around
//! each phase. Latencies through moto (Python, loopback) are not DynamoDB's.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_adapter::aws_sdk_dynamodb::types::{AttributeValue, Select};
use aws_adapter::dynamodb::{DynamoDbPredictions, DynamoDbScan};
use batch::pipeline::{Settings, SCAN_PAGE_ITEMS};
use batch::{BatchEvent, Job};
use scoring::Model;
use store::predictions::{Prediction, PredictionSink};
use store::scan::{AttributeScan, Page};
use store::{StoreError, PRODUCT_ID};
use testkit::memory::{InMemoryRunLog, RecordedStarts};
use testkit::moto::{repository_root, Moto};
use testkit::stack::Clients;
use testkit::Item;
use testkit::{demo_data, resources};

#[path = "moto_bench/join.rs"]
mod join;

const ATTRIBUTES_TABLE: &str = "product-attributes";
const PREDICTIONS_TABLE: &str = "predictions";

/// Calls, items and the summed latency of the calls of one kind (they overlap: segments
/// and writes run concurrently).
#[derive(Default)]
struct Timing {
    calls: AtomicU64,
    items: AtomicU64,
    nanos: AtomicU64,
}

impl Timing {
    fn record(&self, items: usize, start: Instant) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(items as u64, Ordering::Relaxed);
        self.nanos
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    fn row(&self, what: &str) {
        let calls = self.calls.load(Ordering::Relaxed);
        let nanos = self.nanos.load(Ordering::Relaxed) as f64;
        println!(
            "| {what} | {calls} | {} | {:.3} | {:.2} |",
            self.items.load(Ordering::Relaxed),
            nanos / 1e9,
            nanos / 1e6 / calls.max(1) as f64
        );
    }
}

struct Timed<T> {
    inner: T,
    timing: Timing,
}

impl<T: AttributeScan> AttributeScan for Timed<T> {
    async fn page(
        &self,
        segment: u32,
        segments: u32,
        after: Option<&str>,
    ) -> Result<Page, StoreError> {
        let start = Instant::now();
        let page = self.inner.page(segment, segments, after).await?;
        self.timing.record(page.rows.len(), start);
        Ok(page)
    }
}

impl<T: PredictionSink> PredictionSink for Timed<T> {
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, StoreError> {
        let start = Instant::now();
        let unprocessed = self.inner.write(batch).await?;
        self.timing.record(batch.len() - unprocessed.len(), start);
        Ok(unprocessed)
    }
}

/// User + system CPU seconds of a process (all its threads).
fn cpu_seconds(pid: &str, tick: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok());
    ticks(14).unwrap_or(0.0) / tick + ticks(15).unwrap_or(0.0) / tick
}

/// The moto process listening on `port`: found by its command line.
fn moto_pid(port: &str) -> Option<String> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let name = e.file_name().into_string().ok()?;
        name.parse::<u32>().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let is_moto = args.iter().any(|a| a.ends_with("moto_server"));
        let on_port = args.windows(2).any(|w| w[0] == "-p" && w[1] == port);
        (is_moto && on_port).then_some(name)
    })
}

fn clock_tick() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU of this process and of moto over a phase.
struct Cpu<'a> {
    moto: &'a str,
    tick: f64,
    ours: f64,
    theirs: f64,
    wall: Instant,
}

impl<'a> Cpu<'a> {
    fn start(moto: &'a str, tick: f64) -> Self {
        Cpu {
            moto,
            tick,
            ours: cpu_seconds("self", tick),
            theirs: cpu_seconds(moto, tick),
            wall: Instant::now(),
        }
    }

    /// (wall, our CPU, moto CPU) seconds.
    fn stop(&self) -> (f64, f64, f64) {
        (
            self.wall.elapsed().as_secs_f64(),
            cpu_seconds("self", self.tick) - self.ours,
            cpu_seconds(self.moto, self.tick) - self.theirs,
        )
    }
}

fn phase_row(what: &str, rows: u64, (wall, ours, moto): (f64, f64, f64)) {
    println!(
        "| {what} | {rows} | {wall:.3} | {:.0} | {ours:.2} ({:.0}%) | {moto:.2} ({:.0}%) |",
        rows as f64 / wall,
        100.0 * ours / wall,
        100.0 * moto / wall
    );
}

fn products(n: u64) -> Result<Vec<Item>, String> {
    let wines = demo_data::repository_wines()?;
    Ok((0..n)
        .map(|i| {
            let mut item = wines[(i % wines.len() as u64) as usize].clone();
            item.insert(
                PRODUCT_ID.to_owned(),
                AttributeValue::S(format!("p-{:07}", i + 1)),
            );
            item
        })
        .collect())
}

async fn count_items(clients: &Clients, table: &str) -> Result<u64, String> {
    let mut count = 0;
    let mut start = None;
    loop {
        let out = clients
            .dynamodb
            .scan()
            .table_name(table)
            .select(Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| format!("counting {table}: {e:?}"))?;
        count += out.count as u64;
        match out.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return Ok(count),
        }
    }
}

type BenchJob = Job<Timed<DynamoDbScan>, Timed<DynamoDbPredictions>, InMemoryRunLog>;

async fn bench(
    moto: &Moto,
    rows: u64,
    segments: u32,
    top_k: usize,
    outcomes: (u64, u32),
) -> Result<(), String> {
    let port = moto.endpoint.rsplit(':').next().unwrap_or_default();
    let pid = moto_pid(port).ok_or("cannot find the moto process")?;
    let tick = clock_tick();
    let clients = Clients::for_endpoint(&moto.endpoint).await;
    resources::create_table(&clients.dynamodb, ATTRIBUTES_TABLE).await?;
    resources::create_table(&clients.dynamodb, PREDICTIONS_TABLE).await?;
    let items = products(rows)?;

    println!(
        "batch job on moto ({}): {rows} products, {segments} segments, default Settings \
         (score_batch 500, 4 writes in flight per segment), EXPLAIN_TOP_K {top_k}, \
         current-thread runtime",
        moto.endpoint
    );
    println!();
    println!("| phase | rows | wall s | rows/s | our CPU s | moto CPU s |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let cpu = Cpu::start(&pid, tick);
    resources::put_items(&clients.dynamodb, ATTRIBUTES_TABLE, &items, |_| {}).await?;
    phase_row("seed (BatchWriteItem x25, one at a time)", rows, cpu.stop());

    let model_bytes = std::fs::read(repository_root().join("model/wine_quality.onnx"))
        .map_err(|e| e.to_string())?;
    let model = Model::load(&model_bytes, "bench").map_err(|e| e.to_string())?;
    let event: BatchEvent = serde_json::from_str(
        &std::fs::read_to_string(repository_root().join("events/batch-scheduled.json"))
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let mut job: BenchJob = Job {
        scan: Timed {
            // As the function: pages of SCAN_PAGE_ITEMS.
            inner: DynamoDbScan::new(clients.dynamodb.clone(), ATTRIBUTES_TABLE, model.features())
                .with_page_size(SCAN_PAGE_ITEMS as i32),
            timing: Timing::default(),
        },
        sink: Timed {
            inner: DynamoDbPredictions::new(clients.dynamodb.clone(), PREDICTIONS_TABLE),
            timing: Timing::default(),
        },
        run_log: InMemoryRunLog::default(),
        segments,
        workers: 1,
        settings: Settings {
            explain_top_k: top_k,
            ..Settings::default()
        },
        store_retries: Box::new(()),
        accuracy: None,
        challenger: None,
        model,
    };
    let cpu = Cpu::start(&pid, tick);
    let summary = match job
        .invoke(event, None, chrono::Utc::now(), None::<&RecordedStarts>)
        .await
        .map_err(|e| e.to_string())?
    {
        batch::Answer::Summary(summary) => summary,
        other => return Err(format!("expected a run summary, got {other:?}")),
    };
    let run = cpu.stop();
    phase_row("Job::invoke (scan -> score -> write)", rows, run);

    println!();
    println!("| calls | count | items | summed latency s | mean ms |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    job.scan.timing.row("Scan pages");
    job.sink.timing.row("BatchWriteItem");
    println!();
    println!(
        "summary: status {}, scanned {}, scored {}, written {}, rejected {}, retries {}, {} ms",
        summary.status,
        summary.rows_scanned,
        summary.rows_scored,
        summary.rows_written,
        summary.rows_rejected,
        summary.retries,
        summary.duration_ms
    );

    if summary.status != "complete" || summary.rows_written != rows || summary.rows_rejected != 0 {
        return Err(format!("unexpected summary: {summary:?}"));
    }
    let stored = count_items(&clients, PREDICTIONS_TABLE).await?;
    // Spot checks: the first, a middle and the last product carry the model's score.
    let expected: HashMap<String, f32> = [0, rows / 2, rows - 1]
        .iter()
        .map(|&i| {
            let scanned = aws_adapter::dynamodb::scanned_row(items[i as usize].clone()).unwrap();
            (
                scanned.product_id,
                job.model.score_row(&scanned.row).unwrap(),
            )
        })
        .collect();
    for (id, score) in &expected {
        let out = clients
            .dynamodb
            .get_item()
            .table_name(PREDICTIONS_TABLE)
            .key(PRODUCT_ID, AttributeValue::S(id.clone()))
            .send()
            .await
            .map_err(|e| format!("reading {id}: {e:?}"))?;
        let got = out
            .item
            .as_ref()
            .and_then(aws_adapter::dynamodb::prediction_from_item)
            .ok_or(format!("{id}: no prediction stored"))?;
        let explained = got
            .explanation
            .as_ref()
            .map_or(0, |e| e.contributions.len());
        if got.answer != scoring::Prediction::Score(*score)
            || *got.run_id != *summary.run_id
            || explained != top_k
        {
            return Err(format!("{id}: stored {got:?}, expected score {score}"));
        }
    }
    println!(
        "predictions table: {stored} items (Scan count), expected {rows}: {}; \
         spot-checked scores of {} products",
        if stored == rows { "ok" } else { "WRONG" },
        expected.len()
    );
    if stored != rows {
        return Err(format!("{stored} predictions stored for {rows} products"));
    }
    let (wall, ours, theirs) = run;
    println!(
        "bound: over the run moto used {:.0}% of a core, this process {:.0}%",
        100.0 * theirs / wall,
        100.0 * ours / wall
    );
    let (percent, rounds) = outcomes;
    if percent > 0 {
        // CPU seconds of this process and moto together: steadier than the wall clock on a
        // shared machine (the run is moto-bound).
        let cpu = || cpu_seconds("self", tick) + cpu_seconds(&pid, tick);
        join::bench(
            &mut job,
            &clients,
            &items,
            PREDICTIONS_TABLE,
            (percent, rounds),
            &cpu,
        )
        .await?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut rows = 10_000u64;
    let mut segments = 4u32;
    let mut top_k = 0usize;
    let (mut outcomes_percent, mut rounds) = (0u64, 3u32);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .and_then(|v| v.replace('_', "").parse::<u64>().ok());
        match (arg.as_str(), value) {
            ("--rows", Some(v)) if v > 0 => rows = v,
            ("--segments", Some(v)) if v > 0 => segments = v as u32,
            ("--explain-top-k", Some(v)) => top_k = v as usize,
            ("--outcomes-percent", Some(v)) if v <= 100 => outcomes_percent = v,
            ("--rounds", Some(v)) if v > 0 => rounds = v as u32,
            _ => {
                eprintln!(
                    "usage: moto_bench [--rows N] [--segments N] [--explain-top-k K] \
                     [--outcomes-percent P] [--rounds N]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let moto = match Moto::start().await {
            Ok(moto) => moto,
            Err(e) => {
                eprintln!("moto_bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        let result = bench(&moto, rows, segments, top_k, (outcomes_percent, rounds)).await;
        moto.stop().await;
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("moto_bench: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
