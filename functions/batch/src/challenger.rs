//! The challenger's side of the pipeline: each batch the champion scores is scored by the
//! challenger too, on the same rows, and each row the champion answered gets the
//! challenger's answer or the short reason it has none. The champion's answers never
//! depend on it: a row the challenger cannot read, a row it fails on, or a batch it fails
//! to score is counted in the run's comparison, and the champion's result is written as
//! without a challenger.
//!
//! A challenger reading the champion's features (the same schema) scores the champion's
//! batch as it is; one reading others gets the same scanned rows through its own schema
//! into a batch of its own, reused page after page.

use scoring::{Batch, FeatureSchema, Model, Prediction, RowFailure, ScoreError, Scored};
use store::scan::ScannedRow;

/// The reasons a row the champion answered has no challenger answer (the keys of the
/// summary's `challenger_error_reasons`).
pub mod reasons {
    /// The challenger's schema cannot read the row: an attribute it needs is absent, or
    /// of a type it does not take.
    pub const MISSING_OR_INVALID: &str = "missing or invalid attribute";
    pub const UNKNOWN_CATEGORY: &str = "unknown category";
    pub const NOT_FINITE: &str = "not finite";
    /// The challenger failed on the whole batch (logged).
    pub const SCORING_FAILED: &str = "scoring failed";
    /// The run started with a challenger this invocation's sandbox did not load.
    pub const NOT_LOADED_HERE: &str = "the challenger is not loaded in this sandbox";
    /// The run started with another challenger version than this sandbox's.
    pub const OTHER_VERSION_HERE: &str = "another challenger version in this sandbox";
}

/// What an invocation does with the challenger.
#[derive(Debug, Clone, Copy)]
pub enum Challenger<'a> {
    /// Score every batch with it.
    Scores(&'a Model),
    /// The run has a challenger this sandbox cannot use: every row the champion answers
    /// is counted as a challenger error with this reason.
    Absent(&'static str),
}

/// The attributes a scan reads: the champion's features, then the challenger's it does
/// not read, so that a challenger needing another attribute gets it where the table has it.
pub fn scanned_attributes(champion: &Model, challenger: Option<&Model>) -> Vec<String> {
    let mut attributes = champion.features().to_vec();
    for feature in challenger.map(Model::features).unwrap_or_default() {
        if !attributes.contains(feature) {
            attributes.push(feature.clone());
        }
    }
    attributes
}

/// The challenger's inputs for one batch of the champion's, kept across batches.
pub(crate) struct Inputs<'a> {
    challenger: Challenger<'a>,
    /// `None`: the champion's batch is the challenger's too.
    own: Option<Own<'a>>,
}

struct Own<'a> {
    schema: &'a FeatureSchema,
    batch: Batch,
    /// Per row of the champion's batch: its row in `batch`, or `None` if the challenger's
    /// schema could not read it.
    rows: Vec<Option<u32>>,
}

/// The challenger's outcome for a batch.
pub(crate) enum Outcome<'i> {
    Scored(&'i Inputs<'i>, Scored),
    /// No answer for any row, for this reason.
    None(&'static str),
}

impl<'a> Inputs<'a> {
    /// Room for `rows` rows a batch.
    pub(crate) fn new(challenger: Challenger<'a>, champion: &FeatureSchema, rows: usize) -> Self {
        let own = match challenger {
            Challenger::Scores(model) if model.schema() != champion => Some(Own {
                schema: model.schema(),
                batch: model.schema().batch(rows),
                rows: Vec::with_capacity(rows),
            }),
            _ => None,
        };
        Inputs { challenger, own }
    }

    pub(crate) fn clear(&mut self) {
        if let Some(own) = &mut self.own {
            own.batch.clear();
            own.rows.clear();
        }
    }

    /// A row the champion's schema has read into its batch (call in the same order).
    pub(crate) fn read(&mut self, scanned: &ScannedRow) {
        if let Some(own) = &mut self.own {
            let at = own.batch.rows() as u32;
            let read = own.schema.read_row(&scanned.row, &mut own.batch).is_ok();
            own.rows.push(read.then_some(at));
        }
    }

    /// Scores the batch (`champion`: the champion's inputs for it).
    pub(crate) fn score(&self, champion: &Batch) -> Outcome<'_> {
        let model = match self.challenger {
            Challenger::Scores(model) => model,
            Challenger::Absent(reason) => return Outcome::None(reason),
        };
        let inputs = match &self.own {
            None => champion,
            // Nothing it can read: not worth a call.
            Some(own) if own.batch.is_empty() => return Outcome::None(reasons::MISSING_OR_INVALID),
            Some(own) => &own.batch,
        };
        match model.score(inputs, &mut ()) {
            Ok(scored) => Outcome::Scored(self, scored),
            Err(e) => {
                log_failed(model, inputs.rows(), &e);
                Outcome::None(reasons::SCORING_FAILED)
            }
        }
    }
}

impl Outcome<'_> {
    /// The challenger's answer for row `row` of the champion's batch, or why it has none.
    pub(crate) fn answer(&self, row: usize) -> Result<Prediction, &'static str> {
        let (inputs, scored) = match self {
            Outcome::None(reason) => return Err(reason),
            Outcome::Scored(inputs, scored) => (inputs, scored),
        };
        let row = match &inputs.own {
            None => row,
            Some(own) => match own.rows.get(row).copied().flatten() {
                Some(at) => at as usize,
                None => return Err(reasons::MISSING_OR_INVALID),
            },
        };
        scored.outcome(row).map_err(|failure| match failure {
            RowFailure::UnknownCategory => reasons::UNKNOWN_CATEGORY,
            RowFailure::NotFinite => reasons::NOT_FINITE,
        })
    }
}

fn log_failed(model: &Model, rows: usize, error: &ScoreError) {
    tracing::warn!(
        challenger_version = model.version(),
        rows,
        error = %error,
        "the challenger failed to score a batch; the champion's answers are written without its"
    );
}
