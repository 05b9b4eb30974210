//! The figures a run reports (serialised into its summary), and the same figures summed
//! over sources or versions (for the metrics), exactly: each is a mean weighted by count.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::pairs::{Classification, Regression, Source};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccuracyReport {
    /// (prediction, observed) pairs tallied (an outcome for a product scored both nightly
    /// and online is two pairs).
    pub joined: u64,
    /// Outcomes joined with no prediction, or whose pair could not be scored.
    pub unmatched: u64,
    /// Reason → outcomes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unmatched_reasons: BTreeMap<String, u64>,
    /// Per model version and source, ordered by version then source.
    pub versions: Vec<VersionAccuracy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionAccuracy {
    pub model_version: String,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regressor: Option<RegressorAccuracy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierAccuracy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressorAccuracy {
    pub count: u64,
    /// Mean |prediction − observed|.
    pub mae: f64,
    /// √(mean (prediction − observed)²).
    pub rmse: f64,
    /// Mean (prediction − observed): positive when the model predicts too high.
    pub bias: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierAccuracy {
    pub count: u64,
    /// Share of pairs whose predicted label is the observed one (0 to 1).
    pub accuracy: f64,
    /// Mean −ln(probability given to the observed label), clipped at 1e-15.
    pub log_loss: f64,
    /// Observed label → predicted label → pairs (at most 50 labels, the rest as
    /// `(other)`); empty when summed over versions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub confusion: BTreeMap<String, BTreeMap<String, u64>>,
}

pub(super) fn regressor(r: &Regression) -> Option<RegressorAccuracy> {
    (r.count > 0).then(|| {
        let n = r.count as f64;
        RegressorAccuracy {
            count: r.count,
            mae: r.sum_abs / n,
            rmse: (r.sum_squared / n).sqrt(),
            bias: r.sum_error / n,
        }
    })
}

pub(super) fn classifier(c: &Classification) -> Option<ClassifierAccuracy> {
    (c.count > 0).then(|| {
        let mut confusion: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((observed, predicted), n) in &c.confusion {
            *confusion
                .entry(observed.clone())
                .or_default()
                .entry(predicted.clone())
                .or_default() += n;
        }
        ClassifierAccuracy {
            count: c.count,
            accuracy: c.correct as f64 / c.count as f64,
            log_loss: c.sum_log_loss / c.count as f64,
            confusion,
        }
    })
}

/// Figures summed over several entries of a report (the sources of a version, or every
/// version): what a metric records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Combined {
    pub regressor: Option<RegressorAccuracy>,
    /// Without the confusion matrix.
    pub classifier: Option<ClassifierAccuracy>,
}

pub fn combined<'a>(entries: impl IntoIterator<Item = &'a VersionAccuracy>) -> Combined {
    let mut r = Regression::default();
    let (mut c_count, mut c_correct, mut c_loss) = (0u64, 0.0, 0.0);
    for entry in entries {
        if let Some(e) = &entry.regressor {
            let n = e.count as f64;
            r.count += e.count;
            r.sum_abs += e.mae * n;
            r.sum_squared += e.rmse * e.rmse * n;
            r.sum_error += e.bias * n;
        }
        if let Some(e) = &entry.classifier {
            let n = e.count as f64;
            c_count += e.count;
            c_correct += e.accuracy * n;
            c_loss += e.log_loss * n;
        }
    }
    Combined {
        regressor: regressor(&r),
        classifier: (c_count > 0).then(|| ClassifierAccuracy {
            count: c_count,
            accuracy: c_correct / c_count as f64,
            log_loss: c_loss / c_count as f64,
            confusion: BTreeMap::new(),
        }),
    }
}
