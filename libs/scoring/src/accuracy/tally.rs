//! The tally itself: pairs added one by one, counted per model version and source, merged
//! with another tally, summed up into a report.

use std::collections::BTreeMap;

use super::pairs::{
    reasons, Answered, Classification, Observed, Regression, Source, LOG_LOSS_CLIP, MAX_REASONS,
    MAX_VERSIONS, OTHER_LABEL,
};
use super::report::{self, AccuracyReport, VersionAccuracy};

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
