//! One invocation of the batch function, in one of its roles:
//! - the schedule's event: plan the night and start the state machine's execution with the
//!   plan (or, with no state machine configured, score the whole table in this invocation);
//! - a slice: score it from its cursor until done or near the deadline, and return where it
//!   stands for the state machine to go round again;
//! - finish: sum the slices, store the run summary and mark the run complete.

use std::time::Instant;

use chrono::{DateTime, Utc};
use scoring::Model;
use store::orchestrator::Orchestrator;
use store::predictions::PredictionSink;
use store::run_log::RunLog;
use store::scan::AttributeScan;
use store::{RetryCount, StoreError};

// The names tests and tools have always imported from here.
pub use crate::error::{JobError, RETRYABLE_ERROR_TYPES};
pub use crate::events::{Answer, BatchEvent, StartedRun};
pub use crate::summary::Summary;

use crate::challenger::{reasons, Challenger};
use crate::join::AccuracyJoin;
use crate::pipeline::{Pipeline, Settings};
use crate::run::{execution_name, rfc3339, run_id_for, Plan, RunChallenger, RunState, SliceState};
use crate::summary::AccuracySummary;

/// Everything an invocation works with, loaded once per sandbox.
pub struct Job<S, P, L> {
    pub model: Model,
    /// The challenger configured (`CHALLENGER_MODEL_KEY`): loaded, or why it failed to
    /// load (the runs then go on without comparing); `None`: none configured.
    pub challenger: Option<Result<Model, String>>,
    pub scan: S,
    pub sink: P,
    pub run_log: L,
    pub segments: u32,
    /// Slices a night's run is dealt into, scored at once by the state machine.
    pub workers: u32,
    pub settings: Settings,
    /// The stores' own retries beneath their calls, counted into the run's `retries`.
    pub store_retries: Box<dyn RetryCount>,
    /// The join of the outcomes that arrived since the last run with the predictions they
    /// refer to, done before a run writes tonight's results (`OUTCOMES_TABLE`); `None`:
    /// no outcomes table, no accuracy.
    pub accuracy: Option<Box<dyn AccuracyJoin>>,
}

impl<S: AttributeScan, P: PredictionSink, L: RunLog> Job<S, P, L> {
    /// `stop_at`: when to stop reading (the deadline minus a margin). `now`: for
    /// `scored_at` and the plan's time. `orchestrator`: where a scheduled run is started;
    /// `None` scores the whole table in this invocation.
    pub async fn invoke<O: Orchestrator>(
        &self,
        event: BatchEvent,
        stop_at: Option<Instant>,
        now: DateTime<Utc>,
        orchestrator: Option<&O>,
    ) -> Result<Answer, JobError> {
        match event {
            BatchEvent::Scheduled(e) => {
                let run_id = run_id_for(e.time.ok_or(JobError::NoScheduleTime)?);
                match orchestrator {
                    Some(o) => self.start(run_id, now, o).await.map(Answer::Started),
                    None => self
                        .score_whole(run_id, stop_at, now)
                        .await
                        .map(Answer::Summary),
                }
            }
            BatchEvent::Slice { slice } => self
                .score_slice(slice, stop_at, now)
                .await
                .map(|slice| Answer::Slice { slice }),
            BatchEvent::Finish { finish } => self.finish(finish, now).await.map(Answer::Summary),
        }
    }

    /// Plans the night with the loaded model's version and starts its execution, named
    /// after the run.
    pub async fn start(
        &self,
        run_id: String,
        now: DateTime<Utc>,
        orchestrator: &impl Orchestrator,
    ) -> Result<StartedRun, JobError> {
        let mut plan = self.plan(run_id, now);
        plan.accuracy = self.plan_accuracy(&plan.run_id, now).await;
        let input = serde_json::to_string(&plan).map_err(|e| {
            JobError::StartFailed(StoreError::refused(format!(
                "the plan cannot be serialized: {e}"
            )))
        })?;
        let started = orchestrator
            .start_run(&execution_name(&plan.run_id), input)
            .await
            .map_err(JobError::StartFailed)?;
        let answer = StartedRun {
            run_id: plan.run_id,
            execution: started.execution,
            already_started: started.already_started,
            model_version: plan.model_version,
            slices: plan.slices.len() as u32,
        };
        tracing::info!(run = %serde_json::to_string(&answer).unwrap_or_default(), "batch run started");
        Ok(answer)
    }

    pub fn plan(&self, run_id: String, now: DateTime<Utc>) -> Plan {
        Plan::new(
            run_id,
            self.model.version().to_owned(),
            self.segments,
            self.workers,
            rfc3339(now),
        )
        .with_challenger(self.run_challenger())
    }

    /// The challenger a run started in this sandbox compares with.
    fn run_challenger(&self) -> Option<RunChallenger> {
        self.challenger.as_ref().map(|loaded| match loaded {
            Ok(model) => RunChallenger {
                model_version: Some(model.version().to_owned()),
                load_error: None,
            },
            Err(reason) => RunChallenger {
                model_version: None,
                load_error: Some(reason.clone()),
            },
        })
    }

    /// What this invocation does with the run's challenger: scores with it if this
    /// sandbox holds the same version; if it holds another or none, counts the rows as
    /// challenger errors (a redeployment between the slices of a night, say), never
    /// failing the run for it.
    fn challenger_for(&self, run: &RunState) -> Option<Challenger<'_>> {
        let wanted = run.challenger.as_ref()?.model_version.as_deref()?;
        let (reason, here) = match &self.challenger {
            Some(Ok(model)) if model.version() == wanted => return Some(Challenger::Scores(model)),
            Some(Ok(model)) => (reasons::OTHER_VERSION_HERE, model.version()),
            Some(Err(error)) => (reasons::NOT_LOADED_HERE, error.as_str()),
            None => (reasons::NOT_LOADED_HERE, "none configured"),
        };
        tracing::warn!(
            run_id = %run.run_id,
            challenger_version = wanted,
            here,
            "{reason}: this invocation's rows are written without the challenger's answers"
        );
        Some(Challenger::Absent(reason))
    }

    /// The whole table in this one invocation: for a small table, or a function deployed
    /// without the state machine. Fails, with every row read so far written, if the
    /// deadline comes first.
    pub async fn score_whole(
        &self,
        run_id: String,
        stop_at: Option<Instant>,
        now: DateTime<Utc>,
    ) -> Result<Summary, JobError> {
        let started = Instant::now();
        let mut state = RunState::new(run_id, self.model.version().to_owned(), self.segments);
        state.challenger = self.run_challenger();
        // Before this run's results replace the stored ones the outcomes refer to.
        let accuracy = self.accuracy_since_last_run(now).await;
        self.work(&mut state, stop_at, now).await?;
        state.elapsed_ms += started.elapsed().as_millis() as u64;
        if !state.is_complete() {
            return Err(JobError::TooLargeForOneInvocation {
                run_id: state.run_id,
                scanned: state.totals.scanned,
            });
        }
        self.complete(&state, rfc3339(now), accuracy).await
    }

    /// Scores the slice from its cursor; once all its segments are done, keeps its figures
    /// for the finish step. A slice already done is answered as it is.
    pub async fn score_slice(
        &self,
        mut slice: SliceState,
        stop_at: Option<Instant>,
        now: DateTime<Utc>,
    ) -> Result<SliceState, JobError> {
        if slice.done {
            return Ok(slice);
        }
        // A rerun of the same plan (after a failed night) skips the slices that completed:
        // their figures are kept, their rows written.
        if slice.work.invocations == 0 {
            if let Some(kept) = self.kept_slice(&slice).await? {
                tracing::info!(run_id = %kept.work.run_id, slice = kept.slice, "batch slice already completed");
                return Ok(kept);
            }
        }
        let started = Instant::now();
        self.work(&mut slice.work, stop_at, now).await?;
        slice.work.elapsed_ms += started.elapsed().as_millis() as u64;
        slice.done = slice.work.is_complete();
        if slice.done {
            let json = serde_json::to_string(&slice).map_err(|e| {
                JobError::RunLogFailed(StoreError::refused(format!(
                    "the slice cannot be serialized: {e}"
                )))
            })?;
            self.run_log
                .record_slice(&slice.work.run_id, slice.slice, &json)
                .await
                .map_err(JobError::RunLogFailed)?;
        }
        tracing::info!(
            run_id = %slice.work.run_id,
            slice = slice.slice,
            done = slice.done,
            rows_scanned = slice.work.totals.scanned,
            invocations = slice.work.invocations,
            "batch slice"
        );
        Ok(slice)
    }

    /// The figures an earlier execution kept for this slice of the same run and model.
    async fn kept_slice(&self, slice: &SliceState) -> Result<Option<SliceState>, JobError> {
        let run_id = &slice.work.run_id;
        let kept = self
            .run_log
            .slice(run_id, slice.slice)
            .await
            .map_err(JobError::RunLogFailed)?;
        Ok(kept
            .and_then(|json| serde_json::from_str::<SliceState>(&json).ok())
            .filter(|kept| {
                kept.done
                    && kept.work.model_version == slice.work.model_version
                    && kept.work.challenger == slice.work.challenger
                    && kept.work.total_segments == slice.work.total_segments
                    && kept.work.segments.iter().map(|s| s.segment).eq(slice
                        .work
                        .segments
                        .iter()
                        .map(|s| s.segment))
            }))
    }

    /// Sums the plan's slices (each must have completed), stores the run's summary and
    /// marks the run complete.
    pub async fn finish(&self, plan: Plan, now: DateTime<Utc>) -> Result<Summary, JobError> {
        self.same_model(&plan.run_id, &plan.model_version)?;
        let mut state = RunState::of_segments(
            plan.run_id.clone(),
            plan.model_version.clone(),
            plan.total_segments,
            [],
        );
        state.challenger = plan.challenger.clone();
        for planned in &plan.slices {
            let missing = || JobError::SliceMissing {
                run_id: plan.run_id.clone(),
                slice: planned.slice,
            };
            let json = self
                .run_log
                .slice(&plan.run_id, planned.slice)
                .await
                .map_err(|error| JobError::SliceUnreadable {
                    run_id: plan.run_id.clone(),
                    slice: planned.slice,
                    error,
                })?
                .ok_or_else(missing)?;
            let slice: SliceState =
                serde_json::from_str(&json).map_err(|e| JobError::SliceUnreadable {
                    run_id: plan.run_id.clone(),
                    slice: planned.slice,
                    error: StoreError::refused(format!("not a slice's figures: {e}")),
                })?;
            if !slice.done || slice.work.model_version != plan.model_version {
                return Err(missing());
            }
            state.segments.extend(slice.work.segments);
            state.totals.add(slice.work.totals);
            state.invocations += slice.work.invocations;
        }
        // The run's wall time, from planning to now, however the slices overlapped.
        state.elapsed_ms = DateTime::parse_from_rfc3339(&plan.planned_at)
            .map(|planned| {
                (now - planned.with_timezone(&Utc))
                    .num_milliseconds()
                    .max(0) as u64
            })
            .unwrap_or_default();
        let accuracy = match &plan.accuracy {
            Some(planned) => Some(self.planned_accuracy(&plan.run_id, planned).await),
            None => None,
        };
        self.complete(&state, plan.planned_at.clone(), accuracy)
            .await
    }

    /// Scans, scores and writes `state`'s unfinished segments until done or `stop_at`.
    async fn work(
        &self,
        state: &mut RunState,
        stop_at: Option<Instant>,
        now: DateTime<Utc>,
    ) -> Result<(), JobError> {
        self.same_model(&state.run_id, &state.model_version)?;
        let pipeline = Pipeline {
            model: &self.model,
            challenger: self.challenger_for(state),
            scan: &self.scan,
            sink: &self.sink,
            settings: self.settings.clone(),
        };
        let retries_before = self.store_retries.retries();
        let progress = pipeline.run(state, &rfc3339(now), stop_at).await?;
        state.segments = progress.segments;
        state.totals.add(progress.totals);
        state.totals.retries += self.store_retries.retries().saturating_sub(retries_before);
        state.invocations += 1;
        Ok(())
    }

    /// The model version is fixed for the run: a sandbox with another model refuses.
    fn same_model(&self, run_id: &str, started: &str) -> Result<(), JobError> {
        if started != self.model.version() {
            return Err(JobError::ModelChanged {
                run_id: run_id.to_owned(),
                started: started.to_owned(),
                now: self.model.version().to_owned(),
            });
        }
        Ok(())
    }

    /// Stores the summary of a completed run as the latest, logs and reports it.
    async fn complete(
        &self,
        state: &RunState,
        planned_at: String,
        accuracy: Option<AccuracySummary>,
    ) -> Result<Summary, JobError> {
        let mut summary = Summary::complete(state, self.model.watch());
        summary.planned_at = Some(planned_at);
        summary.accuracy = accuracy.map(Box::new);
        let json = serde_json::to_string(&summary).map_err(|e| {
            JobError::RunLogFailed(StoreError::refused(format!(
                "the summary cannot be serialized: {e}"
            )))
        })?;
        self.run_log
            .record(&state.run_id, &json)
            .await
            .map_err(JobError::RunLogFailed)?;
        tracing::info!(summary = %json, "batch run");
        crate::telemetry::run_completed(&summary);
        Ok(summary)
    }
}
