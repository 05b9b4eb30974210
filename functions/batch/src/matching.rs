//! Which prediction each outcome is joined with, and the tally of the pairs: the rules of
//! the nightly join, with no I/O (the stored results and the captures are read before).
//!
//! - An outcome about a product is joined with the product's stored nightly result if
//!   that was scored at or before the outcome was observed (a result written after it
//!   was not what the outcome answers), and with the latest captured online answer for
//!   the product (`GET /predict/{product_id}`) given at or before it was observed: up to
//!   two pairs, one per source.
//! - An outcome about a request is joined with that captured request's row.
//!
//! An outcome joined with nothing is counted as unmatched, with the reason.

use std::collections::HashMap;

use scoring::accuracy::{AccuracyTally, Answered, Observed, Source};
use store::capture::{CapturedAnswer, CapturedRequest};
use store::outcomes::{self, Outcome, Subject};
use store::predictions::Prediction;

pub mod reasons {
    pub const NO_PREDICTION: &str = "no stored or captured prediction for the product";
    pub const STORED_NEWER: &str = "the stored prediction is newer than the outcome";
    pub const UNKNOWN_REQUEST: &str = "no captured request with this request_id";
    pub const NO_SUCH_ROW: &str = "the captured request has no such row";
    pub const ANSWER_WAS_AN_ERROR: &str = "the captured answer was an error";
    pub const NO_CAPTURES: &str =
        "captures are not read (CAPTURE_BUCKET unset): a request_id cannot be joined";
}

/// The captures, indexed for the join.
#[derive(Default)]
struct Index<'a> {
    /// `GET /predict/{product_id}` captures by product.
    by_product: HashMap<&'a str, Vec<&'a CapturedRequest>>,
    /// Every capture by request id (a large request may come in several parts).
    by_request: HashMap<&'a str, Vec<&'a CapturedRequest>>,
}

impl<'a> Index<'a> {
    fn of(captures: &'a [CapturedRequest]) -> Index<'a> {
        let mut index = Index::default();
        for request in captures {
            if let Some(product) = &request.product_id {
                index.by_product.entry(product).or_default().push(request);
            }
            index
                .by_request
                .entry(&request.request_id)
                .or_default()
                .push(request);
        }
        index
    }

    /// The latest capture for the product answered at or before `observed_at`.
    fn latest_for(&self, product: &str, observed_at: &str) -> Option<&'a CapturedRequest> {
        self.by_product
            .get(product)?
            .iter()
            .filter(|r| r.time.as_str() <= observed_at && !r.rows.is_empty())
            .max_by(|a, b| a.time.cmp(&b.time))
            .copied()
    }

    /// The answer of row `row` of request `id`: `Err` with the reason when there is none.
    fn row(&self, id: &str, row: u32) -> Result<(&'a str, &'a CapturedAnswer), &'static str> {
        let parts = self.by_request.get(id).ok_or(reasons::UNKNOWN_REQUEST)?;
        parts
            .iter()
            .find_map(|part| {
                let i = row.checked_sub(part.first_row)? as usize;
                part.rows
                    .get(i)
                    .map(|r| (part.model_version.as_str(), &r.answer))
            })
            .ok_or(reasons::NO_SUCH_ROW)
    }
}

fn observed(outcome: &Outcome) -> Observed<'_> {
    match &outcome.observed {
        outcomes::Observed::Number(n) => Observed::Number(*n),
        outcomes::Observed::Label(l) => Observed::Label(l),
    }
}

fn answered(answer: &CapturedAnswer) -> Result<Answered<'_>, &'static str> {
    match answer {
        CapturedAnswer::Score { score } => Ok(Answered::Score(*score)),
        CapturedAnswer::Class {
            label,
            probabilities,
        } => Ok(Answered::Class {
            label: label.to_string().into(),
            probabilities: probabilities
                .iter()
                .map(|(class, p)| (class.as_str().into(), *p))
                .collect(),
        }),
        CapturedAnswer::Error { .. } => Err(reasons::ANSWER_WAS_AN_ERROR),
    }
}

/// Joins each outcome with the predictions it refers to and tallies the pairs. `stored`:
/// the products' stored nightly results (those found); `captures`: `None` when captures
/// are not read at all.
pub fn tally(
    outcomes: &[Outcome],
    stored: &[Prediction],
    captures: Option<&[CapturedRequest]>,
) -> AccuracyTally {
    let stored: HashMap<&str, &Prediction> =
        stored.iter().map(|p| (p.product_id.as_str(), p)).collect();
    let index = captures.map(Index::of).unwrap_or_default();
    let mut tally = AccuracyTally::default();
    for outcome in outcomes {
        let observed = observed(outcome);
        let at = outcome.observed_at.as_str();
        match &outcome.subject {
            Subject::Product(id) => {
                let mut joined = false;
                let mut reason = reasons::NO_PREDICTION;
                if let Some(p) = stored.get(id.as_str()) {
                    if &*p.scored_at <= at {
                        let answer = Answered::of(&p.answer);
                        tally.add(&p.model_version, Source::Nightly, &answer, observed);
                        joined = true;
                    } else {
                        reason = reasons::STORED_NEWER;
                    }
                }
                if let Some(request) = index.latest_for(id, at) {
                    match answered(&request.rows[0].answer) {
                        Ok(answer) => {
                            tally.add(&request.model_version, Source::Online, &answer, observed);
                            joined = true;
                        }
                        Err(why) if !joined => reason = why,
                        Err(_) => {}
                    }
                }
                if !joined {
                    tally.unmatched(reason);
                }
            }
            Subject::Request { id, row } => {
                if captures.is_none() {
                    tally.unmatched(reasons::NO_CAPTURES);
                    continue;
                }
                match index.row(id, *row).and_then(|(v, a)| Ok((v, answered(a)?))) {
                    Ok((version, answer)) => {
                        tally.add(version, Source::Online, &answer, observed);
                    }
                    Err(reason) => tally.unmatched(reason),
                }
            }
        }
    }
    tally
}
