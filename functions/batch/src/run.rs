//! A run's identity and progress, carried from one invocation to the next.

use chrono::{DateTime, SecondsFormat, Utc};
use scoring::DriftTally;
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub scanned: u64,
    pub scored: u64,
    pub written: u64,
    pub rejected: u64,
    pub retries: u64,
    pub rejections: Vec<Rejection>,
    /// The scanned features and the answers, binned as the model card bins them (empty
    /// without a card).
    #[serde(default)]
    pub drift: DriftTally,
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
        let room = MAX_LISTED_REJECTIONS.saturating_sub(self.rejections.len());
        self.rejections
            .extend(other.rejections.into_iter().take(room));
        self.drift.merge(other.drift);
    }
}

/// Everything a continuation invocation needs to pick the run up where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    /// The model version the run started with; a continuation must score with the same.
    pub model_version: String,
    pub segments: Vec<SegmentState>,
    pub totals: Totals,
    pub invocations: u32,
    /// Time spent in earlier invocations.
    pub elapsed_ms: u64,
}

impl RunState {
    pub fn new(run_id: String, model_version: String, segments: u32) -> Self {
        RunState {
            run_id,
            model_version,
            segments: (0..segments)
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
    fn state_round_trips_through_json() {
        let mut state = RunState::new("r".into(), "v".into(), 3);
        state.segments[1].after = Some("wine-0042".into());
        state.segments[2].done = true;
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<RunState>(&json).unwrap(), state);
        assert!(!state.is_complete());
    }
}
