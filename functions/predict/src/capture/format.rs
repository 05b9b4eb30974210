//! The capture line, written straight from what the request already holds (the model's
//! batch, its answers, the challenger's): no owned `CapturedRequest` is built. The JSON is
//! `store::capture`'s format; the tests read every line back into `CapturedRequest`.

use scoring::{Batch, BatchValue, FeatureSchema, Label, Predictions, RowFailure, Scored};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::challenger::ChallengerAnswers;

/// A record's fields before its rows: `CapturedRequest`'s, in its order.
#[derive(serde::Serialize)]
pub(super) struct Header<'a> {
    pub capture: u32,
    pub request_id: &'a str,
    pub time: &'a str,
    pub route: &'a str,
    pub model: &'a str,
    pub model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenger_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<&'a str>,
    pub first_row: usize,
}

/// Appends `header` to `out` as an open record, up to the `rows` array's first row.
pub(super) fn open_record(out: &mut Vec<u8>, header: &Header<'_>) {
    // Writing to a Vec cannot fail, and a struct of strings and numbers always serializes.
    let _ = serde_json::to_writer(&mut *out, header);
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
    out.extend_from_slice(br#","rows":["#);
}

/// What closes a record: its rows, the record, the line.
pub(super) const CLOSE: &[u8] = b"]}\n";

/// Row `row` of a scored batch: its features as `schema` read them, the answer, and the
/// challenger's.
pub(super) struct RowOut<'a> {
    pub schema: &'a FeatureSchema,
    pub batch: &'a Batch,
    pub scored: &'a Scored,
    pub challenger: Option<&'a ChallengerAnswers<'a>>,
    pub row: usize,
}

impl Serialize for RowOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = if self.challenger.is_some() { 3 } else { 2 };
        let mut map = s.serialize_map(Some(fields))?;
        map.serialize_entry("features", &FeaturesOut(self))?;
        map.serialize_entry("answer", &AnswerOut::of(self.scored, self.row))?;
        if let Some(challenger) = self.challenger {
            let answer = match challenger.row(self.row) {
                Some((scored, at)) => AnswerOut::of(scored, at),
                None => AnswerOut::Error(Why::ChallengerUnanswered),
            };
            map.serialize_entry("challenger", &answer)?;
        }
        map.end()
    }
}

struct FeaturesOut<'r, 'a>(&'r RowOut<'a>);

impl Serialize for FeaturesOut<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let RowOut {
            schema, batch, row, ..
        } = self.0;
        let features = schema.features();
        let mut map = s.serialize_map(Some(features.len()))?;
        for (i, feature) in features.iter().enumerate() {
            let value = batch
                .value(*row, i)
                .ok_or_else(|| serde::ser::Error::custom("a row outside the batch"))?;
            let name = feature.name.as_str();
            match value {
                BatchValue::F32(v) if v.is_finite() => map.serialize_entry(name, &v)?,
                BatchValue::F64(v) if v.is_finite() => map.serialize_entry(name, &v)?,
                BatchValue::I64(v) => map.serialize_entry(name, &v)?,
                // The missing category only where the model reads it as missing (a caller's
                // "" reaches a model that refuses missing values as "").
                BatchValue::Text(t) if t == scoring::MISSING_TEXT && feature.accepts_missing => {
                    map.serialize_entry(name, &())?
                }
                BatchValue::Text(t) => map.serialize_entry(name, t)?,
                // NaN: a missing number.
                BatchValue::F32(_) | BatchValue::F64(_) => map.serialize_entry(name, &())?,
            }
        }
        map.end()
    }
}

/// Why a row has no answer.
#[derive(Clone, Copy)]
enum Why {
    Failure(RowFailure),
    /// The challenger could not read the row, or its call failed.
    ChallengerUnanswered,
}

/// A row's answer as the API answers it (`CapturedAnswer`).
enum AnswerOut<'a> {
    Score(f32),
    Class {
        classes: &'a [Label],
        label: usize,
        probabilities: &'a [f32],
    },
    Error(Why),
}

impl<'a> AnswerOut<'a> {
    fn of(scored: &'a Scored, row: usize) -> AnswerOut<'a> {
        if let Some(failure) = scored.failure(row) {
            return AnswerOut::Error(Why::Failure(failure));
        }
        match scored.answers() {
            Predictions::Scores(scores) => AnswerOut::Score(scores[row]),
            Predictions::Classes {
                classes,
                labels,
                probabilities,
            } => {
                let n = classes.len();
                AnswerOut::Class {
                    classes,
                    label: labels[row],
                    probabilities: &probabilities[row * n..(row + 1) * n],
                }
            }
        }
    }
}

impl Serialize for AnswerOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AnswerOut::Score(score) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("score", score)?;
                map.end()
            }
            AnswerOut::Class {
                classes,
                label,
                probabilities,
            } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("label", &classes[*label])?;
                map.serialize_entry(
                    "probabilities",
                    &Probabilities {
                        classes,
                        probabilities,
                    },
                )?;
                map.end()
            }
            AnswerOut::Error(why) => {
                let mut map = s.serialize_map(Some(1))?;
                match why {
                    Why::Failure(failure) => {
                        map.serialize_entry("error", &format_args!("{failure}"))?
                    }
                    Why::ChallengerUnanswered => map.serialize_entry(
                        "error",
                        "the challenger could not read or score this row",
                    )?,
                }
                map.end()
            }
        }
    }
}

/// `{"<class>": p}` in class order: an integer label is a quoted number as a JSON key.
struct Probabilities<'a> {
    classes: &'a [Label],
    probabilities: &'a [f32],
}

impl Serialize for Probabilities<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.classes.len()))?;
        for (class, p) in self.classes.iter().zip(self.probabilities) {
            map.serialize_entry(class, p)?;
        }
        map.end()
    }
}
