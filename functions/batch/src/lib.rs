//! The nightly batch scoring function: a scheduled event plans a run and starts the state
//! machine that scores the attribute table in slices of parallel scan segments, each slice
//! by one invocation after another, writing every score to the predictions table exactly
//! once per product; a final invocation sums the slices and completes the run. Without a
//! state machine, one invocation scores a whole (small) table.

//!
//! Modules, each importing only those listed before it: `run` (a run's progress, the plan),
//! `guard`, `budget` (a slice's time), `error`, `summary`, `events`, `telemetry`,
//! `challenger` (the challenger's side of scoring), `pipeline`, `matching` (the nightly
//! join's rules), `join` (its reading), `job` (the handler), `accuracy` (the job's
//! accuracy steps).

pub mod accuracy;
pub mod budget;
pub mod challenger;
pub mod error;
pub mod events;
pub mod guard;
pub mod job;
pub mod join;
pub mod matching;
pub mod pipeline;
pub mod run;
pub mod summary;
pub mod telemetry;

#[cfg(test)]
mod slow_table;

pub use error::JobError;
pub use events::{Answer, BatchEvent, StartedRun};
pub use job::Job;
pub use summary::{Status, Summary};
