//! How a challenger's answers differ from the champion's on the same rows: row by row
//! ([`compare`]), and summed over a run ([`ComparisonTally`], mergeable across segments,
//! invocations and slices) into the figures a run reports ([`ComparisonReport`]).
//!
//! The tally stays small whatever the number of rows (it travels between a run's
//! invocations): the answers and their differences are counted in log-spaced buckets,
//! 16 to each power of two, so a quantile read from them is within about 3% of the exact
//! one, and only the ten rows that differ most are kept by id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::prediction::{Label, Prediction};
use crate::profile::psi;

/// Rows listed in [`ComparisonReport::most_different`].
pub const MOST_DIFFERENT_ROWS: usize = 10;

/// How one row's challenger answer differs from the champion's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowComparison {
    /// |champion − challenger| of the scores; of two classifiers, of the probability each
    /// gives the champion's label (0 for a challenger without that class). `None` when one
    /// is a regressor and the other a classifier.
    pub abs_difference: Option<f64>,
    /// Of two classifiers, whether they chose the same label (labels compared as text, so
    /// an integer class 1 and a text class "1" agree). `None` otherwise.
    pub labels_agree: Option<bool>,
}

/// Compares one row's answers. Allocates nothing (but to compare an integer label with a
/// text one).
pub fn compare(champion: &Prediction, challenger: &Prediction) -> RowComparison {
    match (champion, challenger) {
        (Prediction::Score(a), Prediction::Score(b)) => RowComparison {
            abs_difference: Some((f64::from(*a) - f64::from(*b)).abs()),
            labels_agree: None,
        },
        (Prediction::Class(a), Prediction::Class(b)) => {
            let label = a.label();
            let theirs = b
                .iter()
                .find(|(class, _)| same_label(class, label))
                .map_or(0.0, |(_, p)| p);
            RowComparison {
                abs_difference: Some(
                    (f64::from(a.probabilities[a.label]) - f64::from(theirs)).abs(),
                ),
                labels_agree: Some(same_label(label, b.label())),
            }
        }
        _ => RowComparison {
            abs_difference: None,
            labels_agree: None,
        },
    }
}

fn same_label(a: &Label, b: &Label) -> bool {
    match (a, b) {
        (Label::Int(x), Label::Int(y)) => x == y,
        (Label::Text(x), Label::Text(y)) => x == y,
        (Label::Int(n), Label::Text(t)) | (Label::Text(t), Label::Int(n)) => **t == *n.to_string(),
    }
}

/// A row's answer as a run summary lists it: a score, or a label as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AnswerValue {
    /// As the model answered it: an `f32` reads back from JSON as written.
    Score(f32),
    Label(String),
}

impl AnswerValue {
    pub fn of(prediction: &Prediction) -> AnswerValue {
        match prediction {
            Prediction::Score(s) => AnswerValue::Score(*s),
            Prediction::Class(c) => AnswerValue::Label(c.label().to_string()),
        }
    }
}

/// One of the rows whose answers differ most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    /// The row's id (a product id).
    pub id: String,
    pub champion: AnswerValue,
    pub challenger: AnswerValue,
    /// As [`RowComparison::abs_difference`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_difference: Option<f64>,
    /// Of two classifiers, whether the labels were the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_agree: Option<bool>,
}

impl Disagreement {
    fn rank(&self) -> Rank<'_> {
        rank(self.labels_agree, self.abs_difference, &self.id)
    }
}

/// Whether labels differ, the difference, the id.
type Rank<'a> = (bool, f64, &'a str);

fn rank(labels_agree: Option<bool>, abs_difference: Option<f64>, id: &str) -> Rank<'_> {
    (
        labels_agree == Some(false),
        abs_difference.unwrap_or(0.0),
        id,
    )
}

/// Most different first: a different label before any same one, then the larger
/// difference, then the smaller id (so that the list is the same however a run was split).
fn before(a: Rank, b: Rank) -> bool {
    if a.0 != b.0 {
        return a.0;
    }
    if a.1 != b.1 {
        return a.1 > b.1;
    }
    a.2 < b.2
}

/// A run's comparison so far, row by row. Summed across a run's parts with
/// [`ComparisonTally::merge`]; read with [`ComparisonTally::report`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComparisonTally {
    /// Rows both models answered.
    #[serde(default)]
    rows_compared: u64,
    /// Rows the champion answered and the challenger did not, by reason.
    #[serde(default)]
    challenger_errors: BTreeMap<String, u64>,
    #[serde(default)]
    labels_compared: u64,
    #[serde(default)]
    labels_agreed: u64,
    #[serde(default)]
    differences: u64,
    #[serde(default)]
    difference_sum: f64,
    #[serde(default)]
    difference_buckets: Buckets,
    #[serde(default)]
    champion: AnswerCounts,
    #[serde(default)]
    challenger: AnswerCounts,
    /// Most different first, at most [`MOST_DIFFERENT_ROWS`].
    #[serde(default)]
    most_different: Vec<Disagreement>,
}

impl ComparisonTally {
    /// One row the champion answered, with the challenger's answer or a short reason why
    /// it has none ("missing or invalid attribute", "unknown category", ...).
    pub fn add(&mut self, id: &str, champion: &Prediction, challenger: Result<&Prediction, &str>) {
        let challenger = match challenger {
            Ok(answer) => answer,
            Err(reason) => {
                match self.challenger_errors.get_mut(reason) {
                    Some(n) => *n += 1,
                    None => {
                        self.challenger_errors.insert(reason.to_owned(), 1);
                    }
                }
                return;
            }
        };
        let row = compare(champion, challenger);
        self.rows_compared += 1;
        self.champion.count(champion);
        self.challenger.count(challenger);
        if let Some(agree) = row.labels_agree {
            self.labels_compared += 1;
            self.labels_agreed += u64::from(agree);
        }
        if let Some(d) = row.abs_difference.filter(|d| d.is_finite()) {
            self.differences += 1;
            self.difference_sum += d;
            self.difference_buckets.count(d);
        }
        let ranked = rank(row.labels_agree, row.abs_difference, id);
        let listed = self.most_different.len() == MOST_DIFFERENT_ROWS;
        if (!ranked.0 && ranked.1 == 0.0)
            || listed && !before(ranked, self.most_different[MOST_DIFFERENT_ROWS - 1].rank())
        {
            return;
        }
        self.list(Disagreement {
            id: id.to_owned(),
            champion: AnswerValue::of(champion),
            challenger: AnswerValue::of(challenger),
            abs_difference: row.abs_difference,
            labels_agree: row.labels_agree,
        });
    }

    fn list(&mut self, row: Disagreement) {
        let at = self
            .most_different
            .iter()
            .position(|d| before(row.rank(), d.rank()))
            .unwrap_or(self.most_different.len());
        self.most_different.insert(at, row);
        self.most_different.truncate(MOST_DIFFERENT_ROWS);
    }

    /// Adds another part of the same run.
    pub fn merge(&mut self, other: ComparisonTally) {
        self.rows_compared += other.rows_compared;
        for (reason, n) in other.challenger_errors {
            *self.challenger_errors.entry(reason).or_default() += n;
        }
        self.labels_compared += other.labels_compared;
        self.labels_agreed += other.labels_agreed;
        self.differences += other.differences;
        self.difference_sum += other.difference_sum;
        self.difference_buckets.merge(other.difference_buckets);
        self.champion.merge(other.champion);
        self.challenger.merge(other.challenger);
        for row in other.most_different {
            self.list(row);
        }
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows_compared == 0 && self.challenger_errors.is_empty()
    }

    /// The run's figures.
    pub fn report(&self) -> ComparisonReport {
        ComparisonReport {
            rows_compared: self.rows_compared,
            challenger_errors: self.challenger_errors.values().sum(),
            challenger_error_reasons: self.challenger_errors.clone(),
            agreement_rate: (self.labels_compared > 0)
                .then(|| self.labels_agreed as f64 / self.labels_compared as f64),
            mean_abs_difference: (self.differences > 0)
                .then(|| self.difference_sum / self.differences as f64),
            p99_abs_difference: self.difference_buckets.quantile(0.99),
            psi: self.champion.psi(&self.challenger),
            most_different: self.most_different.clone(),
        }
    }
}

/// What a run's comparison found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonReport {
    /// Rows both models answered.
    pub rows_compared: u64,
    /// Rows the champion answered and the challenger did not.
    pub challenger_errors: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub challenger_error_reasons: BTreeMap<String, u64>,
    /// Of two classifiers: the share of compared rows with the same label.
    pub agreement_rate: Option<f64>,
    /// Of [`RowComparison::abs_difference`], over the compared rows.
    pub mean_abs_difference: Option<f64>,
    /// Within about 3% (the tally's buckets).
    pub p99_abs_difference: Option<f64>,
    /// The population stability index of the challenger's answers against the champion's:
    /// scores in bins at the champion's deciles, labels by label. `None` when one model is
    /// a regressor and the other a classifier, or nothing was compared.
    pub psi: Option<f64>,
    /// The rows whose answers differ most: a different label first, then by difference.
    pub most_different: Vec<Disagreement>,
}

/// One model's answers over a run: scores in buckets, or labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct AnswerCounts {
    #[serde(default, skip_serializing_if = "Buckets::is_empty")]
    scores: Buckets,
    /// By label as text.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, u64>,
}

impl AnswerCounts {
    fn count(&mut self, answer: &Prediction) {
        match answer {
            Prediction::Score(s) => self.scores.count(f64::from(*s)),
            Prediction::Class(c) => match c.label() {
                // The map's key is allocated once per label, not per row.
                Label::Text(t) => match self.labels.get_mut(&**t) {
                    Some(n) => *n += 1,
                    None => {
                        self.labels.insert(t.to_string(), 1);
                    }
                },
                Label::Int(i) => *self.labels.entry(i.to_string()).or_default() += 1,
            },
        }
    }

    fn merge(&mut self, other: AnswerCounts) {
        self.scores.merge(other.scores);
        for (label, n) in other.labels {
            *self.labels.entry(label).or_default() += n;
        }
    }

    /// PSI of `other` against these answers, of the same kind.
    fn psi(&self, other: &AnswerCounts) -> Option<f64> {
        match (self.scores.is_empty(), self.labels.is_empty()) {
            (false, true) if other.labels.is_empty() => self.scores.psi(&other.scores),
            (true, false) if other.scores.is_empty() => {
                let labels: Vec<&String> = self.labels.keys().chain(other.labels.keys()).collect();
                let mut labels = labels;
                labels.sort_unstable();
                labels.dedup();
                let total: u64 = self.labels.values().sum();
                let expected: Vec<f64> = labels
                    .iter()
                    .map(|l| self.labels.get(*l).copied().unwrap_or(0) as f64 / total as f64)
                    .collect();
                let counts: Vec<u64> = labels
                    .iter()
                    .map(|l| other.labels.get(*l).copied().unwrap_or(0))
                    .collect();
                psi(&expected, &counts)
            }
            _ => None,
        }
    }
}

/// Counts of values in log-spaced buckets: a value's bucket is its `f32` bit pattern
/// without the low mantissa bits, so each power of two holds [`SUB_BUCKETS`] buckets of
/// equal width, signed like the value (0 for zero and values below `f32`'s normal range).
/// In JSON a list of `[key, count]` pairs, not a map: a map's keys are strings, which
/// serde cannot read back as `i32` inside a flattened struct (the batch's `SliceState`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<(i32, u64)>", into = "Vec<(i32, u64)>")]
struct Buckets(BTreeMap<i32, u64>);

impl From<Vec<(i32, u64)>> for Buckets {
    fn from(pairs: Vec<(i32, u64)>) -> Self {
        let mut buckets = Buckets::default();
        for (key, n) in pairs {
            *buckets.0.entry(key).or_default() += n;
        }
        buckets
    }
}

impl From<Buckets> for Vec<(i32, u64)> {
    fn from(buckets: Buckets) -> Self {
        buckets.0.into_iter().collect()
    }
}

/// Low mantissa bits dropped: 23 less log2 of the buckets per power of two.
const DROPPED_BITS: u32 = 23 - 4;

impl Buckets {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn key(value: f64) -> i32 {
        let value = value as f32;
        let key = (value.abs().to_bits() >> DROPPED_BITS) as i32;
        // Below the normal range (exponent 0): zero.
        let key = if key < 1 << (23 - DROPPED_BITS) {
            0
        } else {
            key
        };
        if value < 0.0 {
            -key
        } else {
            key
        }
    }

    /// The middle of a bucket.
    fn value(key: i32) -> f64 {
        if key == 0 {
            return 0.0;
        }
        let low = f32::from_bits((key.unsigned_abs()) << DROPPED_BITS);
        let high = f32::from_bits((key.unsigned_abs() + 1) << DROPPED_BITS);
        let middle = (f64::from(low) + f64::from(high)) / 2.0;
        if key < 0 {
            -middle
        } else {
            middle
        }
    }

    fn count(&mut self, value: f64) {
        if value.is_finite() {
            *self.0.entry(Self::key(value)).or_default() += 1;
        }
    }

    fn merge(&mut self, other: Buckets) {
        for (key, n) in other.0 {
            *self.0.entry(key).or_default() += n;
        }
    }

    fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// The key holding the `q` quantile.
    fn quantile_key(&self, q: f64) -> Option<i32> {
        let total = self.total();
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total.max(1));
        let mut seen = 0;
        for (&key, &n) in &self.0 {
            seen += n;
            if seen >= rank {
                return Some(key);
            }
        }
        None
    }

    fn quantile(&self, q: f64) -> Option<f64> {
        self.quantile_key(q).map(Self::value)
    }

    /// PSI of `other` against these values, in bins at these values' deciles (bins that
    /// would repeat an edge are merged).
    fn psi(&self, other: &Buckets) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let mut edges: Vec<i32> = (1..10)
            .filter_map(|d| self.quantile_key(f64::from(d) / 10.0))
            .collect();
        edges.dedup();
        // Bin i holds the keys up to edges[i]; the last, all above.
        let bin = |key: i32| edges.partition_point(|&edge| edge < key);
        let mut expected = vec![0u64; edges.len() + 1];
        let mut counts = vec![0u64; edges.len() + 1];
        for (&key, &n) in &self.0 {
            expected[bin(key)] += n;
        }
        for (&key, &n) in &other.0 {
            counts[bin(key)] += n;
        }
        let shares: Vec<f64> = expected.iter().map(|&n| n as f64 / total as f64).collect();
        psi(&shares, &counts)
    }
}

#[cfg(test)]
mod tests;
