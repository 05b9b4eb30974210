//! One row's answer as JSON, as every route but the Open Inference Protocol's writes it: a
//! regressor's score is a number; a classifier's answer is its label (a string or a
//! number, as the model has it) and every class's probability.

use scoring::{Label, Prediction, ProbabilitiesMap};
use serde::Serialize;

/// An answer in a list (`POST /predict`'s `predictions`).
#[derive(Serialize)]
#[serde(untagged)]
pub enum Answer<'a> {
    Score(f32),
    Class {
        label: &'a Label,
        probabilities: ProbabilitiesMap<'a>,
    },
}

impl<'a> Answer<'a> {
    pub fn of(prediction: &'a Prediction) -> Self {
        match prediction {
            Prediction::Score(s) => Answer::Score(*s),
            Prediction::Class(c) => Answer::Class {
                label: c.label(),
                probabilities: c.probabilities_map(),
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
}

impl<'a> ProductAnswer<'a> {
    pub fn new(product_id: &'a str, prediction: &'a Prediction, model_version: &'a str) -> Self {
        let (score, label, probabilities) = match Answer::of(prediction) {
            Answer::Score(s) => (Some(s), None, None),
            Answer::Class {
                label,
                probabilities,
            } => (None, Some(label), Some(probabilities)),
        };
        ProductAnswer {
            product_id,
            score,
            label,
            probabilities,
            model_version,
        }
    }
}
