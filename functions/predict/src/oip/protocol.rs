//! The protocol's JSON, its names and the model it serves: what every part of the
//! Open Inference Protocol routes reads and writes.

use std::borrow::Cow;

use scoring::{FeatureSchema, FeatureType, InputLayout, Label, Model, Space, Task};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::tensors::TensorData;
use crate::capture::Capturing;
use crate::challenger::Shadow;
use crate::http::ApiError;

/// The model platform the metadata reports.
pub const PLATFORM: &str = "onnx";
/// The output every model has: the regressor's score or the classifier's label.
pub const PREDICT: &str = "predict";
/// A classifier's probabilities, `[N, C]`.
pub const PREDICT_PROBA: &str = "predict_proba";
/// Each row's explanation, `FP64`: `[N, F]` for one explained target, `[N, T, F]` for
/// several; answered only when asked for (`parameters.explain`, or named in `outputs`).
pub const CONTRIBUTIONS: &str = "contributions";

/// Triton's binary tensor extension announces the JSON part's length in this header, in
/// requests and answers.
pub(super) const BINARY_HEADER: &str = "inference-header-content-length";
/// The extension's name in the server metadata.
pub(super) const BINARY_EXTENSION: &str = "binary_tensor_data";

/// A model the function serves, as the protocol names it: the champion, with the
/// challenger's run beside it on every inference (if one is loaded), or the challenger
/// called by its own name.
pub struct Served<'a> {
    pub model: &'a Model,
    pub name: &'a str,
    pub shadow: Option<Shadow<'a>>,
    pub capture: Option<Capturing<'a>>,
}

// ------------------------------------------------------------------ the protocol's JSON

#[derive(Serialize)]
pub(super) struct Live {
    pub(super) live: bool,
}

#[derive(Serialize)]
pub(super) struct Ready {
    pub(super) ready: bool,
}

#[derive(Serialize)]
pub(super) struct ModelReady<'a> {
    pub(super) name: &'a str,
    pub(super) ready: bool,
}

#[derive(Serialize)]
pub(super) struct ServerMetadata {
    pub(super) name: &'static str,
    pub(super) version: &'static str,
    /// The one protocol extension served: Triton's binary tensor data.
    pub(super) extensions: [&'static str; 1],
}

#[derive(Serialize)]
pub(super) struct ModelMetadata<'a> {
    pub(super) name: &'a str,
    pub(super) versions: [&'a str; 1],
    pub(super) platform: &'static str,
    pub(super) inputs: Vec<TensorMetadata<'a>>,
    pub(super) outputs: Vec<TensorMetadata<'a>>,
}

#[derive(Serialize)]
pub(super) struct TensorMetadata<'a> {
    pub(super) name: &'a str,
    pub(super) datatype: &'static str,
    /// `-1` for the batch axis.
    pub(super) shape: Shape<i64>,
    /// An extension the protocol allows: what the tensor's columns are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) parameters: Option<TensorParameters<'a>>,
}

/// A tensor's shape: two axes, or three (`contributions` per target).
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub(super) enum Shape<T> {
    Two([T; 2]),
    Three([T; 3]),
}

#[derive(Serialize, Default)]
pub(super) struct TensorParameters<'a> {
    /// `contributions`: where they add up to the answer (score, margin or probability).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) space: Option<Space>,
    /// A matrix input's columns, in order; `contributions`' last axis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) feature_names: Option<&'a [String]>,
    /// `predict_proba`'s columns, in order; `contributions`' targets, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) classes: Option<&'a [Label]>,
    /// `contributions`: each target's base value (what the contributions add to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) base_values: Option<&'a [f64]>,
}

#[derive(Deserialize)]
pub(super) struct InferenceRequest<'a> {
    #[serde(default, borrow)]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) inputs: Vec<RequestInput<'a>>,
    #[serde(default, borrow)]
    pub(super) outputs: Option<Vec<RequestOutput<'a>>>,
    /// Only `binary_data_output` and `explain` are read; unknown fields are ignored.
    #[serde(default)]
    pub(super) parameters: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
pub(super) struct RequestInput<'a> {
    #[serde(borrow)]
    pub(super) name: Cow<'a, str>,
    pub(super) shape: Vec<i64>,
    #[serde(borrow)]
    pub(super) datatype: Cow<'a, str>,
    #[serde(default)]
    pub(super) parameters: Option<Map<String, Value>>,
    /// Flat in row-major order, however nested the request's `data` was.
    #[serde(default, borrow)]
    pub(super) data: Option<TensorData<'a>>,
}

#[derive(Deserialize)]
pub(super) struct RequestOutput<'a> {
    #[serde(borrow)]
    pub(super) name: Cow<'a, str>,
    /// Only `binary_data` is read (others, such as `classification`, are ignored).
    #[serde(default)]
    pub(super) parameters: Option<Map<String, Value>>,
}

/// `parameters[key]` as a flag: absent is false; anything but a boolean is refused.
pub(super) fn flag(
    parameters: Option<&Map<String, Value>>,
    key: &str,
    whose: &str,
) -> Result<bool, ApiError> {
    match parameters.and_then(|p| p.get(key)) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ApiError::bad_request(format!(
            "{whose}: parameters.{key} must be true or false, not {other}"
        ))),
    }
}

#[derive(Serialize)]
pub(super) struct InferenceResponse<'a> {
    pub(super) model_name: &'a str,
    pub(super) model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<&'a str>,
    pub(super) outputs: Vec<ResponseOutput<'a>>,
}

#[derive(Serialize)]
pub(super) struct ResponseOutput<'a> {
    pub(super) name: &'static str,
    pub(super) datatype: &'static str,
    pub(super) shape: Shape<usize>,
    /// Absent when the data follows the JSON as binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) data: Option<OutputData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) parameters: Option<BinarySize>,
}

#[derive(Serialize)]
pub(super) struct BinarySize {
    pub(super) binary_data_size: usize,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum OutputData<'a> {
    Numbers(&'a [f32]),
    Labels(Vec<&'a Label>),
    /// `contributions`, row-major.
    Doubles(Vec<f64>),
}

// ------------------------------------------------------------------ names and types

pub(super) fn datatype_of(ty: FeatureType) -> &'static str {
    match ty {
        FeatureType::Float => "FP32",
        FeatureType::Double => "FP64",
        FeatureType::Int64 => "INT64",
        FeatureType::String => "BYTES",
    }
}

pub(super) fn label_datatype(classes: &[Label]) -> &'static str {
    match classes.first() {
        Some(Label::Int(_)) => "INT64",
        _ => "BYTES",
    }
}

/// The matrix input's name, if the model's features are one `[N, F]` input.
pub(super) fn matrix_input(schema: &FeatureSchema) -> Option<&str> {
    match schema.layout() {
        InputLayout::Matrix => schema.input_names().first().map(String::as_str),
        InputLayout::PerFeature => None,
    }
}

/// The outputs a model answers, in the default order.
pub(super) fn output_names(task: &Task) -> &'static [&'static str] {
    match task {
        Task::Regression => &[PREDICT],
        Task::Classification { .. } => &[PREDICT, PREDICT_PROBA],
    }
}
