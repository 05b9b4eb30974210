//! Why an invocation, or the pipeline under it, fails. A leaf: the handlers import it, it
//! imports none of them.

use lambda_runtime::Diagnostic;
use scoring::ScoreError;
use store::StoreError;

use crate::guard::{Interrupted, ANSWER_SLACK};

/// Why the pipeline stopped short of its pages.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RunError {
    #[error("scanning the attribute table failed: {0}")]
    ScanFailed(StoreError),
    #[error("writing predictions failed: {0}")]
    WriteFailed(StoreError),
    #[error("{pending} predictions still unwritten after {attempts} writes: the table kept leaving them unprocessed")]
    WritesExhausted { pending: usize, attempts: u32 },
    #[error("scoring failed: {0}")]
    ScoringFailed(ScoreError),
}

/// Why an invocation failed. Its variant's name is the `errorType` Lambda reports (and
/// the failure queue keeps), so an operator can tell the cases apart without reading code.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the scheduled event has no time, so the run cannot be named")]
    NoScheduleTime,
    #[error("the model changed during run {run_id}: it started with version {started}, now {now}; the next run will use the new model")]
    ModelChanged {
        run_id: String,
        started: String,
        now: String,
    },
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("run {run_id} did not finish in one invocation ({scanned} rows scanned, every one written); a table this large needs the state machine (STATE_MACHINE_ARN), which runs the scan in slices across invocations")]
    TooLargeForOneInvocation { run_id: String, scanned: u64 },
    #[error("starting the run's state machine execution failed: {0}")]
    StartFailed(StoreError),
    #[error("slice {slice} of run {run_id} left no figures: it has not completed, so the run cannot be summed")]
    SliceMissing { run_id: String, slice: u32 },
    #[error("reading the figures of slice {slice} of run {run_id} failed: {error}")]
    SliceUnreadable {
        run_id: String,
        slice: u32,
        error: StoreError,
    },
    #[error("storing the run summary failed: {0}")]
    RunLogFailed(StoreError),
    #[error("the invocation panicked: {0}; its event can be run again (writes are idempotent)")]
    Panicked(String),
    #[error("the run was still working {ANSWER_SLACK:?} before the invocation's deadline (slow or stalled calls); it was stopped so that this error is reported, and its event can be run again (writes are idempotent)")]
    DeadlineExceeded,
}

impl From<Interrupted> for JobError {
    fn from(stopped: Interrupted) -> JobError {
        match stopped {
            Interrupted::Panicked(message) => JobError::Panicked(message),
            Interrupted::DeadlineExceeded => JobError::DeadlineExceeded,
        }
    }
}

fn refused(e: &StoreError) -> bool {
    e.kind != store::ErrorKind::Unavailable
}

/// The `errorType`s of failures that invoking again with the same event may cure: a store
/// still unavailable or throttling after the SDK's retries, a stalled or panicking
/// invocation (not `ScanRefused` or `WriteRefused`: a refusal would come again). A slice then
/// restarts from its cursor and its writes are idempotent. (The state machine's Retry
/// names these; template tests hold the two together.)
pub const RETRYABLE_ERROR_TYPES: &[&str] = &[
    "ScanFailed",
    "WriteFailed",
    "WritesExhausted",
    "RunLogFailed",
    "DeadlineExceeded",
    "Panicked",
];

impl JobError {
    pub fn error_type(&self) -> &'static str {
        match self {
            JobError::NoScheduleTime => "NoScheduleTime",
            JobError::ModelChanged { .. } => "ModelChanged",
            // A store that refused (a missing table, denied access) will refuse again: told
            // apart, so that only what may pass is retried.
            JobError::Run(RunError::ScanFailed(e)) if refused(e) => "ScanRefused",
            JobError::Run(RunError::ScanFailed(_)) => "ScanFailed",
            JobError::Run(RunError::WriteFailed(e)) if refused(e) => "WriteRefused",
            JobError::Run(RunError::WriteFailed(_)) => "WriteFailed",
            JobError::Run(RunError::WritesExhausted { .. }) => "WritesExhausted",
            JobError::Run(RunError::ScoringFailed(_)) => "ScoringFailed",
            JobError::TooLargeForOneInvocation { .. } => "TooLargeForOneInvocation",
            JobError::StartFailed(_) => "StartFailed",
            JobError::SliceMissing { .. } => "SliceMissing",
            JobError::SliceUnreadable { .. } => "SliceUnreadable",
            JobError::RunLogFailed(_) => "RunLogFailed",
            JobError::Panicked(_) => "Panicked",
            JobError::DeadlineExceeded => "DeadlineExceeded",
        }
    }
}

impl From<JobError> for Diagnostic {
    fn from(e: JobError) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_guard_stopped_keeps_its_error_type() {
        let panicked = JobError::from(Interrupted::Panicked("index out of bounds".into()));
        assert_eq!(panicked.error_type(), "Panicked");
        assert!(
            panicked.to_string().contains("index out of bounds"),
            "{panicked}"
        );
        let late = JobError::from(Interrupted::DeadlineExceeded);
        assert_eq!(late.error_type(), "DeadlineExceeded");
        assert!(late.to_string().contains("3s before"), "{late}");
        for retried in ["Panicked", "DeadlineExceeded"] {
            assert!(RETRYABLE_ERROR_TYPES.contains(&retried));
        }
    }
}
