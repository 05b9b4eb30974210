//! One row's answer as JSON, as every route but the Open Inference Protocol's writes it: a
//! regressor's score is a number; a classifier's answer is its label (a string or a
//! number, as the model has it) and every class's probability. Asked for, the row's
//! explanation goes with it (`"explanation"`): a regressor's score then becomes an object,
//! `{"score", "explanation"}`, a classifier's answer gains the field.

use scoring::{Explanations, Label, Prediction, ProbabilitiesMap, RowExplanation};
use serde::Serialize;

use crate::http::ApiError;

/// An answer in a list (`POST /predict`'s `predictions`).
#[derive(Serialize)]
#[serde(untagged)]
pub enum Answer<'a> {
    Score(f32),
    ExplainedScore {
        score: f32,
        explanation: RowExplanation<'a>,
    },
    Class {
        label: &'a Label,
        probabilities: ProbabilitiesMap<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        explanation: Option<RowExplanation<'a>>,
    },
}

impl<'a> Answer<'a> {
    pub fn of(prediction: &'a Prediction) -> Self {
        match prediction {
            Prediction::Score(s) => Answer::Score(*s),
            Prediction::Class(c) => Answer::Class {
                label: c.label(),
                probabilities: c.probabilities_map(),
                explanation: None,
            },
        }
    }

    /// The same answer with its row's explanation.
    pub fn explained(self, row: RowExplanation<'a>) -> Self {
        match self {
            Answer::Score(score) | Answer::ExplainedScore { score, .. } => Answer::ExplainedScore {
                score,
                explanation: row,
            },
            Answer::Class {
                label,
                probabilities,
                ..
            } => Answer::Class {
                label,
                probabilities,
                explanation: Some(row),
            },
        }
    }
}

/// A product's answer (`GET /predict/{id}`, and the stored result's).
#[derive(Serialize)]
pub struct ProductAnswer<'a> {
    product_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilities: Option<ProbabilitiesMap<'a>>,
    model_version: &'a str,
    /// Only when asked for: without it the answer is byte for byte what it was before.
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<RowExplanation<'a>>,
}

impl<'a> ProductAnswer<'a> {
    pub fn new(product_id: &'a str, prediction: &'a Prediction, model_version: &'a str) -> Self {
        let (score, label, probabilities) = fields(prediction);
        ProductAnswer {
            product_id,
            score,
            label,
            probabilities,
            model_version,
            explanation: None,
        }
    }

    /// The same answer with its row's explanation.
    pub fn explained(self, row: RowExplanation<'a>) -> Self {
        ProductAnswer {
            explanation: Some(row),
            ..self
        }
    }
}

/// An answer's fields as a product's answer writes them: a regressor's `score`, or a
/// classifier's `label` and `probabilities`.
pub fn fields(
    prediction: &Prediction,
) -> (Option<f32>, Option<&Label>, Option<ProbabilitiesMap<'_>>) {
    match prediction {
        Prediction::Score(s) => (Some(*s), None, None),
        Prediction::Class(c) => (None, Some(c.label()), Some(c.probabilities_map())),
    }
}

/// Row `row`'s explanation. Every row that reaches an answer was scored, so the model
/// explained it; if it did not, that is ours (500), not the caller's.
pub fn row_explanation(
    explanations: &Explanations,
    row: usize,
) -> Result<RowExplanation<'_>, ApiError> {
    explanations.row(row).ok_or_else(|| {
        tracing::error!(row, "a scored row has no explanation");
        ApiError::internal(
            "the model answered a row it did not explain; retrying will not help (report it \
             with the request id)",
        )
    })
}
