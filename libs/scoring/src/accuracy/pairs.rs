//! The pieces of a tally: what a pair is made of (the observed value, the answer, its
//! source), the bounds, the reasons a pair is not scored, and the sums kept per model
//! version.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::prediction::Prediction;

/// Most labels a confusion matrix lists (observed and predicted alike); the others are
/// counted under [`OTHER_LABEL`].
pub const MAX_LABELS: usize = 50;
pub const OTHER_LABEL: &str = "(other)";
/// Most (model version, source) entries a tally keeps; pairs of further ones are counted
/// as unmatched.
pub const MAX_VERSIONS: usize = 20;
/// Most distinct reasons listed for unmatched outcomes; the others as [`OTHER_LABEL`].
pub const MAX_REASONS: usize = 20;
/// The least probability a log loss takes: a class given 0 (or no class at all) costs
/// −ln(1e-15) ≈ 34.5, not infinity.
pub const LOG_LOSS_CLIP: f64 = 1e-15;

/// Why a pair was not scored (reasons the domain finds; the caller adds its own).
pub mod reasons {
    pub const LABEL_FOR_REGRESSOR: &str = "a regressor's outcome given as a label";
    pub const NUMBER_FOR_CLASSIFIER: &str =
        "a classifier's outcome given as a number that is no integer label";
    pub const OBSERVED_NOT_FINITE: &str = "the outcome is not a finite number";
    pub const PREDICTION_NOT_FINITE: &str = "the prediction is not a finite number";
    pub const TOO_MANY_VERSIONS: &str = "the prediction's model version is over the report's 20";
}

/// Where the prediction an outcome is joined with came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The nightly run's stored result.
    Nightly,
    /// An answer given online (a captured request).
    Online,
}

/// What really happened: a number, or a label (compared as text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observed<'a> {
    Number(f64),
    Label(&'a str),
}

/// What the model answered, in the terms the tally compares: a score, or a label with the
/// probability of each class (as text).
#[derive(Debug, Clone, PartialEq)]
pub enum Answered<'a> {
    Score(f64),
    Class {
        label: Cow<'a, str>,
        probabilities: Vec<(Cow<'a, str>, f64)>,
    },
}

impl Answered<'_> {
    pub fn of(prediction: &Prediction) -> Answered<'static> {
        match prediction {
            Prediction::Score(s) => Answered::Score(f64::from(*s)),
            Prediction::Class(c) => Answered::Class {
                label: Cow::Owned(c.label().to_string()),
                probabilities: c
                    .iter()
                    .map(|(class, p)| (Cow::Owned(class.to_string()), f64::from(p)))
                    .collect(),
            },
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Regression {
    pub(super) count: u64,
    pub(super) sum_abs: f64,
    pub(super) sum_squared: f64,
    /// Σ (prediction − observed).
    pub(super) sum_error: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Classification {
    pub(super) count: u64,
    pub(super) correct: u64,
    pub(super) sum_log_loss: f64,
    /// The labels the matrix lists, in no particular order: the first [`MAX_LABELS`] seen.
    pub(super) labels: BTreeSet<String>,
    /// (observed, predicted) → pairs.
    pub(super) confusion: BTreeMap<(String, String), u64>,
}

impl Classification {
    /// The label as the matrix lists it: itself if listed or if there is room, else
    /// [`OTHER_LABEL`].
    pub(super) fn listed(&mut self, label: &str) -> String {
        if label == OTHER_LABEL || self.labels.contains(label) {
            return label.to_owned();
        }
        if self.labels.len() < MAX_LABELS {
            self.labels.insert(label.to_owned());
            return label.to_owned();
        }
        OTHER_LABEL.to_owned()
    }

    pub(super) fn count_cell(&mut self, observed: &str, predicted: &str, n: u64) {
        let cell = (self.listed(observed), self.listed(predicted));
        *self.confusion.entry(cell).or_default() += n;
    }
}
