//! The request path: event -> route -> attribute store -> schema -> model -> response.
//! Generic over the attribute store, so unit tests run it with an in-memory twin.

use std::time::Instant;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use scoring::{Model, ScoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::attributes::AttributeStore;
use store::ErrorKind;

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

    fn unroutable(no_route: NoRoute, method: &Method, path: &str) -> Self {
        match no_route {
            NoRoute::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, format!("no route for {path}"))
            }
            NoRoute::MethodNotAllowed(allowed) => ApiError {
                allow: Some(allowed),
                ..ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!("{method} is not allowed on {path}; use {allowed}"),
                )
            },
            NoRoute::BadProductId => ApiError::new(
                StatusCode::BAD_REQUEST,
                "the product id is not valid UTF-8 once percent-decoded",
            ),
        }
    }

    fn into_response(self) -> Response<Body> {
        let mut response = json_response(
            self.status,
            &ErrorBody {
                error: &self.message,
            },
        );
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
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
        let path = request.uri().path();
        let route = route(request.method(), path);
        let answer = match &route {
            Ok(Route::ScoreProduct(id)) => self.score_product(id).await,
            Ok(Route::ScoreInstances) => self.score_instances(request.body()),
            Ok(Route::Health) => Ok(self.health()),
            Err(no_route) => Err(ApiError::unroutable(*no_route, request.method(), path)),
        };
        let response = answer.unwrap_or_else(ApiError::into_response);
        let product_id = match &route {
            Ok(Route::ScoreProduct(id)) => id,
            _ => "",
        };
        tracing::info!(
            route = route.as_ref().map_or("none", Route::name),
            product_id,
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }

    async fn score_product(&self, product_id: &str) -> Result<Response<Body>, ApiError> {
        let row = self
            .store
            .attributes(product_id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "reading the product's attributes failed");
                match e.kind {
                    ErrorKind::Unavailable => ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the attribute table is unavailable right now; try again shortly",
                    ),
                    ErrorKind::Refused | ErrorKind::NotFound => ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the attribute table refused the read; the function's configuration \
                         or permissions need attention",
                    ),
                }
            })?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("product {product_id:?} not found"),
                )
            })?;
        let score = self
            .model
            .score_row(&row)
            .map_err(|e| scoring_error(e, &format!("product {product_id:?}")))?;
        Ok(json_response(
            StatusCode::OK,
            &ProductScore {
                product_id,
                score: finite(score)?,
                model_version: self.model.version(),
            },
        ))
    }

    fn score_instances(&self, body: &Body) -> Result<Response<Body>, ApiError> {
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
        Ok(json_response(
            StatusCode::OK,
            &Predictions {
                predictions: scores.into_iter().map(finite).collect::<Result<_, _>>()?,
                model_version: self.model.version(),
            },
        ))
    }

    fn health(&self) -> Response<Body> {
        json_response(
            StatusCode::OK,
            &Health {
                status: "ok",
                model_version: self.model.version(),
                features: self.model.features(),
            },
        )
    }
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
        other => {
            tracing::error!(error = %other, "scoring failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the model failed to score",
            )
        }
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

/// A JSON answer. Serializing these plain structs cannot fail; if it ever did, the caller
/// still gets a JSON error.
fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let (status, body) = match serde_json::to_string(body) {
        Ok(body) => (status, body),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"the answer could not be encoded"}"#.to_owned(),
        ),
    };
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
