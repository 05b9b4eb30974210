//! What an explanation says: per row and per explained target (the score, or each class),
//! how much each input feature moved the answer away from the base value, in the space
//! the model adds them up in.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::prediction::Label;

/// Where contributions and base value add up to the answer: a regressor's score, a
/// classifier's margin before its link (LOGISTIC, SOFTMAX), or its probability where it
/// has no link (a random forest averages probabilities).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    Score,
    Margin,
    Probability,
}

/// What is explained, the same for every row: the targets, their base values and the
/// features contributions are reported for.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplainedTargets {
    pub space: Space,
    /// `None` for a regressor's one score; else the class of each target, in order (a binary
    /// model with one margin explains only its positive class).
    pub classes: Option<Arc<[Label]>>,
    /// Per target: the answer with no feature known (the training rows' mean answer).
    pub base_values: Arc<[f64]>,
    /// The model's input features, schema order.
    pub features: Arc<[String]>,
}

impl ExplainedTargets {
    pub fn n_targets(&self) -> usize {
        self.base_values.len()
    }
}

/// A batch's explanations: one per row the model explained, `None` for a row it could not
/// (the row failed scoring on its own: an unknown category).
#[derive(Clone, Debug)]
pub struct Explanations {
    targets: ExplainedTargets,
    /// Rows × targets × features.
    values: Vec<f64>,
    explained: Vec<bool>,
}

impl Explanations {
    pub(crate) fn new(targets: ExplainedTargets, values: Vec<f64>, explained: Vec<bool>) -> Self {
        debug_assert_eq!(
            values.len(),
            explained.len() * targets.n_targets() * targets.features.len()
        );
        Explanations {
            targets,
            values,
            explained,
        }
    }

    pub fn targets(&self) -> &ExplainedTargets {
        &self.targets
    }

    pub fn rows(&self) -> usize {
        self.explained.len()
    }

    pub fn row(&self, row: usize) -> Option<RowExplanation<'_>> {
        if !*self.explained.get(row)? {
            return None;
        }
        let width = self.targets.n_targets() * self.targets.features.len();
        Some(RowExplanation {
            targets: &self.targets,
            values: &self.values[row * width..(row + 1) * width],
        })
    }
}

/// One row's explanation.
#[derive(Clone, Copy, Debug)]
pub struct RowExplanation<'a> {
    targets: &'a ExplainedTargets,
    /// Targets × features.
    values: &'a [f64],
}

impl<'a> RowExplanation<'a> {
    pub fn targets(&self) -> &'a ExplainedTargets {
        self.targets
    }

    /// Target `target`'s contributions, one per feature in schema order.
    pub fn contributions(&self, target: usize) -> &'a [f64] {
        let n = self.targets.features.len();
        &self.values[target * n..(target + 1) * n]
    }

    /// The target that explains `label`'s probability (for a binary model with one margin,
    /// the positive class's target whichever class is asked: the other is its mirror).
    pub fn target_of(&self, label: &Label) -> usize {
        match &self.targets.classes {
            Some(classes) => classes.iter().position(|c| c == label).unwrap_or(0),
            None => 0,
        }
    }

    /// Target `target`'s `k` largest contributions by absolute value, largest first (ties
    /// in schema order), as (feature, contribution).
    pub fn top(&self, target: usize, k: usize) -> Vec<(&'a str, f64)> {
        let contributions = self.contributions(target);
        let mut order: Vec<usize> = (0..contributions.len()).collect();
        order.sort_by(|&a, &b| contributions[b].abs().total_cmp(&contributions[a].abs()));
        order
            .into_iter()
            .take(k)
            .map(|f| (self.targets.features[f].as_str(), contributions[f]))
            .collect()
    }
}

/// `{"space", "base_value", "contributions": {feature: value}}` for a score, or with
/// `"base_values": {class: value}` and `"contributions": {class: {feature: value}}` per
/// class.
impl Serialize for RowExplanation<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.targets;
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("space", &t.space)?;
        match &t.classes {
            None => {
                map.serialize_entry("base_value", &t.base_values[0])?;
                map.serialize_entry("contributions", &ByFeature(t, self.contributions(0)))?;
            }
            Some(classes) => {
                map.serialize_entry("base_values", &ByClass(classes, |i| t.base_values[i]))?;
                map.serialize_entry(
                    "contributions",
                    &ByClass(classes, |i| ByFeature(t, self.contributions(i))),
                )?;
            }
        }
        map.end()
    }
}

struct ByFeature<'a>(&'a ExplainedTargets, &'a [f64]);

impl Serialize for ByFeature<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.1.len()))?;
        for (name, value) in self.0.features.iter().zip(self.1) {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

struct ByClass<'a, F>(&'a [Label], F);

impl<T: Serialize, F: Fn(usize) -> T> Serialize for ByClass<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (i, class) in self.0.iter().enumerate() {
            map.serialize_entry(&class.to_string(), &(self.1)(i))?;
        }
        map.end()
    }
}
