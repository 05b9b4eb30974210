//! Each captured row scored again by the candidate, through its own schema (the reading
//! the function does), and compared with what was answered, per captured model version:
//! the challenger comparison's tally, with the captured answer in the champion's place.

use std::collections::BTreeMap;
use std::sync::Arc;

use scoring::{
    Batch, ClassPrediction, ComparisonTally, Label, Model, Prediction, RowFailure, Scored,
};
use store::capture::{CapturedAnswer, CapturedRequest, LabelValue};

/// Why a row has no candidate answer: the challenger comparison's reasons (the batch
/// function's `challenger::reasons`), so that both reports read alike.
pub mod reasons {
    pub const MISSING_OR_INVALID: &str = "missing or invalid attribute";
    pub const UNKNOWN_CATEGORY: &str = "unknown category";
    pub const NOT_FINITE: &str = "not finite";
    pub const SCORING_FAILED: &str = "scoring failed";
}

/// Rows scored per call of the candidate.
const CHUNK_ROWS: usize = 512;

/// One captured model version's traffic, replayed.
#[derive(Debug, Default)]
pub struct VersionReplay {
    pub requests: u64,
    pub rows: u64,
    /// Rows the function answered with an error: nothing to compare with.
    pub rows_without_answer: u64,
    pub tally: ComparisonTally,
}

/// Replays `requests` with `candidate`, by captured model version.
pub fn replay(candidate: &Model, requests: &[CapturedRequest]) -> BTreeMap<String, VersionReplay> {
    let mut by_version: BTreeMap<&str, Vec<&CapturedRequest>> = BTreeMap::new();
    for request in requests {
        by_version
            .entry(&request.model_version)
            .or_default()
            .push(request);
    }
    by_version
        .into_iter()
        .map(|(version, requests)| (version.to_owned(), replay_version(candidate, &requests)))
        .collect()
}

/// A captured row waiting for the candidate's answer.
struct Pending {
    id: String,
    answered: Prediction,
    /// Its row in the candidate's batch, or `None` if the candidate's schema could not
    /// read it.
    at: Option<usize>,
}

fn replay_version(candidate: &Model, requests: &[&CapturedRequest]) -> VersionReplay {
    let mut out = VersionReplay::default();
    let schema = candidate.schema();
    let mut batch = schema.batch(CHUNK_ROWS);
    let mut pending: Vec<Pending> = Vec::with_capacity(CHUNK_ROWS);
    for request in requests {
        out.requests += 1;
        for (i, row) in request.rows.iter().enumerate() {
            out.rows += 1;
            let Some(answered) = prediction(&row.answer) else {
                out.rows_without_answer += 1;
                continue;
            };
            let at = batch.rows();
            let read = schema.read_row(&row.features.to_row(), &mut batch).is_ok();
            pending.push(Pending {
                id: format!("{}#{}", request.request_id, request.first_row as usize + i),
                answered,
                at: read.then_some(at),
            });
            if pending.len() == CHUNK_ROWS {
                flush(candidate, &mut batch, &mut pending, &mut out.tally);
            }
        }
    }
    flush(candidate, &mut batch, &mut pending, &mut out.tally);
    out
}

fn flush(
    candidate: &Model,
    batch: &mut Batch,
    pending: &mut Vec<Pending>,
    tally: &mut ComparisonTally,
) {
    let scored: Result<Option<Scored>, ()> = if batch.is_empty() {
        Ok(None)
    } else {
        candidate.score(batch, &mut ()).map(Some).map_err(drop)
    };
    for row in pending.drain(..) {
        let theirs = match (&scored, row.at) {
            (_, None) => Err(reasons::MISSING_OR_INVALID),
            (Err(()), Some(_)) => Err(reasons::SCORING_FAILED),
            (Ok(None), Some(_)) => unreachable!("a row read into an empty batch"),
            (Ok(Some(scored)), Some(at)) => scored.outcome(at).map_err(|f| match f {
                RowFailure::UnknownCategory => reasons::UNKNOWN_CATEGORY,
                RowFailure::NotFinite => reasons::NOT_FINITE,
            }),
        };
        tally.add(&row.id, &row.answered, theirs.as_ref().map_err(|r| *r));
    }
    batch.clear();
}

/// What the function answered, as the domain's answer; `None` for an error.
pub fn prediction(answer: &CapturedAnswer) -> Option<Prediction> {
    match answer {
        CapturedAnswer::Score { score } => Some(Prediction::Score(*score as f32)),
        CapturedAnswer::Error { .. } => None,
        CapturedAnswer::Class {
            label,
            probabilities,
        } => {
            let as_label = |class: &str| match label {
                LabelValue::Int(_) => class
                    .parse::<i64>()
                    .map(Label::Int)
                    .unwrap_or_else(|_| Label::Text(Arc::from(class))),
                LabelValue::Text(_) => Label::Text(Arc::from(class)),
            };
            let mut classes: Vec<Label> = probabilities.keys().map(|c| as_label(c)).collect();
            let mut shares: Vec<f32> = probabilities.values().map(|p| *p as f32).collect();
            let chosen = label.to_string();
            let at = match probabilities.keys().position(|c| *c == chosen) {
                Some(at) => at,
                None => {
                    classes.push(as_label(&chosen));
                    shares.push(0.0);
                    classes.len() - 1
                }
            };
            Some(Prediction::Class(ClassPrediction {
                classes: classes.into(),
                label: at,
                probabilities: shares,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_captured_class_answer_keeps_its_label_and_probabilities() {
        let answer = CapturedAnswer::Class {
            label: LabelValue::Int(6),
            probabilities: [("5".to_owned(), 0.25), ("6".to_owned(), 0.75)].into(),
        };
        let Some(Prediction::Class(c)) = prediction(&answer) else {
            panic!("a class answer")
        };
        assert_eq!(c.label(), &Label::Int(6));
        assert_eq!(c.probabilities, vec![0.25, 0.75]);
        let text = CapturedAnswer::Class {
            label: LabelValue::Text("good".into()),
            probabilities: [("bad".to_owned(), 1.0)].into(),
        };
        let Some(Prediction::Class(c)) = prediction(&text) else {
            panic!("a class answer")
        };
        // A label missing from its probabilities is listed with none.
        assert_eq!(c.label(), &Label::Text("good".into()));
        assert_eq!(c.probabilities, vec![1.0, 0.0]);
        assert_eq!(
            prediction(&CapturedAnswer::Error {
                error: "unknown category".into()
            }),
            None
        );
    }
}
