//! The job's accuracy steps: the join of the outcomes that arrived since the last run,
//! done where a run starts (before its results replace those the outcomes refer to); the
//! report kept in the run log for the finish step, the plan carrying only its window.

use std::time::Duration;

use chrono::{DateTime, Utc};
use store::predictions::PredictionSink;
use store::run_log::RunLog;
use store::scan::AttributeScan;
use store::StoreError;

use crate::job::Job;
use crate::run::{rfc3339, PlannedAccuracy};
use crate::summary::AccuracySummary;

/// The longest the join may take: it runs in the invocation that plans the night (or
/// scores it whole), whose deadline is the night's too; past this, the night goes on
/// without accuracy.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(300);

impl<S: AttributeScan, P: PredictionSink, L: RunLog> Job<S, P, L> {
    /// The accuracy of the outcomes received since the last completed run was planned
    /// (or, with none, over the lookback), up to `now`; `None` without an outcomes table
    /// or when none arrived. A failure is said in the answer, never fails the run.
    pub(crate) async fn accuracy_since_last_run(
        &self,
        now: DateTime<Utc>,
    ) -> Option<AccuracySummary> {
        let join = self.accuracy.as_deref()?;
        let until = rfc3339(now);
        let failed = |since: String, error: String| {
            tracing::error!(%error, "the accuracy could not be computed; the run goes on");
            Some(AccuracySummary {
                since,
                until: until.clone(),
                outcomes: 0,
                error: Some(error),
                report: None,
            })
        };
        let since = match self.last_planned_at().await {
            Ok(Some(since)) => since,
            Ok(None) => join.first_since(now),
            Err(e) => {
                return failed(
                    join.first_since(now),
                    format!("the last run's time could not be read: {e}"),
                )
            }
        };
        let joined = tokio::time::timeout(JOIN_TIMEOUT, join.join(&since, &until))
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::unavailable(format!(
                    "the join took longer than {} s",
                    JOIN_TIMEOUT.as_secs()
                )))
            });
        match joined {
            Ok(joined) if joined.outcomes == 0 => None,
            Ok(joined) => Some(AccuracySummary {
                since,
                until,
                outcomes: joined.outcomes,
                error: None,
                report: Some(joined.tally.report()),
            }),
            Err(e) => failed(since, format!("the accuracy could not be computed: {e}")),
        }
    }

    /// When the latest completed run was planned, as its summary says (`None`: no run
    /// completed, or its summary predates the field).
    async fn last_planned_at(&self) -> Result<Option<String>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Latest {
            planned_at: Option<String>,
        }
        let Some(json) = self.run_log.latest().await? else {
            return Ok(None);
        };
        serde_json::from_str::<Latest>(&json)
            .map(|latest| latest.planned_at)
            .map_err(|e| StoreError::refused(format!("the latest summary: {e}")))
    }

    /// The planner's accuracy: the report kept in the run log for the finish step, the
    /// plan saying only its window (or why there is no report). A report already kept for
    /// this run (the same night's event delivered again) is kept as it is.
    pub(crate) async fn plan_accuracy(
        &self,
        run_id: &str,
        now: DateTime<Utc>,
    ) -> Option<PlannedAccuracy> {
        self.accuracy.as_ref()?;
        if let Ok(Some(json)) = self.run_log.accuracy(run_id).await {
            if let Ok(kept) = serde_json::from_str::<AccuracySummary>(&json) {
                return Some(planned(&kept));
            }
        }
        let accuracy = self.accuracy_since_last_run(now).await?;
        let mut plan = planned(&accuracy);
        if accuracy.error.is_none() {
            let kept = match serde_json::to_string(&accuracy) {
                Ok(json) => self.run_log.record_accuracy(run_id, &json).await,
                Err(e) => Err(StoreError::refused(e.to_string())),
            };
            if let Err(e) = kept {
                plan.error = Some(format!(
                    "the accuracy could not be kept for the finish step: {e}"
                ));
            }
        }
        Some(plan)
    }

    /// The accuracy the planner kept for the run, read back by the finish step.
    pub(crate) async fn planned_accuracy(
        &self,
        run_id: &str,
        planned: &PlannedAccuracy,
    ) -> AccuracySummary {
        let failed = |error: String| AccuracySummary {
            since: planned.since.clone(),
            until: planned.until.clone(),
            outcomes: planned.outcomes,
            error: Some(error),
            report: None,
        };
        if let Some(error) = &planned.error {
            return failed(error.clone());
        }
        let read = match self.run_log.accuracy(run_id).await {
            Ok(Some(json)) => serde_json::from_str::<AccuracySummary>(&json)
                .map_err(|e| format!("not an accuracy report: {e}")),
            Ok(None) => Err("nothing was kept".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        read.unwrap_or_else(|e| {
            failed(format!(
                "the accuracy computed when planning could not be read back: {e}"
            ))
        })
    }
}

/// What the plan says of an accuracy summary.
fn planned(accuracy: &AccuracySummary) -> PlannedAccuracy {
    PlannedAccuracy {
        since: accuracy.since.clone(),
        until: accuracy.until.clone(),
        outcomes: accuracy.outcomes,
        error: accuracy.error.clone(),
    }
}
