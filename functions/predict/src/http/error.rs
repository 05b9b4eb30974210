//! Every answer other than 200: a status and a message naming what is wrong, as
//! `{"error": ..., "request_id": ...}`. The one mapping from what went wrong (a caller's
//! mistake, a store's failure, a row the model cannot take) to a status is here.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use scoring::{ExplainError, RowError, RowFailure, ScoreError};
use serde::Serialize;
use store::{ErrorKind, StoreError};

use super::json::json_response;

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

    /// 400: the request cannot be read as what the route takes.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 405, with the method the path takes (the `Allow` header).
    pub fn method_not_allowed(message: impl Into<String>, allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..ApiError::new(StatusCode::METHOD_NOT_ALLOWED, message)
        }
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 422: well-formed, but values the model cannot take.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 503: a store we depend on failed for now; the caller may try again shortly.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 500: ours to fix; `message` says what the caller can do.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A store's failure, after the SDK's retries, in words a caller can act on; the
    /// detail goes to the log. `what` names the store ("the attribute table").
    pub fn store(e: StoreError, what: &str) -> Self {
        tracing::error!(error = %e, "reading {what} failed");
        match e.kind {
            ErrorKind::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{what} is unavailable right now; try again shortly"),
            ),
            ErrorKind::Refused | ErrorKind::NotFound | ErrorKind::TooLarge { .. } => {
                ApiError::internal(format!(
                    "{what} refused the read; the function's configuration or permissions need \
                 attention"
                ))
            }
        }
    }

    /// A row the schema refused: "instance 3: feature `x` is missing", "product \"p\":
    /// feature `x` ...". `subject` names the row (with its index, if any, added here).
    pub fn row(e: RowError, subject: &str) -> Self {
        let message = match e.row {
            Some(i) => format!("{subject} {i}: {}", RowError { row: None, ..e }),
            None => format!("{subject}: {e}"),
        };
        ApiError::unprocessable(message)
    }

    /// A row the model could not answer, named by `subject` ("row 2", "instance 0").
    pub fn row_failure(failure: RowFailure, subject: &str) -> Self {
        ApiError::unprocessable(format!("{subject}: {failure}"))
    }

    /// The model's own failure: ours, not the caller's; the detail goes to the log.
    pub fn scoring(e: ScoreError) -> Self {
        tracing::error!(error = %e, "scoring failed");
        ApiError::internal(
            "the model failed to score these inputs; retrying will not help (report it \
             with the request id)",
        )
    }

    /// An explanation the model cannot give is the caller's to know (422, the message says
    /// why and how to add what it lacks); one that failed is ours (500, details in the log).
    pub fn explain(e: ExplainError) -> Self {
        match e {
            ExplainError::Unexplainable(_) => ApiError::unprocessable(e.to_string()),
            ExplainError::Inference(_) => {
                tracing::error!(error = %e, "explaining failed");
                ApiError::internal(
                    "the model failed to explain these inputs; retrying will not help (report \
                     it with the request id)",
                )
            }
        }
    }

    /// 422 before any work when `explain` is asked of a model that cannot explain: the
    /// same message as [`ApiError::explain`]'s for it.
    pub fn unexplainable(why: &str) -> Self {
        ApiError::explain(ExplainError::Unexplainable(why.into()))
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
