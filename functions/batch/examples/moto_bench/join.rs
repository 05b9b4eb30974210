//! The nightly join's share of a run (`--outcomes-share S`): outcomes on a share `S` of the
//! products (a tenth of them by request id, the others by product, half of those also
//! answered online), captures in a bucket; then the run timed side by side without an
//! outcomes table, with one holding no outcome, and with the outcomes, in alternation.

use std::time::Instant;

use aws_adapter::config::DEFAULT_OUTCOME_RETENTION_DAYS;
use aws_adapter::dynamodb::{DynamoDbOutcomes, DynamoDbPredictions};
use aws_adapter::s3_captures::S3Captures;
use batch::join::{AccuracyJoin, OutcomeJoin};
use batch::{BatchEvent, Job};
use store::capture::CaptureSource;
use store::capture::{CapturedAnswer, CapturedRequest, CapturedRow, Features, CAPTURE_FORMAT};
use store::outcomes::OutcomeSource;
use store::outcomes::{Observed, Outcome, OutcomeSink, Subject, MAX_WRITE};
use store::predictions::{PredictionLookup, PredictionSink};
use store::scan::AttributeScan;
use store::PRODUCT_ID;
use testkit::memory::{InMemoryRunLog, RecordedStarts};
use testkit::moto::repository_root;
use testkit::resources;
use testkit::stack::Clients;
use testkit::Item;

pub const OUTCOMES_TABLE: &str = "outcomes";
pub const EMPTY_OUTCOMES_TABLE: &str = "outcomes-empty";
pub const CAPTURE_BUCKET: &str = "captures";

/// What was seeded: the outcomes and the pairs they make.
pub struct Seeded {
    pub outcomes: u64,
    /// Nightly pairs plus online ones (a product answered online too makes two).
    pub pairs: u64,
}

fn capture(id: String, time: &str, product: Option<String>, score: f64) -> CapturedRequest {
    CapturedRequest {
        capture: CAPTURE_FORMAT,
        request_id: id,
        time: time.into(),
        route: if product.is_some() {
            "GET /predict/{product_id}".into()
        } else {
            "POST /predict".into()
        },
        model: "wine".into(),
        model_version: "bench".into(),
        challenger_version: None,
        product_id: product,
        first_row: 0,
        rows: vec![CapturedRow {
            features: Features::default(),
            answer: CapturedAnswer::Score { score },
            challenger: None,
        }],
    }
}

/// Outcomes on every `1/share`-th product (`ids` as stored), and their captures.
pub async fn seed(clients: &Clients, ids: &[String], share: f64) -> Result<Seeded, String> {
    for table in [OUTCOMES_TABLE, EMPTY_OUTCOMES_TABLE] {
        resources::create_outcomes_table(&clients.dynamodb, table).await?;
    }
    resources::create_bucket(&clients.s3, CAPTURE_BUCKET).await?;
    let now = chrono::Utc::now();
    let received = batch::run::rfc3339(now - chrono::Duration::minutes(5));
    let answered = batch::run::rfc3339(now - chrono::Duration::minutes(10));
    // Observed after every run of the bench, so that each run's stored results (written
    // by the run before) are older than the outcomes and joined.
    let observed_at = batch::run::rfc3339(now + chrono::Duration::days(1));
    let every = (1.0 / share).round().max(1.0) as usize;
    let (mut outcomes, mut captures, mut pairs) = (Vec::new(), Vec::new(), 0);
    for (n, id) in ids.iter().enumerate().step_by(every) {
        let k = n / every;
        let subject = if k.is_multiple_of(10) {
            let request = format!("req-{n}");
            captures.push(capture(request.clone(), &answered, None, 5.5));
            pairs += 1;
            Subject::Request {
                id: request,
                row: 0,
            }
        } else {
            if k.is_multiple_of(2) {
                captures.push(capture(
                    format!("get-{n}"),
                    &answered,
                    Some(id.clone()),
                    5.5,
                ));
                pairs += 1;
            }
            pairs += 1;
            Subject::Product(id.clone())
        };
        outcomes.push(Outcome {
            subject,
            observed: Observed::Number(5.0 + (k % 3) as f64),
            observed_at: observed_at.clone(),
            received_at: received.clone(),
        });
    }
    let sink = DynamoDbOutcomes::new(clients.dynamodb.clone(), OUTCOMES_TABLE, 400);
    for chunk in outcomes.chunks(MAX_WRITE) {
        let left = sink.put(chunk).await.map_err(|e| e.to_string())?;
        if !left.is_empty() {
            return Err(format!("{} outcomes left unwritten", left.len()));
        }
    }
    // Deliveries of 500 captures each, as Firehose's buffered objects.
    for (i, part) in captures.chunks(500).enumerate() {
        let lines: String = part
            .iter()
            .map(|c| serde_json::to_string(c).unwrap() + "\n")
            .collect();
        let key = format!("captures/2026/12/08/01/delivery-{i}");
        resources::put_object(&clients.s3, CAPTURE_BUCKET, &key, lines.into_bytes()).await?;
    }
    Ok(Seeded {
        outcomes: outcomes.len() as u64,
        pairs,
    })
}

/// The join as the function wires it, over `outcomes_table`.
pub fn join(clients: &Clients, outcomes_table: &str, predictions: &str) -> Box<dyn AccuracyJoin> {
    Box::new(OutcomeJoin {
        outcomes: DynamoDbOutcomes::new(
            clients.dynamodb.clone(),
            outcomes_table,
            DEFAULT_OUTCOME_RETENTION_DAYS,
        ),
        captures: Some(S3Captures::new(
            clients.s3.clone(),
            CAPTURE_BUCKET,
            "captures/",
        )),
        predictions: DynamoDbPredictions::new(clients.dynamodb.clone(), predictions),
        lookback_days: 7,
    })
}

fn scheduled_event() -> Result<BatchEvent, String> {
    serde_json::from_str(
        &std::fs::read_to_string(repository_root().join("events/batch-scheduled.json"))
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The run timed without an outcomes table, with an empty one, and with outcomes on
/// `percent`% of the rows, `rounds` times each in rotating order.
pub async fn bench<S: AttributeScan, P: PredictionSink>(
    job: &mut Job<S, P, InMemoryRunLog>,
    clients: &Clients,
    items: &[Item],
    predictions: &str,
    (percent, rounds): (u64, u32),
    cpu: &dyn Fn() -> f64,
) -> Result<(), String> {
    let ids: Vec<String> = items
        .iter()
        .map(|item| item[PRODUCT_ID].as_s().cloned().unwrap_or_default())
        .collect();
    let seeded = seed(clients, &ids, percent as f64 / 100.0).await?;
    let rows = items.len() as u64;
    println!();
    println!(
        "nightly join: {} outcomes ({percent}% of {rows} rows; a tenth by request id), {} pairs \
         (half the products also answered online); {rounds} rounds, rotating order",
        seeded.outcomes, seeded.pairs
    );
    let variants = [
        "no outcomes table (OUTCOMES_TABLE unset)",
        "outcomes table, no outcome arrived",
        "outcomes on the rows, joined",
    ];
    let mut times: [Vec<f64>; 3] = Default::default();
    let mut cpus: [Vec<f64>; 3] = Default::default();
    let mut joins = Vec::new();
    let mut parts: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds as usize {
        for i in 0..3 {
            let v = (round + i) % 3;
            job.accuracy = match v {
                0 => None,
                1 => Some(join(clients, EMPTY_OUTCOMES_TABLE, predictions)),
                _ => Some(join(clients, OUTCOMES_TABLE, predictions)),
            };
            // No earlier run: each run's window reaches back the lookback, over every outcome.
            job.run_log.0.lock().unwrap().clear();
            let (start, cpu_before) = (Instant::now(), cpu());
            let summary = match job
                .invoke(
                    scheduled_event()?,
                    None,
                    chrono::Utc::now(),
                    None::<&RecordedStarts>,
                )
                .await
                .map_err(|e| e.to_string())?
            {
                batch::Answer::Summary(summary) => summary,
                other => return Err(format!("expected a run summary, got {other:?}")),
            };
            times[v].push(start.elapsed().as_secs_f64());
            cpus[v].push(cpu() - cpu_before);
            if summary.rows_written != rows {
                return Err(format!("{variants:?}[{v}]: {summary:?}"));
            }
            let report = summary.accuracy.as_ref().and_then(|a| a.report.as_ref());
            match (v, report) {
                (2, Some(r)) if r.joined == seeded.pairs && r.unmatched == 0 => {}
                (0 | 1, None) if summary.accuracy.is_none() => {}
                _ => return Err(format!("{}: accuracy {:?}", variants[v], summary.accuracy)),
            }
        }
        // The join alone, as the run does it.
        let join = join(clients, OUTCOMES_TABLE, predictions);
        let until = batch::run::rfc3339(chrono::Utc::now());
        let since = join.first_since(chrono::Utc::now());
        let start = Instant::now();
        join.join(&since, &until).await.map_err(|e| e.to_string())?;
        joins.push(start.elapsed().as_secs_f64());
        // Its reads one by one.
        let start = Instant::now();
        let arrived = DynamoDbOutcomes::new(clients.dynamodb.clone(), OUTCOMES_TABLE, 400)
            .arrived(&since, &until)
            .await
            .map_err(|e| e.to_string())?;
        parts[0].push(start.elapsed().as_secs_f64());
        let products: Vec<String> = arrived
            .iter()
            .filter_map(|o| match &o.subject {
                Subject::Product(id) => Some(id.clone()),
                Subject::Request { .. } => None,
            })
            .collect();
        let start = Instant::now();
        DynamoDbPredictions::new(clients.dynamodb.clone(), predictions)
            .stored_many(&products)
            .await
            .map_err(|e| e.to_string())?;
        parts[1].push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        S3Captures::new(clients.s3.clone(), CAPTURE_BUCKET, "captures/")
            .captured_since(&since)
            .await
            .map_err(|e| e.to_string())?;
        parts[2].push(start.elapsed().as_secs_f64());
    }
    let base = median(times[0].clone());
    let cpu_base = median(cpus[0].clone());
    println!();
    println!(
        "| run | median wall s | min s | max s | vs no outcomes table | median CPU s (ours + moto) | vs no outcomes table |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (v, what) in variants.iter().enumerate() {
        let t = &times[v];
        let m = median(t.clone());
        let c = median(cpus[v].clone());
        println!(
            "| {what} | {m:.3} | {:.3} | {:.3} | {:+.1}% | {c:.2} | {:+.1}% |",
            t.iter().copied().fold(f64::INFINITY, f64::min),
            t.iter().copied().fold(0.0, f64::max),
            100.0 * (m / base - 1.0),
            100.0 * (c / cpu_base - 1.0)
        );
    }
    println!(
        "| the join alone (read outcomes, BatchGetItem, captures; tally) | {:.3} | {:.3} | {:.3} | {:.1}% of the run |",
        median(joins.clone()),
        joins.iter().copied().fold(f64::INFINITY, f64::min),
        joins.iter().copied().fold(0.0, f64::max),
        100.0 * median(joins.clone()) / base
    );
    for (what, t) in [
        "outcomes: Query on by_arrival",
        "stored results: BatchGetItem x100, 4 in flight",
        "captures: list and read the objects",
    ]
    .iter()
    .zip(&parts)
    {
        println!(
            "| - {what} | {:.3} | {:.3} | {:.3} | |",
            median(t.clone()),
            t.iter().copied().fold(f64::INFINITY, f64::min),
            t.iter().copied().fold(0.0, f64::max),
        );
    }
    Ok(())
}
