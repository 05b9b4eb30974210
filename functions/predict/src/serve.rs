//! The function's loop: API Gateway events in, HTTP answers out, through lambda_http's own
//! conversions, with two guards around them. `lambda_http` and `aws_lambda_events` panic on
//! some events a caller can send (a raw `"` in the query string, a malformed Host header,
//! a body marked base64 that is not): those become a 400 naming the part to fix. A panic in
//! the handler (ours, tract's, ...) becomes a 500 with the request id. Either way the
//! sandbox lives on for the next request (the release profile unwinds).

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use aws_adapter::emf::Emf;
use aws_adapter::lambda::panic_message;
use futures_util::FutureExt;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Adapter, Request, Service};
use serde::Serialize;
use serde_json::value::RawValue;
use store::attributes::AttributeStore;
use store::outcomes::OutcomeSink;

use crate::app::App;
use crate::http::ApiError;
use crate::results::Results;
use crate::routes::UNROUTED;

/// Serves `app` until the runtime stops the sandbox, writing the metrics recorded for
/// each request to `metrics` before answering it.
pub async fn serve<S: AttributeStore, R: Results, O: OutcomeSink>(
    app: &App<S, R, O>,
    metrics: Option<&Emf>,
) -> Result<(), lambda_runtime::Error> {
    log_panics();
    let handler = service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(app.handle(request).await)
    });
    let mut adapter = Adapter::from(handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let request_id = event.context.request_id.clone();
        let answer = read_event(&event.payload).map(|request| {
            // The conversion to an `http::Request` is where lambda_http panics on bad input.
            CONVERTING.set(true);
            let converted = std::panic::catch_unwind(AssertUnwindSafe(|| {
                adapter.call(LambdaEvent::new(request, event.context))
            }));
            CONVERTING.set(false);
            converted.map_err(|panic| unreadable(panic_message(&*panic)))
        });
        async move {
            let reply = match answer {
                Ok(Ok(response)) => match AssertUnwindSafe(response).catch_unwind().await {
                    Ok(Ok(response)) => Reply::Answer(response),
                    Ok(Err(never)) => match never {},
                    Err(panic) => {
                        tracing::error!(
                            request_id,
                            panic = panic_message(&*panic),
                            "the handler panicked"
                        );
                        Reply::Refusal(Refusal::of(
                            ApiError::internal(
                                "the function failed unexpectedly on this request; report it \
                                 with the request id",
                            ),
                            &request_id,
                        ))
                    }
                },
                Ok(Err(refusal)) | Err(refusal) => {
                    tracing::warn!(request_id, error = refusal.message, "unreadable request");
                    Reply::Refusal(Refusal::of(refusal, &request_id))
                }
            };
            if let Reply::Refusal(refusal) = &reply {
                // What the handler did not see: unreadable events and its panics.
                app.telemetry()
                    .request(UNROUTED, refusal.status_code, Duration::ZERO);
            }
            if let Some(metrics) = metrics {
                metrics.flush();
            }
            Ok::<_, lambda_runtime::Error>(reply)
        }
    }))
    .await
}

fn read_event(payload: &RawValue) -> Result<LambdaRequest, ApiError> {
    serde_json::from_str(payload.get()).map_err(|_| {
        ApiError::bad_request(
            "the request could not be read: it is not an API Gateway HTTP request, or one \
             of its headers is not a valid HTTP header",
        )
    })
}

/// What lambda_http's panic says, in words for the caller.
fn unreadable(panic: &str) -> ApiError {
    tracing::warn!(panic, "lambda_http could not convert the event");
    ApiError::bad_request(if panic.contains("base64") {
        "the body is marked as base64-encoded but is not valid base64"
    } else {
        "the request's URL (its path, query string or Host header) is not a valid URL; \
         percent-encode quotes, spaces, control characters and other reserved characters"
    })
}

thread_local! {
    /// Set while lambda_http converts an event: a panic then is the caller's malformed
    /// request, logged as a warning by `unreadable`, not as an error.
    static CONVERTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One JSON log line per panic, with where it happened, instead of the default hook's text
/// on stderr.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        if CONVERTING.get() {
            return;
        }
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        tracing::error!(panic = panic_message(info.payload()), location, "panicked");
    }));
}

/// lambda_http's answer, or ours when it could not make one.
#[derive(Serialize)]
#[serde(untagged)]
enum Reply<R> {
    Answer(R),
    Refusal(Refusal),
}

/// An answer both API Gateway payload formats (REST v1 and HTTP v2) accept.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Refusal {
    status_code: u16,
    headers: Headers,
    body: String,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
struct Headers {
    #[serde(rename = "content-type")]
    content_type: &'static str,
}

impl Refusal {
    fn of(error: ApiError, request_id: &str) -> Refusal {
        let status = error.status;
        let response = error.into_response(Some(request_id));
        let body = match response.body() {
            lambda_http::Body::Text(text) => text.clone(),
            _ => String::new(),
        };
        Refusal {
            status_code: status.as_u16(),
            headers: Headers {
                content_type: "application/json",
            },
            body,
            is_base64_encoded: false,
        }
    }
}
