//! A run's identity and progress: the whole run's (one invocation scoring a small table),
//! a slice's (carried from one invocation to the next by the state machine), and the plan
//! that deals a night's segments out to slices.

use chrono::{DateTime, SecondsFormat, Utc};
use scoring::{ComparisonTally, DriftTally};
use serde::{Deserialize, Serialize};

/// Most rejected rows listed (with reasons) in a run summary; all are counted.
pub const MAX_LISTED_REJECTIONS: usize = 100;

/// Where one scan segment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentState {
    pub segment: u32,
    /// The last `product_id` read (the Scan's LastEvaluatedKey); `None`: from the start.
    pub after: Option<String>,
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub product_id: String,
    pub reason: String,
}

/// Counts, summed over segments and invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub scanned: u64,
    pub scored: u64,
    pub written: u64,
    pub rejected: u64,
    pub retries: u64,
    /// Rows written without the explanation asked for (`EXPLAIN_TOP_K`): the model failed
    /// to explain them. Absent from states written before explanations.
    #[serde(default)]
    pub unexplained: u64,
    pub rejections: Vec<Rejection>,
    /// The scanned features and the answers, binned as the model card bins them (empty
    /// without a card).
    #[serde(default)]
    pub drift: DriftTally,
    /// The challenger's answers against the champion's (empty, and absent from the JSON,
    /// without a challenger): a few kilobytes at most, carried with the slice. Boxed: the
    /// state moves by value between the job's steps.
    #[serde(default, skip_serializing_if = "ComparisonTally::is_empty")]
    pub comparison: Box<ComparisonTally>,
}

impl Totals {
    pub fn reject(&mut self, product_id: &str, reason: String) {
        self.rejected += 1;
        if self.rejections.len() < MAX_LISTED_REJECTIONS {
            self.rejections.push(Rejection {
                product_id: product_id.to_owned(),
                reason,
            });
        }
    }

    pub fn add(&mut self, other: Totals) {
        self.scanned += other.scanned;
        self.scored += other.scored;
        self.written += other.written;
        self.retries += other.retries;
        self.rejected += other.rejected;
        self.unexplained += other.unexplained;
        let room = MAX_LISTED_REJECTIONS.saturating_sub(self.rejections.len());
        self.rejections
            .extend(other.rejections.into_iter().take(room));
        self.drift.merge(other.drift);
        self.comparison.merge(*other.comparison);
    }
}

/// The challenger a run compares the champion with, fixed where the run starts (the
/// planner's sandbox, or the one scoring the whole table), as the champion's version is.
/// A sandbox holding another challenger (or none) writes its rows without comparing them,
/// each counted as a challenger error: a challenger never fails a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunChallenger {
    /// `None`: it failed to load where the run started, and no row is compared.
    pub model_version: Option<String>,
    /// Why it failed to load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_error: Option<String>,
}

/// Where some segments of a run stand: everything the next invocation needs to pick them
/// up where the last one stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    /// The model version the run started with; every invocation must score with the same.
    pub model_version: String,
    /// The challenger the run started with, if one was configured (absent from the JSON
    /// without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger: Option<RunChallenger>,
    /// The scan's `TotalSegments`: all of the run's segments, not only these.
    pub total_segments: u32,
    pub segments: Vec<SegmentState>,
    pub totals: Totals,
    pub invocations: u32,
    /// Time spent in earlier invocations.
    pub elapsed_ms: u64,
}

impl RunState {
    /// Every segment of a scan in `segments` segments.
    pub fn new(run_id: String, model_version: String, segments: u32) -> Self {
        Self::of_segments(run_id, model_version, segments, 0..segments)
    }

    /// Some segments (`of`) of a scan in `total_segments`, from their start.
    pub fn of_segments(
        run_id: String,
        model_version: String,
        total_segments: u32,
        of: impl IntoIterator<Item = u32>,
    ) -> Self {
        RunState {
            run_id,
            model_version,
            challenger: None,
            total_segments,
            segments: of
                .into_iter()
                .map(|segment| SegmentState {
                    segment,
                    after: None,
                    done: false,
                })
                .collect(),
            totals: Totals::default(),
            invocations: 0,
            elapsed_ms: 0,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.segments.iter().all(|s| s.done)
    }
}

/// One slice of a fanned-out run: the state machine invokes the function with it, and
/// again with what it returned, until `done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceState {
    pub slice: u32,
    #[serde(flatten)]
    pub work: RunState,
    pub done: bool,
}

/// A night's run as the planner hands it to the state machine: its slices, scored
/// `workers` at a time, then summed by the finish step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub run_id: String,
    pub model_version: String,
    /// As each slice's (absent without a challenger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger: Option<RunChallenger>,
    /// When the run was planned (RFC 3339): the summary's duration runs from here.
    pub planned_at: String,
    pub total_segments: u32,
    /// Slices scored at once (the Map state's `MaxConcurrencyPath`).
    pub workers: u32,
    pub slices: Vec<SliceState>,
    /// The outcomes joined when planning (absent when none arrived, or no outcomes table
    /// is configured): the report itself waits in the run log for the finish step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<PlannedAccuracy>,
}

/// The plan's word on the accuracy computed when planning: the window, the outcomes that
/// arrived in it, and, when the report could not be computed or kept, why. Small whatever
/// the report's size: the plan travels through Step Functions (256 KB at most).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAccuracy {
    /// Outcomes received in `[since, until)` were joined.
    pub since: String,
    pub until: String,
    pub outcomes: u64,
    /// `None`: the report is in the run log, under the run's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Plan {
    /// Deals the `total_segments` segments out to `workers` slices (fewer if there are
    /// fewer segments), round robin, so that slices differ by one segment at most.
    pub fn new(
        run_id: String,
        model_version: String,
        total_segments: u32,
        workers: u32,
        planned_at: String,
    ) -> Plan {
        let total_segments = total_segments.max(1);
        let count = workers.clamp(1, total_segments);
        let slices = (0..count)
            .map(|slice| SliceState {
                slice,
                work: RunState::of_segments(
                    run_id.clone(),
                    model_version.clone(),
                    total_segments,
                    (slice..total_segments).step_by(count as usize),
                ),
                done: false,
            })
            .collect();
        Plan {
            run_id,
            model_version,
            challenger: None,
            planned_at,
            total_segments,
            workers: count,
            slices,
            accuracy: None,
        }
    }
}

impl Plan {
    /// The same plan comparing with `challenger`, in every slice.
    pub fn with_challenger(mut self, challenger: Option<RunChallenger>) -> Plan {
        for slice in &mut self.slices {
            slice.work.challenger = challenger.clone();
        }
        self.challenger = challenger;
        self
    }
}

/// The Step Functions execution of a run: the run id with what an execution name may not
/// hold (`:` among others) turned into `-`, at most 80 characters.
pub fn execution_name(run_id: &str) -> String {
    run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect()
}

/// The run of a scheduled event: named by the time the schedule fired, so a retried or
/// repeated delivery of the same night's event is the same run and writes the same items.
pub fn run_id_for(scheduled_time: DateTime<Utc>) -> String {
    format!(
        "nightly-{}",
        scheduled_time.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_comes_from_the_schedule_time() {
        let t: DateTime<Utc> = "2026-11-24T02:00:00Z".parse().unwrap();
        assert_eq!(run_id_for(t), "nightly-2026-11-24T02:00:00Z");
    }

    #[test]
    fn a_plan_deals_every_segment_to_exactly_one_slice() {
        for (segments, workers) in [(1, 1), (4, 1), (4, 4), (10, 3), (64, 40), (3, 8)] {
            let plan = Plan::new("r".into(), "v".into(), segments, workers, "t".into());
            assert_eq!(plan.slices.len() as u32, workers.min(segments));
            assert_eq!(plan.workers, workers.min(segments));
            let mut dealt: Vec<u32> = plan
                .slices
                .iter()
                .flat_map(|s| s.work.segments.iter().map(|g| g.segment))
                .collect();
            dealt.sort_unstable();
            assert_eq!(dealt, (0..segments).collect::<Vec<_>>());
            let sizes: Vec<usize> = plan.slices.iter().map(|s| s.work.segments.len()).collect();
            assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            assert!(plan
                .slices
                .iter()
                .all(|s| s.work.total_segments == segments && !s.done));
        }
    }

    #[test]
    fn a_slice_round_trips_through_json_flat() {
        let plan = Plan::new("r".into(), "v".into(), 4, 2, "t".into());
        let json = serde_json::to_value(&plan.slices[1]).unwrap();
        assert_eq!(json["slice"], 1);
        assert_eq!(json["run_id"], "r");
        assert_eq!(json["total_segments"], 4);
        assert_eq!(json["done"], false);
        let back: SliceState = serde_json::from_value(json).unwrap();
        assert_eq!(back, plan.slices[1]);
    }

    #[test]
    fn execution_names_hold_only_what_step_functions_allows() {
        assert_eq!(
            execution_name("nightly-2026-11-24T02:00:00Z"),
            "nightly-2026-11-24T02-00-00Z"
        );
        assert_eq!(execution_name(&"x".repeat(100)).len(), 80);
    }

    #[test]
    fn rejections_are_all_counted_but_listed_up_to_100() {
        let mut totals = Totals::default();
        for i in 0..150 {
            totals.reject(&format!("p{i}"), "bad".into());
        }
        let mut more = Totals::default();
        more.reject("q", "bad".into());
        totals.add(more);
        assert_eq!(totals.rejected, 151);
        assert_eq!(totals.rejections.len(), MAX_LISTED_REJECTIONS);
    }

    #[test]
    fn without_a_challenger_a_slice_is_the_json_it_was() {
        let plan = Plan::new("r".into(), "v".into(), 4, 2, "t".into());
        let json = serde_json::to_value(&plan).unwrap();
        assert!(json.get("challenger").is_none());
        assert!(json["slices"][0].get("challenger").is_none());
        assert!(json["slices"][0]["totals"].get("comparison").is_none());
    }

    #[test]
    fn a_plans_challenger_goes_to_every_slice_and_round_trips() {
        let challenger = RunChallenger {
            model_version: Some("c1".into()),
            load_error: None,
        };
        let plan = Plan::new("r".into(), "v".into(), 4, 2, "t".into())
            .with_challenger(Some(challenger.clone()));
        assert!(plan
            .slices
            .iter()
            .all(|s| s.work.challenger.as_ref() == Some(&challenger)));
        let mut slice = plan.slices[0].clone();
        let answer = scoring::Prediction::Score(5.0);
        slice
            .work
            .totals
            .comparison
            .add("p-1", &answer, Ok(&scoring::Prediction::Score(5.5)));
        slice
            .work
            .totals
            .comparison
            .add("p-2", &answer, Err("missing or invalid attribute"));
        let json = serde_json::to_string(&slice).unwrap();
        let back: SliceState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, slice);
        let report = back.work.totals.comparison.report();
        assert_eq!((report.rows_compared, report.challenger_errors), (1, 1));
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut state = RunState::new("r".into(), "v".into(), 3);
        state.segments[1].after = Some("wine-0042".into());
        state.segments[2].done = true;
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<RunState>(&json).unwrap(), state);
        assert!(!state.is_complete());
    }
}
