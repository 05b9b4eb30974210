//! What one scoring call answers: every row's outcome, in batch order (its prediction, or
//! why that row alone has none), and the observers that see each scored batch (the watch,
//! metrics, drift tallies), passed in by the caller rather than wrapped around the model.

use std::fmt;

use crate::batch::Batch;
use crate::prediction::{Prediction, Predictions};

/// Why one row has no answer while the others of its batch have theirs. Both are the
/// caller's to fix (a value the model cannot take), never the model's failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFailure {
    /// A categorical value the model never saw, where its encoder refuses unknown values.
    UnknownCategory,
    /// Finite inputs the model overflows on (a linear model fed 1e38, say).
    NotFinite,
}

impl fmt::Display for RowFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RowFailure::UnknownCategory => {
                "a categorical value is not one the model was trained on, and its encoder \
                 refuses unknown values (exported with handle_unknown=\"error\")"
            }
            RowFailure::NotFinite => {
                "the model's answer is not a finite number; its feature values are outside \
                 what the model can score"
            }
        })
    }
}

impl std::error::Error for RowFailure {}

/// Every row's outcome of one [`crate::Model::score`] call.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// One per row of the batch; a failed row holds a placeholder (NaN), except a
    /// non-finite answer, which holds what the model answered.
    answers: Predictions,
    /// The rows without an answer, in row order.
    failures: Vec<(usize, RowFailure)>,
}

impl Scored {
    pub(crate) fn new(answers: Predictions, mut failures: Vec<(usize, RowFailure)>) -> Scored {
        failures.sort_unstable_by_key(|&(row, _)| row);
        Scored { answers, failures }
    }

    /// Rows scored, answered or not.
    pub fn rows(&self) -> usize {
        self.answers.len()
    }

    /// Rows with an answer.
    pub fn answered(&self) -> usize {
        self.rows() - self.failures.len()
    }

    /// Every row's answer, row for row; meaningful only where [`Scored::failure`] is `None`
    /// (all rows, when [`Scored::failures`] is empty).
    pub fn answers(&self) -> &Predictions {
        &self.answers
    }

    pub fn into_answers(self) -> Predictions {
        self.answers
    }

    /// The rows without an answer, in row order.
    pub fn failures(&self) -> &[(usize, RowFailure)] {
        &self.failures
    }

    /// Why `row` has no answer, if it has none.
    pub fn failure(&self, row: usize) -> Option<RowFailure> {
        self.failures
            .binary_search_by_key(&row, |&(r, _)| r)
            .ok()
            .map(|i| self.failures[i].1)
    }

    /// Row `row`'s outcome.
    pub fn outcome(&self, row: usize) -> Result<Prediction, RowFailure> {
        match self.failure(row) {
            Some(failure) => Err(failure),
            None => Ok(self.answers.get(row).expect("row within the batch")),
        }
    }

    /// Every row's outcome, in order.
    pub fn outcomes(&self) -> impl ExactSizeIterator<Item = Result<Prediction, RowFailure>> + '_ {
        let mut failures = self.failures.iter().peekable();
        (0..self.rows()).map(move |row| match failures.next_if(|&&(r, _)| r == row) {
            Some(&(_, failure)) => Err(failure),
            None => Ok(self.answers.get(row).expect("row within the batch")),
        })
    }
}

/// Sees every batch a model scored, with its outcomes: what the caller wants to know of
/// the traffic (metrics, the canary's counts, drift), without wrapping the model.
pub trait Observer {
    fn scored(&mut self, batch: &Batch, scored: &Scored);
}

/// No observer.
impl Observer for () {
    fn scored(&mut self, _: &Batch, _: &Scored) {}
}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn scored(&mut self, batch: &Batch, scored: &Scored) {
        (**self).scored(batch, scored)
    }
}

impl<O: Observer> Observer for Option<O> {
    fn scored(&mut self, batch: &Batch, scored: &Scored) {
        if let Some(observer) = self {
            observer.scored(batch, scored)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_the_rows_and_name_each_failure() {
        let scored = Scored::new(
            Predictions::Scores(vec![1.0, f32::NAN, 3.0, f32::INFINITY]),
            vec![(3, RowFailure::NotFinite), (1, RowFailure::UnknownCategory)],
        );
        assert_eq!(scored.rows(), 4);
        assert_eq!(scored.answered(), 2);
        let outcomes: Vec<_> = scored.outcomes().collect();
        assert_eq!(
            outcomes,
            vec![
                Ok(Prediction::Score(1.0)),
                Err(RowFailure::UnknownCategory),
                Ok(Prediction::Score(3.0)),
                Err(RowFailure::NotFinite),
            ]
        );
        assert_eq!(scored.outcome(2), Ok(Prediction::Score(3.0)));
        assert_eq!(scored.failure(3), Some(RowFailure::NotFinite));
        assert_eq!(scored.failure(0), None);
    }
}
