//! Every invocation ends with an answer the runtime can report, before Lambda's deadline
//! ends the sandbox: a panic anywhere in the run becomes `JobError::Panicked`, and a run
//! still busy shortly before the deadline (stalled writes, retries that outlast the
//! margin) is stopped with `JobError::DeadlineExceeded`. Either way the invocation fails
//! with a readable error type, Lambda's retry (or a redrive) runs the same event again,
//! and the rows it had not yet written are written then: writes are idempotent puts
//! keyed by product, so nothing is lost and nothing is written twice.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::job::JobError;

/// How long before the deadline a stopped run answers: room for the error to reach the
/// runtime and be logged.
pub const ANSWER_SLACK: Duration = Duration::from_secs(3);

/// Runs `work` until it answers, panics, or `deadline` less [`ANSWER_SLACK`] passes.
pub async fn guarded<T>(
    work: impl Future<Output = Result<T, JobError>>,
    deadline: Instant,
) -> Result<T, JobError> {
    let stop = deadline.checked_sub(ANSWER_SLACK).unwrap_or(deadline);
    match tokio::time::timeout_at(stop.into(), AssertUnwindSafe(work).catch_unwind()).await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(JobError::Panicked(
            panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned()),
        )),
        Err(_) => Err(JobError::DeadlineExceeded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Summary;

    fn summary() -> Summary {
        Summary {
            run_id: "r".into(),
            status: "complete".into(),
            model_version: "v".into(),
            rows_scanned: 0,
            rows_scored: 0,
            rows_written: 0,
            rows_rejected: 0,
            retries: 0,
            duration_ms: 0,
            invocations: 1,
            rejected: vec![],
            drift: None,
        }
    }

    #[tokio::test]
    async fn an_answer_passes_through() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let result = guarded(async { Ok(summary()) }, deadline).await;
        assert_eq!(result.unwrap(), summary());
    }

    #[tokio::test]
    async fn a_panic_is_an_error_with_a_readable_type_and_message() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let index = std::hint::black_box(7usize);
        let result = guarded(
            async move {
                let rows: Vec<u32> = Vec::new();
                Ok(Summary {
                    rows_scanned: rows[index] as u64,
                    ..summary()
                })
            },
            deadline,
        )
        .await;
        let e = result.unwrap_err();
        assert_eq!(e.error_type(), "Panicked");
        assert!(e.to_string().contains("index out of bounds"), "{e}");
    }

    #[tokio::test]
    async fn a_run_still_busy_near_the_deadline_stops_before_it() {
        let started = Instant::now();
        let deadline = started + ANSWER_SLACK + Duration::from_millis(300);
        let result: Result<Summary, _> = guarded(std::future::pending(), deadline).await;
        assert_eq!(result.unwrap_err().error_type(), "DeadlineExceeded");
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(Instant::now() < deadline, "answered before the deadline");
    }
}
