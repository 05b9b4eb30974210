//! Shortcuts for tests, benches and fixtures (the `test-support` feature): a row or rows
//! in, answers out, through the one scoring call. The product's callers use
//! [`Model::score`] and read each row's outcome themselves.

use crate::error::ScoreError;
use crate::model::Model;
use crate::outcome::{RowFailure, Scored};
use crate::prediction::{Prediction, Predictions};
use crate::row::FeatureRow;

impl Model {
    /// One row's answer.
    pub fn predict_row<R: FeatureRow + ?Sized>(&self, row: &R) -> Result<Prediction, ScoreError> {
        let mut batch = self.schema().batch(1);
        self.schema().read_row(row, &mut batch)?;
        let answers = answers(self.score(&batch, &mut ())?)?;
        Ok(answers.get(0).expect("one answer per row"))
    }

    /// Answers rows in one call; the first bad row fails it, naming its index. A
    /// non-finite answer is returned as the model gave it.
    pub fn predict_rows<R: FeatureRow>(&self, rows: &[R]) -> Result<Predictions, ScoreError> {
        let mut batch = self.schema().batch(rows.len());
        for (i, row) in rows.iter().enumerate() {
            self.schema()
                .read_row(row, &mut batch)
                .map_err(|e| e.at_row(i))?;
        }
        answers(self.score(&batch, &mut ())?)
    }

    /// A regressor's score for one row.
    pub fn score_row<R: FeatureRow + ?Sized>(&self, row: &R) -> Result<f32, ScoreError> {
        self.predict_row(row)?
            .score()
            .ok_or(ScoreError::NotARegressor)
    }

    /// A regressor's scores for rows.
    pub fn score_rows<R: FeatureRow>(&self, rows: &[R]) -> Result<Vec<f32>, ScoreError> {
        into_scores(self.predict_rows(rows)?)
    }

    /// A regressor's scores for a row-major matrix of numeric inputs, `features().len()`
    /// per row, in feature order. NaN is passed through as a missing value.
    pub fn score_matrix(&self, x: &[f32]) -> Result<Vec<f32>, ScoreError> {
        let width = self.schema().len();
        if !x.len().is_multiple_of(width) {
            return Err(ScoreError::Shape {
                values: x.len(),
                width,
            });
        }
        let mut batch = self.schema().batch(x.len() / width);
        batch
            .extend_numeric(x)
            .map_err(|e| ScoreError::Inference(e.to_string()))?;
        into_scores(answers(self.score(&batch, &mut ())?)?)
    }
}

/// The answers, unless a row's category was refused.
fn answers(scored: Scored) -> Result<Predictions, ScoreError> {
    match scored
        .failures()
        .iter()
        .any(|&(_, f)| f == RowFailure::UnknownCategory)
    {
        true => Err(ScoreError::UnknownCategory),
        false => Ok(scored.into_answers()),
    }
}

fn into_scores(answers: Predictions) -> Result<Vec<f32>, ScoreError> {
    match answers {
        Predictions::Scores(s) => Ok(s),
        Predictions::Classes { .. } => Err(ScoreError::NotARegressor),
    }
}
