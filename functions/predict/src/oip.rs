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
    FeatureRow, FeatureSchema, FeatureType, FeatureValue, InputLayout, Label, Model, Predictions,
    ScoreError, Task,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::app::{bounded_body, json_response, scoring_error, ApiError, MAX_INSTANCES};
use crate::routes::{ModelRef, OipRoute};

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

/// Answers an OIP route.
pub(crate) fn answer(
    served: &Served<'_>,
    route: &OipRoute<'_>,
    headers: &HeaderMap,
    body: &Body,
) -> Result<Response<Body>, ApiError> {
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
            served.infer(headers, body)?
        }
    })
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
        Some(other) => Err(bad_request(format!(
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
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "model {:?} not found; this function serves {:?}",
                    model.name, self.name
                ),
            ));
        }
        match &model.version {
            Some(v) if v != self.model.version() => Err(ApiError::new(
                StatusCode::NOT_FOUND,
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

// ------------------------------------------------------------------ inference

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

/// The protocol's tensor datatypes, as far as this function reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Datatype {
    Fp32,
    Fp64,
    /// A signed integer type and its range.
    Int(i64, i64),
    /// An unsigned integer type and its largest value.
    Uint(u64),
    Bytes,
}

const NUMERIC: &str = "FP32, FP64, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32 or UINT64";

/// The datatype of `input`, or why it cannot be read.
fn datatype(input: &str, name: &str) -> Result<Datatype, ApiError> {
    Ok(match name {
        "FP32" => Datatype::Fp32,
        "FP64" => Datatype::Fp64,
        "INT8" => Datatype::Int(i8::MIN.into(), i8::MAX.into()),
        "INT16" => Datatype::Int(i16::MIN.into(), i16::MAX.into()),
        "INT32" => Datatype::Int(i32::MIN.into(), i32::MAX.into()),
        "INT64" => Datatype::Int(i64::MIN, i64::MAX),
        "UINT8" => Datatype::Uint(u8::MAX.into()),
        "UINT16" => Datatype::Uint(u16::MAX.into()),
        "UINT32" => Datatype::Uint(u32::MAX.into()),
        "UINT64" => Datatype::Uint(u64::MAX),
        "BYTES" => Datatype::Bytes,
        "BOOL" | "FP16" | "BF16" => {
            return Err(bad_request(format!(
                "input `{input}` has datatype {name}, which this model does not take: send \
                 numeric features as {NUMERIC}, categorical ones as BYTES"
            )))
        }
        other => {
            return Err(bad_request(format!(
                "input `{input}` has datatype {other:?}, which is not an Open Inference \
                 Protocol datatype"
            )))
        }
    })
}

/// A tensor's items as the JSON has them, read straight into one flat list (no
/// intermediate `serde_json::Value` tree: the protocol's verbosity costs enough).
#[derive(Debug, Default)]
struct TensorData<'a> {
    items: Vec<Item<'a>>,
    /// `data` was not an array.
    not_array: bool,
}

#[derive(Debug)]
enum Item<'a> {
    Int(i64),
    Uint(u64),
    Float(f64),
    Text(Cow<'a, str>),
    /// Anything else, by kind: "null", "a boolean", "an object".
    Other(&'static str),
}

impl Item<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Item::Int(_) | Item::Uint(_) | Item::Float(_) => "a number",
            Item::Text(_) => "a string",
            Item::Other(kind) => kind,
        }
    }

    /// The number, as JSON wrote it (for messages).
    fn show(&self) -> String {
        match self {
            Item::Int(v) => v.to_string(),
            Item::Uint(v) => v.to_string(),
            Item::Float(v) => {
                serde_json::Number::from_f64(*v).map_or(v.to_string(), |n| n.to_string())
            }
            other => other.kind().to_owned(),
        }
    }
}

/// Appends every item of a (possibly nested) array to the list.
struct Append<'v, 'a>(&'v mut Vec<Item<'a>>);

impl<'de: 'a, 'a> serde::de::DeserializeSeed<'de> for Append<'_, 'a> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(ItemVisitor(self.0))
    }
}

struct ItemVisitor<'v, 'a>(&'v mut Vec<Item<'a>>);

impl<'de: 'a, 'a> serde::de::Visitor<'de> for ItemVisitor<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a tensor item")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Append(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(Item::Int(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(match i64::try_from(v) {
            Ok(v) => Item::Int(v),
            Err(_) => Item::Uint(v),
        });
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(Item::Float(v));
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.0.push(Item::Text(Cow::Borrowed(v)));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(Item::Text(Cow::Owned(v.to_owned())));
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.0.push(Item::Text(Cow::Owned(v)));
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.0.push(Item::Other("a boolean"));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Item::Other("null"));
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.0.push(Item::Other("null"));
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        self.0.push(Item::Other("an object"));
        Ok(())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TensorData<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DataVisitor(std::marker::PhantomData))
    }
}

/// `data` itself: an array (its items appended, flat), or anything else (refused later,
/// naming the input).
struct DataVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl DataVisitor<'_> {
    fn not_array<'a, E>() -> Result<TensorData<'a>, E> {
        Ok(TensorData {
            items: Vec::new(),
            not_array: true,
        })
    }
}

impl<'de: 'a, 'a> serde::de::Visitor<'de> for DataVisitor<'a> {
    type Value = TensorData<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of tensor items")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while seq.next_element_seed(Append(&mut items))?.is_some() {}
        Ok(TensorData {
            items,
            not_array: false,
        })
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Self::not_array()
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Self::not_array()
    }
}

/// One input: its checked items and how to read them.
struct Column<'a> {
    items: &'a [Item<'a>],
    datatype: Datatype,
}

impl Column<'_> {
    /// Item `i` as a feature value: what a JSON number or string would be in
    /// `POST /predict`, an FP32 item first rounded to `f32`. Items were checked.
    fn get(&self, i: usize) -> FeatureValue<'_> {
        let number = |v: f64| {
            FeatureValue::Number(if self.datatype == Datatype::Fp32 {
                f64::from(v as f32)
            } else {
                v
            })
        };
        match &self.items[i] {
            Item::Int(v) => number(*v as f64),
            Item::Uint(v) => number(*v as f64),
            Item::Float(v) => number(*v),
            Item::Text(s) => FeatureValue::Text(s),
            Item::Other(kind) => FeatureValue::Other(kind),
        }
    }
}

/// The request's tensors, one per feature in schema order (each `rows` long) or one
/// matrix (`rows` x features, row-major).
struct Tensors<'a> {
    names: &'a [String],
    columns: Vec<Column<'a>>,
    matrix: bool,
}

/// Row `row` of the tensors, read by feature name as any other row.
struct TensorRow<'a> {
    tensors: &'a Tensors<'a>,
    row: usize,
}

impl FeatureRow for TensorRow<'_> {
    fn feature(&self, name: &str) -> Option<FeatureValue<'_>> {
        let t = self.tensors;
        let at = t.names.iter().position(|n| n == name)?;
        Some(if t.matrix {
            t.columns[0].get(self.row * t.names.len() + at)
        } else {
            t.columns[at].get(self.row)
        })
    }
}

/// Checks `input`'s items against its datatype.
fn check_items(
    input: &str,
    datatype_name: &str,
    datatype: Datatype,
    items: &[Item<'_>],
) -> Result<(), ApiError> {
    let bad_item = |i: usize, item: &Item, what: &str| {
        let extra = if item.kind() == "null" {
            "; the Open Inference Protocol has no missing values (null is not a tensor item): \
             send a value, or score the row with POST /predict, which takes null"
        } else {
            ""
        };
        bad_request(format!(
            "input `{input}`: item {i} is {}, not {what} ({datatype_name}){extra}",
            item.kind()
        ))
    };
    let out_of_range = |i: usize, item: &Item| {
        bad_request(format!(
            "input `{input}`: item {i} ({}) is not an integer in {datatype_name}'s range",
            item.show()
        ))
    };
    for (i, item) in items.iter().enumerate() {
        match (datatype, item) {
            (Datatype::Bytes, Item::Text(_)) => {}
            (Datatype::Bytes, other) => return Err(bad_item(i, other, "a string")),
            (_, Item::Text(_) | Item::Other(_)) => return Err(bad_item(i, item, "a number")),
            (Datatype::Fp64, _) => {}
            (Datatype::Fp32, Item::Float(v)) if !(*v as f32).is_finite() => {
                return Err(bad_request(format!(
                    "input `{input}`: item {i} ({}) is outside FP32's range",
                    item.show()
                )))
            }
            (Datatype::Fp32, _) => {}
            (Datatype::Int(min, max), Item::Int(v)) if (min..=max).contains(v) => {}
            (Datatype::Uint(max), Item::Int(v)) if *v >= 0 && (*v as u64) <= max => {}
            (Datatype::Uint(max), Item::Uint(v)) if *v <= max => {}
            (Datatype::Int(..) | Datatype::Uint(_), _) => return Err(out_of_range(i, item)),
        }
    }
    Ok(())
}

fn show_shape(shape: &[i64]) -> String {
    let axes: Vec<String> = shape.iter().map(i64::to_string).collect();
    format!("[{}]", axes.join(", "))
}

/// The rows a tensor of `shape` holds, if its shape is one of `forms` (`width` columns).
fn rows_of(input: &str, shape: &[i64], width: usize, matrix: bool) -> Result<usize, ApiError> {
    let expected = if matrix {
        format!("[N, {width}]")
    } else {
        "[N] or [N, 1]".to_owned()
    };
    let wrong = || {
        bad_request(format!(
            "input `{input}` has shape {}; expected {expected}",
            show_shape(shape)
        ))
    };
    match (shape, matrix) {
        ([n], false) | ([n, 1], false) if *n >= 0 => Ok(*n as usize),
        ([n, w], true) if *n >= 0 && *w == width as i64 => Ok(*n as usize),
        _ => Err(wrong()),
    }
}

impl Served<'_> {
    fn infer(&self, headers: &HeaderMap, body: &Body) -> Result<Response<Body>, ApiError> {
        let bytes = bounded_body(body)?;
        let (json, binary) = split_binary(headers, bytes)?;
        let mut request: InferenceRequest = serde_json::from_slice(json).map_err(|e| {
            bad_request(format!(
                "the body must be an Open Inference Protocol inference request, JSON like \
                 {{\"inputs\": [{{\"name\": ..., \"shape\": [...], \"datatype\": ..., \
                 \"data\": [...]}}]}}: {e}"
            ))
        })?;
        read_binary_inputs(&mut request.inputs, binary)?;
        let all_binary = flag(
            request.parameters.as_ref(),
            "binary_data_output",
            "the request",
        )?;
        let outputs = self.requested_outputs(request.outputs.as_deref(), all_binary)?;
        let schema = self.model.schema();
        let (tensors, rows) = self.read_inputs(schema, &request.inputs)?;

        let mut batch = schema.batch(rows);
        for row in 0..rows {
            let view = TensorRow {
                tensors: &tensors,
                row,
            };
            schema.read_row(&view, &mut batch).map_err(|e| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("row {row}: {e}"))
            })?;
        }
        let predictions = match self.model.predict(&batch) {
            Ok(p) => p,
            // Name the row: the model refuses a category in one of them.
            Err(ScoreError::UnknownCategory) => {
                let row = self
                    .model
                    .predict_each(&batch)
                    .iter()
                    .position(Result::is_err)
                    .unwrap_or_default();
                return Err(scoring_error(
                    ScoreError::UnknownCategory,
                    &format!("row {row}"),
                ));
            }
            Err(e) => return Err(scoring_error(e, "row")),
        };
        if let Some(row) =
            (0..predictions.len()).find(|&i| !predictions.get(i).is_some_and(|p| p.is_finite()))
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "row {row}: the model's answer is not a finite number; its feature values \
                     are outside what the model can score"
                ),
            ));
        }
        let mut binary = Vec::new();
        let outputs = outputs
            .iter()
            .map(|&(name, as_binary)| {
                let mut out = output(name, &predictions, rows);
                if as_binary {
                    if let Some(data) = out.data.take() {
                        let start = binary.len();
                        data.write_binary(&mut binary);
                        out.parameters = Some(BinarySize {
                            binary_data_size: binary.len() - start,
                        });
                    }
                }
                out
            })
            .collect();
        let answer = InferenceResponse {
            model_name: self.name,
            model_version: self.model.version(),
            id: request.id.as_deref(),
            outputs,
        };
        if binary.is_empty() {
            return Ok(json_response(StatusCode::OK, &answer));
        }
        binary_response(&answer, binary)
    }

    /// The outputs to answer, in order: those asked for, or all.
    /// The outputs to answer, in order, each with whether its data goes in binary.
    fn requested_outputs(
        &self,
        asked: Option<&[RequestOutput<'_>]>,
        all_binary: bool,
    ) -> Result<Vec<(&'static str, bool)>, ApiError> {
        let task = self.model.task();
        let known = output_names(&task);
        let asked = match asked {
            None | Some([]) => return Ok(known.iter().map(|&n| (n, all_binary)).collect()),
            Some(asked) => asked,
        };
        let mut names = Vec::with_capacity(asked.len());
        for output in asked {
            let name = known.iter().find(|k| **k == output.name).ok_or_else(|| {
                bad_request(format!(
                    "unknown output `{}`; this model's outputs are {}",
                    output.name,
                    known.join(", ")
                ))
            })?;
            if names.iter().any(|(n, _)| n == name) {
                return Err(bad_request(format!("output `{name}` is asked for twice")));
            }
            let as_binary = all_binary
                || flag(
                    output.parameters.as_ref(),
                    "binary_data",
                    &format!("output `{name}`"),
                )?;
            names.push((*name, as_binary));
        }
        Ok(names)
    }

    /// The request's inputs as tensors in schema order, and their row count.
    fn read_inputs<'a>(
        &self,
        schema: &'a FeatureSchema,
        inputs: &'a [RequestInput<'a>],
    ) -> Result<(Tensors<'a>, usize), ApiError> {
        let matrix = matrix_input(schema);
        let expected = || match matrix {
            Some(m) => format!(
                "one tensor per feature ({}), or the matrix `{m}` [N, {}]",
                schema.names().join(", "),
                schema.len()
            ),
            None => format!("one tensor per feature ({})", schema.names().join(", ")),
        };
        if inputs.is_empty() {
            return Err(bad_request(format!("inputs is empty; send {}", expected())));
        }
        let mut seen: Vec<&str> = Vec::with_capacity(inputs.len());
        for input in inputs {
            if seen.contains(&&*input.name) {
                return Err(bad_request(format!(
                    "input `{}` is given twice",
                    input.name
                )));
            }
            seen.push(&input.name);
        }
        let as_matrix = matrix.is_some_and(|m| seen.contains(&m));
        if as_matrix && inputs.len() > 1 {
            return Err(bad_request(format!(
                "input `{}` is the model's whole [N, {}] matrix: send it alone, or one tensor \
                 per feature instead",
                matrix.unwrap_or_default(),
                schema.len()
            )));
        }
        // Where each feature's tensor is in the request.
        let mut slots: Vec<Option<&RequestInput>> = vec![None; schema.len()];
        if !as_matrix {
            for input in inputs {
                let at = schema
                    .names()
                    .iter()
                    .position(|n| *n == input.name)
                    .ok_or_else(|| {
                        bad_request(format!(
                            "unknown input `{}`; this model takes {}",
                            input.name,
                            expected()
                        ))
                    })?;
                slots[at] = Some(input);
            }
            let missing: Vec<&str> = schema
                .names()
                .iter()
                .zip(&slots)
                .filter(|(_, s)| s.is_none())
                .map(|(n, _)| n.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(bad_request(format!(
                    "input `{}` is missing{}; this model takes {}",
                    missing[0],
                    if missing.len() > 1 {
                        format!(
                            " (and {} more: {})",
                            missing.len() - 1,
                            missing[1..].join(", ")
                        )
                    } else {
                        String::new()
                    },
                    expected()
                )));
            }
        }
        let mut rows: Option<(usize, &str)> = None;
        let mut columns = Vec::with_capacity(inputs.len());
        let tensors: Vec<(&RequestInput, Option<FeatureType>)> = if as_matrix {
            vec![(&inputs[0], Some(schema.features()[0].ty))]
        } else {
            slots
                .iter()
                .zip(schema.features())
                .map(|(s, f)| (s.expect("every feature has its tensor"), Some(f.ty)))
                .collect()
        };
        for (input, ty) in tensors {
            let name = &*input.name;
            let dt = datatype(name, &input.datatype)?;
            let categorical = ty == Some(FeatureType::String);
            match (categorical, dt) {
                (true, Datatype::Bytes) | (false, Datatype::Fp32 | Datatype::Fp64) => {}
                (false, Datatype::Int(..) | Datatype::Uint(_)) => {}
                (true, _) => {
                    return Err(bad_request(format!(
                        "input `{name}` is a categorical feature: its datatype must be BYTES \
                         (strings), not {}",
                        input.datatype
                    )))
                }
                (false, _) => {
                    return Err(bad_request(format!(
                        "input `{name}` is numeric: its datatype must be {NUMERIC}, not {}",
                        input.datatype
                    )))
                }
            }
            let n = rows_of(name, &input.shape, schema.len(), as_matrix)?;
            match rows {
                Some((first, other)) if first != n => {
                    return Err(bad_request(format!(
                        "input `{name}` has {n} rows but `{other}` has {first}: every input \
                         must have the same number of rows"
                    )))
                }
                _ => rows = Some((n, name)),
            }
            let data = input
                .data
                .as_ref()
                .ok_or_else(|| bad_request(format!("input `{name}` has no data")))?;
            if data.not_array {
                return Err(bad_request(format!(
                    "input `{name}`: data must be an array (flat or nested, row-major)"
                )));
            }
            let items = &data.items[..];
            let want = if as_matrix { n * schema.len() } else { n };
            if items.len() != want {
                return Err(bad_request(format!(
                    "input `{name}` has shape {} but {} data items; the shape holds {want}",
                    show_shape(&input.shape),
                    items.len()
                )));
            }
            check_items(name, &input.datatype, dt, items)?;
            columns.push(Column {
                items,
                datatype: dt,
            });
        }
        let rows = rows.map_or(0, |(n, _)| n);
        if rows == 0 {
            return Err(bad_request("the inputs have no rows; send 1 to 1000"));
        }
        if rows > MAX_INSTANCES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{rows} rows; at most {MAX_INSTANCES} per request"),
            ));
        }
        Ok((
            Tensors {
                names: schema.names(),
                columns,
                matrix: as_matrix,
            },
            rows,
        ))
    }
}

/// One output of the answers for `rows` rows.
fn output<'a>(name: &'static str, predictions: &'a Predictions, rows: usize) -> ResponseOutput<'a> {
    match (name, predictions) {
        (PREDICT, Predictions::Scores(scores)) => ResponseOutput {
            name,
            datatype: "FP32",
            shape: [rows, 1],
            data: Some(OutputData::Numbers(scores)),
            parameters: None,
        },
        (
            PREDICT,
            Predictions::Classes {
                classes, labels, ..
            },
        ) => ResponseOutput {
            name,
            datatype: label_datatype(classes),
            shape: [rows, 1],
            data: Some(OutputData::Labels(
                labels.iter().map(|&i| &classes[i]).collect(),
            )),
            parameters: None,
        },
        (
            _,
            Predictions::Classes {
                classes,
                probabilities,
                ..
            },
        ) => ResponseOutput {
            name,
            datatype: "FP32",
            shape: [rows, classes.len()],
            data: Some(OutputData::Numbers(probabilities)),
            parameters: None,
        },
        (_, Predictions::Scores(scores)) => ResponseOutput {
            name,
            datatype: "FP32",
            shape: [rows, 1],
            data: Some(OutputData::Numbers(scores)),
            parameters: None,
        },
    }
}

// ------------------------------------------------------------------ binary tensor data

/// The body's JSON part and the binary data after it (empty without the header).
fn split_binary<'b>(headers: &HeaderMap, body: &'b [u8]) -> Result<(&'b [u8], &'b [u8]), ApiError> {
    let Some(value) = headers.get(BINARY_HEADER) else {
        return Ok((body, &[]));
    };
    let json_len = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .ok_or_else(|| {
            bad_request(format!(
                "the Inference-Header-Content-Length header must be the JSON part's length in \
                 bytes, not {:?}",
                String::from_utf8_lossy(value.as_bytes())
            ))
        })?;
    if json_len > body.len() {
        return Err(bad_request(format!(
            "the Inference-Header-Content-Length header says the JSON part is {json_len} \
             bytes, but the body has {}",
            body.len()
        )));
    }
    Ok(body.split_at(json_len))
}

/// Bytes per item of a fixed-size datatype.
fn item_width(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "INT8" | "UINT8" => 1,
        "INT16" | "UINT16" => 2,
        "INT32" | "UINT32" | "FP32" => 4,
        "INT64" | "UINT64" | "FP64" => 8,
        _ => return None,
    })
}

/// Replaces each binary input's missing `data` with its items, read from `binary` in the
/// inputs' order; every byte must belong to an input.
fn read_binary_inputs<'a>(
    inputs: &mut [RequestInput<'a>],
    binary: &'a [u8],
) -> Result<(), ApiError> {
    let mut rest = binary;
    for input in inputs.iter_mut() {
        let name = &*input.name;
        let Some(size) = input
            .parameters
            .as_ref()
            .and_then(|p| p.get("binary_data_size"))
        else {
            continue;
        };
        let size = size
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                bad_request(format!(
                    "input `{name}`: parameters.binary_data_size must be a byte count, not {size}"
                ))
            })?;
        if input.data.is_some() {
            return Err(bad_request(format!(
                "input `{name}` has both data and parameters.binary_data_size: send one"
            )));
        }
        if size > rest.len() {
            return Err(bad_request(format!(
                "input `{name}` has binary_data_size {size}, but only {} bytes of binary data \
                 are left{}",
                rest.len(),
                if binary.is_empty() {
                    " (binary data needs the Inference-Header-Content-Length header giving \
                     the JSON part's length)"
                } else {
                    ""
                }
            )));
        }
        let (bytes, after) = rest.split_at(size);
        rest = after;
        let items = decode_binary(name, &input.datatype, bytes)?;
        input.data = Some(TensorData {
            items,
            not_array: false,
        });
    }
    if !rest.is_empty() {
        return Err(bad_request(format!(
            "{} bytes of binary data are left after the inputs' binary_data_size",
            rest.len()
        )));
    }
    Ok(())
}

/// The items of one input's binary data: little-endian fixed-size values, or for `BYTES`
/// each item's 4-byte little-endian length and then its bytes.
fn decode_binary<'a>(
    input: &str,
    datatype_name: &str,
    bytes: &'a [u8],
) -> Result<Vec<Item<'a>>, ApiError> {
    let dt = datatype(input, datatype_name)?;
    if dt == Datatype::Bytes {
        let mut items = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let i = items.len();
            let cut = |what: &str| {
                bad_request(format!(
                    "input `{input}`: the binary data ends inside item {i}'s {what}"
                ))
            };
            let (len, after) = rest.split_first_chunk::<4>().ok_or_else(|| cut("length"))?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > after.len() {
                return Err(cut("bytes"));
            }
            let (text, after) = after.split_at(len);
            let text = std::str::from_utf8(text)
                .map_err(|_| bad_request(format!("input `{input}`: item {i} is not UTF-8 text")))?;
            items.push(Item::Text(Cow::Borrowed(text)));
            rest = after;
        }
        return Ok(items);
    }
    let width = item_width(datatype_name).expect("every numeric datatype has a width");
    if !bytes.len().is_multiple_of(width) {
        return Err(bad_request(format!(
            "input `{input}`: binary_data_size {} is not a whole number of {datatype_name} \
             items ({width} bytes each)",
            bytes.len()
        )));
    }
    bytes
        .chunks_exact(width)
        .enumerate()
        .map(|(i, b)| {
            let item = match (datatype_name, dt) {
                ("FP32", _) => Item::Float(f32::from_le_bytes(b.try_into().unwrap()).into()),
                ("FP64", _) => Item::Float(f64::from_le_bytes(b.try_into().unwrap())),
                (_, Datatype::Int(..)) => Item::Int(match width {
                    1 => i8::from_le_bytes(b.try_into().unwrap()).into(),
                    2 => i16::from_le_bytes(b.try_into().unwrap()).into(),
                    4 => i32::from_le_bytes(b.try_into().unwrap()).into(),
                    _ => i64::from_le_bytes(b.try_into().unwrap()),
                }),
                _ => {
                    let v: u64 = match width {
                        1 => b[0].into(),
                        2 => u16::from_le_bytes(b.try_into().unwrap()).into(),
                        4 => u32::from_le_bytes(b.try_into().unwrap()).into(),
                        _ => u64::from_le_bytes(b.try_into().unwrap()),
                    };
                    i64::try_from(v).map_or(Item::Uint(v), Item::Int)
                }
            };
            match item {
                Item::Float(v) if !v.is_finite() => Err(bad_request(format!(
                    "input `{input}`: item {i} is {v}, not a finite number; the protocol has \
                     no missing values: send a value, or score the row with POST /predict, \
                     which takes null"
                ))),
                item => Ok(item),
            }
        })
        .collect()
}

impl OutputData<'_> {
    /// The data as the binary extension sends it: little-endian `FP32`, `INT64` labels, or
    /// `BYTES` labels each as its 4-byte little-endian length and its UTF-8.
    fn write_binary(&self, out: &mut Vec<u8>) {
        match self {
            OutputData::Numbers(values) => {
                out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            }
            OutputData::Labels(labels) => {
                for label in labels {
                    match label {
                        Label::Int(v) => out.extend(v.to_le_bytes()),
                        Label::Text(text) => {
                            out.extend((text.len() as u32).to_le_bytes());
                            out.extend(text.as_bytes());
                        }
                    }
                }
            }
        }
    }
}

/// The JSON answer followed by its outputs' binary data, the JSON's length in the
/// `Inference-Header-Content-Length` header.
fn binary_response(
    answer: &InferenceResponse<'_>,
    binary: Vec<u8>,
) -> Result<Response<Body>, ApiError> {
    let mut body = serde_json::to_vec(answer).map_err(|e| {
        tracing::error!(error = %e, "encoding an inference answer failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answer could not be encoded",
        )
    })?;
    let json_len = body.len();
    body.extend(binary);
    let mut response = Response::new(Body::Binary(body));
    let headers = response.headers_mut();
    headers.insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(BINARY_HEADER, json_len.into());
    Ok(response)
}
