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
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::prediction::ClassPrediction;

    fn class(classes: &[Label], label: usize, probabilities: &[f32]) -> Prediction {
        Prediction::Class(ClassPrediction {
            classes: Arc::from(classes),
            label,
            probabilities: probabilities.to_vec(),
        })
    }

    fn text(s: &str) -> Label {
        Label::Text(s.into())
    }

    #[test]
    fn rows_compare_by_score_or_by_label_and_its_probability() {
        let row = compare(&Prediction::Score(5.5), &Prediction::Score(5.25));
        assert_eq!(row.abs_difference, Some(0.25));
        assert_eq!(row.labels_agree, None);

        // Other classes: the champion's label is not among the challenger's, so its
        // probability there is 0.
        let champion = class(&[Label::Int(0), Label::Int(1)], 1, &[0.2, 0.8]);
        let challenger = class(&[text("low"), text("high")], 0, &[0.6, 0.4]);
        let row = compare(&champion, &challenger);
        assert_eq!(row.labels_agree, Some(false));
        assert!((row.abs_difference.unwrap() - 0.8).abs() < 1e-6);

        // An integer class and the same class as text agree.
        let challenger = class(&[text("0"), text("1")], 1, &[0.3, 0.7]);
        let row = compare(&champion, &challenger);
        assert_eq!(row.labels_agree, Some(true));
        assert!((row.abs_difference.unwrap() - 0.1).abs() < 1e-6);

        let row = compare(&Prediction::Score(1.0), &champion);
        assert_eq!(
            row,
            RowComparison {
                abs_difference: None,
                labels_agree: None
            }
        );
    }

    #[test]
    fn buckets_keep_quantiles_within_their_width() {
        let mut buckets = Buckets::default();
        for i in 1..=1000 {
            buckets.count(f64::from(i) / 100.0);
        }
        for (q, exact) in [(0.5, 5.0), (0.99, 9.9), (0.1, 1.0)] {
            let got = buckets.quantile(q).unwrap();
            assert!(
                (got - exact).abs() / exact < 0.035,
                "q{q}: {got} vs {exact}"
            );
        }
        let mut signed = Buckets::default();
        for v in [-3.0, -1.0, 0.0, 1e-45, 2.0] {
            signed.count(v);
        }
        assert_eq!(
            signed.quantile(0.2),
            Some(Buckets::value(Buckets::key(-3.0)))
        );
        assert!(signed.quantile(0.2).unwrap() < -2.9);
        assert_eq!(signed.quantile(0.6), Some(0.0));
        assert_eq!(Buckets::default().quantile(0.5), None);
    }

    #[test]
    fn psi_is_zero_for_the_same_answers_and_grows_with_a_shift() {
        let mut a = Buckets::default();
        let mut same = Buckets::default();
        let mut shifted = Buckets::default();
        for i in 0..1000 {
            let v = 3.0 + f64::from(i) / 200.0;
            a.count(v);
            same.count(v);
            shifted.count(v + 1.5);
        }
        assert!(a.psi(&same).unwrap().abs() < 1e-9);
        assert!(a.psi(&shifted).unwrap() > 0.5);
    }

    #[test]
    fn a_tally_reports_agreement_differences_errors_and_the_most_different_rows() {
        let mut tally = ComparisonTally::default();
        for i in 0..100 {
            let champion = f32::from(i as u8) / 10.0;
            // Every tenth row is off by 1; the rest by 0.
            let off = if i % 10 == 0 { 1.0 } else { 0.0 };
            tally.add(
                &format!("p{i}"),
                &Prediction::Score(champion),
                Ok(&Prediction::Score(champion + off)),
            );
        }
        tally.add(
            "x",
            &Prediction::Score(1.0),
            Err("missing or invalid attribute"),
        );
        tally.add(
            "y",
            &Prediction::Score(1.0),
            Err("missing or invalid attribute"),
        );
        let report = tally.report();
        assert_eq!(report.rows_compared, 100);
        assert_eq!(report.challenger_errors, 2);
        assert_eq!(
            report.challenger_error_reasons["missing or invalid attribute"],
            2
        );
        assert_eq!(report.agreement_rate, None);
        assert!((report.mean_abs_difference.unwrap() - 0.1).abs() < 1e-6);
        assert!((report.p99_abs_difference.unwrap() - 1.0).abs() < 0.035);
        assert_eq!(report.most_different.len(), MOST_DIFFERENT_ROWS);
        assert!(report
            .most_different
            .iter()
            .all(|d| d.id.starts_with('p') && d.abs_difference.unwrap() > 0.99));
        assert!(report.psi.unwrap() >= 0.0);
    }

    #[test]
    fn classifiers_agree_by_label_and_list_different_labels_first() {
        let classes = [Label::Int(0), Label::Int(1)];
        let mut tally = ComparisonTally::default();
        for i in 0..40 {
            let champion = class(&classes, usize::from(i % 2 == 0), &[0.4, 0.6]);
            // Rows 2, 6, 10, ... agree (a quarter); the others do not.
            let (label, p) = if i % 4 == 0 { (0, 0.55) } else { (1, 0.1) };
            let challenger = class(&classes, label, &[p, 1.0 - p]);
            tally.add(&format!("w{i}"), &champion, Ok(&challenger));
        }
        let report = tally.report();
        assert_eq!(report.rows_compared, 40);
        assert_eq!(report.agreement_rate, Some(0.25));
        let first = &report.most_different[0];
        assert_eq!(first.labels_agree, Some(false));
        let json = serde_json::to_value(first).unwrap();
        assert!(json["champion"].is_string(), "{json}");
        assert!(report.psi.is_some());
    }

    #[test]
    fn tallies_merge_to_the_tally_of_all_rows_and_round_trip_through_json() {
        let rows: Vec<(String, f32, f32)> = (0..300)
            .map(|i| {
                (
                    format!("p{i}"),
                    i as f32 / 30.0,
                    (i * 7 % 300) as f32 / 30.0,
                )
            })
            .collect();
        let mut whole = ComparisonTally::default();
        let mut parts = [ComparisonTally::default(), ComparisonTally::default()];
        for (i, (id, a, b)) in rows.iter().enumerate() {
            let (a, b) = (Prediction::Score(*a), Prediction::Score(*b));
            whole.add(id, &a, Ok(&b));
            parts[i % 2].add(id, &a, Ok(&b));
        }
        let [mut first, second] = parts;
        first.merge(second);
        let (merged, whole) = (first.report(), whole.report());
        assert_eq!(merged.rows_compared, whole.rows_compared);
        assert_eq!(merged.p99_abs_difference, whole.p99_abs_difference);
        assert_eq!(merged.psi, whole.psi);
        assert!(
            (merged.mean_abs_difference.unwrap() - whole.mean_abs_difference.unwrap()).abs() < 1e-9
        );
        let ids = |r: &ComparisonReport| {
            r.most_different
                .iter()
                .map(|d| d.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&merged), ids(&whole));

        let json = serde_json::to_string(&first).unwrap();
        let back: ComparisonTally = serde_json::from_str(&json).unwrap();
        let back = back.report();
        assert_eq!(back.rows_compared, merged.rows_compared);
        assert_eq!(back.p99_abs_difference, merged.p99_abs_difference);
        assert_eq!(back.psi, merged.psi);
        assert_eq!(ids(&back), ids(&merged));
        assert_eq!(
            back.most_different[0].champion,
            merged.most_different[0].champion
        );
        assert!(json.len() < 4000, "{} bytes", json.len());
        assert_eq!(
            serde_json::from_str::<ComparisonTally>("{}").unwrap(),
            ComparisonTally::default()
        );
    }
}
