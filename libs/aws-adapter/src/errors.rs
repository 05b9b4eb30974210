//! An SDK error, after the SDK's own retries, as a [`StoreError`]: still unavailable
//! (what the SDK retries: throttling, transient codes, 5xx, timeouts, no answer), or
//! refused.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use store::StoreError;

/// `what` names the call for the message ("GetItem on table t").
pub(crate) fn store_error<E>(what: &str, e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = format!("{what} failed: {}", DisplayErrorContext(&e));
    match &e {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let status = service.raw().status().as_u16();
            if THROTTLING_ERRORS.contains(&code)
                || TRANSIENT_ERRORS.contains(&code)
                || status >= 500
                || status == 429
            {
                StoreError::unavailable(message)
            } else {
                StoreError::refused(message)
            }
        }
        SdkError::ConstructionFailure(_) => StoreError::refused(message),
        // Timeouts, connection failures, unreadable answers.
        _ => StoreError::unavailable(message),
    }
}
