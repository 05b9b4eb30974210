//! The request path: event -> route -> attribute store -> schema -> model -> response
//! (answers other than 200 are in `api_error`).
//! Generic over the attribute store, so unit tests run it with an in-memory twin.

use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use scoring::{Label, Model, Prediction, ProbabilitiesMap, ScoreError, Task};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::attributes::AttributeStore;

use crate::api_error::{bounded_body, json_response, scoring_error, store_failure, ApiError};
use crate::oip::Served;
use crate::results::{NoResults, Results, StoredResult};
use crate::routes::{route, Route};

/// Largest request body accepted (1 MiB); API Gateway itself allows more.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most instances in one `POST /predict`.
pub const MAX_INSTANCES: usize = 1000;

/// What a warm call needs: the model, loaded once, its name in the Open Inference
/// Protocol routes, the attribute store, and where the nightly results are read back from.
pub struct App<S, R = NoResults> {
    model: Model,
    model_name: String,
    store: S,
    results: R,
}

/// One row's answer as JSON: a regressor's score is a number; a classifier's answer is its
/// label (a string or a number, as the model has it) and every class's probability.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer<'a> {
    Score(f32),
    Class {
        label: &'a Label,
        probabilities: ProbabilitiesMap<'a>,
    },
}

impl<'a> Answer<'a> {
    /// `subject` names the row ("instance 3", "product \"p\"") if its answer is not finite:
    /// finite inputs the model overflows on (a linear model fed 1e38, say) are the
    /// caller's to fix, not a failure of ours.
    fn of(prediction: &'a Prediction, subject: impl FnOnce() -> String) -> Result<Self, ApiError> {
        if !prediction.is_finite() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{}: the model's answer is not a finite number; its feature values are \
                     outside what the model can score",
                    subject()
                ),
            ));
        }
        Ok(match prediction {
            Prediction::Score(s) => Answer::Score(*s),
            Prediction::Class(c) => Answer::Class {
                label: c.label(),
                probabilities: c.probabilities_map(),
            },
        })
    }
}

#[derive(Serialize)]
struct ProductAnswer<'a> {
    product_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a Label>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probabilities: Option<ProbabilitiesMap<'a>>,
    model_version: &'a str,
}

impl<'a> ProductAnswer<'a> {
    /// `subject` names the product in an error.
    fn of(
        product_id: &'a str,
        prediction: &'a Prediction,
        model_version: &'a str,
        subject: impl FnOnce() -> String,
    ) -> Result<Self, ApiError> {
        let (score, label, probabilities) = match Answer::of(prediction, subject)? {
            Answer::Score(s) => (Some(s), None, None),
            Answer::Class {
                label,
                probabilities,
            } => (None, Some(label), Some(probabilities)),
        };
        Ok(ProductAnswer {
            product_id,
            score,
            label,
            probabilities,
            model_version,
        })
    }
}

/// A nightly result, with the run it comes from and whether that run is the latest
/// completed one: a product the latest run rejected, or that left the attribute table,
/// still has an older run's item, answered with `from_latest_completed_run: false`.
#[derive(Serialize)]
struct StoredAnswer<'a> {
    #[serde(flatten)]
    answer: ProductAnswer<'a>,
    run_id: &'a str,
    scored_at: &'a str,
    latest_completed_run: Option<&'a str>,
    from_latest_completed_run: bool,
}

#[derive(Serialize)]
struct Predictions<'a> {
    predictions: Vec<Answer<'a>>,
    model_version: &'a str,
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    model_version: &'a str,
    /// "regression" or "classification".
    task: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    classes: Option<&'a [Label]>,
    features: Vec<HealthFeature<'a>>,
}

#[derive(Serialize)]
struct HealthFeature<'a> {
    name: &'a str,
    /// The input's element type: float, double, int64 or string.
    #[serde(rename = "type")]
    ty: &'static str,
    /// numeric or categorical.
    kind: &'static str,
    /// Whether a null (or, in the attribute table, an absent attribute) is scored.
    accepts_missing: bool,
}

#[derive(Deserialize)]
struct PredictRequest {
    instances: Vec<Value>,
}

impl<S: AttributeStore> App<S> {
    /// `model_name` names the model in the `/v2/models/{name}` routes (the configuration's
    /// `MODEL_NAME`). Without a results store: `GET /predictions/{product_id}` answers 500.
    pub fn new(model: Model, store: S, model_name: impl Into<String>) -> Self {
        App {
            model,
            model_name: model_name.into(),
            store,
            results: NoResults,
        }
    }
}

impl<S: AttributeStore, R: Results> App<S, R> {
    /// The same app, reading stored results from `results`.
    pub fn with_results<T: Results>(self, results: T) -> App<S, T> {
        App {
            model: self.model,
            model_name: self.model_name,
            store: self.store,
            results,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn model_name(&self) -> &str {
        &self.model_name
    }

    /// Answers one request; never fails and never panics on input: every problem becomes
    /// a JSON error with its status. Logs one line per request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let context = request.lambda_context_ref();
        let request_id = context.map(|c| c.request_id.as_str());
        // API Gateway's path as the caller sent it. Not the URI's: lambda_http builds that
        // from the Host header, so a Host of "a/b" would prefix the path, and it resolves
        // `..` segments.
        let path = match request.raw_http_path() {
            "" => request.uri().path(),
            raw => raw,
        };
        let route = route(request.method(), path);
        let answer = match &route {
            Ok(Route::ScoreProduct(id)) => self.score_product(id).await,
            Ok(Route::ScoreInstances) => self.score_instances(request.body()),
            Ok(Route::StoredPrediction(id)) => self.stored_prediction(id).await,
            Ok(Route::Health) => Ok(self.health()),
            Ok(Route::Oip(oip)) => crate::oip::answer(
                &Served {
                    model: &self.model,
                    name: &self.model_name,
                },
                oip,
                request.headers(),
                request.body(),
            ),
            Err(no_route) => Err(ApiError::unroutable(*no_route, request.method(), path)),
        };
        let response = answer.unwrap_or_else(|e| e.into_response(request_id));
        let product_id = match &route {
            Ok(Route::ScoreProduct(id) | Route::StoredPrediction(id)) => id,
            _ => "",
        };
        let route_name = route.as_ref().map_or("none", Route::name);
        let latency = started.elapsed();
        crate::telemetry::request(
            self.model.version(),
            route_name,
            response.status().as_u16(),
            latency,
        );
        tracing::info!(
            route = route_name,
            request_id,
            product_id,
            status = response.status().as_u16(),
            latency_us = latency.as_micros() as u64,
            "request"
        );
        response
    }

    async fn score_product(&self, product_id: &str) -> Result<Response<Body>, ApiError> {
        let row = self
            .store
            .attributes(product_id)
            .await
            .map_err(|e| store_failure(e, "the attribute table"))?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("product {product_id:?} not found"),
                )
            })?;
        let subject = || format!("product {product_id:?}");
        let schema = self.model.schema();
        let mut batch = schema.batch(1);
        schema
            .read_row(&row, &mut batch)
            .map_err(|e| scoring_error(e.into(), &subject()))?;
        let prediction = crate::telemetry::predict(&self.model, &batch)
            .map_err(|e| scoring_error(e, &subject()))?
            .get(0)
            .expect("one answer per row");
        let answer = ProductAnswer::of(product_id, &prediction, self.model.version(), || {
            format!("product {product_id:?}")
        })?;
        Ok(json_response(StatusCode::OK, &answer))
    }

    async fn stored_prediction(&self, product_id: &str) -> Result<Response<Body>, ApiError> {
        let stored: StoredResult = self
            .results
            .lookup(product_id)
            .await
            .map_err(|e| store_failure(e, "the predictions table or the run log"))?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no nightly run has scored product {product_id:?}"),
                )
            })?;
        let from_latest_completed_run = stored.is_current();
        let StoredResult {
            prediction,
            latest_completed_run,
        } = stored;
        let answer = ProductAnswer::of(
            product_id,
            &prediction.answer,
            &prediction.model_version,
            || format!("the stored result of product {product_id:?}"),
        )?;
        Ok(json_response(
            StatusCode::OK,
            &StoredAnswer {
                answer,
                run_id: &prediction.run_id,
                scored_at: &prediction.scored_at,
                latest_completed_run: latest_completed_run.as_deref(),
                from_latest_completed_run,
            },
        ))
    }

    fn score_instances(&self, body: &Body) -> Result<Response<Body>, ApiError> {
        let bytes = bounded_body(body)?;
        let request: PredictRequest = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON like {{\"instances\": [{{\"<feature>\": <number, string or null>, ...}}]}}: {e}"),
            )
        })?;
        match request.instances.len() {
            0 => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "instances is empty; send 1 to 1000",
                ))
            }
            n if n > MAX_INSTANCES => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("{n} instances; at most {MAX_INSTANCES} per request"),
                ))
            }
            _ => {}
        }
        let rows: Vec<&Map<String, Value>> = request
            .instances
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_object().ok_or_else(|| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("instance {i} is not a JSON object"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let schema = self.model.schema();
        let mut batch = schema.batch(rows.len());
        for (i, row) in rows.iter().enumerate() {
            schema
                .read_row(*row, &mut batch)
                .map_err(|e| scoring_error(e.at_row(i).into(), "instance"))?;
        }
        let answers: Vec<Prediction> = match crate::telemetry::predict(&self.model, &batch) {
            Ok(answers) => answers.iter().collect(),
            // Name the instance: the model refuses a category in one of them.
            Err(ScoreError::UnknownCategory) => {
                let i = rows
                    .iter()
                    .position(|r| self.model.predict_row(*r).is_err())
                    .unwrap_or_default();
                return Err(scoring_error(
                    ScoreError::UnknownCategory,
                    &format!("instance {i}"),
                ));
            }
            Err(e) => return Err(scoring_error(e, "instance")),
        };
        Ok(json_response(
            StatusCode::OK,
            &Predictions {
                predictions: answers
                    .iter()
                    .enumerate()
                    .map(|(i, a)| Answer::of(a, || format!("instance {i}")))
                    .collect::<Result<_, _>>()?,
                model_version: self.model.version(),
            },
        ))
    }

    fn health(&self) -> Response<Body> {
        let task = self.model.task();
        let (task_name, classes) = match &task {
            Task::Regression => ("regression", None),
            Task::Classification { classes } => ("classification", Some(&classes[..])),
        };
        json_response(
            StatusCode::OK,
            &Health {
                status: "ok",
                model_version: self.model.version(),
                task: task_name,
                classes,
                features: self
                    .model
                    .schema()
                    .features()
                    .iter()
                    .map(|f| HealthFeature {
                        name: &f.name,
                        ty: f.ty.name(),
                        kind: f.ty.kind(),
                        accepts_missing: f.accepts_missing,
                    })
                    .collect(),
            },
        )
    }
}
