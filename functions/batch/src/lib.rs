//! The nightly batch scoring function: a scheduled event starts a run that scans the
//! attribute table in parallel segments, scores rows in batches and writes every score to
//! the predictions table exactly once per product, continuing in new invocations when the
//! table is too large for one.

pub mod continuation;
pub mod guard;
pub mod job;
pub mod pipeline;
pub mod run;
pub mod telemetry;

pub use job::{BatchEvent, Job, JobError, Summary};
