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
//! [`MAX_REASONS`] reasons.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::prediction::Prediction;

mod report;
#[cfg(test)]
mod tests;

pub use report::{
    combined, AccuracyReport, ClassifierAccuracy, Combined, RegressorAccuracy, VersionAccuracy,
};

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
struct Regression {
    count: u64,
    sum_abs: f64,
    sum_squared: f64,
    /// Σ (prediction − observed).
    sum_error: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Classification {
    count: u64,
    correct: u64,
    sum_log_loss: f64,
    /// The labels the matrix lists, in no particular order: the first [`MAX_LABELS`] seen.
    labels: BTreeSet<String>,
    /// (observed, predicted) → pairs.
    confusion: BTreeMap<(String, String), u64>,
}

impl Classification {
    /// The label as the matrix lists it: itself if listed or if there is room, else
    /// [`OTHER_LABEL`].
    fn listed(&mut self, label: &str) -> String {
        if label == OTHER_LABEL || self.labels.contains(label) {
            return label.to_owned();
        }
        if self.labels.len() < MAX_LABELS {
            self.labels.insert(label.to_owned());
            return label.to_owned();
        }
        OTHER_LABEL.to_owned()
    }

    fn count_cell(&mut self, observed: &str, predicted: &str, n: u64) {
        let cell = (self.listed(observed), self.listed(predicted));
        *self.confusion.entry(cell).or_default() += n;
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct VersionTally {
    regression: Regression,
    classification: Classification,
}

/// (prediction, observed) pairs per model version and source, and the outcomes that
/// could not be joined, by reason. Mergeable: tallies of parts of the outcomes sum to the
/// tally of all of them (up to the bounds).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccuracyTally {
    versions: BTreeMap<(String, Source), VersionTally>,
    unmatched: BTreeMap<String, u64>,
}

impl AccuracyTally {
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty() && self.unmatched.is_empty()
    }

    /// Tallies one pair; a pair that cannot be scored (a label for a regressor, a
    /// non-integer number for a classifier, a number that is not finite) is counted as
    /// unmatched with its reason instead. Answers whether the pair was tallied.
    pub fn add(
        &mut self,
        model_version: &str,
        source: Source,
        answered: &Answered<'_>,
        observed: Observed<'_>,
    ) -> bool {
        match self.try_add(model_version, source, answered, observed) {
            Ok(()) => true,
            Err(reason) => {
                self.unmatched(reason);
                false
            }
        }
    }

    fn try_add(
        &mut self,
        model_version: &str,
        source: Source,
        answered: &Answered<'_>,
        observed: Observed<'_>,
    ) -> Result<(), &'static str> {
        if let Observed::Number(n) = observed {
            if !n.is_finite() {
                return Err(reasons::OBSERVED_NOT_FINITE);
            }
        }
        match answered {
            Answered::Score(score) => {
                if !score.is_finite() {
                    return Err(reasons::PREDICTION_NOT_FINITE);
                }
                let observed = match observed {
                    Observed::Number(n) => n,
                    Observed::Label(text) => match text.trim().parse::<f64>() {
                        Ok(n) if n.is_finite() => n,
                        _ => return Err(reasons::LABEL_FOR_REGRESSOR),
                    },
                };
                let r = &mut self.entry(model_version, source)?.regression;
                let error = score - observed;
                r.count += 1;
                r.sum_abs += error.abs();
                r.sum_squared += error * error;
                r.sum_error += error;
            }
            Answered::Class {
                label,
                probabilities,
            } => {
                let text;
                let observed = match observed {
                    Observed::Label(l) => l,
                    Observed::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                        text = format!("{}", n as i64);
                        &text
                    }
                    Observed::Number(_) => return Err(reasons::NUMBER_FOR_CLASSIFIER),
                };
                if probabilities.iter().any(|(_, p)| !p.is_finite()) {
                    return Err(reasons::PREDICTION_NOT_FINITE);
                }
                // A label the model has no class for has probability 0: a miss, at the clip.
                let p = probabilities
                    .iter()
                    .find(|(class, _)| class == observed)
                    .map_or(0.0, |(_, p)| *p);
                let c = &mut self.entry(model_version, source)?.classification;
                c.count += 1;
                if label == observed {
                    c.correct += 1;
                }
                c.sum_log_loss -= p.clamp(LOG_LOSS_CLIP, 1.0).ln();
                c.count_cell(observed, label, 1);
            }
        }
        Ok(())
    }

    fn entry(&mut self, version: &str, source: Source) -> Result<&mut VersionTally, &'static str> {
        let key = (version.to_owned(), source);
        if !self.versions.contains_key(&key) && self.versions.len() >= MAX_VERSIONS {
            return Err(reasons::TOO_MANY_VERSIONS);
        }
        Ok(self.versions.entry(key).or_default())
    }

    /// Counts an outcome that was not joined with any prediction, and why.
    pub fn unmatched(&mut self, reason: &str) {
        self.unmatched_n(reason, 1);
    }

    fn unmatched_n(&mut self, reason: &str, n: u64) {
        let reason = if self.unmatched.contains_key(reason) || self.unmatched.len() < MAX_REASONS {
            reason
        } else {
            OTHER_LABEL
        };
        *self.unmatched.entry(reason.to_owned()).or_default() += n;
    }

    /// Pairs tallied, over every version and source.
    pub fn joined(&self) -> u64 {
        self.versions
            .values()
            .map(|v| v.regression.count + v.classification.count)
            .sum()
    }

    pub fn unmatched_count(&self) -> u64 {
        self.unmatched.values().sum()
    }

    pub fn merge(&mut self, other: AccuracyTally) {
        for ((version, source), theirs) in other.versions {
            let n = theirs.regression.count + theirs.classification.count;
            let Ok(mine) = self.entry(&version, source) else {
                self.unmatched_n(reasons::TOO_MANY_VERSIONS, n);
                continue;
            };
            let (r, t) = (&mut mine.regression, &theirs.regression);
            r.count += t.count;
            r.sum_abs += t.sum_abs;
            r.sum_squared += t.sum_squared;
            r.sum_error += t.sum_error;
            let c = &mut mine.classification;
            let t = theirs.classification;
            c.count += t.count;
            c.correct += t.correct;
            c.sum_log_loss += t.sum_log_loss;
            for ((observed, predicted), n) in t.confusion {
                c.count_cell(&observed, &predicted, n);
            }
        }
        for (reason, n) in other.unmatched {
            self.unmatched_n(&reason, n);
        }
    }

    pub fn report(&self) -> AccuracyReport {
        AccuracyReport {
            joined: self.joined(),
            unmatched: self.unmatched_count(),
            unmatched_reasons: self.unmatched.clone(),
            versions: self
                .versions
                .iter()
                .map(|((version, source), t)| VersionAccuracy {
                    model_version: version.clone(),
                    source: *source,
                    regressor: report::regressor(&t.regression),
                    classifier: report::classifier(&t.classification),
                })
                .collect(),
        }
    }
}
