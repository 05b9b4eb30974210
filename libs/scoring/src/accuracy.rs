//! How right a model version was, once what really happened is known: (prediction,
//! observed) pairs tallied per model version and per source of the prediction (the
//! nightly run's stored result, or an online answer), mergeable ([`AccuracyTally`]), and
//! summed up into the figures a run reports ([`AccuracyReport`]): for a regressor the
//! mean absolute error, the root mean squared error and the bias; for a classifier the
//! share of right labels, the log loss and a confusion matrix; with counts, and the pairs
//! that could not be scored counted by reason.
//!
//! Bounded whatever the number of pairs: at most [`MAX_LABELS`] labels per confusion
//! matrix (the rest as [`OTHER_LABEL`]), [`MAX_VERSIONS`] (version, source) entries and
//! [`MAX_REASONS`] reasons. This module only declares and re-exports: no child imports its
//! parent.

mod pairs;
mod report;
mod tally;
#[cfg(test)]
mod tests;

pub use pairs::{
    reasons, Answered, Observed, Source, LOG_LOSS_CLIP, MAX_LABELS, MAX_REASONS, MAX_VERSIONS,
    OTHER_LABEL,
};
pub use report::{
    combined, AccuracyReport, ClassifierAccuracy, Combined, RegressorAccuracy, VersionAccuracy,
};
pub use tally::AccuracyTally;
