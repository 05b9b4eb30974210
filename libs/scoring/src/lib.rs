//! The domain core: scikit-learn regression models exported to ONNX, scored with tract.
//!
//! - [`Model`] is built once from ONNX bytes and a version string; one optimized plan
//!   with a symbolic batch axis serves one row or a hundred thousand.
//! - [`FeatureSchema`] comes from the model file (a `[N, F]` input plus `feature_names`
//!   metadata, or one `[N, 1]` input per feature), never from code.
//! - [`ops`] adds the ONNX-ML operators skl2onnx emits and tract lacks (`Scaler`,
//!   `TreeEnsembleRegressor`), the latter with this crate's own tree evaluator.
//!
//! Nothing here knows about Lambda or AWS.

mod error;
pub mod forest;
mod model;
pub mod ops;
mod row;
mod schema;

pub use error::{LoadError, RowError, RowProblem, ScoreError};
pub use model::Model;
pub use row::{FeatureRow, FeatureValue, Row, Value};
pub use schema::{FeatureSchema, InputLayout, FEATURE_NAMES_KEY};

// One model serves every request of a Lambda sandbox, from whichever runtime thread.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Model>();
};
