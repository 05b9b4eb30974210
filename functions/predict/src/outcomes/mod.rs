//! `POST /outcomes`: what really happened, handed back (the sale price, the rated quality,
//! whether the customer churned), for the nightly run to join with what the model answered.
//! The body is read whole ([`read`]); a batch with any bad entry is refused, naming it, and
//! nothing of it written. A valid one is written to the outcomes table ([`write`]); if the
//! table fails, the answer says how many were written, and the batch may be sent again.

pub mod read;
pub mod write;

use chrono::{DateTime, Utc};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use store::outcomes::OutcomeSink;
use store::{ErrorKind, StoreError};

use crate::http::{bounded_body, json_response, ApiError};
use crate::telemetry::Telemetry;

/// For an `App` without an outcomes table: never built, never written to.
pub enum NoOutcomes {}

impl OutcomeSink for NoOutcomes {
    async fn put(
        &self,
        _: &[store::outcomes::Outcome],
    ) -> Result<Vec<store::outcomes::Outcome>, StoreError> {
        match *self {}
    }
}

#[derive(Serialize)]
struct Accepted {
    accepted: usize,
}

/// Reads, checks and writes the outcomes of `body`, received at `now`, to `sink` (`None`:
/// the stack has no outcomes table, 404).
pub async fn answer<O: OutcomeSink>(
    sink: Option<&O>,
    body: &Body,
    now: DateTime<Utc>,
    telemetry: &Telemetry,
) -> Result<Response<Body>, ApiError> {
    let Some(sink) = sink else {
        return Err(ApiError::not_found(
            "this stack has no outcomes table (OUTCOMES_TABLE is not set), so POST /outcomes \
             is off",
        ));
    };
    let outcomes = bounded_body(body)
        .map_err(|e| read::Refused {
            error: e,
            entries: 1,
        })
        .and_then(|body| read::outcomes(body, now))
        .map_err(|refused| {
            telemetry.outcomes_refused(refused.entries);
            refused.error
        })?;
    match write::write_all(sink, &outcomes).await {
        Ok(()) => {
            telemetry.outcomes_received(outcomes.len());
            Ok(json_response(
                StatusCode::OK,
                &Accepted {
                    accepted: outcomes.len(),
                },
            ))
        }
        Err(stopped) => {
            telemetry.outcomes_received(stopped.written);
            Err(not_written(stopped, outcomes.len()))
        }
    }
}

/// A write that stopped: how many were written, and what to do about the rest.
fn not_written(stopped: write::Stopped, total: usize) -> ApiError {
    let written = stopped.written;
    let resend = "send the batch again (safe: an outcome is keyed by its subject and \
                  observed_at, so those written are replaced, not doubled)";
    match stopped.error {
        Some(e) if e.kind != ErrorKind::Unavailable => {
            tracing::error!(error = %e, written, total, "writing outcomes failed");
            ApiError::internal(format!(
                "the outcomes table refused the write; the function's configuration or \
                 permissions need attention. {written} of {total} outcomes were written; \
                 {resend} once fixed"
            ))
        }
        error => {
            match &error {
                Some(e) => tracing::error!(error = %e, written, total, "writing outcomes failed"),
                None => tracing::error!(written, total, "outcomes left unwritten after retries"),
            }
            ApiError::unavailable(format!(
                "the outcomes table is unavailable right now: {written} of {total} outcomes \
                 were written; {resend} shortly"
            ))
        }
    }
}
