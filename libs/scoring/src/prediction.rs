//! What a model answers: a score per row (regressors), or a label and the probability of
//! every class (classifiers).

use std::fmt;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// A class label, with the type the model gave it: an integer label stays a number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Label {
    Int(i64),
    Text(Arc<str>),
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Int(v) => write!(f, "{v}"),
            Label::Text(s) => f.write_str(s),
        }
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Label::Int(v) => s.serialize_i64(*v),
            Label::Text(t) => s.serialize_str(t),
        }
    }
}

/// What kind of answer a model gives, read off its outputs at load.
#[derive(Debug, Clone, PartialEq)]
pub enum Task {
    Regression,
    /// The classes in the order of the probability columns.
    Classification {
        classes: Arc<[Label]>,
    },
}

/// One row's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    Score(f32),
    Class(ClassPrediction),
}

impl Prediction {
    pub fn score(&self) -> Option<f32> {
        match self {
            Prediction::Score(s) => Some(*s),
            Prediction::Class(_) => None,
        }
    }

    /// Whether every number in it is finite (a NaN score or probability is no answer).
    pub fn is_finite(&self) -> bool {
        match self {
            Prediction::Score(s) => s.is_finite(),
            Prediction::Class(c) => c.probabilities.iter().all(|p| p.is_finite()),
        }
    }
}

/// A classifier's answer for one row: the label the model chose and every class's
/// probability, in class order.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPrediction {
    pub classes: Arc<[Label]>,
    /// Index of the predicted label in `classes`.
    pub label: usize,
    pub probabilities: Vec<f32>,
}

impl ClassPrediction {
    pub fn label(&self) -> &Label {
        &self.classes[self.label]
    }

    /// (class, probability) pairs in class order.
    pub fn iter(&self) -> impl Iterator<Item = (&Label, f32)> {
        self.classes.iter().zip(self.probabilities.iter().copied())
    }

    /// `{"<class>": p, ...}` in class order: JSON object keys are strings, whatever the
    /// label type.
    pub fn probabilities_map(&self) -> ProbabilitiesMap<'_> {
        ProbabilitiesMap(self)
    }
}

/// Serializes as a JSON object from class (as text) to probability, in class order.
pub struct ProbabilitiesMap<'a>(&'a ClassPrediction);

impl Serialize for ProbabilitiesMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.classes.len()))?;
        for (class, p) in self.0.iter() {
            map.serialize_entry(&class.to_string(), &p)?;
        }
        map.end()
    }
}

/// The answers for a batch of rows, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictions {
    Scores(Vec<f32>),
    Classes {
        classes: Arc<[Label]>,
        /// Per row, the index of its label in `classes`.
        labels: Vec<usize>,
        /// Row-major, `classes.len()` per row.
        probabilities: Vec<f32>,
    },
}

impl Predictions {
    /// No answers yet, with room for `rows`.
    pub(crate) fn with_capacity(task: &Task, rows: usize) -> Self {
        match task {
            Task::Regression => Predictions::Scores(Vec::with_capacity(rows)),
            Task::Classification { classes } => Predictions::Classes {
                classes: classes.clone(),
                labels: Vec::with_capacity(rows),
                probabilities: Vec::with_capacity(rows * classes.len()),
            },
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Predictions::Scores(s) => s.len(),
            Predictions::Classes { labels, .. } => labels.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The scores, for a regressor.
    pub fn scores(&self) -> Option<&[f32]> {
        match self {
            Predictions::Scores(s) => Some(s),
            Predictions::Classes { .. } => None,
        }
    }

    /// Row `i`'s answer.
    pub fn get(&self, i: usize) -> Option<Prediction> {
        match self {
            Predictions::Scores(s) => s.get(i).map(|&s| Prediction::Score(s)),
            Predictions::Classes {
                classes,
                labels,
                probabilities,
            } => {
                let n = classes.len();
                Some(Prediction::Class(ClassPrediction {
                    classes: classes.clone(),
                    label: *labels.get(i)?,
                    probabilities: probabilities[i * n..(i + 1) * n].to_vec(),
                }))
            }
        }
    }

    /// Whether row `i`'s numbers are all finite: a NaN score or probability is no answer.
    pub(crate) fn is_finite_at(&self, i: usize) -> bool {
        match self {
            Predictions::Scores(s) => s[i].is_finite(),
            Predictions::Classes {
                classes,
                probabilities,
                ..
            } => {
                let n = classes.len();
                probabilities[i * n..(i + 1) * n]
                    .iter()
                    .all(|p| p.is_finite())
            }
        }
    }

    /// Holds the place of a row that has no answer, so that rows stay aligned.
    pub(crate) fn push_none(&mut self) {
        match self {
            Predictions::Scores(s) => s.push(f32::NAN),
            Predictions::Classes {
                classes,
                labels,
                probabilities,
            } => {
                labels.push(0);
                probabilities.extend(std::iter::repeat_n(f32::NAN, classes.len()));
            }
        }
    }

    /// Every row's answer, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Prediction> + '_ {
        (0..self.len()).map(|i| self.get(i).expect("in range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_keep_their_type_and_probabilities_their_class_order() {
        let classes: Arc<[Label]> =
            vec![Label::Text("good".into()), Label::Text("bad".into())].into();
        let p = ClassPrediction {
            classes: classes.clone(),
            label: 1,
            probabilities: vec![0.25, 0.75],
        };
        assert_eq!(serde_json::to_string(p.label()).unwrap(), "\"bad\"");
        assert_eq!(
            serde_json::to_string(&p.probabilities_map()).unwrap(),
            r#"{"good":0.25,"bad":0.75}"#
        );
        assert_eq!(serde_json::to_string(&Label::Int(3)).unwrap(), "3");
        let ints = ClassPrediction {
            classes: vec![Label::Int(0), Label::Int(7)].into(),
            label: 0,
            probabilities: vec![1.0, 0.0],
        };
        assert_eq!(
            serde_json::to_string(&ints.probabilities_map()).unwrap(),
            r#"{"0":1.0,"7":0.0}"#
        );
    }

    #[test]
    fn a_batch_hands_out_each_rows_answer() {
        let batch = Predictions::Classes {
            classes: vec![Label::Int(0), Label::Int(1)].into(),
            labels: vec![1, 0],
            probabilities: vec![0.1, 0.9, 0.8, 0.2],
        };
        let rows: Vec<Prediction> = batch.iter().collect();
        assert_eq!(rows.len(), 2);
        let Prediction::Class(second) = &rows[1] else {
            panic!("a class")
        };
        assert_eq!(second.label(), &Label::Int(0));
        assert_eq!(second.probabilities, vec![0.8, 0.2]);
        assert!(batch.get(2).is_none());
        assert_eq!(
            Predictions::Scores(vec![1.5]).get(0),
            Some(Prediction::Score(1.5))
        );
    }
}
