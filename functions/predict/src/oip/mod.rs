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
//! output is answered, as the protocol says, but `contributions`.
//!
//! `contributions` (`FP64`) is each row's explanation: `[N, F]` where the model explains
//! one target (a regressor's score, a binary classifier's positive class), `[N, T, F]`
//! where it explains several classes. It is answered when the request's
//! `parameters.explain` is true (after the outputs named, if `outputs` does not name it)
//! or when `outputs` names it (explain implied; with `explain: false`, a 400). The model
//! metadata lists it where the model can explain, its `parameters` giving the layout:
//! `space`, `feature_names`, `classes` (the targets) and `base_values`. A model that cannot
//! explain answers a request for it with a 422 saying why.

use lambda_http::http::{HeaderMap, StatusCode};
use lambda_http::{Body, Response};
use scoring::Observer;

use crate::http::{json_response, ApiError};
use crate::routes::{ModelRef, OipRoute};

mod binary;
mod infer;
mod metadata;
mod protocol;
mod tensors;

use protocol::{Live, ModelReady, Ready, ServerMetadata, BINARY_EXTENSION};
pub use protocol::{Served, CONTRIBUTIONS, PLATFORM, PREDICT, PREDICT_PROBA};

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

    /// 404 unless `model` names the served model (and its version, if it names one).
    fn check(&self, model: &ModelRef<'_>) -> Result<(), ApiError> {
        if model.name != self.name {
            return Err(ApiError::not_found(format!(
                "model {:?} not found; this function serves {:?}",
                model.name, self.name
            )));
        }
        match &model.version {
            Some(v) if v != self.model.version() => Err(ApiError::not_found(format!(
                "version {v:?} of model {:?} not found; it serves version {:?}",
                self.name,
                self.model.version()
            ))),
            _ => Ok(()),
        }
    }
}
