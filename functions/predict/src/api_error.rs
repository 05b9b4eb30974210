//! How the function answers other than 200: the JSON error with its status, and the
//! JSON and body-size helpers every route shares.

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{Body, Response};
use scoring::ScoreError;
use serde::Serialize;
use store::ErrorKind;

use crate::app::MAX_BODY_BYTES;
use crate::routes::NoRoute;

/// An answer other than 200: its status and a message naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// For 405: the method the path does take.
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            allow: None,
        }
    }

    pub(crate) fn unroutable(no_route: NoRoute, method: &Method, path: &str) -> Self {
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
            NoRoute::BadProductId(why) => ApiError::new(StatusCode::BAD_REQUEST, why.to_string()),
        }
    }

    /// The JSON error, with the request id that finds the call's log lines.
    pub fn into_response(self, request_id: Option<&str>) -> Response<Body> {
        let mut response = json_response(
            self.status,
            &ErrorBody {
                error: &self.message,
                request_id,
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
struct ErrorBody<'a> {
    error: &'a str,
    /// Lambda's request id: the key to the function's log lines for this call.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// A store's failure, after the SDK's retries, in words a caller can act on; the detail
/// goes to the log.
pub(crate) fn store_failure(e: store::StoreError, what: &str) -> ApiError {
    tracing::error!(error = %e, "reading {what} failed");
    match e.kind {
        ErrorKind::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} is unavailable right now; try again shortly"),
        ),
        ErrorKind::Refused | ErrorKind::NotFound => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "{what} refused the read; the function's configuration or permissions need \
                 attention"
            ),
        ),
    }
}

pub(crate) fn scoring_error(e: ScoreError, subject: &str) -> ApiError {
    match e {
        ScoreError::Row(e) => {
            // "instance 3: feature `x` is missing" / "product \"p\": feature `x` ..."
            let message = match e.row {
                Some(i) => format!("{subject} {i}: {}", scoring::RowError { row: None, ..e }),
                None => format!("{subject}: {e}"),
            };
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
        ScoreError::UnknownCategory => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{subject}: {e}"))
        }
        other => {
            tracing::error!(error = %other, "scoring failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the model failed to score these inputs; retrying will not help (report it \
                 with the request id)",
            )
        }
    }
}

/// A JSON answer. Serializing these plain structs cannot fail; if it ever did, the caller
/// still gets a JSON error.
/// The body's bytes, if within the limit; 413 otherwise.
pub(crate) fn bounded_body(body: &Body) -> Result<&[u8], ApiError> {
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
    Ok(bytes)
}

pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
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
