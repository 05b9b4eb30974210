//! The request path: event -> route -> attribute store -> schema -> model -> response.
//! Generic over the attribute store, so unit tests run it with an in-memory twin.

use std::time::Instant;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use scoring::{Model, ScoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use aws_adapter::attributes::AttributeStore;

use crate::routes::{route, NoRoute, Route};

/// Largest request body accepted (1 MiB); API Gateway itself allows more.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most instances in one `POST /predict`.
pub const MAX_INSTANCES: usize = 1000;

/// What a warm call needs: the model, loaded once, and the attribute store.
pub struct App<S> {
    model: Model,
    store: S,
}

/// An answer other than 200: its status and a message naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// For 405: the method the path does take.
    pub allow: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            allow: None,
        }
    }
}

#[derive(Serialize)]
struct ProductScore<'a> {
    product_id: &'a str,
    score: f32,
    model_version: &'a str,
}

#[derive(Serialize)]
struct Predictions<'a> {
    predictions: Vec<f32>,
    model_version: &'a str,
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    model_version: &'a str,
    features: &'a [String],
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

#[derive(Deserialize)]
struct PredictRequest {
    instances: Vec<Value>,
}

impl<S: AttributeStore> App<S> {
    pub fn new(model: Model, store: S) -> Self {
        App { model, store }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Answers one request; never fails and never panics on input: every problem becomes
    /// a JSON error with its status. Logs one line per request.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let path = routing_path(&request);
        let (route_name, product_id, result) = match route(request.method(), &path) {
            Ok(route) => {
                let product_id = match route {
                    Route::ScoreProduct(id) => {
                        Some(path_parameter(&request).unwrap_or(id).to_owned())
                    }
                    _ => None,
                };
                let result = match route {
                    Route::ScoreProduct(_) => {
                        self.score_product(product_id.as_deref().unwrap_or_default())
                            .await
                    }
                    Route::ScoreInstances => self.score_instances(request.body()),
                    Route::Health => self.health(),
                };
                (route.name(), product_id, result)
            }
            Err(NoRoute::NotFound) => (
                "none",
                None,
                Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no route for {path}"),
                )),
            ),
            Err(NoRoute::MethodNotAllowed(allowed)) => {
                let message = format!(
                    "{} is not allowed on {path}; use {allowed}",
                    request.method()
                );
                let error = ApiError {
                    allow: Some(allowed),
                    ..ApiError::new(StatusCode::METHOD_NOT_ALLOWED, message)
                };
                ("none", None, Err(error))
            }
        };
        let response = match result {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(e) => {
                let mut response = json_response(e.status, error_body(&e.message));
                if let Some(allow) = e.allow {
                    response
                        .headers_mut()
                        .insert(header::ALLOW, HeaderValue::from_static(allow));
                }
                response
            }
        };
        tracing::info!(
            route = route_name,
            product_id = product_id.as_deref().unwrap_or(""),
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }

    async fn score_product(&self, product_id: &str) -> Result<String, ApiError> {
        let item = self
            .store
            .attributes(product_id)
            .await
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("product {product_id:?} not found"),
                )
            })?;
        let score = self
            .model
            .score_row(&item)
            .map_err(|e| scoring_error(e, &format!("product {product_id:?}")))?;
        let score = finite(score)?;
        to_json(&ProductScore {
            product_id,
            score,
            model_version: self.model.version(),
        })
    }

    fn score_instances(&self, body: &Body) -> Result<String, ApiError> {
        let bytes: &[u8] = body.as_ref();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let request: PredictRequest = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON like {{\"instances\": [{{\"<feature>\": <number>, ...}}]}}: {e}"),
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
        let scores = self
            .model
            .score_rows(&rows)
            .map_err(|e| scoring_error(e, "instance"))?;
        let predictions = scores.into_iter().map(finite).collect::<Result<_, _>>()?;
        to_json(&Predictions {
            predictions,
            model_version: self.model.version(),
        })
    }

    fn health(&self) -> Result<String, ApiError> {
        to_json(&Health {
            status: "ok",
            model_version: self.model.version(),
            features: self.model.features(),
        })
    }
}

/// The path to route on: the request path without an API Gateway stage prefix.
fn routing_path(request: &Request) -> String {
    let path = request.uri().path();
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    match stage.filter(|s| *s != "$default") {
        Some(stage) => {
            let prefix = format!("/{stage}");
            match path.strip_prefix(&prefix) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.to_owned(),
                _ => path.to_owned(),
            }
        }
        None => path.to_owned(),
    }
}

/// API Gateway's decoded `{product_id}`, when the route template supplied one.
fn path_parameter(request: &Request) -> Option<&str> {
    request
        .path_parameters_ref()
        .and_then(|p| p.first("product_id"))
}

fn scoring_error(e: ScoreError, subject: &str) -> ApiError {
    match e {
        ScoreError::Row(e) => {
            // "instance 3: feature `x` is missing" / "product \"p\": feature `x` ..."
            let message = match e.row {
                Some(i) => format!("{subject} {i}: {}", scoring::RowError { row: None, ..e }),
                None => format!("{subject}: {e}"),
            };
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

fn finite(score: f32) -> Result<f32, ApiError> {
    if score.is_finite() {
        Ok(score)
    } else {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the model produced a non-finite score ({score})"),
        ))
    }
}

fn to_json(body: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

fn error_body(message: &str) -> String {
    serde_json::to_string(&ErrorBody { error: message })
        .unwrap_or_else(|_| "{\"error\":\"error\"}".to_owned())
}

fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
