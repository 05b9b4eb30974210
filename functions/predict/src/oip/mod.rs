//! The Open Inference Protocol (KServe's "V2 inference protocol") over REST, beside the
//! function's own routes: health, server and model metadata, model readiness and
//! inference, for the one model the function serves, under the name `MODEL_NAME` and the
//! version the function reports as `model_version` everywhere else.
//!
//! Inputs are read into the same [`scoring::Batch`] `POST /predict` builds, through the
//! same [`FeatureSchema::read_row`], so both answer the same rows alike. Two input forms:
//! - one tensor per feature, named by the feature, shape `[N]` or `[N, 1]` (what KServe's
//!   tabular clients send with `"content_type": "pd"`), for every model;
//! - for a model whose features are one `[N, F]` matrix input: that input, by its ONNX
//!   name (the model metadata names it), shape `[N, F]`, columns in the metadata's
//!   `feature_names` order.
//!
//! Numeric features take any integer datatype (`INT8`..`INT64`, `UINT8`..`UINT64`, each
//! value within its range) and `FP32` or `FP64`; an `FP32` item is rounded to `f32` first
//! (it is an `f32`), and every value then reaches the model as `POST /predict` sends a JSON
//! number (rounded to the feature's `float`; an `int64` feature takes whole numbers only).
//! Categorical features take `BYTES` (JSON strings). `BOOL`, `FP16` and `BF16` are refused.
//! JSON `null` is no tensor item in the protocol, so missing values cannot be sent here
//! (nor NaN in binary data): `POST /predict` takes them.
//!
//! Triton's binary tensor data extension is served, because `tritonclient` uses it by
//! default: an input's data may follow the JSON part of the body as raw little-endian
//! bytes (`parameters.binary_data_size`, the JSON part's length in the
//! `Inference-Header-Content-Length` header), and outputs asked for with
//! `parameters.binary_data` (or all of them, with the request's `binary_data_output`) are
//! answered the same way.
//!
//! Outputs are named as MLServer's scikit-learn runtime names them, each `[N, 1]` or
//! `[N, C]` as it shapes them: `predict` (a regressor's `FP32` score; a classifier's label,
//! `INT64` or `BYTES` as the model's labels are) and, for a classifier, `predict_proba`
//! (`FP32`, one column per class in the model's class order, which the model metadata
//! gives as the output's `parameters.classes`). Without `outputs` in the request, every
//! output is answered, as the protocol says.

use std::borrow::Cow;

use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Response};
use scoring::{
    FeatureRow, FeatureSchema, FeatureType, FeatureValue, InputLayout, Label, Model, Observer,
    Predictions, Task,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::http::limits::MAX_INSTANCES;
use crate::http::{bounded_body, json_response, ApiError};
use crate::routes::{ModelRef, OipRoute};

mod binary;
mod infer;
mod tensors;

use tensors::TensorData;

/// The model platform the metadata reports.
pub const PLATFORM: &str = "onnx";
/// The output every model has: the regressor's score or the classifier's label.
pub const PREDICT: &str = "predict";
/// A classifier's probabilities, `[N, C]`.
pub const PREDICT_PROBA: &str = "predict_proba";

/// Triton's binary tensor extension announces the JSON part's length in this header, in
/// requests and answers.
const BINARY_HEADER: &str = "inference-header-content-length";
/// The extension's name in the server metadata.
const BINARY_EXTENSION: &str = "binary_tensor_data";

/// The one model the function serves, as the protocol names it.
pub(crate) struct Served<'a> {
    pub model: &'a Model,
    pub name: &'a str,
}

impl Served<'_> {
/// Answers an OIP route; an inference's scored batch is shown to `observer`.
pub(crate) fn answer(
    &self,
    route: &OipRoute<'_>,
    observer: &mut impl Observer,
    headers: &HeaderMap,
    body: &Body,
) -> Result<Response<Body>, ApiError> {
    let served = self;
    Ok(match route {
        OipRoute::ServerLive => json_response(StatusCode::OK, &Live { live: true }),
        // The function never serves without its model: once it answers, it is ready.
        OipRoute::ServerReady => json_response(StatusCode::OK, &Ready { ready: true }),
        OipRoute::ServerMetadata => json_response(
            StatusCode::OK,
            &ServerMetadata {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
                extensions: [BINARY_EXTENSION],
            },
        ),
        OipRoute::ModelReady(model) => {
            served.check(model)?;
            json_response(
                StatusCode::OK,
                &ModelReady {
                    name: served.name,
                    ready: true,
                },
            )
        }
        OipRoute::ModelMetadata(model) => {
            served.check(model)?;
            served.metadata()
        }
        OipRoute::Infer(model) => {
            served.check(model)?;
            served.infer(observer, headers, body)?
        }
    })
}
}

// ------------------------------------------------------------------ the protocol's JSON

#[derive(Serialize)]
struct Live {
    live: bool,
}

#[derive(Serialize)]
struct Ready {
    ready: bool,
}

#[derive(Serialize)]
struct ModelReady<'a> {
    name: &'a str,
    ready: bool,
}

#[derive(Serialize)]
struct ServerMetadata {
    name: &'static str,
    version: &'static str,
    /// The one protocol extension served: Triton's binary tensor data.
    extensions: [&'static str; 1],
}

#[derive(Serialize)]
struct ModelMetadata<'a> {
    name: &'a str,
    versions: [&'a str; 1],
    platform: &'static str,
    inputs: Vec<TensorMetadata<'a>>,
    outputs: Vec<TensorMetadata<'a>>,
}

#[derive(Serialize)]
struct TensorMetadata<'a> {
    name: &'a str,
    datatype: &'static str,
    /// `-1` for the batch axis.
    shape: [i64; 2],
    /// An extension the protocol allows: what the tensor's columns are.
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<TensorParameters<'a>>,
}

#[derive(Serialize)]
struct TensorParameters<'a> {
    /// A matrix input's columns, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    feature_names: Option<&'a [String]>,
    /// `predict_proba`'s columns, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    classes: Option<&'a [Label]>,
}

#[derive(Deserialize)]
struct InferenceRequest<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    inputs: Vec<RequestInput<'a>>,
    #[serde(default, borrow)]
    outputs: Option<Vec<RequestOutput<'a>>>,
    /// Only `binary_data_output` is read; unknown fields are ignored.
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct RequestInput<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    shape: Vec<i64>,
    #[serde(borrow)]
    datatype: Cow<'a, str>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    /// Flat in row-major order, however nested the request's `data` was.
    #[serde(default, borrow)]
    data: Option<TensorData<'a>>,
}

#[derive(Deserialize)]
struct RequestOutput<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    /// Only `binary_data` is read (others, such as `classification`, are ignored).
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// `parameters[key]` as a flag: absent is false; anything but a boolean is refused.
fn flag(parameters: Option<&Map<String, Value>>, key: &str, whose: &str) -> Result<bool, ApiError> {
    match parameters.and_then(|p| p.get(key)) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ApiError::bad_request(format!(
            "{whose}: parameters.{key} must be true or false, not {other}"
        ))),
    }
}

#[derive(Serialize)]
struct InferenceResponse<'a> {
    model_name: &'a str,
    model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    outputs: Vec<ResponseOutput<'a>>,
}

#[derive(Serialize)]
struct ResponseOutput<'a> {
    name: &'static str,
    datatype: &'static str,
    shape: [usize; 2],
    /// Absent when the data follows the JSON as binary.
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<OutputData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<BinarySize>,
}

#[derive(Serialize)]
struct BinarySize {
    binary_data_size: usize,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OutputData<'a> {
    Numbers(&'a [f32]),
    Labels(Vec<&'a Label>),
}

// ------------------------------------------------------------------ metadata

fn datatype_of(ty: FeatureType) -> &'static str {
    match ty {
        FeatureType::Float => "FP32",
        FeatureType::Double => "FP64",
        FeatureType::Int64 => "INT64",
        FeatureType::String => "BYTES",
    }
}

fn label_datatype(classes: &[Label]) -> &'static str {
    match classes.first() {
        Some(Label::Int(_)) => "INT64",
        _ => "BYTES",
    }
}

/// The matrix input's name, if the model's features are one `[N, F]` input.
fn matrix_input(schema: &FeatureSchema) -> Option<&str> {
    match schema.layout() {
        InputLayout::Matrix => schema.input_names().first().map(String::as_str),
        InputLayout::PerFeature => None,
    }
}

/// The outputs a model answers, in the default order.
fn output_names(task: &Task) -> &'static [&'static str] {
    match task {
        Task::Regression => &[PREDICT],
        Task::Classification { .. } => &[PREDICT, PREDICT_PROBA],
    }
}

impl Served<'_> {
    /// 404 unless `model` names the served model (and its version, if it names one).
    fn check(&self, model: &ModelRef<'_>) -> Result<(), ApiError> {
        if model.name != self.name {
            return Err(ApiError::not_found(
                format!(
                    "model {:?} not found; this function serves {:?}",
                    model.name, self.name
                ),
            ));
        }
        match &model.version {
            Some(v) if v != self.model.version() => Err(ApiError::not_found(
                format!(
                    "version {v:?} of model {:?} not found; it serves version {:?}",
                    self.name,
                    self.model.version()
                ),
            )),
            _ => Ok(()),
        }
    }

    fn metadata(&self) -> Response<Body> {
        let schema = self.model.schema();
        let inputs = match matrix_input(schema) {
            Some(name) => vec![TensorMetadata {
                name,
                datatype: datatype_of(schema.features()[0].ty),
                shape: [-1, schema.len() as i64],
                parameters: Some(TensorParameters {
                    feature_names: Some(schema.names()),
                    classes: None,
                }),
            }],
            None => schema
                .features()
                .iter()
                .map(|f| TensorMetadata {
                    name: &f.name,
                    datatype: datatype_of(f.ty),
                    shape: [-1, 1],
                    parameters: None,
                })
                .collect(),
        };
        let task = self.model.task();
        let outputs = match &task {
            Task::Regression => vec![TensorMetadata {
                name: PREDICT,
                datatype: "FP32",
                shape: [-1, 1],
                parameters: None,
            }],
            Task::Classification { classes } => vec![
                TensorMetadata {
                    name: PREDICT,
                    datatype: label_datatype(classes),
                    shape: [-1, 1],
                    parameters: None,
                },
                TensorMetadata {
                    name: PREDICT_PROBA,
                    datatype: "FP32",
                    shape: [-1, classes.len() as i64],
                    parameters: Some(TensorParameters {
                        feature_names: None,
                        classes: Some(classes),
                    }),
                },
            ],
        };
        json_response(
            StatusCode::OK,
            &ModelMetadata {
                name: self.name,
                versions: [self.model.version()],
                platform: PLATFORM,
                inputs,
                outputs,
            },
        )
    }
}

