//! The run summary: returned by the finish step (or a whole-table invocation), logged as one
//! JSON line, and stored with the run log, where the predict function reads its `run_id`.

use scoring::accuracy::AccuracyReport;
use scoring::{ComparisonReport, DriftReport, Watch};
use serde::{Deserialize, Serialize};

use crate::run::{Rejection, RunChallenger, RunState};

/// What a summary says of its run. Only a complete run has a summary today; the type keeps
/// the stored JSON (`"complete"`) while making a new state a decision at each `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every segment read, every row written or rejected.
    Complete,
}

impl Status {
    /// As stored in the summary's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
        }
    }
}

// Tests and tools compare with the stored word.
impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub run_id: String,
    pub status: Status,
    pub model_version: String,
    pub rows_scanned: u64,
    pub rows_scored: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    /// Rows written with their answer but without the contributions `EXPLAIN_TOP_K` asked
    /// for, because the model failed to explain them; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows_unexplained: u64,
    /// Every retry made reading and writing the rows: the SDK's own (throttling, server
    /// errors, timeouts, dropped connections) and resends of unprocessed items.
    pub retries: u64,
    /// From the start of the run to its summary (for a fanned-out run, from planning).
    pub duration_ms: u64,
    /// The invocations that scored rows (not the planner's or the finish step's).
    pub invocations: u32,
    /// The first 100 rejected rows and why.
    pub rejected: Vec<Rejection>,
    /// The scanned features and the scores (or labels) against the model card: PSI per
    /// variable; absent when the model has no card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftReport>,
    /// The challenger's answers against the champion's, when the run had a challenger
    /// configured; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger: Option<ChallengerSummary>,
    /// When the run was planned (RFC 3339): where the next run's window of outcomes
    /// starts. Absent from summaries written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_at: Option<String>,
    /// The outcomes that arrived since the last run, joined with the predictions they
    /// refer to; absent when none arrived (or no outcomes table is configured). Boxed:
    /// the summary moves by value in the job's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Box<AccuracySummary>>,
}

/// `{"since", "until", "outcomes", <the report's figures>}`, or, when the join failed,
/// `{"since", "until", "outcomes", "error": "..."}` (the run scored all the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracySummary {
    /// Outcomes received in `[since, until)` (RFC 3339 UTC).
    pub since: String,
    pub until: String,
    /// Outcomes that arrived in the window (0 when they could not be read).
    pub outcomes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub report: Option<AccuracyReport>,
}

/// `{"model_version": "...", <the comparison's figures>}`, or, when the challenger failed
/// to load where the run started, `{"model_version": null, "load_error": "..."}` (the run
/// went on without comparing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengerSummary {
    pub model_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_error: Option<String>,
    #[serde(flatten)]
    pub comparison: Option<ComparisonReport>,
}

impl ChallengerSummary {
    fn of(challenger: &RunChallenger, state: &RunState) -> ChallengerSummary {
        ChallengerSummary {
            model_version: challenger.model_version.clone(),
            load_error: challenger.load_error.clone(),
            comparison: challenger
                .model_version
                .is_some()
                .then(|| state.totals.comparison.report()),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Summary {
    /// The summary of a run whose every segment is done.
    pub fn complete(state: &RunState, watch: Option<&Watch>) -> Summary {
        let t = &state.totals;
        Summary {
            run_id: state.run_id.clone(),
            status: Status::Complete,
            model_version: state.model_version.clone(),
            rows_scanned: t.scanned,
            rows_scored: t.scored,
            rows_written: t.written,
            rows_rejected: t.rejected,
            rows_unexplained: t.unexplained,
            retries: t.retries,
            duration_ms: state.elapsed_ms,
            invocations: state.invocations,
            rejected: t.rejections.clone(),
            drift: watch.map(|w| t.drift.report(w)),
            challenger: state
                .challenger
                .as_ref()
                .map(|c| ChallengerSummary::of(c, state)),
            planned_at: None,
            accuracy: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_is_stored_as_the_word_the_predict_function_reads() {
        let state = RunState::new("r".into(), "v".into(), 1);
        let summary = Summary::complete(&state, None);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["status"], "complete");
        assert_eq!(summary.status, "complete");
        assert!(
            json.get("challenger").is_none(),
            "none without a challenger"
        );
        let back: Summary = serde_json::from_value(json).unwrap();
        assert_eq!(back, summary);
        assert!(serde_json::from_str::<Status>("\"partial\"").is_err());
    }

    #[test]
    fn a_challenger_is_summed_up_or_its_load_error_said() {
        let mut state = RunState::new("r".into(), "v".into(), 1);
        state.challenger = Some(RunChallenger {
            model_version: Some("c1".into()),
            load_error: None,
        });
        let champion = scoring::Prediction::Score(5.0);
        let tally = &mut state.totals.comparison;
        tally.add("p-1", &champion, Ok(&scoring::Prediction::Score(5.5)));
        tally.add("p-2", &champion, Ok(&scoring::Prediction::Score(4.0)));
        tally.add("p-3", &champion, Err("unknown category"));
        let summary = Summary::complete(&state, None);
        let json = serde_json::to_value(&summary).unwrap();
        let c = &json["challenger"];
        assert_eq!(c["model_version"], "c1");
        assert!(c.get("load_error").is_none(), "{c}");
        assert_eq!(c["rows_compared"], 2);
        assert_eq!(c["challenger_errors"], 1);
        assert_eq!(c["challenger_error_reasons"]["unknown category"], 1);
        assert_eq!(c["mean_abs_difference"], 0.75);
        assert_eq!(c["most_different"][0]["id"], "p-2");
        let back: Summary = serde_json::from_value(json).unwrap();
        assert_eq!(back, summary);

        state.challenger = Some(RunChallenger {
            model_version: None,
            load_error: Some("cannot load the model from s3://m/c.onnx: corrupt".into()),
        });
        let summary = Summary::complete(&state, None);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(
            json["challenger"],
            serde_json::json!({
                "model_version": null,
                "load_error": "cannot load the model from s3://m/c.onnx: corrupt"
            })
        );
        let back: Summary = serde_json::from_value(json).unwrap();
        assert_eq!(back, summary);
    }
}
