//! One invocation of the batch function: start a run from the schedule, or continue one;
//! score until done or near the deadline; then record the summary or hand the rest over to
//! a new invocation.

use std::time::Instant;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::Diagnostic;
use scoring::{DriftReport, Model, Watch};
use serde::{Deserialize, Serialize};
use store::predictions::PredictionSink;
use store::run_log::RunLog;
use store::scan::AttributeScan;
use store::{RetryCount, StoreError};

use crate::continuation::{ContinuationEvent, Continue};
use crate::pipeline::{Pipeline, RunError, Settings};
use crate::run::{rfc3339, run_id_for, Rejection, RunState};

/// What the function is invoked with.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BatchEvent {
    Continuation(ContinuationEvent),
    Scheduled(EventBridgeEvent),
}

/// The run summary: returned by the handler, logged as one JSON line, and stored with the
/// run log when the run completes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub run_id: String,
    /// `complete`, or `continuing` when a new invocation takes over.
    pub status: String,
    pub model_version: String,
    pub rows_scanned: u64,
    pub rows_scored: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    /// Every retry made reading and writing the rows: the SDK's own (throttling, server
    /// errors, timeouts, dropped connections) and resends of unprocessed items.
    pub retries: u64,
    pub duration_ms: u64,
    pub invocations: u32,
    /// The first 100 rejected rows and why.
    pub rejected: Vec<Rejection>,
    /// The scanned features and the scores (or labels) against the model card: PSI per
    /// variable; absent when the model has no card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftReport>,
}

impl Summary {
    fn of(state: &RunState, status: &str, watch: Option<&Watch>) -> Summary {
        let t = &state.totals;
        Summary {
            run_id: state.run_id.clone(),
            status: status.to_owned(),
            model_version: state.model_version.clone(),
            rows_scanned: t.scanned,
            rows_scored: t.scored,
            rows_written: t.written,
            rows_rejected: t.rejected,
            retries: t.retries,
            duration_ms: state.elapsed_ms,
            invocations: state.invocations,
            rejected: t.rejections.clone(),
            drift: watch.map(|w| t.drift.report(w)),
        }
    }
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
    #[error("handing the run over to a new invocation failed: {0}")]
    HandoverFailed(StoreError),
    #[error("storing the run summary failed: {0}")]
    RunLogFailed(StoreError),
    #[error("the invocation panicked: {0}; its event can be run again (writes are idempotent)")]
    Panicked(String),
    #[error("the run was still working {slack:?} before the invocation's deadline (slow or stalled calls); it was stopped so that this error is reported, and its event can be run again (writes are idempotent)", slack = crate::guard::ANSWER_SLACK)]
    DeadlineExceeded,
}

impl JobError {
    pub fn error_type(&self) -> &'static str {
        match self {
            JobError::NoScheduleTime => "NoScheduleTime",
            JobError::ModelChanged { .. } => "ModelChanged",
            JobError::Run(RunError::ScanFailed(_)) => "ScanFailed",
            JobError::Run(RunError::WriteFailed(_)) => "WriteFailed",
            JobError::Run(RunError::WritesExhausted { .. }) => "WritesExhausted",
            JobError::Run(RunError::ScoringFailed(_)) => "ScoringFailed",
            JobError::HandoverFailed(_) => "HandoverFailed",
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

/// Everything an invocation works with, loaded once per sandbox.
pub struct Job<S, P, L> {
    pub model: Model,
    pub scan: S,
    pub sink: P,
    pub run_log: L,
    pub segments: u32,
    pub settings: Settings,
    /// The stores' own retries beneath their calls, counted into the run's `retries`.
    pub store_retries: Box<dyn RetryCount>,
}

impl<S: AttributeScan, P: PredictionSink, L: RunLog> Job<S, P, L> {
    /// `stop_at`: when to stop reading (the deadline minus a margin). `now`: for
    /// `scored_at`. `continuation`: how the rest of an unfinished run is handed over.
    pub async fn invoke(
        &self,
        event: BatchEvent,
        stop_at: Option<Instant>,
        now: DateTime<Utc>,
        continuation: &impl Continue,
    ) -> Result<Summary, JobError> {
        let started = Instant::now();
        let mut state = match event {
            BatchEvent::Scheduled(e) => RunState::new(
                run_id_for(e.time.ok_or(JobError::NoScheduleTime)?),
                self.model.version().to_owned(),
                self.segments,
            ),
            BatchEvent::Continuation(c) => c.continuation,
        };
        if state.model_version != self.model.version() {
            return Err(JobError::ModelChanged {
                run_id: state.run_id,
                started: state.model_version,
                now: self.model.version().to_owned(),
            });
        }
        let pipeline = Pipeline {
            model: &self.model,
            scan: &self.scan,
            sink: &self.sink,
            settings: self.settings.clone(),
        };
        let retries_before = self.store_retries.retries();
        let progress = pipeline.run(&state, &rfc3339(now), stop_at).await?;
        state.segments = progress.segments;
        state.totals.add(progress.totals);
        state.totals.retries += self.store_retries.retries().saturating_sub(retries_before);
        state.invocations += 1;
        state.elapsed_ms += started.elapsed().as_millis() as u64;

        let summary = if state.is_complete() {
            let summary = Summary::of(&state, "complete", self.model.watch());
            let json = serde_json::to_string(&summary).map_err(|e| {
                JobError::RunLogFailed(StoreError::refused(format!(
                    "the summary cannot be serialized: {e}"
                )))
            })?;
            self.run_log
                .record(&state.run_id, &json)
                .await
                .map_err(JobError::RunLogFailed)?;
            summary
        } else {
            continuation
                .continue_run(&state)
                .await
                .map_err(JobError::HandoverFailed)?;
            Summary::of(&state, "continuing", self.model.watch())
        };
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "batch run");
        crate::telemetry::run_completed(&summary);
        Ok(summary)
    }
}
