//! A slice on a table that turns slow near its deadline answers with its cursor before the
//! guard fires: the page still unwritten is handed back, nothing is lost, and only that
//! page is written again. On tokio's paused clock, so 15 minutes take milliseconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use store::predictions::{Prediction, PredictionSink};
use store::scan::{AttributeScan, Page, ScannedRow};
use store::StoreError;
use testkit::memory::{InMemoryRunLog, InMemoryScan, RecordedStarts};

use crate::budget::{least_margin, CALL};
use crate::guard::{guarded, ANSWER_SLACK};
use crate::pipeline::Settings;
use crate::run::{Plan, SliceState};
use crate::{Answer, BatchEvent, Job};

const ROWS: usize = 1600;
const PAGE: usize = 100;
/// Every Scan page takes this long.
const SCAN_CALL: Duration = Duration::from_secs(20);
/// Every BatchWriteItem takes this long (under the 120 s a call may take).
const WRITE_CALL: Duration = Duration::from_secs(100);

/// The scan, each page [`SCAN_CALL`] late.
struct SlowScan(InMemoryScan);

impl AttributeScan for SlowScan {
    async fn page(
        &self,
        segment: u32,
        segments: u32,
        after: Option<&str>,
    ) -> Result<Page, StoreError> {
        tokio::time::sleep(SCAN_CALL).await;
        self.0.page(segment, segments, after).await
    }
}

/// A table whose writes take [`WRITE_CALL`], and from `throttled_from` on leave all but
/// one item of each call unprocessed (it throttles). Counts the writes of each product.
struct SlowTable {
    throttled_from: Option<tokio::time::Instant>,
    writes: Mutex<HashMap<String, u32>>,
}

impl PredictionSink for SlowTable {
    async fn write(&self, batch: &[Prediction]) -> Result<Vec<Prediction>, StoreError> {
        let throttled = self
            .throttled_from
            .is_some_and(|t| tokio::time::Instant::now() >= t);
        tokio::time::sleep(WRITE_CALL).await;
        let written = if throttled { 1 } else { batch.len() };
        let mut writes = self.writes.lock().unwrap();
        for p in &batch[..written] {
            *writes.entry(p.product_id.clone()).or_default() += 1;
        }
        Ok(batch[written..].to_vec())
    }
}

fn rows() -> Vec<ScannedRow> {
    let wines = testkit::demo_data::repository_wines().unwrap();
    (0..ROWS)
        .map(|i| {
            let mut item = wines[i % wines.len()].clone();
            item.remove("product_id");
            ScannedRow {
                product_id: format!("p-{i:05}"),
                row: aws_adapter::dynamodb::row(item),
            }
        })
        .collect()
}

fn job(sink: SlowTable) -> Job<SlowScan, SlowTable, InMemoryRunLog> {
    let path = testkit::moto::repository_root().join("model/wine_quality.onnx");
    Job {
        model: scoring::Model::load(&std::fs::read(path).unwrap(), "model-v1").unwrap(),
        scan: SlowScan(InMemoryScan::new(rows(), PAGE)),
        sink,
        run_log: InMemoryRunLog::default(),
        segments: 2,
        workers: 1,
        settings: Settings::default(),
        store_retries: Box::new(()),
        accuracy: None,
        challenger: None,
    }
}

/// One invocation as main.rs makes it: reading stops `least_margin` before a 15-minute
/// deadline, under the guard. The answer, and when it came.
async fn invoke(
    job: &Job<SlowScan, SlowTable, InMemoryRunLog>,
    slice: &SliceState,
) -> (Result<Answer, crate::JobError>, Instant, Instant) {
    let start = tokio::time::Instant::now().into_std();
    let deadline = start + Duration::from_secs(900);
    let stop_at = deadline - least_margin(job.settings.resend.max_delay);
    let event: BatchEvent = serde_json::from_value(serde_json::json!({ "slice": slice })).unwrap();
    let answer = guarded(
        job.invoke(
            event,
            Some(stop_at),
            chrono::Utc::now(),
            None::<&RecordedStarts>,
        ),
        deadline,
    )
    .await;
    (answer, tokio::time::Instant::now().into_std(), deadline)
}

fn slice_of(answer: Result<Answer, crate::JobError>) -> SliceState {
    match answer {
        Ok(Answer::Slice { slice }) => slice,
        other => panic!("expected the slice, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_page_at_the_deadline_is_handed_back_before_the_guard_fires() {
    // Pages take 120 s (a 20 s Scan, then 100 s of writes); reading stops at 517 s. The
    // table throttles from 450 s: the page read at 480 s cannot be written in time.
    let throttled_from = tokio::time::Instant::now() + Duration::from_secs(450);
    let slow = job(SlowTable {
        throttled_from: Some(throttled_from),
        writes: Mutex::default(),
    });
    let plan = Plan::new(
        "r".into(),
        "model-v1".into(),
        2,
        1,
        "2026-11-24T02:00:00Z".into(),
    );
    let (answer, answered, deadline) = invoke(&slow, &plan.slices[0]).await;
    let slice = slice_of(answer);
    // Handed back once the page's allowance ran out, with time left for the slice's
    // figures (one call) before the guard.
    assert!(!slice.done);
    assert!(
        answered + CALL + ANSWER_SLACK <= deadline,
        "{:?} left",
        deadline - answered
    );
    // Four whole pages per segment counted; the fifth's rows partly written.
    assert_eq!(
        slice.work.totals.written,
        2 * 4 * PAGE as u64,
        "{:?}",
        slice.work.totals
    );
    let first = slow.sink.writes.lock().unwrap().clone();
    assert!(first.values().all(|&n| n == 1));
    assert!(
        first.len() > 2 * 4 * PAGE,
        "the handed-back page was partly written"
    );

    // The next invocation (a healthy table) goes on from the cursor.
    let fast = job(SlowTable {
        throttled_from: None,
        writes: Mutex::default(),
    });
    let (answer, _, _) = invoke(&fast, &slice).await;
    let slice = slice_of(answer);
    assert!(slice.done, "{slice:?}");
    assert_eq!(slice.work.totals.written, ROWS as u64);
    assert_eq!(slice.work.invocations, 2);
    // Nothing lost, and only the handed-back page (one per segment) written again.
    let second = fast.sink.writes.lock().unwrap().clone();
    let mut all = first.clone();
    for (id, n) in &second {
        *all.entry(id.clone()).or_default() += n;
    }
    assert_eq!(all.len(), ROWS);
    let again = all.values().filter(|&&n| n == 2).count();
    assert!(again > 0 && again <= 2 * PAGE, "{again} rows written twice");
}
