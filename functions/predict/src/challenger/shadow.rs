//! The challenger beside the champion on one request: once the champion has answered, the
//! same rows are scored by the challenger and each answer compared with the champion's.
//! Nothing here reaches the caller: whatever the challenger does (a row it cannot read, a
//! row it cannot answer, a failed call) is counted, logged once, and the champion's
//! answer stands as it is.

use scoring::{compare, Batch, FeatureSchema, RowError, RowFailure, Scored};

use super::loaded::Loaded;
use super::metrics::ChallengerObserver;
use crate::telemetry::MAX_SCORES_PER_REQUEST;

/// The challenger's run on a request the champion answered.
pub struct Shadow<'a> {
    challenger: &'a Loaded,
    /// The request's, for the log line.
    request_id: Option<&'a str>,
}

/// The first reason the challenger had no answer for a row, and how many rows had none.
#[derive(Default)]
struct Errors {
    rows: u64,
    first: Option<(usize, &'static str, String)>,
}

impl Errors {
    fn add(&mut self, row: usize, reason: &'static str, detail: impl FnOnce() -> String) {
        self.rows += 1;
        if self.first.is_none() {
            self.first = Some((row, reason, detail()));
        }
    }
}

impl<'a> Shadow<'a> {
    pub(super) fn new(challenger: &'a Loaded, request_id: Option<&'a str>) -> Self {
        Shadow {
            challenger,
            request_id,
        }
    }

    /// Scores the rows of the champion's `batch` it answered (`scored`) with the challenger
    /// and records how the answers compare. A challenger with the champion's schema scores
    /// `batch` itself; any other reads each row again through its own schema with `read`
    /// (row index, the challenger's schema, its batch), from the request's source rows.
    /// Returns its answers, for the request's capture.
    pub fn run(
        &self,
        batch: &Batch,
        scored: &Scored,
        mut read: impl FnMut(usize, &FeatureSchema, &mut Batch) -> Result<(), RowError>,
    ) -> ChallengerAnswers<'a> {
        let challenger = self.challenger;
        let mut errors = Errors::default();
        // The challenger's rows, by the champion's row each one is (None: the same rows).
        let mut rows: Option<Vec<usize>> = None;
        let own;
        let batch = if challenger.same_schema {
            batch
        } else {
            let schema = challenger.model.schema();
            let mut own_batch = schema.batch(scored.rows());
            let mut read_rows = Vec::with_capacity(scored.rows());
            for row in 0..scored.rows() {
                if scored.failure(row).is_some() {
                    continue;
                }
                match read(row, schema, &mut own_batch) {
                    Ok(()) => read_rows.push(row),
                    Err(e) => errors.add(row, "missing or invalid attribute", || e.to_string()),
                }
            }
            rows = Some(read_rows);
            own = own_batch;
            &own
        };
        let champion_row = |row: usize| rows.as_ref().map_or(row, |r| r[row]);
        let mut compared = 0u64;
        let mut disagreed = 0u64;
        let mut kept = None;
        if !batch.is_empty() {
            let mut observer = ChallengerObserver(&challenger.metrics);
            match challenger.model.score(batch, &mut observer) {
                Ok(answers) => {
                    // At most MAX_SCORES_PER_REQUEST differences, sampled evenly.
                    let step = answers.rows().div_ceil(MAX_SCORES_PER_REQUEST).max(1);
                    for (row, outcome) in answers.outcomes().enumerate() {
                        let champion_row = champion_row(row);
                        let Ok(champion) = scored.outcome(champion_row) else {
                            continue;
                        };
                        match outcome {
                            Ok(answer) => {
                                let comparison = compare(&champion, &answer);
                                if let Some(difference) = comparison.abs_difference {
                                    if compared.is_multiple_of(step as u64)
                                        && difference.is_finite()
                                    {
                                        challenger.metrics.abs_difference().record(difference);
                                    }
                                }
                                if comparison.labels_agree == Some(false) {
                                    disagreed += 1;
                                }
                                compared += 1;
                            }
                            Err(failure) => {
                                errors.add(champion_row, failure_reason(failure), || {
                                    failure.to_string()
                                })
                            }
                        }
                    }
                    kept = Some(answers);
                }
                Err(e) => {
                    for row in 0..batch.rows() {
                        errors.add(champion_row(row), "scoring failed", || e.to_string());
                    }
                }
            }
        }
        let metrics = &challenger.metrics;
        metrics.compared(compared, disagreed);
        metrics.errors(errors.rows);
        if let Some((first_row, reason, detail)) = errors.first {
            // Once per request, not per row: a challenger that needs an attribute no row
            // has would otherwise write a line per row.
            tracing::warn!(
                request_id = self.request_id,
                challenger_version = challenger.model.version(),
                rows = errors.rows,
                first_row,
                reason,
                detail,
                "the challenger could not answer every row the champion answered"
            );
        }
        ChallengerAnswers {
            version: challenger.model.version(),
            scored: kept,
            rows,
        }
    }
}

/// What the challenger answered on a request, row by row of the champion's batch.
pub struct ChallengerAnswers<'a> {
    pub version: &'a str,
    /// `None` when it scored nothing (no row it could read) or its call failed.
    scored: Option<Scored>,
    /// The champion's row of each of its rows (`None`: the same rows).
    rows: Option<Vec<usize>>,
}

impl ChallengerAnswers<'_> {
    /// Its answers and the index in them of the champion's row `row`; `None` where it has
    /// none (a row it could not read, or no answers at all).
    pub fn row(&self, row: usize) -> Option<(&Scored, usize)> {
        let scored = self.scored.as_ref()?;
        let at = match &self.rows {
            None => row,
            // Rows are read in order: ascending.
            Some(rows) => rows.binary_search(&row).ok()?,
        };
        (at < scored.rows()).then_some((scored, at))
    }
}

/// The contract's short reason for a row the challenger could not answer.
fn failure_reason(failure: RowFailure) -> &'static str {
    match failure {
        RowFailure::UnknownCategory => "unknown category",
        RowFailure::NotFinite => "not finite",
    }
}
