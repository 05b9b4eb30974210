//! Every invocation ends with an answer the runtime can report, before Lambda's deadline
//! ends the sandbox: a panic anywhere in the run becomes `Interrupted::Panicked`, and a run
//! still busy shortly before the deadline (stalled writes, retries that outlast the
//! margin) is stopped with `Interrupted::DeadlineExceeded` (the invocation's `JobError`s of
//! the same names). Either way the invocation fails with a readable error type, Lambda's
//! retry (or a redrive) runs the same event again, and the rows it had not yet written are
//! written then: writes are idempotent puts keyed by product, so nothing is lost and
//! nothing is written twice.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use aws_adapter::lambda::panic_message;
use futures_util::FutureExt;

/// How long before the deadline a stopped run answers: room for the error to reach the
/// runtime and be logged.
pub const ANSWER_SLACK: Duration = Duration::from_secs(3);

/// Why the guard ended the work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupted {
    /// What the panic said.
    Panicked(String),
    DeadlineExceeded,
}

/// Runs `work` until it answers, panics, or `deadline` less [`ANSWER_SLACK`] passes.
pub async fn guarded<T, E: From<Interrupted>>(
    work: impl Future<Output = Result<T, E>>,
    deadline: Instant,
) -> Result<T, E> {
    let stop = deadline.checked_sub(ANSWER_SLACK).unwrap_or(deadline);
    match tokio::time::timeout_at(stop.into(), AssertUnwindSafe(work).catch_unwind()).await {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(Interrupted::Panicked(panic_message(&*panic).to_owned()).into()),
        Err(_) => Err(Interrupted::DeadlineExceeded.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_answer_passes_through() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let result = guarded(async { Ok::<_, Interrupted>(7u64) }, deadline).await;
        assert_eq!(result.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_panic_is_an_error_with_its_message() {
        let deadline = Instant::now() + Duration::from_secs(60);
        let index = std::hint::black_box(7usize);
        let result = guarded(
            async move {
                let rows: Vec<u32> = Vec::new();
                Ok::<_, Interrupted>(rows[index] as u64)
            },
            deadline,
        )
        .await;
        match result.unwrap_err() {
            Interrupted::Panicked(message) => {
                assert!(message.contains("index out of bounds"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_run_still_busy_near_the_deadline_stops_before_it() {
        let started = Instant::now();
        let deadline = started + ANSWER_SLACK + Duration::from_millis(300);
        let result: Result<u64, Interrupted> = guarded(std::future::pending(), deadline).await;
        assert_eq!(result.unwrap_err(), Interrupted::DeadlineExceeded);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(Instant::now() < deadline, "answered before the deadline");
    }
}
