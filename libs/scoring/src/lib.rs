//! The domain core: tabular models (scikit-learn, LightGBM, XGBoost) exported to ONNX,
//! regressors and classifiers, scored with tract.
//!
//! - [`Model`] is built once from ONNX bytes and a version string; one optimized plan
//!   with a symbolic batch axis serves one row or a hundred thousand.
//! - [`FeatureSchema`] comes from the model file (a `[N, F]` input plus `feature_names`
//!   metadata, or one `[N, 1]` input per feature), never from code.
//! - [`ops`] adds the ONNX-ML operators skl2onnx emits and tract lacks (`Scaler`,
//!   `TreeEnsembleRegressor`), the latter with this crate's own tree evaluator.
//!
//! Nothing here knows about Lambda or AWS.

pub mod accuracy;
mod batch;
pub mod card;
pub mod comparison;
mod error;
mod explain;
mod feature;
pub mod forest;
pub mod load_budget;
mod missing;
mod model;
pub mod ops;
mod outcome;
mod outputs;
mod prediction;
pub mod profile;
mod row;
mod schema;
#[cfg(feature = "test-support")]
mod testing;
pub mod watch;

pub use batch::{Batch, BatchValue};
pub use comparison::{compare, ComparisonReport, ComparisonTally, RowComparison};
pub use error::{ExplainError, LoadError, RowError, RowProblem, ScoreError};
pub use explain::{ExplainedTargets, Explanations, RowExplanation, Space};
pub use feature::{Feature, FeatureType, InputLayout, MISSING_TEXT};
pub use load_budget::{LoadBudget, TooLarge};
pub use model::Model;
pub use outcome::{Observer, RowFailure, Scored};
pub use prediction::{ClassPrediction, Label, Prediction, Predictions, ProbabilitiesMap, Task};
pub use row::{FeatureRow, FeatureValue, Row, Value};
pub use schema::{FeatureSchema, FEATURE_NAMES_KEY};
pub use watch::{DriftReport, DriftTally, Observation, VariableDrift, Watch, DRIFT_PSI_THRESHOLD};

// One model serves every request of a Lambda sandbox, from whichever runtime thread.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Model>();
};
