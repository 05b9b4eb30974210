//! What can go wrong: loading a model (once, at cold start) and scoring rows (per call).

use std::fmt;

/// Why an ONNX model was refused at load. Every message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the model bytes are not a readable ONNX model: {0}")]
    Corrupt(String),
    #[error("the model has no inputs")]
    NoInputs,
    #[error(
        "input `{input}` is one [N, {width}] matrix but the model has no `feature_names` metadata, \
         so its columns have no names. Fix the export: either add the names, e.g. \
         `onnx.helper.set_model_props(onx, {{\"feature_names\": json.dumps(names)}})` \
         with one name per column in order, or export one [None, 1] input per feature, \
         named by the feature"
    )]
    NoFeatureNames { input: String, width: String },
    #[error("the `feature_names` metadata is unusable: {0}")]
    BadFeatureNames(String),
    #[error(
        "the `model_card` metadata is unusable: {0}; fix or remove it (a model without a \
         card loads, unwatched)"
    )]
    BadModelCard(String),
    #[error("input `{input}` is not supported: {problem}")]
    UnsupportedInput { input: String, problem: String },
    #[error(
        "the model's outputs are neither a regressor's nor a classifier's: {0}; expected one \
         numeric output of shape [N] or [N, 1] (a score per row), or a label output [N] \
         with a probability output [N, classes] (or its ZipMap)"
    )]
    UnsupportedOutput(String),
    #[error("operator `{op}` is not supported{}", hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default())]
    UnsupportedOperator { op: String, hint: Option<String> },
    #[error("the model cannot be prepared for scoring: {0}")]
    Unsupported(String),
}

/// What is wrong with one feature of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowProblem {
    Missing,
    NotNumeric {
        found: String,
    },
    NotFinite {
        value: f64,
    },
    NotInteger {
        value: f64,
    },
    NotText {
        found: String,
    },
    /// An explicit null where the model has no imputer or missing-value rule.
    MissingNotHandled,
}

/// A row that cannot be scored, naming the feature and, in a batch, the row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RowError {
    /// Position in the batch, when the row came in one.
    pub row: Option<usize>,
    pub feature: String,
    pub problem: RowProblem,
}

impl RowError {
    pub(crate) fn new(feature: &str, problem: RowProblem) -> Self {
        RowError {
            row: None,
            feature: feature.to_owned(),
            problem,
        }
    }

    /// The same error, placed at `row` in a batch.
    pub fn at_row(self, row: usize) -> Self {
        RowError {
            row: Some(row),
            ..self
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(row) = self.row {
            write!(f, "row {row}: ")?;
        }
        write!(f, "feature `{}` ", self.feature)?;
        match &self.problem {
            RowProblem::Missing => write!(f, "is missing"),
            RowProblem::NotNumeric { found } => write!(f, "is not a number (found {found})"),
            RowProblem::NotFinite { value } => write!(f, "is not a finite number ({value})"),
            RowProblem::NotInteger { value } => {
                write!(
                    f,
                    "is not a 64-bit integer ({value}); the model reads it as int64"
                )
            }
            RowProblem::NotText { found } => {
                write!(f, "is categorical and takes a string (found {found})")
            }
            RowProblem::MissingNotHandled => write!(
                f,
                "is null, but the model has no imputer or missing-value rule for it"
            ),
        }
    }
}

/// Why a scoring call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Row(#[from] RowError),
    #[error("{values} values do not make rows of {width} features")]
    Shape { values: usize, width: usize },
    #[error("the model failed while scoring: {0}")]
    Inference(String),
    #[error("the model is a classifier: it answers labels and probabilities, not scores")]
    NotARegressor,
    /// A categorical value the model never saw, where its encoder refuses unknown values
    /// (exported with `handle_unknown="error"`): the row's fault, not the model's.
    #[error(
        "a categorical value is not one the model was trained on, and its encoder refuses \
         unknown values (exported with handle_unknown=\"error\")"
    )]
    UnknownCategory,
}

/// Raised by an encoder op on a value outside its categories; `Model` turns it into
/// [`ScoreError::UnknownCategory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("element {element} is not a known category")]
pub(crate) struct UnknownCategory {
    pub element: usize,
}

/// Why rows got no explanation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// The model cannot explain (the caller asked for what the model does not offer): the
    /// message says why and, where there is one, how to add it.
    #[error("the model cannot explain its answers: {0}")]
    Unexplainable(std::sync::Arc<str>),
    /// The explanation failed: ours, not the caller's.
    #[error("the model failed while explaining: {0}")]
    Inference(String),
}
