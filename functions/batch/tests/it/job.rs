//! The batch job over in-memory stores: every row once, rejects reported, unprocessed
//! items resent without loss, store failures reported by type, a run fanned out into
//! slices (each cut into several invocations) equal to a one-shot run, the planner's
//! start, the finish step's checks, reruns idempotent.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use batch::pipeline::RunError;
use batch::JobError;
use lambda_runtime::Diagnostic;
use store::{RetryCount, StoreError};
use testkit::batch_support::*;
use testkit::memory::RecordedStarts;
use testkit::memory::{Fault, InMemoryPredictions};

#[tokio::test]
async fn every_row_is_scored_and_written_once() {
    let items = products(3000);
    let job = job(items.clone(), 100, InMemoryPredictions::default());
    let (summary, invocations) = run_to_completion(&job, false).await;
    assert_eq!(invocations, 2, "one invocation per slice, with no deadline");
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_scored,
            summary.rows_written
        ),
        (3000, 3000, 3000)
    );
    assert_eq!((summary.rows_rejected, summary.retries), (0, 0));
    assert_eq!(summary.run_id, RUN_ID);
    assert_eq!(summary.model_version, "model-v1");
    assert_every_row_once(&job.sink.snapshot(), &items);
    // The summary is stored once the run completes.
    let log = job.run_log.0.lock().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].0, RUN_ID);
    assert!(log[0].1.contains("\"rows_written\":3000"));
}

#[tokio::test]
async fn invalid_rows_are_counted_and_reported_not_written() {
    let mut items = products(500);
    items[3].remove("alcohol");
    items[10].insert("ph".into(), AttributeValue::S("acidic".into()));
    items[20].insert("density".into(), AttributeValue::N("NaN".into()));
    let job = job(items.clone(), 50, InMemoryPredictions::default());
    let (summary, _) = run_to_completion(&job, false).await;
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_scored,
            summary.rows_rejected
        ),
        (500, 497, 3)
    );
    let mut rejected: Vec<(String, String)> = summary
        .rejected
        .iter()
        .map(|r| (r.product_id.clone(), r.reason.clone()))
        .collect();
    rejected.sort();
    assert_eq!(
        rejected,
        vec![
            (
                "p-00003".to_owned(),
                "feature `alcohol` is missing".to_owned()
            ),
            (
                "p-00010".to_owned(),
                "feature `ph` is not a number (found a string)".to_owned()
            ),
            (
                "p-00020".to_owned(),
                "feature `density` is not a finite number (NaN)".to_owned()
            ),
        ]
    );
    let written = job.sink.snapshot();
    assert!(!written.contains_key("p-00003") && !written.contains_key("p-00010"));
    assert_every_row_once(&written, &items);
}

#[tokio::test]
async fn unprocessed_items_are_resent_until_written_and_counted() {
    let sink = InMemoryPredictions::with_faults([
        Fault::Unprocessed(25),
        Fault::Unprocessed(10),
        Fault::Unprocessed(3),
        Fault::Unprocessed(1),
    ]);
    let items = products(1000);
    let job = job(items.clone(), 100, sink);
    let (summary, _) = run_to_completion(&job, false).await;
    assert_eq!(summary.rows_written, 1000);
    assert_eq!(summary.retries, 4);
    assert_every_row_once(&job.sink.snapshot(), &items);
}

/// Retries the stores make beneath their calls (the SDK's), as their counter reports them.
struct RisingRetries(AtomicU64);

impl RetryCount for RisingRetries {
    fn retries(&self) -> u64 {
        // 0 before the run, 7 after it.
        self.0.fetch_add(7, Ordering::Relaxed)
    }
}

#[tokio::test]
async fn the_stores_own_retries_are_counted_in_the_summary() {
    let sink = InMemoryPredictions::with_faults([Fault::Unprocessed(2)]);
    let mut job = job(products(300), 100, sink);
    job.store_retries = Box::new(RisingRetries(AtomicU64::new(0)));
    let summary = invoke_scheduled(&job).await.unwrap();
    assert_eq!(summary.retries, 7 + 1);
}

#[tokio::test]
async fn a_scan_failure_fails_the_run_as_scan_failed() {
    let job = job(products(800), 100, InMemoryPredictions::default());
    job.scan.faults.lock().unwrap().extend([
        None,
        Some(StoreError::unavailable("Scan failed: ThrottlingException")),
    ]);
    let err = invoke_scheduled(&job).await.unwrap_err();
    assert!(
        matches!(err, JobError::Run(RunError::ScanFailed(_))),
        "{err}"
    );
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "ScanFailed");
    assert!(diagnostic.error_message.contains("ThrottlingException"));
    assert!(
        job.run_log.0.lock().unwrap().is_empty(),
        "no summary for a failed run"
    );
}

#[tokio::test]
async fn a_write_left_unprocessed_too_often_fails_as_writes_exhausted() {
    let faults = std::iter::repeat_n(Fault::Unprocessed(5), 100);
    let job = job(products(100), 100, InMemoryPredictions::with_faults(faults));
    let err = invoke_scheduled(&job).await.unwrap_err();
    assert!(err.to_string().contains("after 6 writes"), "{err}");
    assert_eq!(Diagnostic::from(err).error_type, "WritesExhausted");
    assert!(
        job.run_log.0.lock().unwrap().is_empty(),
        "no summary for a failed run"
    );
}

/// Under a deadline, a table that keeps leaving items unprocessed past the resend policy
/// slows the slice instead of failing the run: the page goes back unfinished (its figures
/// not counted) and the next invocation reads it again; in the end every row is written
/// and counted once.
#[tokio::test]
async fn under_a_deadline_a_throttled_page_is_handed_back_not_failed() {
    let items = products(400);
    let faults = std::iter::repeat_n(Fault::Unprocessed(5), 60);
    let mut job = job(items.clone(), 100, InMemoryPredictions::with_faults(faults));
    // One segment, one write at a time: the faults meet the same chunk in a row.
    job.segments = 1;
    job.settings.writes_in_flight = 1;
    // Every invocation's deadline is already past: after its attempts, a chunk gives up.
    let (summary, invocations) = run_to_completion(&job, true).await;
    // 60 faults, 6 writes a chunk per invocation: 10 invocations hand their page back.
    assert!(
        invocations >= 11,
        "pages were handed back: {invocations} invocations"
    );
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_scored,
            summary.rows_written
        ),
        (400, 400, 400),
        "a page handed back is counted once, when it is written"
    );
    // The resends of every invocation are counted, those that handed their page back too.
    assert!(summary.retries >= 50, "{}", summary.retries);
    assert_every_row_once(&job.sink.snapshot(), &items);
}

#[tokio::test]
async fn a_failed_write_is_not_retried_by_the_job() {
    let sink = InMemoryPredictions::with_faults([Fault::Fail(StoreError::refused(
        "ValidationException: bad item",
    ))]);
    let mut job = job(products(20), 100, sink);
    job.segments = 1; // one write request in all, so a retry would show as a second call
    let err = invoke_scheduled(&job).await.unwrap_err();
    assert!(err.to_string().contains("ValidationException"), "{err}");
    // Refused, so told apart from a write still failing after retries: the state
    // machine retries the one and not the other.
    assert_eq!(Diagnostic::from(err).error_type, "WriteRefused");
    assert!(!batch::job::RETRYABLE_ERROR_TYPES.contains(&"WriteRefused"));
    assert_eq!(*job.sink.calls.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_refused_scan_is_told_apart_from_an_unavailable_one() {
    let job = job(products(800), 100, InMemoryPredictions::default());
    job.scan
        .faults
        .lock()
        .unwrap()
        .push_back(Some(StoreError::refused(
            "Scan failed: ResourceNotFoundException",
        )));
    let err = invoke_scheduled(&job).await.unwrap_err();
    assert_eq!(Diagnostic::from(err).error_type, "ScanRefused");
    assert!(batch::job::RETRYABLE_ERROR_TYPES.contains(&"ScanFailed"));
    assert!(!batch::job::RETRYABLE_ERROR_TYPES.contains(&"ScanRefused"));
}

#[tokio::test]
async fn slices_cut_into_invocations_end_like_a_one_shot_run() {
    let items = products(2000);
    let one_shot = job(items.clone(), 60, InMemoryPredictions::default());
    let whole = invoke_scheduled(&one_shot).await.unwrap();
    assert_eq!(whole.invocations, 1);

    let sliced = job(items.clone(), 60, InMemoryPredictions::default());
    let (summary, invocations) = run_to_completion(&sliced, true).await;
    assert!(
        invocations >= 5,
        "the short deadline should cut each slice into several invocations, got {invocations}"
    );
    assert_eq!(summary.invocations as usize, invocations);
    assert_eq!(summary.status, "complete");
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_scored,
            summary.rows_written,
            summary.rows_rejected,
        ),
        (
            whole.rows_scanned,
            whole.rows_scored,
            whole.rows_written,
            whole.rows_rejected
        )
    );
    assert_eq!(
        summary.drift, whole.drift,
        "drift tallies add up across slices"
    );
    let (a, b) = (one_shot.sink.snapshot(), sliced.sink.snapshot());
    assert_eq!(a.len(), b.len());
    for (id, p) in &a {
        assert_eq!(
            (&p.answer, &p.run_id, &p.model_version),
            (&b[id].answer, &b[id].run_id, &b[id].model_version),
            "{id}"
        );
    }
    // The finish step stored the summary as the latest run.
    let stored = sliced.run_log.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(stored.0, RUN_ID);
    let stored: batch::Summary = serde_json::from_str(&stored.1).unwrap();
    assert_eq!(stored.rows_written, whole.rows_written);
}

#[tokio::test]
async fn a_table_too_large_for_one_invocation_says_so_and_keeps_what_it_wrote() {
    let items = products(600);
    let job = job(items.clone(), 50, InMemoryPredictions::default());
    let err = job
        .invoke(
            scheduled_event(),
            Some(std::time::Instant::now()),
            chrono::Utc::now(),
            None::<&RecordedStarts>,
        )
        .await
        .unwrap_err();
    assert_eq!(Diagnostic::from(err).error_type, "TooLargeForOneInvocation");
    // One page per segment was read, scored and written before it stopped.
    let written = job.sink.snapshot();
    assert_eq!(written.len(), 4 * 50);
    let expected = expected_scores(&items);
    for (id, p) in &written {
        assert_eq!(p.answer, scoring::Prediction::Score(expected[id]), "{id}");
    }
    assert!(
        job.run_log.0.lock().unwrap().is_empty(),
        "no summary: the run is not complete"
    );
}

#[tokio::test]
async fn the_planner_starts_the_night_once_with_the_model_version_and_every_segment() {
    let mut job = job(products(10), 100, InMemoryPredictions::default());
    job.segments = 8;
    job.workers = 3;
    let starts = RecordedStarts::default();
    for repeat in [false, true] {
        let answer = job
            .invoke(scheduled_event(), None, chrono::Utc::now(), Some(&starts))
            .await
            .unwrap();
        let batch::Answer::Started(started) = answer else {
            panic!("the planner answers with the run it started: {answer:?}");
        };
        assert_eq!(started.already_started, repeat);
        assert_eq!((started.run_id.as_str(), started.slices), (RUN_ID, 3));
        assert_eq!(started.execution, "local:nightly-2026-11-24T02-00-00Z");
    }
    let inputs = starts.inputs();
    assert_eq!(inputs.len(), 1, "a repeated delivery starts nothing");
    let plan: batch::run::Plan = serde_json::from_str(&inputs[0]).unwrap();
    assert_eq!(
        (
            plan.model_version.as_str(),
            plan.total_segments,
            plan.workers
        ),
        ("model-v1", 8, 3)
    );
    assert!(job.sink.snapshot().is_empty(), "planning scores nothing");
}

#[tokio::test]
async fn finish_refuses_a_run_whose_slices_have_not_all_completed() {
    let job = job(products(300), 100, InMemoryPredictions::default());
    let plan = plan_of(&job).await;
    score_slice_to_end(&job, plan.slices[0].clone(), false).await;
    let err = invoke_json(&job, serde_json::json!({ "finish": plan }), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, JobError::SliceMissing { slice: 1, .. }),
        "{err}"
    );
    assert!(
        job.run_log.0.lock().unwrap().is_empty(),
        "the run is not marked complete"
    );
}

#[tokio::test]
async fn a_rerun_of_a_plan_skips_the_slices_that_completed() {
    let job = job(products(400), 100, InMemoryPredictions::default());
    let plan = plan_of(&job).await;
    assert_eq!(
        score_slice_to_end(&job, plan.slices[0].clone(), false).await,
        1
    );
    let written = job.sink.snapshot().len();
    let calls = *job.sink.calls.lock().unwrap();
    // The night failed in slice 1; the plan runs again from the start.
    let answer = invoke_json(&job, serde_json::json!({ "slice": plan.slices[0] }), false)
        .await
        .unwrap();
    let batch::Answer::Slice { slice } = answer else {
        panic!("a slice: {answer:?}");
    };
    assert!(slice.done);
    assert_eq!(
        slice.work.totals.written as usize, written,
        "its figures as kept"
    );
    assert_eq!(
        *job.sink.calls.lock().unwrap(),
        calls,
        "nothing written again"
    );
    score_slice_to_end(&job, plan.slices[1].clone(), false).await;
    let summary = summary_of(
        invoke_json(&job, serde_json::json!({ "finish": plan }), false)
            .await
            .unwrap(),
    );
    assert_eq!(summary.rows_written, 400);
    assert_eq!(
        summary.invocations, 2,
        "the skipped slice's one invocation, and slice 1's"
    );
}

#[tokio::test]
async fn a_done_slice_is_answered_as_it_is() {
    let job = job(products(300), 100, InMemoryPredictions::default());
    let plan = plan_of(&job).await;
    let mut slice = plan.slices[0].clone();
    slice.done = true;
    let answer = invoke_json(&job, serde_json::json!({ "slice": slice }), false)
        .await
        .unwrap();
    assert!(matches!(answer, batch::Answer::Slice { slice: ref s } if *s == slice));
    assert!(job.sink.snapshot().is_empty());
}

#[tokio::test]
async fn a_rerun_of_the_same_event_writes_the_same_items() {
    let items = products(700);
    let job = job(items.clone(), 100, InMemoryPredictions::default());
    run_to_completion(&job, false).await;
    let first = job.sink.snapshot();
    run_to_completion(&job, false).await;
    let second = job.sink.snapshot();
    assert_eq!(first.len(), second.len());
    for (id, p) in &first {
        assert_eq!(
            (&p.answer, &p.run_id),
            (&second[id].answer, &second[id].run_id)
        );
    }
}

#[tokio::test]
async fn a_slice_or_finish_refuses_a_changed_model() {
    let job = job(products(300), 10, InMemoryPredictions::default());
    let mut plan = plan_of(&job).await;
    // The model was replaced between planning and scoring.
    plan.model_version = "model-v0".into();
    let mut slice = plan.slices[0].clone();
    slice.work.model_version = "model-v0".into();
    for event in [
        serde_json::json!({ "slice": slice }),
        serde_json::json!({ "finish": plan }),
    ] {
        let err = invoke_json(&job, event, false).await.unwrap_err();
        assert!(matches!(err, JobError::ModelChanged { .. }), "{err}");
        assert_eq!(Diagnostic::from(err).error_type, "ModelChanged");
    }
    assert!(
        job.sink.snapshot().is_empty(),
        "nothing scored with the wrong model"
    );
}

/// A row whose category the model refuses (`handle_unknown="error"`) is rejected with its
/// reason; the rows scored with it in the same model call are still written.
#[tokio::test]
async fn a_refused_category_rejects_only_its_row() {
    let known = testkit::models::strict_categorical_row();
    let item = |id: &str, color: &str| -> testkit::Item {
        let mut item: testkit::Item = known
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::String(s) => AttributeValue::S(s.clone()),
                    other => AttributeValue::N(other.to_string()),
                };
                (k.clone(), value)
            })
            .collect();
        item.insert("color".into(), AttributeValue::S(color.into()));
        item.insert("product_id".into(), AttributeValue::S(id.into()));
        item
    };
    let color = known["color"].as_str().unwrap();
    let items: Vec<testkit::Item> = (0..20)
        .map(|i| match i {
            7 => item("p-07", "never-seen"),
            i => item(&format!("p-{i:02}"), color),
        })
        .collect();
    let mut job = job(items, 100, InMemoryPredictions::default());
    job.model =
        scoring::Model::load(&testkit::models::strict_categorical_model(), "model-v1").unwrap();
    let (summary, _) = run_to_completion(&job, false).await;
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_written,
            summary.rows_rejected
        ),
        (20, 19, 1)
    );
    assert_eq!(summary.rejected[0].product_id, "p-07");
    assert!(
        summary.rejected[0].reason.contains("handle_unknown"),
        "{:?}",
        summary.rejected
    );
    let written = job.sink.snapshot();
    assert!(!written.contains_key("p-07") && written.len() == 19);
}

/// The sample events in `events/` are the function's events: the schedule's, a slice's and
/// the finish step's, and a slice's sample is the plan's first slice.
#[test]
fn the_sample_events_are_the_functions_events() {
    let read = |name: &str| -> serde_json::Value {
        let path = testkit::moto::repository_root().join("events").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let scheduled: batch::BatchEvent =
        serde_json::from_value(read("batch-scheduled.json")).unwrap();
    assert!(matches!(scheduled, batch::BatchEvent::Scheduled(_)));
    let slice = read("batch-slice.json");
    let finish = read("batch-finish.json");
    assert!(matches!(
        serde_json::from_value(slice.clone()).unwrap(),
        batch::BatchEvent::Slice { .. }
    ));
    let batch::BatchEvent::Finish { finish: plan } = serde_json::from_value(finish).unwrap() else {
        panic!("batch-finish.json is not a finish event");
    };
    let first: batch::run::SliceState = serde_json::from_value(slice["slice"].clone()).unwrap();
    assert_eq!(first, plan.slices[0]);
}
