//! The batch job over in-memory stores: every row once, rejects reported, faults retried
//! without loss, continuations equal to a one-shot run, reruns idempotent.

mod support;

use batch::continuation::RecordedContinuations;
use batch::JobError;
use aws_adapter::aws_sdk_dynamodb::types::AttributeValue;
use aws_adapter::predictions::{Fault, InMemoryPredictions};
use aws_adapter::retry::Failure;
use support::*;

#[tokio::test]
async fn every_row_is_scored_and_written_once() {
    let items = products(3000);
    let job = job(items.clone(), 100, InMemoryPredictions::default());
    let (summary, invocations) = run_to_completion(&job, false).await;
    assert_eq!(invocations, 1);
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
    items[3].0.remove("alcohol");
    items[10]
        .0
        .insert("ph".into(), AttributeValue::S("acidic".into()));
    items[20]
        .0
        .insert("density".into(), AttributeValue::N("NaN".into()));
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
                "feature `ph` is not a number (found a string (S))".to_owned()
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
async fn unprocessed_items_and_throttling_are_retried_until_written() {
    let throttled = Failure::retryable("ProvisionedThroughputExceededException");
    let sink = InMemoryPredictions::with_faults([
        Fault::Unprocessed(25),
        Fault::Unprocessed(10),
        Fault::Unprocessed(3),
        Fault::Fail(throttled.clone()),
        Fault::Fail(throttled),
        Fault::Unprocessed(1),
    ]);
    let items = products(1000);
    let job = job(items.clone(), 100, sink);
    let (summary, _) = run_to_completion(&job, false).await;
    assert_eq!(summary.rows_written, 1000);
    assert_eq!(summary.retries, 6);
    assert_every_row_once(&job.sink.snapshot(), &items);
}

#[tokio::test]
async fn scan_page_errors_are_retried_without_losing_rows() {
    let items = products(800);
    let job = job(items.clone(), 100, InMemoryPredictions::default());
    job.scan.faults.lock().unwrap().extend([
        Some(Failure::retryable("ThrottlingException")),
        None,
        Some(Failure::retryable("InternalServerError")),
    ]);
    let (summary, _) = run_to_completion(&job, false).await;
    assert_eq!(
        (summary.rows_scanned, summary.rows_written, summary.retries),
        (800, 800, 2)
    );
    assert_every_row_once(&job.sink.snapshot(), &items);
}

#[tokio::test]
async fn a_write_that_keeps_failing_fails_the_run_loudly() {
    let faults = std::iter::repeat_n(Fault::Unprocessed(5), 100);
    let job = job(products(100), 100, InMemoryPredictions::with_faults(faults));
    let err = invoke_scheduled(&job).await.unwrap_err();
    assert!(
        err.to_string().contains("still failing after 6 attempts"),
        "{err}"
    );
    assert!(
        job.run_log.0.lock().unwrap().is_empty(),
        "no summary for a failed run"
    );
}

#[tokio::test]
async fn a_fatal_error_is_not_retried() {
    let sink = InMemoryPredictions::with_faults([Fault::Fail(Failure::fatal(
        "ValidationException: bad item",
    ))]);
    let mut job = job(products(20), 100, sink);
    job.segments = 1; // one write request in all, so a retry would show as a second call
    let err = invoke_scheduled(&job).await.unwrap_err();
    assert!(
        matches!(err, JobError::Run(_)) && err.to_string().contains("ValidationException"),
        "{err}"
    );
    assert_eq!(*job.sink.calls.lock().unwrap(), 1);
}

#[tokio::test]
async fn continuations_end_like_a_one_shot_run() {
    let items = products(2000);
    let one_shot = job(items.clone(), 60, InMemoryPredictions::default());
    let (whole, _) = run_to_completion(&one_shot, false).await;

    let resumed = job(items.clone(), 60, InMemoryPredictions::default());
    let (summary, invocations) = run_to_completion(&resumed, true).await;
    assert!(
        invocations >= 5,
        "the short deadline should force several continuations, got {invocations}"
    );
    assert_eq!(summary.invocations as usize, invocations);
    assert_eq!(
        (
            summary.rows_scanned,
            summary.rows_scored,
            summary.rows_written
        ),
        (whole.rows_scanned, whole.rows_scored, whole.rows_written)
    );
    let (a, b) = (one_shot.sink.snapshot(), resumed.sink.snapshot());
    assert_eq!(a.len(), b.len());
    for (id, p) in &a {
        assert_eq!(
            (p.score, &p.run_id, &p.model_version),
            (b[id].score, &b[id].run_id, &b[id].model_version),
            "{id}"
        );
    }
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
        assert_eq!((p.score, &p.run_id), (second[id].score, &second[id].run_id));
    }
}

#[tokio::test]
async fn a_continuation_refuses_a_changed_model() {
    let job = job(products(300), 10, InMemoryPredictions::default());
    let continuations = RecordedContinuations::default();
    let stop = Some(std::time::Instant::now());
    job.invoke(scheduled_event(), stop, chrono::Utc::now(), &continuations)
        .await
        .unwrap();
    let mut next = continuations.0.lock().unwrap().pop().unwrap();
    next.continuation.model_version = "model-v0".into();
    let err = job
        .invoke(
            batch::BatchEvent::Continuation(next),
            None,
            chrono::Utc::now(),
            &continuations,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::ModelChanged { .. }), "{err}");
}
