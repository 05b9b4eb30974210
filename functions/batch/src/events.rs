//! What the function is invoked with, and what it answers: the state machine's and the
//! schedule's side of the contract (events/*.json are checked against these types).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};

use crate::run::{Plan, SliceState};
use crate::summary::Summary;

/// What the function is invoked with.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BatchEvent {
    /// `{"slice": {...}}`: score this slice from its cursor.
    Slice {
        slice: SliceState,
    },
    /// `{"finish": <plan>}`: every slice is done; sum them and complete the run.
    Finish {
        finish: Plan,
    },
    Scheduled(EventBridgeEvent),
}

/// What an invocation answers.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// A run completed (the finish step, or a whole table in one invocation).
    Summary(Summary),
    /// A slice, where it now stands: the state machine's next input.
    Slice { slice: SliceState },
    /// The planner started the night's execution (or found it started).
    Started(StartedRun),
}

/// The planner's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedRun {
    pub run_id: String,
    pub execution: String,
    /// A repeated delivery of the night's event: the run was started before, nothing now.
    pub already_started: bool,
    pub model_version: String,
    pub slices: u32,
}
