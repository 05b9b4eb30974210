//! Watching a model at work against its model card: per scored batch, how many rows had a
//! feature outside its training range and how many scores left the training range (what
//! the online function reports per request, and the canary alarms on); over a whole run,
//! each variable's bin counts and their population stability index against training
//! (the nightly drift report).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::batch::{Batch, Column};
use crate::card::ModelCard;
use crate::outcome::Scored;
use crate::prediction::Predictions;
use crate::profile::{psi, Profile};
use crate::schema::FeatureSchema;

/// The PSI above which a variable is reported as drifted: the usual "significant shift"
/// (under 0.1 stable, 0.1 to 0.25 moderate).
pub const DRIFT_PSI_THRESHOLD: f64 = 0.25;

/// A model's card, resolved against its schema once at load.
#[derive(Debug)]
pub struct Watch {
    card: ModelCard,
    /// Each profiled feature's index in the schema, in the card's (name) order.
    features: Vec<usize>,
}

/// What one batch of answers looked like next to training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub rows: u64,
    /// Rows with at least one feature outside the training range.
    pub rows_feature_out_of_range: u64,
    /// A regressor's scores outside the training scores' range.
    pub scores_out_of_range: u64,
    /// Rows with either: what the canary alarm's share counts.
    pub rows_outside_training: u64,
}

impl Observation {
    pub fn add(&mut self, other: Observation) {
        self.rows += other.rows;
        self.rows_feature_out_of_range += other.rows_feature_out_of_range;
        self.scores_out_of_range += other.scores_out_of_range;
        self.rows_outside_training += other.rows_outside_training;
    }
}

impl Watch {
    pub(crate) fn new(card: ModelCard, schema: &FeatureSchema) -> Watch {
        // The card was checked against the schema: every name is found.
        let features = card
            .features
            .keys()
            .filter_map(|name| schema.names().iter().position(|n| n == name))
            .collect();
        Watch { card, features }
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    fn profiles(&self) -> impl Iterator<Item = (&String, &Profile, usize)> {
        self.card
            .features
            .iter()
            .zip(&self.features)
            .map(|((name, profile), &index)| (name, profile, index))
    }

    /// How `batch`'s rows and their answers compare with training (a row without an
    /// answer counts for its features only).
    pub fn observe(&self, batch: &Batch, scored: &Scored) -> Observation {
        self.visit(batch, scored, |_, _, _| {}, |_, _| {})
    }

    /// One pass down each profiled feature's column, then one down the scores: hands
    /// `feature` each present value (the feature's position among the profiles, the value,
    /// whether it is within training's range) and `score` each answered regressor score,
    /// and answers the batch's observation. Per column rather than per row, so that the
    /// column's type is matched once, not per value.
    fn visit(
        &self,
        batch: &Batch,
        scored: &Scored,
        mut feature: impl FnMut(usize, f64, bool),
        mut score: impl FnMut(f64, bool),
    ) -> Observation {
        let rows = batch.rows();
        // Per row: a feature outside training.
        let mut outside = vec![false; rows];
        for (position, (_, profile, index)) in self.profiles().enumerate() {
            each_number(batch, index, |row, value| {
                let inside = profile.in_range(value);
                feature(position, value, inside);
                outside[row] |= !inside;
            });
        }
        let rows_feature_out_of_range = outside.iter().filter(|&&o| o).count() as u64;
        let mut scores_out_of_range = 0;
        let mut rows_outside_training = rows_feature_out_of_range;
        if let (Some(profile), Some(scores)) = (&self.card.score, scored.answers().scores()) {
            // Failures are in row order: walked alongside, not searched per row.
            let mut failed = scored.failures().iter().map(|&(row, _)| row).peekable();
            for (row, &s) in scores.iter().enumerate().take(rows) {
                while failed.next_if(|&f| f < row).is_some() {}
                if failed.next_if_eq(&row).is_some() || s.is_nan() {
                    continue;
                }
                let inside = profile.in_range(f64::from(s));
                score(f64::from(s), inside);
                if !inside {
                    scores_out_of_range += 1;
                    rows_outside_training += u64::from(!outside[row]);
                }
            }
        }
        Observation {
            rows: rows as u64,
            rows_feature_out_of_range,
            scores_out_of_range,
            rows_outside_training,
        }
    }
}

/// Feature `index`'s values in `batch`, with their rows; missing (NaN) and text values
/// are not numbers and are left out.
fn each_number(batch: &Batch, index: usize, mut f: impl FnMut(usize, f64)) {
    let rows = batch.rows();
    let (column, start, step) = if batch.width == 1 {
        (index, 0, 1)
    } else {
        (0, index, batch.width)
    };
    fn down<T: Copy>(
        values: &[T],
        (start, step, rows): (usize, usize, usize),
        as_f64: impl Fn(T) -> f64,
        f: &mut impl FnMut(usize, f64),
    ) {
        let values = values.get(start..).unwrap_or_default();
        for (row, &v) in values.iter().step_by(step).take(rows).enumerate() {
            let v = as_f64(v);
            if !v.is_nan() {
                f(row, v);
            }
        }
    }
    let at = (start, step, rows);
    match &batch.columns[column] {
        Column::F32(v) => down(v, at, f64::from, &mut f),
        Column::F64(v) => down(v, at, |x| x, &mut f),
        Column::I64(v) => down(v, at, |x| x as f64, &mut f),
        Column::Text(_) => {}
    }
}

/// A run's counts per training bin, summed batch by batch (and, being counts, over
/// invocations and workers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftTally {
    pub observed: Observation,
    /// Per profiled feature: its rows per training bin, and how many were out of range.
    #[serde(default)]
    features: BTreeMap<String, BinCounts>,
    #[serde(default)]
    score: BinCounts,
    /// A classifier's predicted labels, by label as text.
    #[serde(default)]
    labels: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct BinCounts {
    bins: Vec<u64>,
    out_of_range: u64,
}

impl BinCounts {
    /// Sized to `profile`'s bins (once per batch, not per value).
    fn fit(&mut self, profile: &Profile) {
        if self.bins.len() != profile.shares.len() {
            self.bins = vec![0; profile.shares.len()];
        }
    }

    /// Counts `value`, once `fit` to its `profile`.
    fn count(&mut self, profile: &Profile, value: f64, inside: bool) {
        self.bins[profile.bin(value)] += 1;
        self.out_of_range += u64::from(!inside);
    }

    fn merge(&mut self, other: BinCounts) {
        if self.bins.is_empty() {
            self.bins = other.bins;
        } else if self.bins.len() == other.bins.len() {
            self.bins
                .iter_mut()
                .zip(other.bins)
                .for_each(|(a, b)| *a += b);
        }
        self.out_of_range += other.out_of_range;
    }

    fn drift(&self, profile: &Profile) -> VariableDrift {
        let seen: u64 = self.bins.iter().sum();
        VariableDrift {
            psi: psi(&profile.shares, &self.bins),
            rows: seen,
            out_of_range_share: if seen == 0 {
                0.0
            } else {
                self.out_of_range as f64 / seen as f64
            },
        }
    }
}

/// One variable's drift over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableDrift {
    /// `None` when the run saw no value of it (all missing).
    pub psi: Option<f64>,
    /// Values seen (missing ones are not).
    pub rows: u64,
    pub out_of_range_share: f64,
}

/// A run's drift against the model card: PSI per feature, of the scores or of the labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// The measure: "psi" (population stability index over the card's bins).
    pub measure: String,
    /// The PSI a variable must exceed to be listed in `drifted`.
    pub threshold: f64,
    pub rows: u64,
    /// Rows with a feature or the score outside the training range.
    pub rows_outside_training: u64,
    pub features: BTreeMap<String, VariableDrift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<VariableDrift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<VariableDrift>,
    /// The largest PSI of any variable (what the drift alarm watches).
    pub max_psi: Option<f64>,
    /// The variables over the threshold ("score" and "labels" for the answers).
    pub drifted: Vec<String>,
}

impl DriftTally {
    /// Counts `batch`'s rows, and the answers of those that have one: per batch, a pass
    /// down each feature's column and one down the answers (no map lookup or string per
    /// row).
    pub fn add(&mut self, watch: &Watch, batch: &Batch, scored: &Scored) {
        // The card's features have their counts, in the card's (name) order: the map holds
        // no other names (a run has one model), so its values line up with the profiles.
        for (name, profile, _) in watch.profiles() {
            match self.features.get_mut(name) {
                Some(counts) => counts.fit(profile),
                None => {
                    let mut counts = BinCounts::default();
                    counts.fit(profile);
                    self.features.insert(name.clone(), counts);
                }
            }
        }
        let profiles: Vec<&Profile> = watch.profiles().map(|(_, p, _)| p).collect();
        let mut counts: Vec<&mut BinCounts> = self
            .features
            .iter_mut()
            .filter(|(name, _)| watch.card.features.contains_key(*name))
            .map(|(_, c)| c)
            .collect();
        let score_profile = watch.card.score.as_ref();
        if let Some(profile) = score_profile {
            self.score.fit(profile);
        }
        let score_counts = &mut self.score;
        let seen = watch.visit(
            batch,
            scored,
            |position, value, inside| counts[position].count(profiles[position], value, inside),
            |value, inside| {
                if let Some(profile) = score_profile {
                    score_counts.count(profile, value, inside)
                }
            },
        );
        self.observed.add(seen);
        if let (
            Predictions::Classes {
                classes, labels, ..
            },
            Some(_),
        ) = (scored.answers(), &watch.card.labels)
        {
            // Per class index over the batch, then into the map once per class.
            let mut per_class = vec![0u64; classes.len()];
            let mut failed = scored.failures().iter().map(|&(row, _)| row).peekable();
            for (row, &label) in labels.iter().enumerate() {
                while failed.next_if(|&f| f < row).is_some() {}
                if failed.next_if_eq(&row).is_none() {
                    per_class[label] += 1;
                }
            }
            for (class, n) in classes.iter().zip(per_class).filter(|(_, n)| *n > 0) {
                *self.labels.entry(class.to_string()).or_default() += n;
            }
        }
    }

    /// Adds another part of the same run.
    pub fn merge(&mut self, other: DriftTally) {
        self.observed.add(other.observed);
        for (name, counts) in other.features {
            self.features.entry(name).or_default().merge(counts);
        }
        self.score.merge(other.score);
        for (label, n) in other.labels {
            *self.labels.entry(label).or_default() += n;
        }
    }

    /// The run's drift against `watch`'s card.
    pub fn report(&self, watch: &Watch) -> DriftReport {
        let card = &watch.card;
        let features: BTreeMap<String, VariableDrift> = card
            .features
            .iter()
            .map(|(name, profile)| {
                let counts = self.features.get(name).cloned().unwrap_or_default();
                (name.clone(), counts.drift(profile))
            })
            .collect();
        let score = card.score.as_ref().map(|p| self.score.drift(p));
        let labels = card.labels.as_ref().map(|shares| {
            // Training's labels in order, then any label training never gave.
            let mut expected: Vec<f64> = shares.values().copied().collect();
            let mut counts: Vec<u64> = shares
                .keys()
                .map(|l| self.labels.get(l).copied().unwrap_or(0))
                .collect();
            let unseen: u64 = self
                .labels
                .iter()
                .filter(|(l, _)| !shares.contains_key(*l))
                .map(|(_, n)| n)
                .sum();
            expected.push(0.0);
            counts.push(unseen);
            let rows = counts.iter().sum();
            VariableDrift {
                psi: psi(&expected, &counts),
                rows,
                out_of_range_share: if rows == 0 {
                    0.0
                } else {
                    unseen as f64 / rows as f64
                },
            }
        });
        let named = features
            .iter()
            .map(|(n, d)| (n.as_str(), d))
            .chain(score.iter().map(|d| ("score", d)))
            .chain(labels.iter().map(|d| ("labels", d)));
        let mut max_psi: Option<f64> = None;
        let mut drifted = Vec::new();
        for (name, drift) in named {
            if let Some(p) = drift.psi {
                max_psi = Some(max_psi.map_or(p, |m| m.max(p)));
                if p > DRIFT_PSI_THRESHOLD {
                    drifted.push(name.to_owned());
                }
            }
        }
        DriftReport {
            measure: "psi".into(),
            threshold: DRIFT_PSI_THRESHOLD,
            rows: self.observed.rows,
            rows_outside_training: self.observed.rows_outside_training,
            features,
            score,
            labels,
            max_psi,
            drifted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feature::InputLayout;
    use crate::prediction::Label;
    use crate::schema::FeatureSchema;
    use std::sync::Arc;

    /// Two numeric features `a` and `b`, a matrix input.
    fn schema() -> FeatureSchema {
        FeatureSchema::matrix_for_tests(&["a", "b"])
    }

    fn uniform(min: f64, max: f64) -> Profile {
        let step = (max - min) / 4.0;
        Profile {
            min,
            max,
            edges: (1..4).map(|i| min + step * f64::from(i)).collect(),
            shares: vec![0.25; 4],
        }
    }

    fn watch(labels: bool) -> Watch {
        let card = ModelCard {
            features: [("a".to_owned(), uniform(0.0, 4.0))].into(),
            score: (!labels).then(|| uniform(10.0, 14.0)),
            labels: labels.then(|| [("x".to_owned(), 0.5), ("y".to_owned(), 0.5)].into()),
            ..ModelCard::default()
        };
        Watch::new(card, &schema())
    }

    fn all(answers: Predictions) -> Scored {
        Scored::new(answers, Vec::new())
    }

    fn batch(rows: &[[f32; 2]]) -> Batch {
        let mut batch = schema().batch(rows.len());
        batch.extend_numeric(rows.concat().as_slice()).unwrap();
        batch
    }

    #[test]
    fn rows_and_scores_outside_training_are_counted_once_per_row() {
        let w = watch(false);
        // Row 0 inside; row 1 feature a out; row 2 score out; row 3 both; b is not profiled.
        let inputs = batch(&[[1.0, 1e9], [5.0, 0.0], [2.0, 0.0], [-1.0, 0.0]]);
        let scores = Predictions::Scores(vec![11.0, 12.0, 20.0, 9.0]);
        assert_eq!(
            w.observe(&inputs, &all(scores)),
            Observation {
                rows: 4,
                rows_feature_out_of_range: 2,
                scores_out_of_range: 2,
                rows_outside_training: 3,
            }
        );
        // Without an answer only the features count; a missing value is never out of range.
        let failed = Scored::new(
            Predictions::Scores(vec![f32::NAN]),
            vec![(0, crate::RowFailure::UnknownCategory)],
        );
        let seen = w.observe(&batch(&[[f32::NAN, 0.0]]), &failed);
        assert_eq!((seen.rows, seen.rows_outside_training), (1, 0));
    }

    #[test]
    fn a_batch_is_tallied_as_row_by_row_whatever_its_layout() {
        let (a, b, score) = (uniform(0.0, 4.0), uniform(-2.0, 2.0), uniform(10.0, 14.0));
        let card = ModelCard {
            features: [("a".to_owned(), a.clone()), ("b".to_owned(), b.clone())].into(),
            score: Some(score.clone()),
            ..ModelCard::default()
        };
        let w = Watch::new(card, &schema());
        // Missing values, values and scores in and out of range, failed rows.
        let n = 50;
        let rows: Vec<[f32; 2]> = (0..n)
            .map(|i| {
                let a = if i % 7 == 0 {
                    f32::NAN
                } else {
                    (i % 11) as f32 * 0.5 - 0.5
                };
                [a, (i % 5) as f32 - 2.5]
            })
            .collect();
        let scores: Vec<f32> = (0..n)
            .map(|i| {
                if i % 9 == 0 {
                    f32::NAN
                } else {
                    9.0 + (i % 7) as f32
                }
            })
            .collect();
        let failed = [1, 4, 27, 49];
        let failures: Vec<_> = failed
            .iter()
            .map(|&row| (row, crate::RowFailure::UnknownCategory))
            .collect();
        // What the tally must hold, counted row by row.
        let mut want_a = BinCounts::default();
        let mut want_b = BinCounts::default();
        let mut want_score = BinCounts::default();
        want_a.fit(&a);
        want_b.fit(&b);
        want_score.fit(&score);
        let mut want = Observation::default();
        for (row, [va, vb]) in rows.iter().enumerate() {
            let mut outside = false;
            for (v, p, counts) in [(va, &a, &mut want_a), (vb, &b, &mut want_b)] {
                let v = f64::from(*v);
                if !v.is_nan() {
                    counts.count(p, v, p.in_range(v));
                    outside |= !p.in_range(v);
                }
            }
            let s = f64::from(scores[row]);
            let answered = !failed.contains(&row) && !s.is_nan();
            if answered {
                want_score.count(&score, s, score.in_range(s));
            }
            let score_out = answered && !score.in_range(s);
            want.add(Observation {
                rows: 1,
                rows_feature_out_of_range: u64::from(outside),
                scores_out_of_range: u64::from(score_out),
                rows_outside_training: u64::from(outside || score_out),
            });
        }
        assert!(want.rows_feature_out_of_range > 0 && want.scores_out_of_range > 0);
        for layout in [InputLayout::Matrix, InputLayout::PerFeature] {
            let mut inputs = Batch::new(layout, schema().features(), n);
            inputs.extend_numeric(rows.concat().as_slice()).unwrap();
            let scored = Scored::new(Predictions::Scores(scores.clone()), failures.clone());
            let mut tally = DriftTally::default();
            tally.add(&w, &inputs, &scored);
            assert_eq!(w.observe(&inputs, &scored), want, "{layout:?}");
            assert_eq!(tally.observed, want, "{layout:?}");
            assert_eq!(tally.features["a"], want_a, "{layout:?}");
            assert_eq!(tally.features["b"], want_b, "{layout:?}");
            assert_eq!(tally.score, want_score, "{layout:?}");
        }
    }

    #[test]
    fn tallies_merge_into_the_same_report_as_one_pass() {
        let w = watch(false);
        let rows: Vec<[f32; 2]> = (0..40).map(|i| [(i % 8) as f32 * 0.5, 0.0]).collect();
        let scores: Vec<f32> = (0..40).map(|i| 10.0 + (i % 4) as f32).collect();
        let mut whole = DriftTally::default();
        whole.add(&w, &batch(&rows), &all(Predictions::Scores(scores.clone())));
        let mut first = DriftTally::default();
        first.add(
            &w,
            &batch(&rows[..15]),
            &all(Predictions::Scores(scores[..15].to_vec())),
        );
        let mut second = DriftTally::default();
        second.add(
            &w,
            &batch(&rows[15..]),
            &all(Predictions::Scores(scores[15..].to_vec())),
        );
        first.merge(second);
        assert_eq!(first, whole);
        let report = whole.report(&w);
        assert_eq!(report.rows, 40);
        assert!(report.features["a"].psi.unwrap() < 1e-9, "{report:?}");
        assert!(report.drifted.is_empty());
        // Serialized (the continuation state) and back: the same counts.
        let json = serde_json::to_string(&whole).unwrap();
        assert_eq!(serde_json::from_str::<DriftTally>(&json).unwrap(), whole);
    }

    #[test]
    fn a_shifted_feature_and_skewed_labels_are_reported_drifted() {
        let w = watch(true);
        let rows: Vec<[f32; 2]> = (0..100).map(|i| [3.5 + (i % 3) as f32, 0.0]).collect();
        let classes: Arc<[Label]> = vec![Label::Text("x".into()), Label::Text("z".into())].into();
        let answers = Predictions::Classes {
            classes,
            labels: (0..100).map(|i| usize::from(i % 10 == 0)).collect(),
            probabilities: vec![0.5; 200],
        };
        let mut tally = DriftTally::default();
        tally.add(&w, &batch(&rows), &all(answers));
        let report = tally.report(&w);
        assert!(report.features["a"].psi.unwrap() > DRIFT_PSI_THRESHOLD);
        assert!(report.features["a"].out_of_range_share > 0.6);
        let labels = report.labels.as_ref().unwrap();
        // 90% "x" where training had 50%, and 10% of a label training never gave.
        assert!(labels.psi.unwrap() > DRIFT_PSI_THRESHOLD);
        assert!((labels.out_of_range_share - 0.1).abs() < 1e-12);
        assert_eq!(report.drifted, vec!["a".to_owned(), "labels".to_owned()]);
        let largest = report.features["a"].psi.unwrap().max(labels.psi.unwrap());
        assert_eq!(report.max_psi, Some(largest));
        assert!(report.score.is_none());
    }
}
